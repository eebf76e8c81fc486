package main

import (
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite rpcinfo.8 from the command's definition")

// TestManPage fails when rpcinfo.8 is not what the command's definition
// generates; `go generate` (or go test -run TestManPage -update) rewrites it.
func TestManPage(t *testing.T) {
	r := &runner{}
	got, err := manPage(r.newApp(cmdline{}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile("rpcinfo.8", []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile("rpcinfo.8")
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("rpcinfo.8 is stale: run go generate ./cmd/rpcinfo")
	}
	out, _, rc := runArgs(t, nil, "--generate-man")
	if rc != 0 || out != got {
		t.Errorf("--generate-man (exit %d) differs from the man page", rc)
	}
}
