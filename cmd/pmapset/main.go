// Command pmapset registers with a port mapper the entries of a file written
// by pmapdump (or by portmap's pmap_dump, or by hand): it restores, removes
// (--unset) or synchronises (--sync) registrations. See docs/pmapdump.md and
// pmapset(8).
package main

import (
	"context"
	"os"
)

func main() {
	os.Exit(run(context.Background(), os.Args, os.Stdin, os.Stdout, os.Stderr))
}
