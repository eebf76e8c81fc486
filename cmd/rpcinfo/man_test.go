package main

import (
	"flag"
	"os"
	"testing"

	"github.com/portmap-toolkit/pmap/internal/cliutil"
)

var update = flag.Bool("update", false, "rewrite rpcinfo.8 from the command's definition")

// TestManPage fails when rpcinfo.8 is not what the command's definition
// generates (go test -run TestManPage -update, or go generate, rewrites it),
// or when --generate-man does not print it: the binary prints the page
// embedded at build time.
func TestManPage(t *testing.T) {
	committed, err := os.ReadFile("rpcinfo.8")
	if err != nil {
		t.Fatal(err)
	}
	out, errs, rc := runArgs(t, nil, "--generate-man")
	if rc != 0 || errs != "" || out != manPage || out != string(committed) {
		t.Errorf("--generate-man (exit %d, stderr %q) does not print rpcinfo.8", rc, errs)
	}
	if !cliutil.CanGenerateMan {
		t.Skip("built with -tags urfave_cli_no_docs: no man page generator to compare rpcinfo.8 with")
	}
	r := &runner{}
	got, err := cliutil.ManPage(r.newApp(cmdline{}, nil))
	if err != nil {
		t.Fatal(err)
	}
	cliutil.CheckManPage(t, "rpcinfo.8", got, *update, "--verify", "--nfs", "--parallel", "--progress", "--timeout")
	if *update && got != manPage {
		t.Log("rpcinfo.8 rewritten: the binary embeds it when next built")
	}
}
