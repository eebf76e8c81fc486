package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/internal/regfile"
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

// startMapper serves a new port mapper until the test ends. It handles the
// calls of a connection one at a time, in the order they arrive, as rpcbind
// does: pipelined registrations then land in the order they were sent. (By
// default pkg/server handles up to 64 calls at once, and a connection's SETs
// may then be applied out of order.)
func startMapper(t *testing.T) *testMapper {
	t.Helper()
	tm := &testMapper{srv: server.New(), sock: filepath.Join(t.TempDir(), "rpcbind.sock")}
	tm.srv.MaxInFlight = 1
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

// others returns the registrations of programs other than 100000.
func (tm *testMapper) others() []portmap.RPCB {
	var l []portmap.RPCB
	for _, r := range tm.srv.Registry().Dump() {
		if r.Prog != portmap.Program {
			l = append(l, r)
		}
	}
	return l
}

// set registers r directly in the registry.
func (tm *testMapper) set(t *testing.T, rs ...portmap.RPCB) {
	t.Helper()
	for _, r := range rs {
		if !tm.srv.Registry().Set(r) {
			t.Fatalf("registry refused %+v", r)
		}
	}
}

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
