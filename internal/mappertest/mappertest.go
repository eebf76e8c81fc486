// Package mappertest serves pkg/server's port mapper inside a test, on a
// loopback TCP port and a unix socket of its own, for the tests of the tools
// that talk to a port mapper (pmapdump, pmapset). It is meant for tests only.
package mappertest

import (
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

// Wait bounds what a test waits for the mapper: to register itself, to stop.
const Wait = 10 * time.Second

// Mapper is a port mapper served until the test ends.
type Mapper struct {
	Srv  *server.Server
	Port int    // its TCP port on 127.0.0.1
	Sock string // its unix socket
}

// Start serves a new port mapper until the test ends and returns once it has
// registered its own entries.
func Start(t *testing.T) *Mapper {
	t.Helper()
	m := &Mapper{Srv: server.New(), Sock: filepath.Join(t.TempDir(), "rpcbind.sock")}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m.Port = l.Addr().(*net.TCPAddr).Port
	lu, err := net.Listen("unix", m.Sock)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 2)
	go func() { errc <- m.Srv.Serve(l) }()
	go func() { errc <- m.Srv.Serve(lu) }()
	deadline := time.Now().Add(Wait)
	for m.Srv.Registry().Len() < 3+2 { // its own entries: v4, v3, v2 on tcp; v4, v3 on local
		if time.Now().After(deadline) {
			t.Fatal("mappertest: the port mapper did not register itself")
		}
		time.Sleep(time.Millisecond)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), Wait)
		defer cancel()
		if err := m.Srv.Shutdown(ctx); err != nil {
			t.Errorf("mappertest: Shutdown: %v", err)
		}
		for range 2 {
			if err := <-errc; !errors.Is(err, server.ErrServerClosed) {
				t.Errorf("mappertest: Serve: %v", err)
			}
		}
	})
	return m
}

// TCPArgs are the command-line arguments that reach m over TCP.
func (m *Mapper) TCPArgs() []string {
	return []string{"--port", strconv.Itoa(m.Port), "127.0.0.1"}
}

// UnixArgs are the command-line arguments that reach m over its socket.
func (m *Mapper) UnixArgs() []string { return []string{"--socket", m.Sock} }

// Set registers rs directly in the registry.
func (m *Mapper) Set(t *testing.T, rs ...portmap.RPCB) {
	t.Helper()
	for _, r := range rs {
		if !m.Srv.Registry().Set(r) {
			t.Fatalf("mappertest: registry refused %+v", r)
		}
	}
}

// Others returns the registrations of programs other than the mapper's own.
func (m *Mapper) Others() []portmap.RPCB {
	var l []portmap.RPCB
	for _, r := range m.Srv.Registry().Dump() {
		if r.Prog != portmap.Program {
			l = append(l, r)
		}
	}
	return l
}
