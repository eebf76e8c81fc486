package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/portmap-toolkit/pmap/internal/mappertest"
	"github.com/portmap-toolkit/pmap/internal/regfile"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

// testWait bounds what a test waits for.
const testWait = mappertest.Wait

// testMapper is the embedded port mapper of internal/mappertest.
type testMapper = mappertest.Mapper

// startMapper serves a new port mapper until the test ends.
func startMapper(t *testing.T) *testMapper { return mappertest.Start(t) }

// outcome is what one run of pmapset did.
type outcome struct {
	code           int
	stdout, stderr string
}

// pmapset runs the command with stdin and args (without the program name).
func pmapset(t *testing.T, stdin io.Reader, args ...string) outcome {
	t.Helper()
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*testWait)
	defer cancel()
	code := run(ctx, append([]string{"pmapset"}, args...), stdin, &out, &errb)
	return outcome{code, out.String(), errb.String()}
}

// rb builds an rpcbind registration.
func rb(prog, vers uint32, netid, addr, owner string) portmap.RPCB {
	return portmap.RPCB{Prog: prog, Vers: vers, Netid: netid, Addr: addr, Owner: owner}
}

// v2 returns what a v2 SET of (prog, vers, netid, port) stores, with owner.
func v2(prog, vers uint32, netid string, port uint32, owner string) portmap.RPCB {
	return rb(prog, vers, netid, regfile.V2Addr(port), owner)
}

// seed is the seed table of testdata/seed-registrations.txt.
func seed(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../testdata/seed-registrations.txt")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
