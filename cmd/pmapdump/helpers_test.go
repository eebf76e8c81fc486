package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/portmap-toolkit/pmap/internal/mappertest"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

// testWait bounds what a test waits for.
const testWait = mappertest.Wait

// testMapper is the embedded port mapper of internal/mappertest.
type testMapper = mappertest.Mapper

// startMapper serves a new port mapper until the test ends.
func startMapper(t *testing.T) *testMapper { return mappertest.Start(t) }

// outcome is what one run of pmapdump did.
type outcome struct {
	code           int
	stdout, stderr string
}

// pmapdump runs the command with args (without the program name).
func pmapdump(t *testing.T, args ...string) outcome {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*testWait)
	defer cancel()
	code := run(ctx, append([]string{"pmapdump"}, args...), &out, &errb)
	return outcome{code, out.String(), errb.String()}
}

// rb builds an rpcbind registration.
func rb(prog, vers uint32, netid, addr, owner string) portmap.RPCB {
	return portmap.RPCB{Prog: prog, Vers: vers, Netid: netid, Addr: addr, Owner: owner}
}
