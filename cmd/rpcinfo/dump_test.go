package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/internal/testsupport"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
)

// countingListener counts the connections it accepts.
type countingListener struct {
	net.Listener
	n atomic.Int32
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// TestPmapDumpConnections checks that rpcinfo -p host makes the two TCP
// connections Debian's rpcinfo makes: one for GETADDR of the port mapper
// itself, one for DUMP (on the client made for the address found, as
// clnt_tli_create makes it), whatever the reply.
func TestPmapDumpConnections(t *testing.T) {
	tests := []struct {
		name     string
		dump     []byte // DUMP's results
		wantRC   int
		wantOut  string
		wantErrs string
	}{
		{"listing", portmap.AppendMappingList(nil, []portmap.Mapping{{Prog: 100000, Vers: 2, Prot: portmap.IPProtoTCP, Port: 111}}),
			0, "   program vers proto   port  service\n    100000    2   tcp    111  portmapper\n", ""},
		{"reply that does not decode", []byte{0, 0, 0, 1, 0, 0},
			1, "", "rpcinfo: can't contact portmapper: RPC: Can't decode result\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := net.Listen("tcp4", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			cl := &countingListener{Listener: l}
			port := uint16(l.Addr().(*net.TCPAddr).Port)
			m := new(rpc.Mux)
			getaddrAt(m, portmap.V4, port)
			answer(m, portmap.V2, portmap.PmapDump, tt.dump, nil)
			srv := &rpc.Server{Handler: m, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
			go srv.Serve(cl)
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				srv.Shutdown(ctx)
			}()

			out, errs, rc := runArgs(t, nil, "--port", strconv.Itoa(int(port)), "-p", "127.0.0.1")
			if rc != tt.wantRC || out != tt.wantOut || errs != tt.wantErrs {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d, %q, %q", rc, out, errs, tt.wantRC, tt.wantOut, tt.wantErrs)
			}
			if n := cl.n.Load(); n != 2 {
				t.Errorf("%d connections, want 2 (GETADDR, then DUMP)", n)
			}
		})
	}
}

// TestInterrupt checks what SIGINT does to a run waiting on a port mapper
// that never answers: rpcinfo's own modes die of it at once, without a word
// (Debian's rpcinfo dies the same way, but only once its call is over, since
// libtirpc blocks signals during a call; docs/rpcinfo.md); this implementation's modes (here --verify) catch
// it, end the call and report the failure.
func TestInterrupt(t *testing.T) {
	bin := filepath.Join(testsupport.BuildGo(t, "./cmd/rpcinfo"), "rpcinfo")
	tests := []struct {
		name   string
		args   []string
		killed bool   // by the signal
		errs   string // else what it prints on standard error
	}{
		{"rpcinfo's mode", []string{"-p", "127.0.0.1"}, true, ""},
		{"an extension", []string{"--verify", "-p", "127.0.0.1"}, false, "127.0.0.1: RPC: Timed out\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := net.Listen("tcp4", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			accepted := make(chan net.Conn, 1)
			go func() {
				if c, err := l.Accept(); err == nil {
					accepted <- c // held open and never answered
				}
			}()
			port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
			cmd := exec.Command(bin, append([]string{"--port", port}, tt.args...)...)
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			select {
			case c := <-accepted:
				defer c.Close()
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatal("rpcinfo did not connect")
			}
			time.Sleep(100 * time.Millisecond) // in the call, waiting for the answer
			if err := cmd.Process.Signal(os.Interrupt); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-done
				t.Fatal("rpcinfo did not end after SIGINT")
			}
			ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
			killed := ws.Signaled() && ws.Signal() == syscall.SIGINT
			if killed != tt.killed || (!killed && (ws.ExitStatus() != 1 || errb.String() != tt.errs)) || out.Len() != 0 {
				t.Errorf("%v: killed by SIGINT %v, stdout %q, stderr %q; want killed %v, stderr %q",
					cmd.ProcessState, killed, out.String(), errb.String(), tt.killed, tt.errs)
			}
		})
	}
}
