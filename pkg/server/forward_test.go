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

	"github.com/portmap-toolkit/pmap/internal/testsupport"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

// Procedures of the forwarding target (program fwdProg, version 1).
const (
	fwdProg       = 300001
	procEcho      = 1 // answers its arguments
	procSilent    = 2 // never answers
	procNotServed = 3 // PROC_UNAVAIL
)

// echoTarget is a program on 127.0.0.1 that forwarded calls reach; it
// records what each echo call carried.
type echoTarget struct {
	fake *testsupport.FakeService
	mu   sync.Mutex
	seen []string // credential flavor and body, and arguments, of each echo call
}

func startEchoTarget(t *testing.T) *echoTarget {
	t.Helper()
	e := &echoTarget{fake: testsupport.ServeFake(t, fwdProg, 1, 1)}
	e.fake.Mux.HandleFunc(fwdProg, 1, procEcho, func(_ context.Context, req *rpc.Request, res []byte) ([]byte, error) {
		e.mu.Lock()
		e.seen = append(e.seen, fmt.Sprintf("%v %x %x", req.Header.Cred.Flavor, unstamped(req.Header.Cred), req.Args))
		e.mu.Unlock()
		return append(res, req.Args...), nil
	})
	e.fake.Mux.HandleFunc(fwdProg, 1, procSilent, func(context.Context, *rpc.Request, []byte) ([]byte, error) {
		return nil, rpc.ErrNoReply
	})
	return e
}

// unstamped returns a credential's body without an AUTH_SYS stamp, which
// rpcbind replaces with its own when it forwards (the stamp is any number
// the caller likes, RFC 5531 Appendix A).
func unstamped(a rpc.OpaqueAuth) []byte {
	if a.Flavor == rpc.AuthSys && len(a.Body) >= 4 {
		return a.Body[4:]
	}
	return a.Body
}

func (e *echoTarget) calls() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.seen...)
}

// uaddr is the target's UDP address as registered: a wildcard host.
func (e *echoTarget) uaddr() string {
	p := e.fake.UDP.Port()
	return fmt.Sprintf("0.0.0.0.%d.%d", p>>8, p&0xff)
}

// rawCall sends msg from an unconnected UDP socket on 127.0.0.1 and returns
// the first datagram that comes back with msg's xid, from any port (rpcbind
// answers a forwarded call from its forwarding socket), or nil after wait.
func rawCall(t *testing.T, target string, msg []byte, wait time.Duration) []byte {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	to, err := net.ResolveUDPAddr("udp4", target)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.WriteTo(msg, to); err != nil {
		t.Fatal(err)
	}
	pc.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 1<<16)
	for {
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return nil
			}
			t.Fatal(err)
		}
		if n >= 4 && bytes.Equal(buf[:4], msg[:4]) {
			return append([]byte(nil), buf[:n]...)
		}
	}
}

// fwdProbe is one call of the forwarding tests.
type fwdProbe struct {
	name       string
	vers, proc uint32
	cred       rpc.OpaqueAuth
	args       []byte
}

// forwardProbes are the calls on which this server with forwarding on and
// rpcbind -r must agree byte for byte.
func forwardProbes(t *testing.T) []fwdProbe {
	sys, err := rpc.AuthSysParams{Stamp: 7, MachineName: "client", UID: 1000, GID: 100, GIDs: []uint32{4, 24}}.Auth()
	if err != nil {
		t.Fatal(err)
	}
	hello := xdr.AppendString(nil, "hello, forwarded world")
	rmt := func(prog, vers, proc uint32, args []byte) []byte { return rmtArgs(prog, vers, proc, args) }
	return []fwdProbe{
		{name: "v2 CALLIT echo", vers: 2, proc: 5, args: rmt(fwdProg, 1, procEcho, hello)},
		{name: "v2 CALLIT echo AUTH_SYS", vers: 2, proc: 5, cred: sys, args: rmt(fwdProg, 1, procEcho, hello)},
		{name: "v3 CALLIT echo", vers: 3, proc: 5, args: rmt(fwdProg, 1, procEcho, hello)},
		{name: "v4 BCAST echo AUTH_SYS", vers: 4, proc: 5, cred: sys, args: rmt(fwdProg, 1, procEcho, hello)},
		{name: "v4 INDIRECT echo", vers: 4, proc: 10, args: rmt(fwdProg, 1, procEcho, hello)},
		{name: "v4 INDIRECT NULL", vers: 4, proc: 10, args: rmt(fwdProg, 1, 0, nil)},
		{name: "v2 CALLIT PROC_UNAVAIL", vers: 2, proc: 5, args: rmt(fwdProg, 1, procNotServed, nil)},
		{name: "v3 CALLIT PROC_UNAVAIL", vers: 3, proc: 5, args: rmt(fwdProg, 1, procNotServed, nil)},
		{name: "v4 INDIRECT PROC_UNAVAIL", vers: 4, proc: 10, args: rmt(fwdProg, 1, procNotServed, nil)},
		{name: "v4 INDIRECT version not registered", vers: 4, proc: 10, args: rmt(fwdProg, 9, 0, nil)},
		{name: "v4 INDIRECT program not registered", vers: 4, proc: 10, args: rmt(300777, 1, 0, nil)},
		{name: "v2 CALLIT program not registered", vers: 2, proc: 5, args: rmt(300777, 1, 0, nil)},
		{name: "v4 INDIRECT port mapper NULL", vers: 4, proc: 10, args: rmt(portmap.Program, 4, 0, nil)},
		{name: "v2 CALLIT port mapper NULL", vers: 2, proc: 5, args: rmt(portmap.Program, 2, 0, nil)},
		{name: "v3 CALLIT port mapper NULL", vers: 3, proc: 5, args: rmt(portmap.Program, 3, 0, nil)},
		{name: "v4 INDIRECT port mapper GETPORT", vers: 4, proc: 10, args: rmt(portmap.Program, 2, 3, mapArgs(fwdProg, 1, 17, 0))},
		{name: "v4 INDIRECT NFS", vers: 4, proc: 10, args: rmt(100003, 3, 1, nil)},
		{name: "v2 CALLIT mount MNT", vers: 2, proc: 5, args: rmt(100005, 3, 1, xdr.AppendString(nil, "/"))},
	}
}

// exchangeForward registers the target at mapper (privileged loopback UDP),
// sends the probes, checks that nothing is forwarded over TCP (mapperTCP),
// and returns the replies and, last, the GETSTAT of the end.
func exchangeForward(t *testing.T, mapper, mapperTCP string, e *echoTarget, probes []fwdProbe) [][]byte {
	t.Helper()
	c := dialTarget(t, viaUDP, mapper, true)
	if !c.call(3, 1, rpcbArgs(fwdProg, 1, "udp", e.uaddr(), "")).bool(t) {
		t.Fatal("SET of the target refused")
	}
	c.conn.Close()
	out := make([][]byte, len(probes)+1)
	for i, p := range probes {
		h := rpc.CallHeader{XID: 0xf0d00000 + uint32(i), RPCVers: 2, Prog: portmap.Program, Vers: p.vers, Proc: p.proc, Cred: p.cred}
		out[i] = rawCall(t, mapper, append(h.Append(nil), p.args...), silenceWait)
	}
	// Over TCP nothing is forwarded.
	tc := dialTarget(t, viaTCP, mapperTCP, false)
	tc.silent(3, 5, rmtArgs(fwdProg, 1, procEcho, nil))
	tc.silent(4, 10, rmtArgs(fwdProg, 1, procEcho, nil))
	out[len(probes)] = tc.call(4, 12, nil).res
	tc.conn.Close()
	return out
}

// TestForward checks forwarding against a target on 127.0.0.1: the
// target's answer comes back wrapped as rpcbind wraps it, the caller's
// credential reaches the target, and the calls rpcbind refuses are refused.
func TestForward(t *testing.T) {
	e := startEchoTarget(t)
	ts := startServer(t, func(s *Server) { s.Policy.Forward = true })
	probes := forwardProbes(t)
	got := exchangeForward(t, ts.udp.String(), ts.tcp.String(), e, probes)
	hello := xdr.AppendString(nil, "hello, forwarded world")
	port := uint32(e.fake.UDP.Port())
	merged := fmt.Sprintf("127.0.0.1.%d.%d", port>>8, port&0xff)
	own := portmap.FormatUaddr(ts.udp)
	success := func(results []byte) func(t *testing.T, vers uint32, r []byte) {
		return func(t *testing.T, vers uint32, r []byte) {
			h, rest := replyStatus(t, r)
			if h.Stat != rpc.MsgAccepted || h.Accept != rpc.AcceptSuccess {
				t.Fatalf("%v %v, want SUCCESS", h.Stat, h.Accept)
			}
			var want []byte
			if vers == 2 {
				want = portmap.CallResult{Port: port, Res: results}.Append(nil)
			} else {
				want = portmap.RmtCallRes{Addr: merged, Results: results}.Append(nil)
			}
			if !bytes.Equal(rest, want) {
				t.Errorf("results %x, want %x", rest, want)
			}
		}
	}
	self := func(t *testing.T, vers uint32, r []byte) {
		h, rest := replyStatus(t, r)
		want := portmap.RmtCallRes{Addr: own}.Append(nil)
		if vers == 2 {
			want = portmap.CallResult{Port: uint32(ts.udp.Port())}.Append(nil)
		}
		if h.Accept != rpc.AcceptSuccess || !bytes.Equal(rest, want) {
			t.Errorf("%v %x, want SUCCESS %x", h.Accept, rest, want)
		}
	}
	silent := func(t *testing.T, _ uint32, r []byte) {
		if r != nil {
			t.Errorf("reply %x, want none", r)
		}
	}
	status := func(want rpc.AcceptStat) func(t *testing.T, vers uint32, r []byte) {
		return func(t *testing.T, _ uint32, r []byte) {
			if h, _ := replyStatus(t, r); h.Stat != rpc.MsgAccepted || h.Accept != want {
				t.Errorf("%v %v, want %v", h.Stat, h.Accept, want)
			}
		}
	}
	tooWeak := func(t *testing.T, _ uint32, r []byte) {
		if h, _ := replyStatus(t, r); h.Stat != rpc.MsgDenied || h.Auth != rpc.AuthTooWeak {
			t.Errorf("%v %v, want AUTH_TOOWEAK", h.Stat, h.Auth)
		}
	}
	checks := map[string]func(t *testing.T, vers uint32, r []byte){
		"v2 CALLIT echo":                     success(hello),
		"v2 CALLIT echo AUTH_SYS":            success(hello),
		"v3 CALLIT echo":                     success(hello),
		"v4 BCAST echo AUTH_SYS":             success(hello),
		"v4 INDIRECT echo":                   success(hello),
		"v4 INDIRECT NULL":                   success(nil),
		"v2 CALLIT PROC_UNAVAIL":             silent,
		"v3 CALLIT PROC_UNAVAIL":             silent,
		"v4 INDIRECT PROC_UNAVAIL":           status(rpc.AcceptSystemErr),
		"v4 INDIRECT version not registered": status(rpc.AcceptProgMismatch),
		"v4 INDIRECT program not registered": status(rpc.AcceptProgUnavail),
		"v2 CALLIT program not registered":   silent,
		"v4 INDIRECT port mapper NULL":       self,
		"v2 CALLIT port mapper NULL":         self,
		"v3 CALLIT port mapper NULL":         self,
		"v4 INDIRECT port mapper GETPORT":    tooWeak,
		"v4 INDIRECT NFS":                    tooWeak,
		"v2 CALLIT mount MNT":                tooWeak,
	}
	for i, p := range probes {
		t.Run(p.name, func(t *testing.T) {
			check, ok := checks[p.name]
			if !ok {
				t.Fatal("no check")
			}
			check(t, p.vers, got[i])
		})
	}
	sys := forwardProbes(t)[1].cred
	want := []string{
		fmt.Sprintf("AUTH_NONE  %x", hello),
		fmt.Sprintf("AUTH_SYS %x %x", sys.Body[4:], hello),
		fmt.Sprintf("AUTH_NONE  %x", hello),
		fmt.Sprintf("AUTH_SYS %x %x", sys.Body[4:], hello),
		fmt.Sprintf("AUTH_NONE  %x", hello),
	}
	if got := e.calls(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("the target saw\n%q\nwant\n%q", got, want)
	}
}

// TestForwardLimits checks the bounds of forwarding: a silent target costs
// the caller ForwardTimeout (CALLIT silence, INDIRECT SYSTEM_ERR); with
// MaxForwards outstanding, another call is refused at once; a target
// registered at the mapper's own port, or on another host, is not called.
func TestForwardLimits(t *testing.T) {
	e := startEchoTarget(t)
	const timeout = time.Second
	ts := startServer(t, func(s *Server) {
		s.Policy.Forward, s.MaxForwards, s.ForwardTimeout = true, 1, timeout
	})
	c := ts.dial(t, viaUnix, false)
	own := ts.udp.Port()
	for _, r := range []portmap.RPCB{
		{Prog: fwdProg, Vers: 1, Netid: "udp", Addr: e.uaddr()},
		{Prog: 300010, Vers: 1, Netid: "udp", Addr: fmt.Sprintf("0.0.0.0.%d.%d", own>>8, own&0xff)},
		{Prog: 300011, Vers: 1, Netid: "udp", Addr: "192.0.2.77.8.1"},
		{Prog: 300012, Vers: 1, Netid: "udp", Addr: "127.0.0.1.0.0"},
	} {
		if !c.call(3, 1, r.Append(nil)).bool(t) {
			t.Fatalf("SET %v refused", r)
		}
	}
	indirect := func(prog, proc uint32, wait time.Duration) []byte {
		h := rpc.CallHeader{XID: uint32(time.Now().UnixNano()), RPCVers: 2, Prog: portmap.Program, Vers: 4, Proc: 10}
		return rawCall(t, ts.udp.String(), append(h.Append(nil), rmtArgs(prog, 1, proc, nil)...), wait)
	}
	start := time.Now()
	if h, _ := replyStatus(t, indirect(fwdProg, procSilent, replyWait)); h.Accept != rpc.AcceptSystemErr {
		t.Errorf("INDIRECT to a silent target: %v, want SYSTEM_ERR", h.Accept)
	}
	if d := time.Since(start); d < timeout || d > timeout+2*time.Second {
		t.Errorf("INDIRECT to a silent target answered after %v, want about %v", d, timeout)
	}

	// One forward outstanding (to the silent target): the next is refused
	// at once.
	busy := make(chan []byte, 1)
	go func() { busy <- indirect(fwdProg, procSilent, replyWait) }()
	deadline := time.Now().Add(replyWait)
	for len(ts.srv.svc.fwd.slots) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the first forward never started")
		}
		time.Sleep(time.Millisecond)
	}
	start = time.Now()
	if h, _ := replyStatus(t, indirect(fwdProg, procEcho, replyWait)); h.Accept != rpc.AcceptSystemErr || time.Since(start) > timeout/2 {
		t.Errorf("INDIRECT with the forwards all taken: %v after %v, want SYSTEM_ERR at once", h.Accept, time.Since(start))
	}
	<-busy
	if e.calls() != nil {
		t.Errorf("the echo procedure was called: %v", e.calls())
	}

	for _, prog := range []uint32{300010, 300011, 300012} {
		if h, _ := replyStatus(t, indirect(prog, 0, replyWait)); h.Accept != rpc.AcceptSystemErr {
			t.Errorf("INDIRECT to program %d: %v, want SYSTEM_ERR", prog, h.Accept)
		}
	}
	for _, tt := range []struct {
		addr string
		ok   bool
	}{
		{"0.0.0.0:2049", true},
		{"[::]:2049", true},
		{"127.0.0.1:2049", true},
		{"127.0.0.9:2049", true},
		{netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), own).String(), false},
		{"192.0.2.77:2049", false},
		{"0.0.0.0:0", false},
	} {
		if _, ok := ts.srv.svc.forwardTarget(netip.MustParseAddrPort(tt.addr)); ok != tt.ok {
			t.Errorf("forwardTarget(%s) = %v, want %v", tt.addr, ok, tt.ok)
		}
	}
}

// TestForwardReflection checks that a forwarded answer sent to a caller off
// the loopback is held to the size of its call like any other.
func TestForwardReflection(t *testing.T) {
	e := startEchoTarget(t)
	e.fake.Mux.HandleFunc(fwdProg, 1, 4, func(_ context.Context, _ *rpc.Request, res []byte) ([]byte, error) {
		return append(res, make([]byte, 1000)...), nil // a large answer to a small call
	})
	ms := startMemServer(t, func(s *Server) { s.Policy.Forward = true })
	ms.srv.Registry().Set(portmap.RPCB{Prog: fwdProg, Vers: 1, Netid: "udp", Addr: e.uaddr(), Owner: OwnerSuperuser})
	for _, tt := range []struct {
		src  string
		want rpc.AcceptStat
	}{
		{"192.0.2.9:700", rpc.AcceptSystemErr},
		{"127.0.0.1:700", rpc.AcceptSuccess},
	} {
		call, reply := ms.call(t, tt.src, rpc.OpaqueAuth{}, 4, 10, rmtArgs(fwdProg, 1, 4, nil), replyWait)
		if h, _ := replyStatus(t, reply); h.Accept != tt.want {
			t.Errorf("from %s: %v (%d bytes to %d), want %v", tt.src, h.Accept, len(reply), len(call), tt.want)
		}
	}
}

// TestForwardDifferential sends the same calls to Debian's rpcbind -r and
// to this server with forwarding on, each alone on port 111 in the test's
// namespace, with the same target program: the replies must be the same
// byte for byte (or the same silence), GETSTAT's included, and the target
// must see the same calls. (rpcbind answers a forwarded call from its
// forwarding socket, this server from port 111: the source port is not
// compared.)
func TestForwardDifferential(t *testing.T) {
	if !testsupport.Isolate(t) {
		return
	}
	e := startEchoTarget(t)
	probes := forwardProbes(t)
	rb := testsupport.StartRpcbind(t, "-r")
	want := exchangeForward(t, "127.0.0.1:111", "127.0.0.1:111", e, probes)
	wantSeen := e.calls()
	rb.Stop()
	os.Remove(DefaultSocketPath)
	e.mu.Lock()
	e.seen = nil
	e.mu.Unlock()

	srv := New()
	srv.Policy.Forward = true
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ListenAndServe(ctx) }()
	testsupport.WaitPort(t, "unix", DefaultSocketPath)
	testsupport.WaitPort(t, "tcp", "127.0.0.1:111")
	testsupport.WaitPort(t, "udp", "127.0.0.1:111")
	got := exchangeForward(t, "127.0.0.1:111", "127.0.0.1:111", e, probes)
	gotSeen := e.calls()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("ListenAndServe: %v", err)
	}
	names := make([]string, 0, len(probes)+1)
	for _, p := range probes {
		names = append(names, p.name)
	}
	names = append(names, "v4 GETSTAT")
	for i, name := range names {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("%s:\n rpcbind -r %s\n portmapd   %s", name, hexOrSilence(want[i]), hexOrSilence(got[i]))
		}
	}
	if fmt.Sprint(gotSeen) != fmt.Sprint(wantSeen) {
		t.Errorf("the target saw\n%q\nfrom portmapd, and\n%q\nfrom rpcbind -r", gotSeen, wantSeen)
	}
}
