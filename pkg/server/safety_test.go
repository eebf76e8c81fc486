package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

// memConn is an in-memory UDP socket: a test hands the server datagrams from
// any source address, which a real socket on loopback cannot fake, and reads
// the replies with their destinations.
type memConn struct {
	local net.Addr
	in    chan memDatagram
	out   chan memDatagram

	closeOnce sync.Once
	closed    chan struct{}
	wakeOnce  sync.Once
	wake      chan struct{}
}

type memDatagram struct {
	b    []byte
	addr net.Addr
}

func newMemConn(local netip.AddrPort) *memConn {
	return &memConn{
		local:  net.UDPAddrFromAddrPort(local),
		in:     make(chan memDatagram, 1024),
		out:    make(chan memDatagram, 1024),
		closed: make(chan struct{}), wake: make(chan struct{}),
	}
}

func (c *memConn) ReadFrom(b []byte) (int, net.Addr, error) {
	select {
	case d := <-c.in:
		return copy(b, d.b), d.addr, nil
	case <-c.closed:
		return 0, nil, net.ErrClosed
	case <-c.wake:
		return 0, nil, os.ErrDeadlineExceeded
	}
}

func (c *memConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	select {
	case c.out <- memDatagram{bytes.Clone(b), addr}:
		return len(b), nil
	case <-c.closed:
		return 0, net.ErrClosed
	}
}

func (c *memConn) Close() error                  { c.closeOnce.Do(func() { close(c.closed) }); return nil }
func (c *memConn) LocalAddr() net.Addr           { return c.local }
func (c *memConn) SetDeadline(t time.Time) error { return c.SetReadDeadline(t) }
func (c *memConn) SetWriteDeadline(time.Time) error {
	return nil
}

// SetReadDeadline wakes the reader for good once a deadline in the past is
// set, which is how Shutdown stops it.
func (c *memConn) SetReadDeadline(t time.Time) error {
	if !t.IsZero() && !t.After(time.Now()) {
		c.wakeOnce.Do(func() { close(c.wake) })
	}
	return nil
}

// memServer is a Server answering on a memConn at 192.0.2.1:111.
type memServer struct {
	srv  *Server
	conn *memConn
	xid  uint32
}

// startMemServer serves a new Server, set up by setup, on a memConn, with
// the seed table registered, until the test ends.
func startMemServer(t *testing.T, setup func(*Server)) *memServer {
	t.Helper()
	ms := &memServer{srv: New(), conn: newMemConn(netip.MustParseAddrPort("192.0.2.1:111")), xid: 0x7e570000}
	if setup != nil {
		setup(ms.srv)
	}
	for _, m := range seedMappings(t) {
		netid, _ := portmap.NetidForProt(m.Prot)
		ms.srv.Registry().Set(portmap.RPCB{Prog: m.Prog, Vers: m.Vers, Netid: netid,
			Addr: fmt.Sprintf("0.0.0.0.%d.%d", m.Port>>8, m.Port&0xff), Owner: OwnerSuperuser})
	}
	done := make(chan error, 1)
	go func() { done <- ms.srv.ServePacket(ms.conn) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), replyWait)
		defer cancel()
		if err := ms.srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("ServePacket: %v", err)
		}
	})
	return ms
}

// call sends a call from src and returns the reply, or nil after wait.
func (ms *memServer) call(t *testing.T, src string, cred rpc.OpaqueAuth, vers, proc uint32, args []byte, wait time.Duration) (call, reply []byte) {
	t.Helper()
	ms.xid++
	h := rpc.CallHeader{XID: ms.xid, RPCVers: rpc.RPCVersion, Prog: portmap.Program, Vers: vers, Proc: proc, Cred: cred}
	call = append(h.Append(nil), args...)
	from := net.UDPAddrFromAddrPort(netip.MustParseAddrPort(src))
	ms.conn.in <- memDatagram{call, from}
	timeout := time.After(wait)
	for {
		select {
		case d := <-ms.conn.out:
			if d.addr.String() != from.String() {
				t.Fatalf("reply sent to %v, want %v", d.addr, from)
			}
			if len(d.b) >= 4 && bytes.Equal(d.b[:4], call[:4]) {
				return call, d.b
			}
		case <-timeout:
			return call, nil
		}
	}
}

// replyStatus decodes a reply's header.
func replyStatus(t *testing.T, reply []byte) (rpc.ReplyHeader, []byte) {
	t.Helper()
	var h rpc.ReplyHeader
	d := xdr.NewDecoder(reply)
	h.Decode(d)
	if d.Err() != nil {
		t.Fatalf("reply %x: %v", reply, d.Err())
	}
	return h, d.Rest()
}

// TestReflectionRule checks the rule that no UDP reply to a caller off the
// loopback is larger than its call: the listings answer SYSTEM_ERR to such a
// caller, in full to a loopback caller, in full to a caller whose call is
// padded to the reply's size, and in full to anyone with AllowAmplification;
// small answers are never touched.
func TestReflectionRule(t *testing.T) {
	pad := func(n int) rpc.OpaqueAuth { return rpc.OpaqueAuth{Flavor: rpc.AuthSys, Body: make([]byte, n)} }
	sys, err := rpc.AuthSysParams{MachineName: "client", UID: 1000}.Auth()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		amplify bool
		src     string
		cred    rpc.OpaqueAuth
		vers    uint32
		proc    uint32
		args    []byte
		want    rpc.AcceptStat
	}{
		{"v2 DUMP remote", false, "192.0.2.9:700", rpc.OpaqueAuth{}, 2, 4, nil, rpc.AcceptSystemErr},
		{"v3 DUMP remote", false, "192.0.2.9:700", rpc.OpaqueAuth{}, 3, 4, nil, rpc.AcceptSystemErr},
		{"v4 DUMP remote", false, "192.0.2.9:700", rpc.OpaqueAuth{}, 4, 4, nil, rpc.AcceptSystemErr},
		{"v4 GETSTAT remote", false, "192.0.2.9:700", rpc.OpaqueAuth{}, 4, 12, nil, rpc.AcceptSystemErr},
		{"v3 DUMP remote IPv6", false, "[2001:db8::9]:700", rpc.OpaqueAuth{}, 3, 4, nil, rpc.AcceptSystemErr},
		{"v3 DUMP remote AUTH_SYS", false, "192.0.2.9:700", sys, 3, 4, nil, rpc.AcceptSystemErr},
		{"v2 DUMP loopback", false, "127.0.0.1:700", rpc.OpaqueAuth{}, 2, 4, nil, rpc.AcceptSuccess},
		{"v3 DUMP other loopback", false, "127.0.0.5:40000", rpc.OpaqueAuth{}, 3, 4, nil, rpc.AcceptSuccess},
		{"v4 DUMP ::1", false, "[::1]:700", rpc.OpaqueAuth{}, 4, 4, nil, rpc.AcceptSuccess},
		{"v4 DUMP remote, call padded in the credential, still smaller", false, "192.0.2.9:700", pad(400), 4, 4, nil, rpc.AcceptSystemErr},
		{"v3 DUMP remote, call padded to the reply's size", false, "192.0.2.9:700", pad(400), 3, 4, make([]byte, 2048), rpc.AcceptSuccess},
		{"v3 DUMP remote, AllowAmplification", true, "192.0.2.9:700", rpc.OpaqueAuth{}, 3, 4, nil, rpc.AcceptSuccess},
		{"v2 GETPORT remote", false, "192.0.2.9:700", rpc.OpaqueAuth{}, 2, 3, mapArgs(100003, 3, 17, 0), rpc.AcceptSuccess},
		{"v3 GETADDR remote", false, "192.0.2.9:700", rpc.OpaqueAuth{}, 3, 3, rpcbArgs(100003, 3, "udp", "", ""), rpc.AcceptSuccess},
		{"v4 GETTIME remote", false, "192.0.2.9:700", rpc.OpaqueAuth{}, 4, 6, nil, rpc.AcceptSuccess},
		{"NULL remote", false, "192.0.2.9:700", rpc.OpaqueAuth{}, 2, 0, nil, rpc.AcceptSuccess},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms := startMemServer(t, func(s *Server) { s.Policy.AllowAmplification = tt.amplify })
			call, reply := ms.call(t, tt.src, tt.cred, tt.vers, tt.proc, tt.args, replyWait)
			if reply == nil {
				t.Fatal("no reply")
			}
			h, _ := replyStatus(t, reply)
			if h.Stat != rpc.MsgAccepted || h.Accept != tt.want {
				t.Fatalf("reply %v %v (%d bytes to a %d-byte call), want %v", h.Stat, h.Accept, len(reply), len(call), tt.want)
			}
			remote := netip.MustParseAddrPort(tt.src).Addr()
			if !remote.IsLoopback() && !tt.amplify && len(reply) > len(call) {
				t.Errorf("%d-byte reply to a %d-byte call from %v", len(reply), len(call), remote)
			}
			if tt.want == rpc.AcceptSystemErr && len(reply) != acceptedHeaderLen {
				t.Errorf("SYSTEM_ERR of %d bytes, want %d", len(reply), acceptedHeaderLen)
			}
		})
	}
}

// TestCallLen checks that callLen gives the size of the message a request
// was decoded from, whatever its authenticators.
func TestCallLen(t *testing.T) {
	for _, n := range []int{0, 1, 3, 4, 5, 399, 400} {
		for _, args := range [][]byte{nil, {1, 2, 3, 4}, make([]byte, 100)} {
			h := rpc.CallHeader{XID: 1, RPCVers: 2, Prog: 100000, Vers: 2, Proc: 4,
				Cred: rpc.OpaqueAuth{Flavor: rpc.AuthSys, Body: make([]byte, n)},
				Verf: rpc.OpaqueAuth{Body: make([]byte, (n+1)%401)}}
			msg := append(h.Append(nil), args...)
			var req rpc.Request
			d := xdr.NewDecoder(msg)
			req.Header.Decode(d)
			req.Args = d.Rest()
			if got := callLen(&req); got != len(msg) {
				t.Errorf("cred %d bytes, args %d: callLen %d, message %d", n, len(args), got, len(msg))
			}
		}
	}
}

// TestRateLimit sends a burst of calls from one remote source, then from a
// second, from the loopback and over the limit's refill time, and counts the
// answers: each remote source gets its burst and no more, the loopback is
// not limited, and a limit that is off lets everything through.
func TestRateLimit(t *testing.T) {
	const rate, burst, sent = 10, 20, 60
	count := func(ms *memServer, src string, n int) int {
		got := 0
		for range n {
			if _, r := ms.call(t, src, rpc.OpaqueAuth{}, 2, 0, nil, 50*time.Millisecond); r != nil {
				got++
			}
		}
		return got
	}
	t.Run("limited", func(t *testing.T) {
		ms := startMemServer(t, func(s *Server) { s.Policy.UDPRate, s.Policy.UDPBurst = rate, burst })
		start := time.Now()
		got := count(ms, "192.0.2.9:700", sent)
		// The bucket refills at rate while the calls are sent.
		max := burst + int(time.Since(start).Seconds()*rate) + 1
		if got < burst || got > max {
			t.Errorf("%d of %d calls answered, want %d to %d", got, sent, burst, max)
		}
		if n := count(ms, "192.0.2.10:700", burst); n != burst {
			t.Errorf("a second source got %d of %d answers", n, burst)
		}
		if n := count(ms, "127.0.0.1:700", sent); n != sent {
			t.Errorf("loopback got %d of %d answers", n, sent)
		}
		if n := count(ms, "[2001:db8::1]:700", burst); n != burst {
			t.Errorf("an IPv6 source got %d of %d answers", n, burst)
		}
		// Another address of the same /64 shares its bucket, which holds
		// only what it earned meanwhile.
		start = time.Now()
		if n := count(ms, "[2001:db8::2]:700", 5); n > 1+int(time.Since(start).Seconds()*rate) {
			t.Errorf("an address of the same /64 got %d of 5 answers in %v; the bucket should be empty", n, time.Since(start))
		}
	})
	t.Run("off", func(t *testing.T) {
		ms := startMemServer(t, func(s *Server) { s.Policy.NoUDPRateLimit = true; s.Policy.UDPBurst = 1 })
		if n := count(ms, "192.0.2.9:700", sent); n != sent {
			t.Errorf("%d of %d answered with the limit off", n, sent)
		}
	})
}

// TestLimiter drives the token buckets with a fake clock: burst, refill,
// the /64 key, the table's bound and its sweep.
func TestLimiter(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newLimiter(Policy{UDPRate: 2, UDPBurst: 4}, func() time.Time { return now })
	a := netip.MustParseAddr("192.0.2.9")
	take := func(a netip.Addr, n int) int {
		ok := 0
		for range n {
			if l.allow(a) {
				ok++
			}
		}
		return ok
	}
	if n := take(a, 10); n != 4 {
		t.Errorf("burst: %d allowed, want 4", n)
	}
	now = now.Add(1500 * time.Millisecond) // 3 tokens
	if n := take(a, 10); n != 3 {
		t.Errorf("after 1.5 s at 2/s: %d allowed, want 3", n)
	}
	now = now.Add(time.Hour)
	if n := take(a, 10); n != 4 {
		t.Errorf("after an hour: %d allowed, want the burst, 4", n)
	}
	if sourceKey(netip.MustParseAddr("2001:db8:1:2:3::4")) != netip.MustParseAddr("2001:db8:1:2::") {
		t.Error("IPv6 sources are not keyed by their /64")
	}

	// Fill the table; new sources then share the overflow bucket until a
	// sweep, a second later, forgets the idle ones.
	for i := range maxRateSources - len(l.src) {
		l.allow(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
	}
	if len(l.src) != maxRateSources {
		t.Fatalf("table holds %d sources, want %d", len(l.src), maxRateSources)
	}
	l.lastSweep = now // a sweep has just run: the next is a second away
	fresh := netip.MustParseAddr("198.51.100.1")
	if n := take(fresh, 10); n != 4 {
		t.Errorf("first overflow source: %d allowed, want the shared burst, 4", n)
	}
	if n := take(netip.MustParseAddr("198.51.100.2"), 10); n != 0 {
		t.Errorf("second overflow source: %d allowed, want 0 (the shared bucket is empty)", n)
	}
	if len(l.src) != maxRateSources {
		t.Errorf("table grew to %d", len(l.src))
	}
	now = now.Add(3 * time.Second) // every bucket is full again: all idle
	if n := take(netip.MustParseAddr("198.51.100.3"), 10); n != 4 {
		t.Errorf("after the sweep: %d allowed, want 4", n)
	}
	if len(l.src) != 1 {
		t.Errorf("after the sweep the table holds %d sources, want 1", len(l.src))
	}
	if newLimiter(Policy{NoUDPRateLimit: true}, time.Now) != nil {
		t.Error("NoUDPRateLimit still makes a limiter")
	}
}

// TestAccessLists checks the allow and deny lists for each kind of caller.
func TestAccessLists(t *testing.T) {
	p := func(s ...string) []netip.Prefix {
		var out []netip.Prefix
		for _, x := range s {
			out = append(out, netip.MustParsePrefix(x))
		}
		return out
	}
	remote := func(a string) caller {
		return caller{netid: portmap.NetidUDP, datagram: true, remote: netip.AddrPortFrom(netip.MustParseAddr(a), 700)}
	}
	local := caller{netid: portmap.NetidLocal}
	tests := []struct {
		name        string
		allow, deny []netip.Prefix
		c           caller
		want        bool
	}{
		{"no lists", nil, nil, remote("192.0.2.9"), true},
		{"denied", nil, p("192.0.2.0/24"), remote("192.0.2.9"), false},
		{"not in deny", nil, p("192.0.2.0/24"), remote("198.51.100.1"), true},
		{"allowed over deny", p("192.0.2.9/32"), p("192.0.2.0/24"), remote("192.0.2.9"), true},
		{"allow list refuses the rest", p("192.0.2.0/24"), nil, remote("198.51.100.1"), false},
		{"allow list lets its own in", p("192.0.2.0/24"), nil, remote("192.0.2.200"), true},
		{"deny all, loopback still in", nil, p("0.0.0.0/0", "::/0"), remote("127.0.0.1"), true},
		{"deny all, ::1 still in", nil, p("0.0.0.0/0", "::/0"), remote("::1"), true},
		{"deny all, local socket still in", nil, p("0.0.0.0/0", "::/0"), local, true},
		{"deny all IPv6", nil, p("::/0"), remote("2001:db8::1"), false},
		{"IPv4 deny does not catch IPv6", nil, p("0.0.0.0/0"), remote("2001:db8::1"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (Policy{Allow: tt.allow, Deny: tt.deny}).mayQuery(tt.c); got != tt.want {
				t.Errorf("mayQuery = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestAccessListsServed checks that a refused caller gets AUTH_TOOWEAK for
// any procedure, over UDP and TCP alike, and that the refusal is never
// larger than the call.
func TestAccessListsServed(t *testing.T) {
	ms := startMemServer(t, func(s *Server) { s.Policy.Deny = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")} })
	for _, proc := range []uint32{0, 3, 4} {
		call, reply := ms.call(t, "192.0.2.9:700", rpc.OpaqueAuth{}, 2, proc, nil, replyWait)
		h, _ := replyStatus(t, reply)
		if h.Stat != rpc.MsgDenied || h.Reject != rpc.RejectAuthError || h.Auth != rpc.AuthTooWeak || len(reply) > len(call) {
			t.Errorf("proc %d: %v %v %v (%d bytes), want AUTH_ERROR AUTH_TOOWEAK", proc, h.Stat, h.Reject, h.Auth, len(reply))
		}
	}
	if _, reply := ms.call(t, "198.51.100.1:700", rpc.OpaqueAuth{}, 2, 0, nil, replyWait); reply == nil {
		t.Error("a caller outside the deny list got no answer")
	}
	ts := startServer(t, func(s *Server) { s.Policy.Deny = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")} })
	if r := ts.dial(t, viaTCP, false).call(3, 4, nil); r.status() != rpc.Success {
		t.Errorf("a loopback caller over TCP was refused: %v", r.hdr.Err())
	}
}
