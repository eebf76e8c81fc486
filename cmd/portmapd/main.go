// Command portmapd is a port mapper: it answers ONC RPC program 100000,
// portmap version 2 and rpcbind versions 3 and 4, as Debian's rpcbind does,
// on UDP and TCP port 111 and on the unix socket /run/rpcbind.sock.
//
// The command is a thin wrapper around pkg/server; portmapd.8, beside this
// file, is its manual page, generated from the flags defined in app.go.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// SIGTERM and SIGINT end the context, which shuts the server down.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := run(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
