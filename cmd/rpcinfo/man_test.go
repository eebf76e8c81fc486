package main

import (
	"flag"
	"testing"

	"github.com/portmap-toolkit/pmap/internal/cliutil"
)

var update = flag.Bool("update", false, "rewrite rpcinfo.8 from the command's definition")

// TestManPage fails when rpcinfo.8 is not what the command's definition
// generates; `go generate` (or go test -run TestManPage -update) rewrites it.
func TestManPage(t *testing.T) {
	r := &runner{}
	got, err := cliutil.ManPage(r.newApp(cmdline{}, nil))
	if err != nil {
		t.Fatal(err)
	}
	cliutil.CheckManPage(t, "rpcinfo.8", got, *update, "--verify", "--nfs", "--parallel", "--progress", "--timeout")
	out, _, rc := runArgs(t, nil, "--generate-man")
	if rc != 0 || out != got {
		t.Errorf("--generate-man (exit %d) differs from the man page", rc)
	}
}
