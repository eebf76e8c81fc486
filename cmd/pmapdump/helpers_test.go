package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/server"
)

// testWait bounds what a test waits for.
const testWait = 10 * time.Second

// testMapper is pkg/server's port mapper on a loopback TCP port and a unix
// socket of its own, embedded in the test.
type testMapper struct {
	srv  *server.Server
	port int
	sock string
}

// startMapper serves a new port mapper until the test ends.
func startMapper(t *testing.T) *testMapper {
	t.Helper()
	tm := &testMapper{srv: server.New(), sock: filepath.Join(t.TempDir(), "rpcbind.sock")}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tm.port = l.Addr().(*net.TCPAddr).Port
	lu, err := net.Listen("unix", tm.sock)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 2)
	go func() { errc <- tm.srv.Serve(l) }()
	go func() { errc <- tm.srv.Serve(lu) }()
	deadline := time.Now().Add(testWait)
	for tm.srv.Registry().Len() < 3+2 { // its own entries: v4, v3, v2 on tcp; v4, v3 on local
		if time.Now().After(deadline) {
			t.Fatal("the port mapper did not register itself")
		}
		time.Sleep(time.Millisecond)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testWait)
		defer cancel()
		if err := tm.srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		for range 2 {
			if err := <-errc; !errors.Is(err, server.ErrServerClosed) {
				t.Errorf("Serve: %v", err)
			}
		}
	})
	return tm
}

// tcpArgs and unixArgs are the arguments that reach tm.
func (tm *testMapper) tcpArgs() []string {
	return []string{"--port", strconv.Itoa(tm.port), "127.0.0.1"}
}

func (tm *testMapper) unixArgs() []string { return []string{"--socket", tm.sock} }

// set registers rs directly in the registry.
func (tm *testMapper) set(t *testing.T, rs ...portmap.RPCB) {
	t.Helper()
	for _, r := range rs {
		if !tm.srv.Registry().Set(r) {
			t.Fatalf("registry refused %+v", r)
		}
	}
}

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
