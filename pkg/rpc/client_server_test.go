package rpc

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

// TestConcurrentCalls: 50 goroutines share one client per transport, each
// making calls with its own payload; every reply reaches its caller.
func TestConcurrentCalls(t *testing.T) {
	for _, network := range testNetworks {
		t.Run(network, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, network, nil)
			c := ts.dial(t, &Options{Retransmit: 50 * time.Millisecond})
			ctx := ctxTimeout(t, 20*time.Second)
			const goroutines, calls = 50, 20
			var wg sync.WaitGroup
			errs := make(chan error, goroutines)
			for g := range goroutines {
				wg.Go(func() {
					for i := range calls {
						args := fmt.Appendf(nil, "g%03d-call%03d", g, i)
						args = append(args, bytes.Repeat([]byte{byte(g)}, g*i)...)
						args = args[:len(args)&^3]
						res, err := c.Call(ctx, testProg, 1, procEcho, args)
						if err != nil {
							errs <- err
							return
						}
						if !bytes.Equal(res, args) {
							errs <- fmt.Errorf("goroutine %d call %d: got %q", g, i, res[:min(len(res), 20)])
							return
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

// TestReplyStatuses: each way a server answers comes back as the right *Error
// with libtirpc's text, over every transport.
func TestReplyStatuses(t *testing.T) {
	tests := []struct {
		name       string
		prog, vers uint32
		proc       uint32
		status     Status
		text       string
	}{
		{"null", testProg, 1, procNull, Success, ""},
		{"prog unavail", unknownProg, 1, procNull, ProgUnavail, "RPC: Program unavailable"},
		{"prog mismatch", testProg, 2, procNull, ProgVersMismatch, "RPC: Program/version mismatch; low version = 1, high version = 3"},
		{"version 0", testProg, 0, procNull, ProgVersMismatch, "RPC: Program/version mismatch; low version = 1, high version = 3"},
		{"proc unavail", testProg, 3, 99, ProcUnavail, "RPC: Procedure unavailable"},
		{"garbage args", testProg, 1, procGarbage, CantDecodeArgs, "RPC: Server can't decode arguments"},
		{"system err", testProg, 1, procSysErr, SystemError, "RPC: Remote system error"},
		{"other handler error", testProg, 1, procOther, SystemError, "RPC: Remote system error"},
		{"handler panic", testProg, 1, procPanic, SystemError, "RPC: Remote system error"},
		{"auth too weak", testProg, 1, procTooWeak, AuthError, "RPC: Authentication error; why = Client credential too weak"},
	}
	for _, network := range testNetworks {
		t.Run(network, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, network, nil)
			c := ts.dial(t, nil)
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					res, err := c.Call(ctxTimeout(t, 5*time.Second), tt.prog, tt.vers, tt.proc, nil)
					if tt.status == Success {
						if err != nil || len(res) != 0 {
							t.Fatalf("Call = %x, %v", res, err)
						}
						return
					}
					e := mustStatus(t, err, tt.status, tt.text)
					if e.Network != network || e.Addr != ts.addr || e.Prog != tt.prog || e.Vers != tt.vers || e.Proc != tt.proc {
						t.Errorf("context of %q is wrong", e.Error())
					}
					want := fmt.Sprintf("rpc: %s %s program %d version %d procedure %d: %s", network, ts.addr, tt.prog, tt.vers, tt.proc, tt.text)
					if e.Error() != want {
						t.Errorf("Error() = %q, want %q", e.Error(), want)
					}
				})
			}
		})
	}
}

// TestCredentials: AUTH_SYS reaches the handler; an unknown flavor is
// REJECTEDCRED and a malformed AUTH_SYS body BADCRED, as rpcbind answers; a
// credential over the limit is never sent.
func TestCredentials(t *testing.T) {
	sys, err := AuthSysParams{Stamp: 7, MachineName: "client.example", UID: 1000, GID: 100, GIDs: []uint32{4, 27}}.Auth()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		cred   OpaqueAuth
		status Status
		text   string
	}{
		{"auth_sys", sys, Success, "authsys=client.example/1000/100/[4 27]"},
		{"auth_dh", OpaqueAuth{Flavor: AuthDH, Body: []byte("1234")}, AuthError, "RPC: Authentication error; why = Server rejected credential"},
		{"flavor 99", OpaqueAuth{Flavor: 99}, AuthError, "RPC: Authentication error; why = Server rejected credential"},
		{"malformed auth_sys", OpaqueAuth{Flavor: AuthSys, Body: []byte{0, 0, 0, 1, 0, 0, 1, 0}}, AuthError, "RPC: Authentication error; why = Invalid client credential"},
		{"body over 400", OpaqueAuth{Flavor: AuthSys, Body: make([]byte, 401)}, CantEncodeArgs, "RPC: Can't encode arguments"},
	}
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			ts := startServer(t, network, nil)
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					c := ts.dial(t, &Options{Cred: tt.cred})
					res, err := c.Call(ctxTimeout(t, 5*time.Second), testProg, 1, procWho, nil)
					if tt.status != Success {
						e := mustStatus(t, err, tt.status, tt.text)
						if tt.status == AuthError && !errors.Is(err, ErrAuth) {
							t.Errorf("errors.Is(%v, ErrAuth) = false", e)
						}
						return
					}
					if err != nil {
						t.Fatal(err)
					}
					who := xdr.NewDecoder(res).String(-1)
					if !strings.Contains(who, tt.text) {
						t.Errorf("handler saw %q, want %q in it", who, tt.text)
					}
				})
			}
		})
	}
}

// rawCall sends msg as one datagram to addr and returns the reply, or nil
// when none comes within wait.
func rawCall(t *testing.T, addr string, msg []byte, wait time.Duration) []byte {
	t.Helper()
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(msg); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 1024)
	n, err := conn.Read(buf)
	if err != nil {
		return nil
	}
	return buf[:n]
}

// TestRPCMismatch: rpcvers 3 is answered MSG_DENIED RPC_MISMATCH 2..2 (RFC
// 5531), or not at all with SilentOnRPCMismatch (rpcbind). A datagram that is
// no call is dropped.
func TestRPCMismatch(t *testing.T) {
	h := CallHeader{XID: 42, RPCVers: 3, Prog: testProg, Vers: 1, Proc: procNull}
	call := h.Append(nil)

	ts := startServer(t, "udp", nil)
	reply := rawCall(t, ts.addr, call, 5*time.Second)
	var rh ReplyHeader
	d := xdr.NewDecoder(reply)
	rh.Decode(d)
	if d.Err() != nil {
		t.Fatalf("reply %x: %v", reply, d.Err())
	}
	want := ReplyHeader{XID: 42, Stat: MsgDenied, Reject: RejectRPCMismatch, Low: 2, High: 2}
	if fmt.Sprint(rh) != fmt.Sprint(want) || d.Remaining() != 0 {
		t.Errorf("reply %+v, want %+v", rh, want)
	}
	mustStatus(t, rh.Err(), VersMismatch, "RPC: Incompatible versions of RPC; low version = 2, high version = 2")

	silent := startServer(t, "udp", func(s *Server) { s.SilentOnRPCMismatch = true })
	if reply := rawCall(t, silent.addr, call, 300*time.Millisecond); reply != nil {
		t.Errorf("silent server answered %x", reply)
	}
	if reply := rawCall(t, ts.addr, []byte("garbage!"), 300*time.Millisecond); reply != nil {
		t.Errorf("server answered garbage with %x", reply)
	}
	// The server still works after both.
	h.RPCVers = 2
	if reply := rawCall(t, silent.addr, h.Append(nil), 5*time.Second); reply == nil {
		t.Error("no answer to a good call")
	}
}

// closedPort returns a loopback port of network that nothing listens on.
func closedPort(t *testing.T, network string) string {
	t.Helper()
	var addr string
	if strings.HasPrefix(network, "udp") {
		pc, err := net.ListenPacket(network, "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr = pc.LocalAddr().String()
		pc.Close()
	} else {
		l, err := net.Listen(network, "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr = l.Addr().String()
		l.Close()
	}
	return addr
}

// TestConnectionRefused: a dead port reads as libtirpc reports it, at once.
func TestConnectionRefused(t *testing.T) {
	t.Run("udp", func(t *testing.T) {
		c, err := Dial(t.Context(), "udp", closedPort(t, "udp"), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		start := time.Now()
		_, err = c.Call(ctxTimeout(t, 10*time.Second), testProg, 1, procNull, nil)
		mustStatus(t, err, CantRecv, "RPC: Unable to receive; errno = Connection refused")
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("errors.Is(%v, ECONNREFUSED) = false", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("refusal took %v", d)
		}
		// The client stays usable: the next call is refused the same way.
		_, err = c.Call(ctxTimeout(t, 10*time.Second), testProg, 1, procNull, nil)
		mustStatus(t, err, CantRecv, "RPC: Unable to receive; errno = Connection refused")
	})
	t.Run("tcp", func(t *testing.T) {
		addr := closedPort(t, "tcp")
		_, err := Dial(ctxTimeout(t, 10*time.Second), "tcp", addr, nil)
		e := mustStatus(t, err, SystemError, "RPC: Remote system error - Connection refused")
		if e.Network != "tcp" || e.Addr != addr || !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("error %v lacks its context or cause", err)
		}
	})
	t.Run("unix", func(t *testing.T) {
		_, err := Dial(t.Context(), "unix", "/nonexistent/rpcbind.sock", nil)
		mustStatus(t, err, SystemError, "RPC: Remote system error - No such file or directory")
	})
	t.Run("unknown host", func(t *testing.T) {
		_, err := Dial(t.Context(), "tcp", "no-such-host.invalid:111", nil)
		mustStatus(t, err, UnknownHost, "RPC: Unknown host")
	})
	t.Run("unknown network", func(t *testing.T) {
		_, err := Dial(t.Context(), "sctp", "127.0.0.1:111", nil)
		mustStatus(t, err, UnknownProto, "RPC: Unknown protocol")
	})
}

// fakeUDP is a UDP server a test scripts by hand: respond gets each call.
func fakeUDP(t *testing.T, respond func(pc net.PacketConn, from net.Addr, call []byte)) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			respond(pc, from, bytes.Clone(buf[:n]))
		}
	}()
	t.Cleanup(func() { pc.Close(); <-done })
	return pc.LocalAddr().String()
}

// successReply builds a SUCCESS reply to xid carrying res.
func successReply(xid uint32, res []byte) []byte {
	h := ReplyHeader{XID: xid}
	return append(h.Append(nil), res...)
}

// TestUDPTimeoutRetransmits: a server that never answers sees the call
// retransmitted on the doubling schedule, and the call times out with the
// context.
func TestUDPTimeoutRetransmits(t *testing.T) {
	var mu sync.Mutex
	var times []time.Time
	addr := fakeUDP(t, func(net.PacketConn, net.Addr, []byte) {
		mu.Lock()
		times = append(times, time.Now())
		mu.Unlock()
	})
	c, err := Dial(t.Context(), "udp", addr, &Options{Retransmit: 40 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	_, err = c.Call(ctxTimeout(t, 700*time.Millisecond), testProg, 1, procNull, nil)
	mustStatus(t, err, TimedOut, "RPC: Timed out")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("errors.Is(%v, DeadlineExceeded) = false", err)
	}
	if d := time.Since(start); d < 650*time.Millisecond || d > 3*time.Second {
		t.Errorf("timed out after %v, want about 700ms", d)
	}
	time.Sleep(50 * time.Millisecond) // let the last datagram arrive
	mu.Lock()
	defer mu.Unlock()
	// Sends at 0, 40, 120, 280, 600 ms: 5, unless the machine is very slow.
	if len(times) < 3 || len(times) > 6 {
		t.Fatalf("%d transmissions, want about 5", len(times))
	}
	// Timers never fire early: 40 + 80 ms at least (a fixed interval: 80).
	if d := times[2].Sub(times[0]); d < 100*time.Millisecond {
		t.Errorf("third transmission %v after the first: not doubling", d)
	}
}

// TestUDPStrayReplies: replies with another xid, garbled datagrams and
// duplicates are ignored; the right reply is delivered.
func TestUDPStrayReplies(t *testing.T) {
	addr := fakeUDP(t, func(pc net.PacketConn, from net.Addr, call []byte) {
		xid := binary.BigEndian.Uint32(call)
		pc.WriteTo(successReply(xid+1, []byte("wrong xid")), from)
		pc.WriteTo([]byte{1, 2, 3}, from)
		pc.WriteTo(append(binary.BigEndian.AppendUint32(nil, xid), 0, 0, 0, 1, 0, 0, 0, 9), from) // bad reply_stat
		pc.WriteTo(successReply(xid, []byte("right")), from)
		pc.WriteTo(successReply(xid, []byte("duplicate")), from)
	})
	c, err := Dial(t.Context(), "udp", addr, &Options{Retransmit: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 3 {
		res, err := c.Call(ctxTimeout(t, 5*time.Second), testProg, 1, procNull, nil)
		if err != nil || string(res) != "right" {
			t.Fatalf("call %d: %q, %v", i, res, err)
		}
	}
}

// TestUDPReplyOverCap: a reply larger than MaxReply is refused.
func TestUDPReplyOverCap(t *testing.T) {
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			ts := startServer(t, network, nil)
			c := ts.dial(t, &Options{MaxReply: 200})
			ctx := ctxTimeout(t, 5*time.Second)
			if _, err := c.Call(ctx, testProg, 1, procBig, xdr.AppendUint32(nil, 100)); err != nil {
				t.Fatalf("reply under the cap: %v", err)
			}
			_, err := c.Call(ctx, testProg, 1, procBig, xdr.AppendUint32(nil, 1000))
			e := mustStatus(t, err, CantDecodeRes, "RPC: Can't decode result")
			if !errors.Is(e, ErrRecordTooLong) {
				t.Errorf("%v does not wrap ErrRecordTooLong", e)
			}
		})
	}
}

// TestTCPServerDiesMidCall: when the connection dies every pending call fails
// at once, and the next call redials.
func TestTCPServerDiesMidCall(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	const pending = 5
	go func() {
		// First connection: take the calls, then hang up without answering.
		conn, err := l.Accept()
		if err != nil {
			return
		}
		for range pending {
			if _, err := ReadRecord(conn, nil, 0); err != nil {
				break
			}
		}
		conn.Close()
		// Second connection: answer properly.
		conn, err = l.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		for {
			rec, err := ReadRecord(conn, nil, 0)
			if err != nil {
				return
			}
			WriteRecord(conn, successReply(binary.BigEndian.Uint32(rec), []byte("again")), 0)
		}
	}()
	c, err := Dial(t.Context(), "tcp", l.Addr().String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := ctxTimeout(t, 30*time.Second)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, pending)
	for i := range pending {
		wg.Go(func() { _, errs[i] = c.Call(ctx, testProg, 1, procNull, nil) })
	}
	wg.Wait()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("pending calls failed after %v", d)
	}
	for _, err := range errs {
		mustStatus(t, err, CantRecv, "RPC: Unable to receive; errno = Connection reset by peer")
	}
	res, err := c.Call(ctx, testProg, 1, procNull, nil)
	if err != nil || string(res) != "again" {
		t.Errorf("call after redial: %q, %v", res, err)
	}
}

// TestStreamCallContext: a stream call gives up when its context ends; the
// connection serves other calls meanwhile when the server handles a
// connection's calls concurrently.
func TestStreamCallContext(t *testing.T) {
	ts := startServer(t, "tcp", func(s *Server) { s.ConcurrentStreamCalls = true })
	c := ts.dial(t, nil)
	start := time.Now()
	_, err := c.Call(ctxTimeout(t, 200*time.Millisecond), testProg, 1, procSlow, nil)
	mustStatus(t, err, TimedOut, "RPC: Timed out")
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("timed out after %v", d)
	}
	if _, err := c.Call(ctxTimeout(t, 5*time.Second), testProg, 1, procNull, nil); err != nil {
		t.Errorf("next call: %v", err)
	}
	cctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = c.Call(cctx, testProg, 1, procNull, nil)
	if e := mustStatus(t, err, TimedOut, ""); !errors.Is(e, context.Canceled) {
		t.Errorf("%v does not wrap context.Canceled", e)
	}
}

// TestClientClose: closing a client fails its pending calls at once, and
// later calls too.
func TestClientClose(t *testing.T) {
	for _, network := range testNetworks {
		t.Run(network, func(t *testing.T) {
			ts := startServer(t, network, nil)
			c, err := Dial(t.Context(), network, ts.addr, nil)
			if err != nil {
				t.Fatal(err)
			}
			errc := make(chan error, 1)
			go func() {
				_, err := c.Call(ctxTimeout(t, 30*time.Second), testProg, 1, procSlow, nil)
				errc <- err
			}()
			<-ts.gate.started
			c.Close()
			select {
			case err := <-errc:
				if err == nil {
					t.Error("pending call succeeded after Close")
				}
			case <-time.After(5 * time.Second):
				t.Fatal("pending call still waiting 5s after Close")
			}
			if _, err := c.Call(t.Context(), testProg, 1, procNull, nil); err == nil {
				t.Error("call after Close succeeded")
			}
		})
	}
}

// TestShutdownWaitsForHandler: Shutdown returns only after the call in
// progress is answered, and the caller gets its reply.
func TestShutdownWaitsForHandler(t *testing.T) {
	for _, network := range testNetworks {
		t.Run(network, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, network, nil)
			c := ts.dial(t, &Options{Retransmit: time.Minute})
			type result struct {
				res []byte
				err error
			}
			callc := make(chan result, 1)
			go func() {
				res, err := c.Call(ctxTimeout(t, 30*time.Second), testProg, 1, procSlow, nil)
				callc <- result{res, err}
			}()
			<-ts.gate.started
			shut := make(chan error, 1)
			go func() { shut <- ts.Shutdown(ctxTimeout(t, 30*time.Second)) }()
			select {
			case err := <-shut:
				t.Fatalf("Shutdown returned %v while a call was in progress", err)
			case <-time.After(200 * time.Millisecond):
			}
			close(ts.gate.release)
			if err := <-shut; err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
			r := <-callc
			if r.err != nil || string(r.res) != "slow" {
				t.Errorf("slow call: %q, %v", r.res, r.err)
			}
			if err := <-ts.done; !errors.Is(err, ErrServerClosed) {
				t.Errorf("serving loop returned %v", err)
			}
			ts.done <- ErrServerClosed // for the cleanup
		})
	}
}

// TestShutdownForced: when Shutdown's context ends first, the handlers'
// context is cancelled and Shutdown returns the context's error.
func TestShutdownForced(t *testing.T) {
	ts := startServer(t, "tcp", nil)
	c := ts.dial(t, nil)
	go c.Call(ctxTimeout(t, 30*time.Second), testProg, 1, procSlow, nil)
	<-ts.gate.started
	err := ts.Shutdown(ctxTimeout(t, 100*time.Millisecond))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v, want DeadlineExceeded", err)
	}
}

// TestIdleTimeout: a connection with no call is closed after IdleTimeout.
func TestIdleTimeout(t *testing.T) {
	ts := startServer(t, "tcp", func(s *Server) { s.IdleTimeout = 150 * time.Millisecond })
	conn, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	d, err := readUntilEOF(conn, 5*time.Second)
	if err != nil {
		t.Fatalf("connection not closed: %v", err)
	}
	if d < 100*time.Millisecond {
		t.Errorf("closed after %v, before the idle timeout", d)
	}
	// A connection with a call in progress outlives the idle timeout.
	c := ts.dial(t, nil)
	res, err := c.Call(ctxTimeout(t, 10*time.Second), testProg, 1, procSlowAfter(ts, 400*time.Millisecond), nil)
	if err != nil || string(res) != "slow" {
		t.Errorf("call longer than the idle timeout: %q, %v", res, err)
	}
}

// procSlowAfter releases the slow procedure after d and returns its number.
func procSlowAfter(ts *testServer, d time.Duration) uint32 {
	go func() {
		<-ts.gate.started
		time.Sleep(d)
		close(ts.gate.release)
	}()
	return procSlow
}

// TestMaxConns: with MaxConns connections open, a new connection takes the
// place of the one idle longest, so idle connections cannot lock out new
// callers; when every open connection has a call in progress, the new one is
// closed at once.
func TestMaxConns(t *testing.T) {
	ts := startServer(t, "tcp", func(s *Server) { s.MaxConns = 2 })
	ctx := ctxTimeout(t, 10*time.Second)
	c1, c2 := ts.dial(t, nil), ts.dial(t, nil)
	for _, c := range []*Client{c1, c2} {
		if _, err := c.Call(ctx, testProg, 1, procNull, nil); err != nil {
			t.Fatal(err)
		}
		// A call ends for the server just after its reply is sent: give
		// c1's end time to be recorded before c2's, on a busy machine too.
		time.Sleep(20 * time.Millisecond)
	}
	// c1 has been idle longest: a third connection replaces it.
	c3 := ts.dial(t, nil)
	if _, err := c3.Call(ctx, testProg, 1, procNull, nil); err != nil {
		t.Fatalf("new connection while the others idle: %v", err)
	}
	if _, err := c2.Call(ctx, testProg, 1, procNull, nil); err != nil {
		t.Errorf("the more recently used connection: %v", err)
	}
	// c1's connection was closed under it; its client redials, which in
	// turn replaces the idlest of c2 and c3.
	// (If c1's client has not yet seen the close when it sends, that call
	// meets the reset and the next one redials.)
	if _, err := c1.Call(ctx, testProg, 1, procNull, nil); err != nil {
		if _, err := c1.Call(ctx, testProg, 1, procNull, nil); err != nil {
			t.Errorf("redial after eviction: %v", err)
		}
	}

	// Both open connections busy: a third is refused.
	busy := []*Client{c1, c2}
	// c2 redials if it was the one replaced; if it sent before its client
	// saw the close, that call meets the reset and the next one redials.
	if _, err := c2.Call(ctx, testProg, 1, procNull, nil); err != nil {
		if _, err := c2.Call(ctx, testProg, 1, procNull, nil); err != nil {
			t.Fatal(err)
		}
	}
	errs := make(chan error, len(busy))
	for _, c := range busy {
		go func() {
			_, err := c.Call(ctx, testProg, 1, procSlow, nil)
			errs <- err
		}()
	}
	for range busy {
		<-ts.gate.started
	}
	conn, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := readUntilEOF(conn, 5*time.Second); err != nil {
		t.Errorf("connection beyond the limit while all are busy not closed: %v", err)
	}
	close(ts.gate.release)
	for range busy {
		if err := <-errs; err != nil {
			t.Errorf("busy connection: %v", err)
		}
	}
}

// TestMaxRecord: a call over the server's MaxRecord closes the connection.
func TestMaxRecord(t *testing.T) {
	ts := startServer(t, "tcp", func(s *Server) { s.MaxRecord = 1000 })
	c := ts.dial(t, nil)
	ctx := ctxTimeout(t, 10*time.Second)
	if _, err := c.Call(ctx, testProg, 1, procEcho, make([]byte, 900)); err != nil {
		t.Fatalf("call under the cap: %v", err)
	}
	_, err := c.Call(ctx, testProg, 1, procEcho, make([]byte, 1000))
	mustStatus(t, err, CantRecv, "")
	// The client redials for the next call.
	if _, err := c.Call(ctx, testProg, 1, procNull, nil); err != nil {
		t.Errorf("call after the refused one: %v", err)
	}
}

// TestMaxInFlight: with one slot, a second call waits for the first.
func TestMaxInFlight(t *testing.T) {
	ts := startServer(t, "tcp", func(s *Server) { s.MaxInFlight = 1 })
	c := ts.dial(t, nil)
	ctx := ctxTimeout(t, 10*time.Second)
	go c.Call(ctx, testProg, 1, procSlow, nil)
	<-ts.gate.started
	_, err := c.Call(ctxTimeout(t, 200*time.Millisecond), testProg, 1, procNull, nil)
	mustStatus(t, err, TimedOut, "")
	close(ts.gate.release)
	if _, err := c.Call(ctx, testProg, 1, procNull, nil); err != nil {
		t.Errorf("call after the slot was freed: %v", err)
	}
}

// TestRequestAddresses: handlers see the transport, the caller's address, the
// local address reached (for UDP on a wildcard socket, the datagram's
// destination) and on unix sockets the caller's credentials; a UDP reply
// comes from the address called. Datagrams are answered by workers and,
// with InlineDatagram, by the reader, whose Request is reused from one call
// to the next: two callers take turns, so that each call shows its own.
func TestRequestAddresses(t *testing.T) {
	who := func(t *testing.T, c *Client) string {
		t.Helper()
		res, err := c.Call(ctxTimeout(t, 5*time.Second), testProg, 1, procWho, nil)
		if err != nil {
			t.Fatal(err)
		}
		return xdr.NewDecoder(res).String(-1)
	}
	t.Run("unix", func(t *testing.T) {
		ts := startServer(t, "unix", nil)
		want := fmt.Sprintf("unix local=%s pid=%d uid=%d gid=%d", ts.addr, os.Getpid(), os.Getuid(), os.Getgid())
		if got := who(t, ts.dial(t, nil)); got != want {
			t.Errorf("handler saw %q, want %q", got, want)
		}
	})
	wildcard := []struct{ network, listen, call, want string }{
		{"udp4", "0.0.0.0:0", "127.0.0.1", "127.0.0.1"},
		{"udp4", "0.0.0.0:0", "127.0.0.2", "127.0.0.2"},
		{"udp", ":0", "127.0.0.3", "127.0.0.3"}, // dual-stack socket, IPv4 caller
		{"udp6", "[::]:0", "::1", "::1"},
	}
	for _, w := range wildcard {
		for _, inline := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s %s to %s inline=%v", w.network, w.listen, w.call, inline), func(t *testing.T) {
				pc, err := net.ListenPacket(w.network, w.listen)
				if err != nil {
					t.Skipf("cannot listen: %v", err)
				}
				s := &Server{Handler: testMux(newGate()), Logger: quietLogger()}
				if inline {
					s.InlineDatagram = func(_, _, proc uint32) bool { return proc == procWho }
				}
				done := make(chan error, 1)
				go func() { done <- s.ServePacket(pc) }()
				defer func() {
					s.Shutdown(t.Context())
					<-done
				}()
				port := pc.LocalAddr().(*net.UDPAddr).Port
				addr := net.JoinHostPort(w.call, fmt.Sprint(port))
				// A connected client accepts only replies from addr.
				var clients [2]*Client
				for i := range clients {
					c, err := Dial(t.Context(), "udp", addr, &Options{Retransmit: time.Minute})
					if err != nil {
						t.Fatal(err)
					}
					defer c.Close()
					clients[i] = c
				}
				for i := range 4 {
					c := clients[i%2]
					want := "udp local=" + net.JoinHostPort(w.want, fmt.Sprint(port)) + " remote=" + c.LocalAddr().String()
					if got := who(t, c); got != want {
						t.Errorf("handler saw %q, want %q", got, want)
					}
				}
			})
		}
	}
	t.Run("tcp", func(t *testing.T) {
		ts := startServer(t, "tcp", nil)
		c := ts.dial(t, nil)
		if got, want := who(t, c), "tcp local="+ts.addr+" remote="+c.LocalAddr().String(); got != want {
			t.Errorf("handler saw %q, want %q", got, want)
		}
	})
}

// TestLocalAddrOption: a client can choose its source address.
func TestLocalAddrOption(t *testing.T) {
	ts := startServer(t, "udp", nil)
	src := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 5)}
	c := ts.dial(t, &Options{LocalAddr: src})
	if got := c.LocalAddr().(*net.UDPAddr).IP; !got.Equal(src.IP) {
		t.Errorf("local address %v, want %v", got, src.IP)
	}
	if _, err := c.Call(ctxTimeout(t, 5*time.Second), testProg, 1, procNull, nil); err != nil {
		t.Error(err)
	}
}

// TestNewClient: a client over connections made by the caller.
func TestNewClient(t *testing.T) {
	for _, network := range testNetworks {
		t.Run(network, func(t *testing.T) {
			ts := startServer(t, network, nil)
			conn, err := net.Dial(network, ts.addr)
			if err != nil {
				t.Fatal(err)
			}
			c := NewClient(conn, nil)
			defer c.Close()
			res, err := c.Call(ctxTimeout(t, 5*time.Second), testProg, 3, procEcho, []byte("abcd"))
			if err != nil || string(res) != "abcd" {
				t.Errorf("Call = %q, %v", res, err)
			}
			if c.RemoteAddr().String() != ts.addr {
				t.Errorf("RemoteAddr = %v", c.RemoteAddr())
			}
		})
	}
}

// TestBroadcast: one call to several servers from one socket; every reply is
// handed over, and returning false ends it.
func TestBroadcast(t *testing.T) {
	s1, s2 := startServer(t, "udp", nil), startServer(t, "udp", nil)
	dead := closedPort(t, "udp")
	var dests []net.Addr
	for _, a := range []string{s1.addr, s2.addr, dead} {
		ua, err := net.ResolveUDPAddr("udp", a)
		if err != nil {
			t.Fatal(err)
		}
		dests = append(dests, ua)
	}
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	got := map[string]string{}
	start := time.Now()
	err = Broadcast(ctxTimeout(t, 10*time.Second), pc, dests, testProg, 1, procEcho, []byte("ping"), nil,
		func(from net.Addr, res []byte, err error) bool {
			if err != nil {
				t.Errorf("reply from %v: %v", from, err)
			}
			got[from.String()] = string(res)
			return len(got) < 2
		})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("broadcast took %v", d)
	}
	if got[s1.addr] != "ping" || got[s2.addr] != "ping" {
		t.Errorf("replies %v", got)
	}
	// Without an early stop it runs until the context ends, retransmitting.
	n := 0
	start = time.Now()
	err = Broadcast(ctxTimeout(t, 300*time.Millisecond), pc, dests[:1], testProg, 2, procNull, nil,
		&Options{Retransmit: 50 * time.Millisecond}, func(_ net.Addr, _ []byte, err error) bool {
			mustStatus(t, err, ProgVersMismatch, "RPC: Program/version mismatch; low version = 1, high version = 3")
			n++
			return true
		})
	if err != nil || n < 2 {
		t.Errorf("Broadcast = %v after %d replies (want retransmissions)", err, n)
	}
	if d := time.Since(start); d < 250*time.Millisecond || d > 3*time.Second {
		t.Errorf("broadcast ended after %v, want about 300ms", d)
	}
}

// BenchmarkCall: one NULL round trip per transport over loopback.
func BenchmarkCall(b *testing.B) {
	for _, network := range testNetworks {
		b.Run(network, func(b *testing.B) {
			ts := startBenchServer(b, network)
			c, err := Dial(b.Context(), network, ts, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			ctx := b.Context()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Call(ctx, testProg, 1, procNull, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// startBenchServer serves the test program for a benchmark and returns its address.
func startBenchServer(b *testing.B, network string) string {
	s := &Server{Handler: testMux(newGate()), Logger: quietLogger()}
	var addr string
	if network == "udp" {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		addr = pc.LocalAddr().String()
		go s.ServePacket(pc)
	} else {
		l := listenStream(b, network)
		addr = l.Addr().String()
		go s.Serve(l)
	}
	b.Cleanup(func() { s.Shutdown(context.Background()) })
	return addr
}

// TestStreamRecordReuse: a connection's calls share a record buffer, kept
// between calls up to reuseRecord bytes; calls of every size, larger and
// smaller than the one before and than reuseRecord, each see their own
// arguments.
func TestStreamRecordReuse(t *testing.T) {
	ts := startServer(t, "tcp", nil)
	c := ts.dial(t, nil)
	for i, n := range []int{3000, 4, reuseRecord + 1000, 8, reuseRecord - 100, 0, 64} {
		arg := bytes.Repeat([]byte{byte(i + 1)}, n)
		res, err := c.Call(ctxTimeout(t, 5*time.Second), testProg, 1, procEcho, arg)
		if err != nil {
			t.Fatalf("call %d (%d bytes): %v", i, n, err)
		}
		if !bytes.Equal(res, arg) {
			t.Fatalf("call %d: echoed %d bytes (% x...), want %d bytes of %d", i, len(res), res[:min(len(res), 8)], n, i+1)
		}
	}
}

// mustBeInOrder fails t unless seen, the numbers of calls 0, 1, ... in the
// order they were handled or begun, is in call order.
func mustBeInOrder(t *testing.T, seen []uint32, what string) {
	t.Helper()
	for i, n := range seen {
		if n != uint32(i) {
			t.Fatalf("call %d %s in position %d: %v", n, what, i, seen[:i+1])
		}
	}
}

// TestStreamCallsInOrder: by default the calls pipelined on one connection are
// handled in the order they arrived, as rpcbind handles them.
func TestStreamCallsInOrder(t *testing.T) {
	const calls = 200
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			var mu sync.Mutex
			var seen []uint32
			conn := pipeline(t, network, func(_ context.Context, r *Request, res []byte) ([]byte, error) {
				d := xdr.NewDecoder(r.Args)
				n := d.Uint32()
				if n%7 == 0 {
					time.Sleep(time.Millisecond) // give a later call a chance to overtake
				}
				mu.Lock()
				seen = append(seen, n)
				mu.Unlock()
				return res, d.Err()
			}, calls)
			readInOrder(t, conn, calls)
			mu.Lock()
			defer mu.Unlock()
			mustBeInOrder(t, seen, "handled")
		})
	}
}

const orderProg = 0x20000066

// pipeline starts a server of handler on network and writes calls calls of
// (orderProg, 1, 1), the argument of call i being i and its xid i+1, in one
// write; it returns the connection to read the replies from.
func pipeline(t *testing.T, network string, handler HandlerFunc, calls int) net.Conn {
	t.Helper()
	var m Mux
	m.HandleFunc(orderProg, 1, 1, handler)
	l := listenStream(t, network)
	s := &Server{Handler: &m, Logger: quietLogger()}
	go s.Serve(l)
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	conn, err := net.Dial(network, l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var out []byte
	for i := range uint32(calls) {
		h := CallHeader{XID: i + 1, RPCVers: RPCVersion, Prog: orderProg, Vers: 1, Proc: 1}
		rec := xdr.AppendUint32(h.Append(nil), i)
		out = binary.BigEndian.AppendUint32(out, 1<<31|uint32(len(rec)))
		out = append(out, rec...)
	}
	if _, err := conn.Write(out); err != nil {
		t.Fatal(err)
	}
	return conn
}

// readInOrder reads calls replies from conn and fails unless their xids are
// 1, 2, ... calls.
func readInOrder(t *testing.T, conn net.Conn, calls int) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for i := range uint32(calls) {
		rec, err := ReadRecord(conn, nil, 1<<16)
		if err != nil {
			t.Fatalf("reply %d: %v", i+1, err)
		}
		var h ReplyHeader
		h.Decode(xdr.NewDecoder(rec))
		if h.XID != i+1 {
			t.Fatalf("reply %d has xid %d: replies out of order", i+1, h.XID)
		}
	}
}

// TestProceed: a call that proceeds lets the connection's next calls be
// handled while it finishes; what each call does before Proceed still happens
// in arrival order, and the replies still leave in call order, though the
// earlier calls finish last.
func TestProceed(t *testing.T) {
	const calls = 100
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			var mu sync.Mutex
			var seen []uint32
			var finishing, most int
			conn := pipeline(t, network, func(_ context.Context, r *Request, res []byte) ([]byte, error) {
				d := xdr.NewDecoder(r.Args)
				n := d.Uint32()
				mu.Lock()
				seen = append(seen, n)
				mu.Unlock()
				if n%3 == 2 {
					return res, d.Err() // answers at once
				}
				r.Proceed()
				mu.Lock()
				finishing++
				most = max(most, finishing)
				mu.Unlock()
				time.Sleep(time.Duration(3-n%4) * time.Millisecond) // the earlier, the longer
				mu.Lock()
				finishing--
				mu.Unlock()
				return res, d.Err()
			}, calls)
			readInOrder(t, conn, calls)
			mu.Lock()
			defer mu.Unlock()
			mustBeInOrder(t, seen, "begun")
			if most < 2 {
				t.Errorf("at most %d calls finishing at once: Proceed did not let the next call in", most)
			}
		})
	}
}

// TestProceedBound: at most MaxProceeding calls of a connection finish after
// Proceed; the next one that proceeds holds the connection until they end.
func TestProceedBound(t *testing.T) {
	const calls = MaxProceeding + 10
	var started atomic.Int32
	release := make(chan struct{})
	conn := pipeline(t, "tcp", func(_ context.Context, r *Request, res []byte) ([]byte, error) {
		started.Add(1)
		r.Proceed()
		<-release
		return res, nil
	}, calls)
	want := int32(MaxProceeding + 1) // those that proceeded, and the one that could not
	deadline := time.Now().Add(10 * time.Second)
	for started.Load() < want && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // time for any call beyond the bound to start
	if got := started.Load(); got != want {
		t.Errorf("%d calls started while all are held, want %d", got, want)
	}
	close(release)
	readInOrder(t, conn, calls)
}

// TestInlineDatagram: a datagram call InlineDatagram names is answered by
// the goroutine reading the socket, so while its handler waits no other
// datagram is answered; one it does not name goes to a worker and holds up
// nothing.
func TestInlineDatagram(t *testing.T) {
	inlineSlow := func(s *Server) {
		s.InlineDatagram = func(_, vers, proc uint32) bool { return proc != procSlow || vers == 3 }
	}
	for _, tt := range []struct {
		name      string
		vers      uint32 // of the slow call
		holdsUpUs bool
	}{
		{"worker", 1, false},
		{"inline", 3, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, "udp", inlineSlow)
			slow, other := ts.dial(t, nil), ts.dial(t, nil)
			done := make(chan error, 1)
			go func() {
				_, err := slow.Call(ctxTimeout(t, 10*time.Second), testProg, tt.vers, procSlow, nil)
				done <- err
			}()
			<-ts.gate.started
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			_, err := other.Call(ctx, testProg, 1, procEcho, []byte{1, 2, 3, 4})
			cancel()
			if tt.holdsUpUs && err == nil {
				t.Error("a call was answered while an inline handler waited")
			}
			if !tt.holdsUpUs && err != nil {
				t.Errorf("a call was held up by a slow one handed to a worker: %v", err)
			}
			close(ts.gate.release)
			if err := <-done; err != nil {
				t.Errorf("the slow call: %v", err)
			}
			if _, err := other.Call(ctxTimeout(t, 5*time.Second), testProg, 1, procEcho, []byte{1, 2, 3, 4}); err != nil {
				t.Errorf("after the slow call: %v", err)
			}
		})
	}
}
