package testsupport

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/portmap-toolkit/pmap/pkg/rpc"
)

// FakeService is an RPC program served by pkg/rpc on a UDP and a TCP port,
// for tests that need a live program: something to ping with version
// discovery, to register with a port mapper, to receive a forwarded CALLIT.
// Versions Low to High answer NULL (procedure 0); other versions get
// PROG_MISMATCH with Low and High, other procedures PROC_UNAVAIL.
type FakeService struct {
	// Prog is the program number; Low to High are the versions served.
	Prog, Low, High uint32
	// UDP and TCP are where the program listens: 127.0.0.1 for ServeFake,
	// the peer's address for Host.ServeFake.
	UDP, TCP netip.AddrPort
	// Mux dispatches the calls. A test may add procedures to it.
	Mux *rpc.Mux

	calls atomic.Int64
}

// Calls returns how many NULL calls the program has answered.
func (f *FakeService) Calls() int64 { return f.calls.Load() }

// ServeFake serves program prog, versions low to high, on UDP and TCP ports
// of 127.0.0.1 chosen by the kernel, until the test ends.
func ServeFake(t testing.TB, prog, low, high uint32) *FakeService {
	t.Helper()
	return serveFake(t, nil, netip.MustParseAddr("127.0.0.1"), prog, low, high)
}

// ServeFake serves program prog, versions low to high, in the host, on every
// address of the host (its loopback too, for its own port mapper to forward
// to), until the test ends; UDP and TCP name the host's Addr.
func (h *Host) ServeFake(t testing.TB, prog, low, high uint32) *FakeService {
	t.Helper()
	return serveFake(t, h, h.Addr, prog, low, high)
}

// serveFake listens in host's namespace (nil: this one) on addr, or on
// every address for a host, and serves until the test ends.
func serveFake(t testing.TB, host *Host, addr netip.Addr, prog, low, high uint32) *FakeService {
	t.Helper()
	if low > high {
		t.Fatalf("testsupport: ServeFake: versions %d to %d", low, high)
	}
	f := &FakeService{Prog: prog, Low: low, High: high, Mux: new(rpc.Mux)}
	null := func(ctx context.Context, req *rpc.Request, res []byte) ([]byte, error) {
		f.calls.Add(1)
		return res, nil
	}
	for v := low; ; v++ {
		f.Mux.HandleFunc(prog, v, 0, null)
		if v == high {
			break
		}
	}

	bind := addr.String()
	if host != nil {
		bind = "0.0.0.0"
	}
	var pc net.PacketConn
	var ln net.Listener
	err := host.do(func() (err error) {
		if pc, err = net.ListenPacket("udp4", bind+":0"); err != nil {
			return err
		}
		if ln, err = net.Listen("tcp4", bind+":0"); err != nil {
			pc.Close()
		}
		return err
	})
	if err != nil {
		t.Fatalf("testsupport: ServeFake: %v", err)
	}
	f.UDP = netip.AddrPortFrom(addr, pc.LocalAddr().(*net.UDPAddr).AddrPort().Port())
	f.TCP = netip.AddrPortFrom(addr, ln.Addr().(*net.TCPAddr).AddrPort().Port())

	srv := &rpc.Server{Handler: f.Mux, Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Go(func() { errs[0] = srv.ServePacket(pc) })
	wg.Go(func() { errs[1] = srv.Serve(ln) })
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), stopGrace)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("testsupport: stopping the fake program %d: %v", prog, err)
		}
		pc.Close()
		ln.Close()
		wg.Wait()
		for _, err := range errs {
			if err != nil && !errors.Is(err, rpc.ErrServerClosed) {
				t.Errorf("testsupport: the fake program %d stopped serving: %v", prog, err)
			}
		}
	})
	return f
}

// testWriter sends a server's log lines to the test log, which shows them
// when the test fails (or always, with -v).
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
