// Command rpcinfo reports RPC information: a drop-in replacement for the
// rpcinfo(8) of Debian's rpcbind 1.2.6, with the same arguments, output,
// messages and exit status, plus table and JSON output (-o), a timeout for
// the whole query (--timeout), a port mapper on another port (--port), shell
// completion and a man page. docs/rpcinfo.md lists where it departs from the
// original on purpose.
package main

//go:generate go test -run TestManPage -update

import (
	"context"
	"os"
)

func main() {
	os.Exit(run(context.Background(), os.Args, os.Stdout, os.Stderr))
}
