// Command pmapload drives a port mapper (portmapd, Debian's rpcbind, any
// program 100000 server) with concurrent clients over UDP or TCP and reports
// calls per second and latency percentiles. It only targets the loopback and
// TEST-NET-1 (192.0.2.0/24), and every run ends by itself. See
// docs/performance.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
