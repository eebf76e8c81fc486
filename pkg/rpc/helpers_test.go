package rpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

// The test program and its procedures.
const (
	testProg    = 0x20000099
	unknownProg = 0x20000098

	procNull    = 0
	procEcho    = 1 // returns its arguments
	procGarbage = 2 // GARBAGE_ARGS
	procSysErr  = 3 // SYSTEM_ERR
	procOther   = 4 // an ordinary error: SYSTEM_ERR
	procTooWeak = 5 // AUTH_ERROR AUTH_TOOWEAK
	procSilent  = 6 // no reply
	procSlow    = 7 // waits for its gate
	procWho     = 8 // describes the request
	procPanic   = 9
	procBig     = 10 // returns as many bytes as its uint32 argument says
)

// testNetworks are the transports every round-trip test runs over.
var testNetworks = []string{"udp", "tcp", "unix"}

// gate lets a test hold procSlow calls: each call reports on started, then
// waits for release (or its context).
type gate struct {
	started chan struct{}
	release chan struct{}
}

func newGate() *gate { return &gate{started: make(chan struct{}, 100), release: make(chan struct{})} }

// testMux registers the test program: versions 1 and 3 (so PROG_MISMATCH
// says low 1 high 3).
func testMux(g *gate) *Mux {
	m := &Mux{}
	for _, v := range []uint32{1, 3} {
		m.HandleFunc(testProg, v, procNull, func(_ context.Context, _ *Request, res []byte) ([]byte, error) { return res, nil })
		m.HandleFunc(testProg, v, procEcho, func(_ context.Context, r *Request, res []byte) ([]byte, error) {
			return append(res, r.Args...), nil
		})
		m.HandleFunc(testProg, v, procGarbage, func(context.Context, *Request, []byte) ([]byte, error) { return nil, ErrGarbageArgs })
		m.HandleFunc(testProg, v, procSysErr, func(context.Context, *Request, []byte) ([]byte, error) { return nil, ErrSystemErr })
		m.HandleFunc(testProg, v, procOther, func(context.Context, *Request, []byte) ([]byte, error) {
			return nil, errors.New("disk on fire")
		})
		m.HandleFunc(testProg, v, procTooWeak, func(context.Context, *Request, []byte) ([]byte, error) {
			return nil, AuthErrorReply(AuthTooWeak)
		})
		m.HandleFunc(testProg, v, procSilent, func(context.Context, *Request, []byte) ([]byte, error) { return nil, ErrNoReply })
		m.HandleFunc(testProg, v, procSlow, func(ctx context.Context, _ *Request, res []byte) ([]byte, error) {
			g.started <- struct{}{}
			select {
			case <-g.release:
				return append(res, "slow"...), nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		})
		m.HandleFunc(testProg, v, procWho, func(_ context.Context, r *Request, res []byte) ([]byte, error) {
			s := fmt.Sprintf("%s local=%v", r.Network, r.Local)
			if r.Network != "unix" {
				s += fmt.Sprintf(" remote=%v", r.Remote)
			}
			if r.Cred != nil {
				s += fmt.Sprintf(" pid=%d uid=%d gid=%d", r.Cred.PID, r.Cred.UID, r.Cred.GID)
			}
			if r.AuthSys != nil {
				s += fmt.Sprintf(" authsys=%s/%d/%d/%v", r.AuthSys.MachineName, r.AuthSys.UID, r.AuthSys.GID, r.AuthSys.GIDs)
			}
			return xdr.AppendString(res, s), nil
		})
		m.HandleFunc(testProg, v, procPanic, func(context.Context, *Request, []byte) ([]byte, error) { panic("handler bug") })
		m.HandleFunc(testProg, v, procBig, func(_ context.Context, r *Request, res []byte) ([]byte, error) {
			d := xdr.NewDecoder(r.Args)
			n := d.Uint32()
			if d.Err() != nil || n > 1<<20 {
				return nil, ErrGarbageArgs
			}
			return append(res, make([]byte, n)...), nil
		})
	}
	return m
}

// quietLogger discards what the server logs (handler errors the tests provoke).
func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// testServer is a Server serving one transport on loopback.
type testServer struct {
	*Server
	network string
	addr    string
	gate    *gate
	done    chan error // the serving loop's result
}

// startServer serves the test program over network ("udp", "tcp", "unix") on
// loopback, with the Server fields set by configure, and shuts it down when
// the test ends.
func startServer(t *testing.T, network string, configure func(*Server)) *testServer {
	t.Helper()
	g := newGate()
	s := &Server{Handler: testMux(g), Logger: quietLogger()}
	if configure != nil {
		configure(s)
	}
	ts := &testServer{Server: s, network: network, gate: g, done: make(chan error, 1)}
	switch network {
	case "udp", "udp4", "udp6":
		host := "127.0.0.1:0"
		if network == "udp6" {
			host = "[::1]:0"
		}
		pc, err := net.ListenPacket(network, host)
		if err != nil {
			t.Fatal(err)
		}
		ts.addr = pc.LocalAddr().String()
		go func() { ts.done <- s.ServePacket(pc) }()
	case "tcp", "unix":
		l := listenStream(t, network)
		ts.addr = l.Addr().String()
		go func() { ts.done <- s.Serve(l) }()
	default:
		t.Fatalf("network %q", network)
	}
	t.Cleanup(func() {
		select {
		case <-ts.gate.release:
		default:
			close(ts.gate.release)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-ts.done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("serving loop returned %v, want ErrServerClosed", err)
		}
	})
	return ts
}

// listenStream listens on network, "tcp" (a loopback port) or "unix" (a
// socket in the test's temporary directory).
func listenStream(tb testing.TB, network string) net.Listener {
	tb.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = filepath.Join(tb.TempDir(), "s.sock")
	}
	l, err := net.Listen(network, addr)
	if err != nil {
		tb.Fatal(err)
	}
	return l
}

// dial returns a client of ts, closed when the test ends.
func (ts *testServer) dial(t *testing.T, opts *Options) *Client {
	t.Helper()
	c, err := Dial(t.Context(), ts.network, ts.addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// ctxTimeout returns a context that ends after d or with the test.
func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// mustStatus checks that err is an *Error with status st and text text.
func mustStatus(t *testing.T, err error, st Status, text string) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v (%T), want an *Error", err, err)
	}
	if e.Status != st {
		t.Fatalf("status %d (%v), want %d (%v); err %v", e.Status, e.Status, st, st, err)
	}
	if text != "" && e.Text() != text {
		t.Errorf("Text() = %q, want %q", e.Text(), text)
	}
	return e
}

// readUntilEOF reports how long until conn's peer closes it, giving up after max.
func readUntilEOF(conn net.Conn, max time.Duration) (time.Duration, error) {
	start := time.Now()
	conn.SetReadDeadline(start.Add(max))
	_, err := io.Copy(io.Discard, conn)
	if err != nil {
		return time.Since(start), err
	}
	return time.Since(start), nil
}
