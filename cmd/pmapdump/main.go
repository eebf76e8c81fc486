// Command pmapdump prints the registrations of a port mapper in a form
// pmapset reads back: portmap's pmap_dump lines by default, an extended form
// with rpcbind's netids, addresses and owners, or JSON. See docs/pmapdump.md
// and pmapdump(8).
package main

import (
	"context"
	"os"
)

func main() {
	os.Exit(run(context.Background(), os.Args, os.Stdout, os.Stderr))
}
