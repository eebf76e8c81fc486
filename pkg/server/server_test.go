package server

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

// fixedNow is the clock of the test servers, for GETTIME.
var fixedNow = time.Unix(1795842941, 0)

func withClock(s *Server) { s.Now = func() time.Time { return fixedNow } }

// dump returns the v3 DUMP of ts over TCP.
func (ts *testServer) dump(t *testing.T) []portmap.RPCB {
	t.Helper()
	d := ts.dial(t, viaTCP, false).call(portmap.V3, portmap.RpcbDump, nil).ok(t)
	l := portmap.DecodeRPCBList(d, nil, portmap.MaxListEntries)
	if d.Err() != nil {
		t.Fatal(d.Err())
	}
	return l
}

// dumpV2 returns the v2 DUMP of ts over TCP.
func (ts *testServer) dumpV2(t *testing.T) []portmap.Mapping {
	t.Helper()
	d := ts.dial(t, viaTCP, false).call(portmap.V2, portmap.PmapDump, nil).ok(t)
	l := portmap.DecodeMappingList(d, nil, portmap.MaxListEntries)
	if d.Err() != nil {
		t.Fatal(d.Err())
	}
	return l
}

// userEntries drops the mapper's own entries from a dump.
func userEntries(l []portmap.RPCB) []portmap.RPCB {
	var out []portmap.RPCB
	for _, r := range l {
		if r.Prog != portmap.Program {
			out = append(out, r)
		}
	}
	return out
}

func TestOwnEntries(t *testing.T) {
	ts := startServer(t, nil)
	ts.needIPv6(t)
	u := func(ap netip.AddrPort) string { return portmap.FormatUaddr(ap) }
	var want []portmap.RPCB
	add := func(netid, addr string, vers ...uint32) {
		for _, v := range vers {
			want = append(want, portmap.RPCB{Prog: portmap.Program, Vers: v, Netid: netid, Addr: addr, Owner: OwnerSuperuser})
		}
	}
	// rpcbind's order (testdata/rpcinfo/default.out): tcp6, udp6, tcp, udp,
	// local; versions 4, 3 (and 2 for IPv4).
	add("tcp6", u(ts.tcp6), 4, 3)
	add("udp6", u(ts.udp6), 4, 3)
	add("tcp", u(ts.tcp), 4, 3, 2)
	add("udp", u(ts.udp), 4, 3, 2)
	add("local", ts.sock, 4, 3)
	if got := ts.dump(t); !reflect.DeepEqual(got, want) {
		t.Errorf("v3 DUMP:\n got %v\nwant %v", got, want)
	}
	wantV2 := []portmap.Mapping{
		{Prog: portmap.Program, Vers: 4, Prot: portmap.IPProtoTCP, Port: uint32(ts.tcp.Port())},
		{Prog: portmap.Program, Vers: 3, Prot: portmap.IPProtoTCP, Port: uint32(ts.tcp.Port())},
		{Prog: portmap.Program, Vers: 2, Prot: portmap.IPProtoTCP, Port: uint32(ts.tcp.Port())},
		{Prog: portmap.Program, Vers: 4, Prot: portmap.IPProtoUDP, Port: uint32(ts.udp.Port())},
		{Prog: portmap.Program, Vers: 3, Prot: portmap.IPProtoUDP, Port: uint32(ts.udp.Port())},
		{Prog: portmap.Program, Vers: 2, Prot: portmap.IPProtoUDP, Port: uint32(ts.udp.Port())},
	}
	if got := ts.dumpV2(t); !reflect.DeepEqual(got, wantV2) {
		t.Errorf("v2 DUMP:\n got %v\nwant %v", got, wantV2)
	}
}

// TestDualStackListener checks that an IPv6 wildcard socket that also takes
// IPv4 callers is registered under both netids, and its IPv4 callers are
// answered as tcp callers.
func TestDualStackListener(t *testing.T) {
	l, err := net.Listen("tcp", "[::]:0") // Go makes this dual-stack
	if err != nil {
		t.Skipf("no IPv6: %v", err)
	}
	srv := New()
	go srv.Serve(l)
	defer srv.Shutdown(context.Background())
	port := l.Addr().(*net.TCPAddr).Port
	c := dialTarget(t, viaTCP, fmt.Sprintf("127.0.0.1:%d", port), false)
	d := c.call(portmap.V4, portmap.RpcbDump, nil).ok(t)
	var got []string
	for _, r := range portmap.DecodeRPCBList(d, nil, 100) {
		got = append(got, fmt.Sprintf("%d %s %s", r.Vers, r.Netid, r.Addr))
	}
	p1, p2 := port>>8, port&0xff
	want := []string{
		fmt.Sprintf("4 tcp6 ::.%d.%d", p1, p2), fmt.Sprintf("3 tcp6 ::.%d.%d", p1, p2),
		fmt.Sprintf("4 tcp 0.0.0.0.%d.%d", p1, p2), fmt.Sprintf("3 tcp 0.0.0.0.%d.%d", p1, p2), fmt.Sprintf("2 tcp 0.0.0.0.%d.%d", p1, p2),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DUMP %q, want %q", got, want)
	}
	if a := c.call(portmap.V3, portmap.RpcbGetaddr, rpcbArgs(portmap.Program, 3, "", "", "")).str(t); a != fmt.Sprintf("127.0.0.1.%d.%d", p1, p2) {
		t.Errorf("GETADDR over IPv4 to a dual-stack socket = %q", a)
	}
}

// step is one call of a scripted exchange and what must come back.
type step struct {
	name       string
	via        string
	privileged bool
	vers, proc uint32
	args       []byte
	silent     bool              // no reply at all
	status     rpc.Status        // the reply's status (rpc.Success: SUCCESS)
	check      func(r reply) any // the decoded result, compared with want
	want       any
	why        rpc.AuthStat // for status AuthError
	low, high  uint32       // for status ProgVersMismatch
}

func isTrue(t *testing.T) func(reply) any   { return func(r reply) any { return r.bool(t) } }
func asUint(t *testing.T) func(reply) any   { return func(r reply) any { return r.uint(t) } }
func asStr(t *testing.T) func(reply) any    { return func(r reply) any { return r.str(t) } }
func noResult(t *testing.T) func(reply) any { return func(r reply) any { return len(r.ok(t).Rest()) } }

// run runs the steps in order against ts.
func run(t *testing.T, ts *testServer, steps []step) {
	t.Helper()
	for _, s := range steps {
		c := ts.dial(t, s.via, s.privileged)
		if s.silent {
			c.silent(s.vers, s.proc, s.args)
			continue
		}
		r := c.call(s.vers, s.proc, s.args)
		if got := r.status(); got != s.status {
			t.Errorf("%s: status %v (%v), want %v", s.name, got, r.hdr.Err(), s.status)
			continue
		}
		switch s.status {
		case rpc.AuthError:
			if r.hdr.Auth != s.why {
				t.Errorf("%s: auth_stat %v, want %v", s.name, r.hdr.Auth, s.why)
			}
		case rpc.ProgVersMismatch, rpc.VersMismatch:
			if r.hdr.Low != s.low || r.hdr.High != s.high {
				t.Errorf("%s: low %d high %d, want %d %d", s.name, r.hdr.Low, r.hdr.High, s.low, s.high)
			}
		case rpc.Success:
			if s.check != nil {
				if got := s.check(r); !reflect.DeepEqual(got, s.want) {
					t.Errorf("%s: got %v, want %v", s.name, got, s.want)
				}
			}
		}
	}
}

func TestNullAndDispatch(t *testing.T) {
	ts := startServer(t, nil)
	steps := []step{
		{name: "v2 NULL", via: viaUDP, vers: 2, proc: 0, check: noResult(t), want: 0},
		{name: "v3 NULL", via: viaTCP, vers: 3, proc: 0, check: noResult(t), want: 0},
		{name: "v4 NULL", via: viaUnix, vers: 4, proc: 0, check: noResult(t), want: 0},
		{name: "v2 proc 6", via: viaUDP, vers: 2, proc: 6, status: rpc.ProcUnavail},
		{name: "v2 proc 99", via: viaUDP, vers: 2, proc: 99, status: rpc.ProcUnavail},
		{name: "v3 GETVERSADDR", via: viaUDP, vers: 3, proc: 9, args: rpcbArgs(1, 1, "", "", ""), status: rpc.ProcUnavail},
		{name: "v3 GETSTAT", via: viaUDP, vers: 3, proc: 12, status: rpc.ProcUnavail},
		{name: "v4 proc 13", via: viaTCP, vers: 4, proc: 13, status: rpc.ProcUnavail},
		{name: "version 5", via: viaUDP, vers: 5, proc: 0, status: rpc.ProgVersMismatch, low: 2, high: 4},
		{name: "version 1", via: viaTCP, vers: 1, proc: 0, status: rpc.ProgVersMismatch, low: 2, high: 4},
	}
	run(t, ts, steps)

	// Another program, and the credential checks, which come before it.
	c := ts.dial(t, viaUDP, false)
	h := rpc.CallHeader{XID: 7, RPCVers: 2, Prog: 100003, Vers: 3}
	assertReply(t, c, h.Append(nil), rpc.ProgUnavail, 0)
	h = rpc.CallHeader{XID: 8, RPCVers: 2, Prog: portmap.Program, Vers: 2, Cred: rpc.OpaqueAuth{Flavor: 99}}
	assertReply(t, c, h.Append(nil), rpc.AuthError, rpc.AuthRejectedCred)
	h = rpc.CallHeader{XID: 9, RPCVers: 2, Prog: portmap.Program, Vers: 2, Cred: rpc.OpaqueAuth{Flavor: rpc.AuthSys, Body: []byte{0, 0, 0, 1}}}
	assertReply(t, c, h.Append(nil), rpc.AuthError, rpc.AuthBadCred)
	cred, _ := rpc.AuthSysParams{MachineName: "vectorhost", GIDs: []uint32{0}}.Auth()
	h = rpc.CallHeader{XID: 10, RPCVers: 2, Prog: portmap.Program, Vers: 2, Cred: cred}
	assertReply(t, c, h.Append(nil), rpc.Success, 0)
}

// assertReply sends msg and checks the reply's status.
func assertReply(t *testing.T, c *client, msg []byte, want rpc.Status, why rpc.AuthStat) {
	t.Helper()
	m := c.raw(msg, replyWait)
	if m == nil {
		t.Fatalf("no reply to %x", msg)
	}
	var r reply
	r.hdr.Decode(xdr.NewDecoder(m))
	if got := r.status(); got != want || want == rpc.AuthError && r.hdr.Auth != why {
		t.Errorf("reply %v, want status %v (%v)", r.hdr.Err(), want, why)
	}
}

func TestRPCVersionMismatch(t *testing.T) {
	for _, answer := range []bool{false, true} {
		t.Run(fmt.Sprintf("AnswerRPCMismatch=%v", answer), func(t *testing.T) {
			ts := startServer(t, func(s *Server) { s.AnswerRPCMismatch = answer })
			c := ts.dial(t, viaUDP, false)
			h := rpc.CallHeader{XID: 3, RPCVers: 3, Prog: portmap.Program, Vers: 2}
			if !answer {
				if m := c.raw(h.Append(nil), silenceWait); m != nil {
					t.Fatalf("got %x, want silence", m)
				}
				return
			}
			m := c.raw(h.Append(nil), replyWait)
			var r reply
			r.hdr.Decode(xdr.NewDecoder(m))
			if r.status() != rpc.VersMismatch || r.hdr.Low != 2 || r.hdr.High != 2 {
				t.Errorf("reply %v, want RPC_MISMATCH 2..2", r.hdr.Err())
			}
		})
	}
}

func TestSetUnsetV2(t *testing.T) {
	ts := startServer(t, nil)
	run(t, ts, []step{
		{name: "SET tcp", via: viaUDP, privileged: true, vers: 2, proc: 1, args: mapArgs(100099, 1, 6, 4242), check: isTrue(t), want: true},
		{name: "GETPORT tcp", via: viaUDP, vers: 2, proc: 3, args: mapArgs(100099, 1, 6, 0), check: asUint(t), want: uint32(4242)},
		{name: "GETPORT honours prot", via: viaUDP, vers: 2, proc: 3, args: mapArgs(100099, 1, 17, 0), check: asUint(t), want: uint32(0)},
		{name: "SET again, same port", via: viaTCP, privileged: true, vers: 2, proc: 1, args: mapArgs(100099, 1, 6, 4242), check: isTrue(t), want: true},
		{name: "SET again, other port", via: viaTCP, privileged: true, vers: 2, proc: 1, args: mapArgs(100099, 1, 6, 4243), check: isTrue(t), want: false},
		{name: "SET udp", via: viaUnix, vers: 2, proc: 1, args: mapArgs(100099, 1, 17, 4244), check: isTrue(t), want: true},
		{name: "SET unknown prot", via: viaUDP, privileged: true, vers: 2, proc: 1, args: mapArgs(100099, 2, 99, 1), check: isTrue(t), want: false},
		{name: "SET port above 65535", via: viaUDP, privileged: true, vers: 2, proc: 1, args: mapArgs(100098, 1, 17, 70000), check: isTrue(t), want: true},
		{name: "GETPORT of it", via: viaUDP, vers: 2, proc: 3, args: mapArgs(100098, 1, 17, 0), check: asUint(t), want: uint32(70000 & 0xffff)},
	})
	want := []portmap.RPCB{
		{Prog: 100099, Vers: 1, Netid: "tcp", Addr: "0.0.0.0.16.146", Owner: OwnerSuperuser},
		{Prog: 100099, Vers: 1, Netid: "udp", Addr: "0.0.0.0.16.148", Owner: OwnerSuperuser},
		{Prog: 100098, Vers: 1, Netid: "udp", Addr: "0.0.0.0.17.112", Owner: OwnerSuperuser},
	}
	if got := userEntries(ts.dump(t)); !reflect.DeepEqual(got, want) {
		t.Errorf("after SETs:\n got %v\nwant %v", got, want)
	}
	run(t, ts, []step{
		// UNSET removes both protocols whatever prot and port say.
		{name: "UNSET", via: viaUDP, privileged: true, vers: 2, proc: 2, args: mapArgs(100099, 1, 17, 9), check: isTrue(t), want: true},
		{name: "GETPORT after", via: viaUDP, vers: 2, proc: 3, args: mapArgs(100099, 1, 6, 0), check: asUint(t), want: uint32(0)},
		{name: "UNSET again", via: viaUDP, privileged: true, vers: 2, proc: 2, args: mapArgs(100099, 1, 6, 0), check: isTrue(t), want: true},
		{name: "UNSET never registered", via: viaUnix, vers: 2, proc: 2, args: mapArgs(123456, 1, 6, 0), check: isTrue(t), want: true},
	})
	if got := userEntries(ts.dump(t)); !reflect.DeepEqual(got, want[2:]) {
		t.Errorf("after UNSET:\n got %v\nwant %v", got, want[2:])
	}
}

func TestOwners(t *testing.T) {
	ts := startServer(t, nil)
	run(t, ts, []step{
		{name: "SET from a privileged loopback port", via: viaUDP, privileged: true, vers: 3, proc: 1, args: rpcbArgs(200001, 1, "udp", "0.0.0.0.1.1", "claimed"), check: isTrue(t), want: true},
		{name: "SET from an unprivileged loopback port", via: viaUDP, vers: 3, proc: 1, args: rpcbArgs(200002, 1, "udp", "0.0.0.0.1.2", "superuser"), check: isTrue(t), want: true},
		{name: "SET over TCP, unprivileged", via: viaTCP, vers: 4, proc: 1, args: rpcbArgs(200003, 1, "tcp", "0.0.0.0.1.3", ""), check: isTrue(t), want: true},
		{name: "SET over the local socket as root", via: viaUnix, vers: 3, proc: 1, args: rpcbArgs(200004, 1, "tcp", "0.0.0.0.1.4", "nobody"), check: isTrue(t), want: true},
		{name: "v2 SET over IPv6, privileged", via: viaUDP6, privileged: true, vers: 2, proc: 1, args: mapArgs(200005, 1, 6, 261), check: isTrue(t), want: true},
		{name: "unknown may not UNSET superuser's", via: viaUDP, vers: 3, proc: 2, args: rpcbArgs(200001, 1, "", "", ""), check: isTrue(t), want: false},
		// rpcbind's v2 UNSET is TRUE when either of its tcp and udp unsets
		// is: the udp one, with nothing to remove, is.
		{name: "v2 unknown may not UNSET superuser's", via: viaTCP, vers: 2, proc: 2, args: mapArgs(200004, 1, 6, 0), check: isTrue(t), want: true},
		{name: "unknown may UNSET unknown's", via: viaTCP, vers: 4, proc: 2, args: rpcbArgs(200002, 1, "UDP", "", ""), check: isTrue(t), want: true},
		{name: "superuser may UNSET unknown's", via: viaUnix, vers: 3, proc: 2, args: rpcbArgs(200003, 1, "", "", ""), check: isTrue(t), want: true},
	})
	got := userEntries(ts.dump(t))
	want := []portmap.RPCB{
		{Prog: 200001, Vers: 1, Netid: "udp", Addr: "0.0.0.0.1.1", Owner: OwnerSuperuser},
		{Prog: 200004, Vers: 1, Netid: "tcp", Addr: "0.0.0.0.1.4", Owner: OwnerSuperuser},
		{Prog: 200005, Vers: 1, Netid: "tcp", Addr: "0.0.0.0.1.5", Owner: OwnerSuperuser},
	}
	if !ts.hasIPv6 {
		want = want[:2]
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("registrations:\n got %v\nwant %v", got, want)
	}
}

// TestOwnerOf checks the owner decision for every kind of caller, the local
// socket's other users included.
func TestOwnerOf(t *testing.T) {
	udp := func(ip string, port int) *rpc.Request {
		return &rpc.Request{Network: "udp", Remote: &net.UDPAddr{IP: net.ParseIP(ip), Port: port}, Local: &net.UDPAddr{IP: net.ParseIP(ip), Port: 111}}
	}
	tcp := func(ip string, port int) *rpc.Request {
		return &rpc.Request{Network: "tcp", Remote: &net.TCPAddr{IP: net.ParseIP(ip), Port: port}, Local: &net.TCPAddr{IP: net.ParseIP(ip), Port: 111}}
	}
	unix := func(cred *rpc.PeerCred) *rpc.Request {
		return &rpc.Request{Network: "unix", Remote: &net.UnixAddr{Net: "unix"}, Local: &net.UnixAddr{Name: "/run/rpcbind.sock", Net: "unix"}, Cred: cred}
	}
	tests := []struct {
		name      string
		req       *rpc.Request
		netid     string
		owner     string
		mayChange bool
	}{
		{"root on the local socket", unix(&rpc.PeerCred{UID: 0}), "local", "superuser", true},
		{"a user on the local socket", unix(&rpc.PeerCred{UID: 1000, GID: 1000}), "local", "1000", true},
		{"nobody on the local socket", unix(&rpc.PeerCred{UID: 65534}), "local", "65534", true},
		{"unknown peer on the local socket", unix(nil), "local", "unknown", true},
		{"127.0.0.1 privileged", udp("127.0.0.1", 1023), "udp", "superuser", true},
		{"127.0.0.1 unprivileged", udp("127.0.0.1", 1024), "udp", "unknown", true},
		{"127.0.0.2 privileged", tcp("127.0.0.2", 700), "tcp", "unknown", false},
		{"::1 privileged", tcp("::1", 700), "tcp6", "superuser", true},
		{"::ffff:127.0.0.1 privileged", tcp("::ffff:127.0.0.1", 700), "tcp", "superuser", true},
		{"192.0.2.7 privileged", udp("192.0.2.7", 700), "udp", "unknown", false},
		{"2001:db8::1 unprivileged", udp("2001:db8::1", 40000), "udp6", "unknown", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := callerOf(tt.req)
			if c.netid != tt.netid || c.owner() != tt.owner || (Policy{}).maySet(c) != tt.mayChange {
				t.Errorf("netid %q owner %q maySet %v, want %q %q %v", c.netid, c.owner(), (Policy{}).maySet(c), tt.netid, tt.owner, tt.mayChange)
			}
			if !(Policy{AllowRemoteSet: true}).maySet(c) {
				t.Error("AllowRemoteSet does not let the caller change the registry")
			}
		})
	}
}

// TestRemoteSet checks that callers not at 127.0.0.1, ::1 or on the local
// socket get AUTH_TOOWEAK for SET and UNSET, unless the policy allows them.
func TestRemoteSet(t *testing.T) {
	for _, allow := range []bool{false, true} {
		t.Run(fmt.Sprintf("AllowRemoteSet=%v", allow), func(t *testing.T) {
			ts := startServer(t, func(s *Server) { s.Policy.AllowRemoteSet = allow })
			// 127.0.0.2 is on the loopback interface but is not the
			// address rpcbind trusts.
			d := net.Dialer{LocalAddr: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)}}
			conn, err := d.Dial("udp", ts.udp.String())
			if err != nil {
				t.Skipf("cannot send from 127.0.0.2: %v", err)
			}
			c := &client{t: t, network: viaUDP, conn: conn, xid: 1}
			defer conn.Close()
			for _, call := range []struct {
				vers, proc uint32
				args       []byte
			}{
				{2, 1, mapArgs(300001, 1, 17, 5)},
				{3, 1, rpcbArgs(300002, 1, "udp", "0.0.0.0.0.6", "")},
				{4, 2, rpcbArgs(300002, 1, "", "", "")},
				{2, 2, mapArgs(300001, 1, 17, 5)},
			} {
				r := c.call(call.vers, call.proc, call.args)
				if allow {
					if !r.bool(t) {
						t.Errorf("v%d proc %d: FALSE", call.vers, call.proc)
					}
				} else if r.status() != rpc.AuthError || r.hdr.Auth != rpc.AuthTooWeak {
					t.Errorf("v%d proc %d: %v, want AUTH_ERROR AUTH_TOOWEAK", call.vers, call.proc, r.hdr.Err())
				}
			}
			// Lookups stay open to everyone.
			if port := c.call(2, 3, mapArgs(portmap.Program, 2, 17, 0)).uint(t); port != uint32(ts.udp.Port()) {
				t.Errorf("GETPORT from 127.0.0.2 = %d", port)
			}
		})
	}
}

// register makes the registrations of testdata/seed-registrations.txt as
// libtirpc's pmap_set makes them (rpcb_set over the local socket, as root).
func registerSeed(t *testing.T, ts *testServer) {
	t.Helper()
	c := ts.dial(t, viaUnix, false)
	for _, m := range seedMappings(t) {
		netid, _ := portmap.NetidForProt(m.Prot)
		addr := fmt.Sprintf("0.0.0.0.%d.%d", m.Port>>8, m.Port&0xff)
		if !c.call(3, 1, rpcbArgs(m.Prog, m.Vers, netid, addr, "")).bool(t) {
			t.Fatalf("SET %v refused", m)
		}
	}
}

// seedMappings reads testdata/seed-registrations.txt at the module root.
func seedMappings(t *testing.T) []portmap.Mapping {
	t.Helper()
	data, err := os.ReadFile("../../testdata/seed-registrations.txt")
	if err != nil {
		t.Fatal(err)
	}
	var out []portmap.Mapping
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var m portmap.Mapping
		var proto string
		if _, err := fmt.Sscan(line, &m.Prog, &m.Vers, &proto, &m.Port); err != nil {
			t.Fatalf("seed line %q: %v", line, err)
		}
		m.Prot, _ = portmap.ParseProt(proto)
		out = append(out, m)
	}
	return out
}

func TestGetaddr(t *testing.T) {
	ts := startServer(t, nil)
	registerSeed(t, ts)
	u := portmap.FormatUaddr
	steps := []step{
		// The netid of the transport counts, not r_netid (PROTOCOL.md,
		// vectors/v4_getversaddr).
		{name: "GETADDR nfs v3 asks tcp over udp", via: viaUDP, vers: 3, proc: 3, args: rpcbArgs(100003, 3, "tcp", "", ""), check: asStr(t), want: "127.0.0.1.8.1"},
		{name: "GETVERSADDR nlockmgr v4 asks tcp over udp", via: viaUDP, vers: 4, proc: 9, args: rpcbArgs(100021, 4, "tcp", "", ""), check: asStr(t), want: "127.0.0.1.128.2"},
		{name: "GETADDR nlockmgr over tcp", via: viaTCP, vers: 4, proc: 3, args: rpcbArgs(100021, 4, "udp", "", ""), check: asStr(t), want: "127.0.0.1.128.1"},
		{name: "GETADDR unregistered", via: viaUDP, vers: 3, proc: 3, args: rpcbArgs(100999, 1, "udp", "", ""), check: asStr(t), want: ""},
		// Version fallback: the program's last registration on the netid.
		{name: "GETADDR nfs v9", via: viaUDP, vers: 3, proc: 3, args: rpcbArgs(100003, 9, "", "", ""), check: asStr(t), want: "127.0.0.1.8.1"},
		{name: "GETVERSADDR nfs v9", via: viaUDP, vers: 4, proc: 9, args: rpcbArgs(100003, 9, "", "", ""), check: asStr(t), want: ""},
		{name: "GETPORT nfs v9", via: viaTCP, vers: 2, proc: 3, args: mapArgs(100003, 9, 17, 0), check: asUint(t), want: uint32(2049)},
		{name: "GETPORT mountd v9 tcp", via: viaTCP, vers: 2, proc: 3, args: mapArgs(100005, 9, 6, 0), check: asUint(t), want: uint32(645)},
		// Over the local socket: the local entries, as stored.
		{name: "GETADDR portmapper over local", via: viaUnix, vers: 4, proc: 3, args: rpcbArgs(portmap.Program, 4, "", "", ""), check: asStr(t), want: ts.sock},
		{name: "GETADDR portmapper v2 over local falls back", via: viaUnix, vers: 4, proc: 3, args: rpcbArgs(portmap.Program, 2, "", "", ""), check: asStr(t), want: ts.sock},
		{name: "GETADDR nfs over local", via: viaUnix, vers: 3, proc: 3, args: rpcbArgs(100003, 3, "udp", "", ""), check: asStr(t), want: ""},
		{name: "GETADDR portmapper over udp", via: viaUDP, vers: 3, proc: 3, args: rpcbArgs(portmap.Program, 2, "", "", ""), check: asStr(t), want: u(ts.udp)},
		{name: "GETADDR nfs over udp6", via: viaUDP6, vers: 4, proc: 3, args: rpcbArgs(100003, 3, "udp", "", ""), check: asStr(t), want: ""},
	}
	run(t, ts, steps)

	// Netids compare without case; the address stays as registered in DUMP
	// and has its wildcard replaced for the caller.
	run(t, ts, []step{
		{name: "SET TCP", via: viaUnix, vers: 3, proc: 1, args: rpcbArgs(400001, 1, "TCP", "0.0.0.0.1.1", ""), check: isTrue(t), want: true},
		{name: "SET tcp, another address", via: viaUnix, vers: 3, proc: 1, args: rpcbArgs(400001, 1, "tcp", "0.0.0.0.1.2", ""), check: isTrue(t), want: false},
		{name: "SET tcp, same address", via: viaUnix, vers: 3, proc: 1, args: rpcbArgs(400001, 1, "Tcp", "0.0.0.0.1.1", ""), check: isTrue(t), want: true},
		{name: "GETADDR finds TCP over tcp", via: viaTCP, vers: 3, proc: 3, args: rpcbArgs(400001, 1, "", "", ""), check: asStr(t), want: "127.0.0.1.1.1"},
		{name: "v2 view has only tcp spelled so", via: viaTCP, vers: 2, proc: 3, args: mapArgs(400001, 1, 6, 0), check: asUint(t), want: uint32(0)},
		{name: "SET specific address", via: viaUnix, vers: 3, proc: 1, args: rpcbArgs(400002, 1, "udp", "192.0.2.5.8.1", ""), check: isTrue(t), want: true},
		{name: "GETADDR keeps a specific address", via: viaUDP, vers: 3, proc: 3, args: rpcbArgs(400002, 1, "", "", ""), check: asStr(t), want: "192.0.2.5.8.1"},
		{name: "UNSET netid TCP", via: viaUnix, vers: 3, proc: 2, args: rpcbArgs(400001, 1, "tcp", "", ""), check: isTrue(t), want: true},
		{name: "GETADDR after", via: viaTCP, vers: 3, proc: 3, args: rpcbArgs(400001, 1, "", "", ""), check: asStr(t), want: ""},
	})
	if ts.hasIPv6 {
		run(t, ts, []step{
			{name: "SET udp6 wildcard", via: viaUnix, vers: 4, proc: 1, args: rpcbArgs(400003, 1, "udp6", "::.3.3", ""), check: isTrue(t), want: true},
			{name: "GETADDR over udp6", via: viaUDP6, vers: 4, proc: 3, args: rpcbArgs(400003, 1, "", "", ""), check: asStr(t), want: "::1.3.3"},
			{name: "GETADDR over udp", via: viaUDP, vers: 4, proc: 3, args: rpcbArgs(400003, 1, "udp6", "", ""), check: asStr(t), want: ""},
		})
	}
}

// TestVersionFallbackOrder checks that the fallback is the program's last
// registration, not its highest version.
func TestVersionFallbackOrder(t *testing.T) {
	ts := startServer(t, nil)
	run(t, ts, []step{
		{name: "SET v3", via: viaUnix, vers: 3, proc: 1, args: rpcbArgs(500001, 3, "udp", "0.0.0.0.0.3", ""), check: isTrue(t), want: true},
		{name: "SET v1", via: viaUnix, vers: 3, proc: 1, args: rpcbArgs(500001, 1, "udp", "0.0.0.0.0.1", ""), check: isTrue(t), want: true},
		{name: "SET v2 tcp", via: viaUnix, vers: 3, proc: 1, args: rpcbArgs(500001, 2, "tcp", "0.0.0.0.0.2", ""), check: isTrue(t), want: true},
		{name: "GETADDR v9 over udp", via: viaUDP, vers: 3, proc: 3, args: rpcbArgs(500001, 9, "", "", ""), check: asStr(t), want: "127.0.0.1.0.1"},
		{name: "GETPORT v9 udp", via: viaUDP, vers: 2, proc: 3, args: mapArgs(500001, 9, 17, 0), check: asUint(t), want: uint32(1)},
		{name: "GETPORT v9 tcp", via: viaUDP, vers: 2, proc: 3, args: mapArgs(500001, 9, 6, 0), check: asUint(t), want: uint32(2)},
		{name: "UNSET v1", via: viaUnix, vers: 3, proc: 2, args: rpcbArgs(500001, 1, "", "", ""), check: isTrue(t), want: true},
		{name: "GETADDR v9 after", via: viaUDP, vers: 4, proc: 3, args: rpcbArgs(500001, 9, "", "", ""), check: asStr(t), want: "127.0.0.1.0.3"},
	})
}

func TestGetaddrlist(t *testing.T) {
	ts := startServer(t, nil)
	registerSeed(t, ts)
	ts.needIPv6(t)
	c := ts.dial(t, viaUnix, false)
	for _, r := range []portmap.RPCB{
		{Prog: 100003, Vers: 3, Netid: "udp6", Addr: "::.8.1"},
		{Prog: 100003, Vers: 3, Netid: "tcp6", Addr: "::.8.1"},
		{Prog: 100003, Vers: 3, Netid: "local", Addr: "/run/nfs.sock"},
		{Prog: 100003, Vers: 3, Netid: "TCP6", Addr: "::.8.2"}, // refused: tcp6 exists
	} {
		c.call(3, 1, r.Append(nil))
	}
	list := func(via string) []portmap.Entry {
		d := ts.dial(t, via, false).call(4, 11, rpcbArgs(100003, 3, "", "", "")).ok(t)
		l := portmap.DecodeEntryList(d, nil, 100)
		if d.Err() != nil {
			t.Fatal(d.Err())
		}
		return l
	}
	inet := []portmap.Entry{
		{Maddr: "127.0.0.1.8.1", Netid: "udp", Semantics: 1, Protofmly: "inet", Proto: "udp"},
		{Maddr: "127.0.0.1.8.1", Netid: "tcp", Semantics: 3, Protofmly: "inet", Proto: "tcp"},
	}
	inet6 := []portmap.Entry{
		{Maddr: "::1.8.1", Netid: "udp6", Semantics: 1, Protofmly: "inet6", Proto: "udp"},
		{Maddr: "::1.8.1", Netid: "tcp6", Semantics: 3, Protofmly: "inet6", Proto: "tcp"},
	}
	for _, tt := range []struct {
		via  string
		want []portmap.Entry
	}{
		{viaUDP, inet}, {viaTCP, inet}, {viaUDP6, inet6}, {viaTCP6, inet6}, {viaUnix, nil},
	} {
		if got := list(tt.via); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("GETADDRLIST over %s:\n got %v\nwant %v", tt.via, got, tt.want)
		}
	}
}

func TestConversionsAndTime(t *testing.T) {
	ts := startServer(t, withClock)
	sin := []byte{2, 0, 8, 1, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}
	sin6 := make([]byte, 28)
	binary.LittleEndian.PutUint16(sin6, 10)
	binary.BigEndian.PutUint16(sin6[2:], 2049)
	sin6[23] = 1
	sun := append([]byte{1, 0}, "/run/x.sock"...)
	nb := func(b []byte) []byte { return portmap.Netbuf{MaxLen: uint32(len(b)), Buf: b}.Append(nil) }
	str := func(s string) []byte { return xdr.AppendString(nil, s) }
	netbuf := func(r reply) any {
		var n portmap.Netbuf
		d := r.ok(t)
		n.Decode(d)
		return fmt.Sprintf("%d %x", n.MaxLen, n.Buf)
	}
	steps := []step{
		{name: "GETTIME v3", via: viaUDP, vers: 3, proc: 6, check: asUint(t), want: uint32(fixedNow.Unix())},
		{name: "GETTIME v4", via: viaTCP, vers: 4, proc: 6, check: asUint(t), want: uint32(fixedNow.Unix())},
		{name: "UADDR2TADDR udp", via: viaUDP, vers: 3, proc: 7, args: str("127.0.0.1.8.1"), check: netbuf, want: fmt.Sprintf("16 %x", sin)},
		{name: "UADDR2TADDR garbage", via: viaUDP, vers: 4, proc: 7, args: str("nonsense"), check: netbuf, want: "0 "},
		{name: "UADDR2TADDR IPv6 form over udp", via: viaTCP, vers: 3, proc: 7, args: str("::1.8.1"), check: netbuf, want: "0 "},
		{name: "UADDR2TADDR local", via: viaUnix, vers: 3, proc: 7, args: str("/run/x.sock"), check: netbuf, want: fmt.Sprintf("110 %x", sun)},
		{name: "TADDR2UADDR udp", via: viaUDP, vers: 3, proc: 8, args: nb(sin), check: asStr(t), want: "127.0.0.1.8.1"},
		{name: "TADDR2UADDR reads by the transport's family", via: viaUDP, vers: 3, proc: 8, args: nb(sin6), check: asStr(t), want: "0.0.0.0.8.1"},
		{name: "TADDR2UADDR too short", via: viaUDP, vers: 4, proc: 8, args: nb(sin[:8]), check: asStr(t), want: ""},
		{name: "TADDR2UADDR local", via: viaUnix, vers: 4, proc: 8, args: nb(append(sun, make([]byte, 97)...)), check: asStr(t), want: "/run/x.sock"},
		{name: "TADDR2UADDR garbage", via: viaUDP, vers: 4, proc: 8, args: []byte{0, 0, 0, 16, 0, 0, 0, 16}, status: rpc.CantDecodeArgs},
	}
	if ts.hasIPv6 {
		steps = append(steps,
			step{name: "UADDR2TADDR udp6", via: viaUDP6, vers: 3, proc: 7, args: str("::1.8.1"), check: netbuf, want: fmt.Sprintf("28 %x", sin6)},
			step{name: "TADDR2UADDR udp6", via: viaTCP6, vers: 3, proc: 8, args: nb(sin6), check: asStr(t), want: "::1.8.1"},
		)
	}
	run(t, ts, steps)
}

func TestRemoteCalls(t *testing.T) {
	ts := startServer(t, nil)
	registerSeed(t, ts)
	steps := []step{
		// CALLIT and BCAST stay silent, registered target or not.
		{name: "v2 CALLIT status v1 NULL", via: viaUDP, vers: 2, proc: 5, args: rmtArgs(100024, 1, 0, nil), silent: true},
		{name: "v2 CALLIT unregistered", via: viaUDP, vers: 2, proc: 5, args: rmtArgs(100999, 1, 0, nil), silent: true},
		{name: "v3 CALLIT", via: viaUDP, vers: 3, proc: 5, args: rmtArgs(100024, 1, 0, nil), silent: true},
		{name: "v4 BCAST", via: viaUDP, vers: 4, proc: 5, args: rmtArgs(100024, 1, 0, nil), silent: true},
		{name: "v2 CALLIT garbage", via: viaUDP, vers: 2, proc: 5, args: []byte{0, 1, 0x86, 0xb8}, silent: true},
		{name: "v2 CALLIT over TCP", via: viaTCP, vers: 2, proc: 5, args: rmtArgs(100024, 1, 0, nil), silent: true},
		// Targets rpcbind never forwards to: AUTH_TOOWEAK, even for CALLIT.
		{name: "v2 CALLIT nfs proc 1", via: viaUDP, vers: 2, proc: 5, args: rmtArgs(100003, 3, 1, nil), status: rpc.AuthError, why: rpc.AuthTooWeak},
		{name: "v3 CALLIT mount MNT", via: viaUDP, vers: 3, proc: 5, args: rmtArgs(100005, 3, 1, nil), status: rpc.AuthError, why: rpc.AuthTooWeak},
		{name: "v4 INDIRECT portmapper DUMP", via: viaUDP, vers: 4, proc: 10, args: rmtArgs(portmap.Program, 2, 4, nil), status: rpc.AuthError, why: rpc.AuthTooWeak},
		// INDIRECT answers.
		{name: "INDIRECT registered", via: viaUDP, vers: 4, proc: 10, args: rmtArgs(100024, 1, 0, nil), status: rpc.SystemError},
		{name: "INDIRECT unregistered", via: viaUDP, vers: 4, proc: 10, args: rmtArgs(100999, 1, 0, nil), status: rpc.ProgUnavail},
		{name: "INDIRECT unregistered version", via: viaUDP, vers: 4, proc: 10, args: rmtArgs(100021, 9, 0, nil), status: rpc.ProgVersMismatch, low: 1, high: 4},
		{name: "INDIRECT garbage", via: viaUDP, vers: 4, proc: 10, args: []byte{0, 1, 0x86, 0xb8}, status: rpc.CantDecodeArgs},
		{name: "INDIRECT over TCP", via: viaTCP, vers: 4, proc: 10, args: rmtArgs(100024, 1, 0, nil), silent: true},
		{name: "INDIRECT mount UMNT over tcp is silent first", via: viaTCP, vers: 4, proc: 10, args: rmtArgs(100005, 1, 3, nil), silent: true},
	}
	run(t, ts, steps)
}

func TestGarbageArgs(t *testing.T) {
	ts := startServer(t, nil)
	short := mapArgs(100003, 3, 6, 0)[:8]
	run(t, ts, []step{
		// rpcbind answers a short GETPORT over UDP from stale buffer
		// contents; like rpcbind over TCP and as RFC 5531 says, this
		// server answers GARBAGE_ARGS (docs/server.md).
		{name: "v2 GETPORT short over udp", via: viaUDP, vers: 2, proc: 3, args: short, status: rpc.CantDecodeArgs},
		{name: "v2 GETPORT short over tcp", via: viaTCP, vers: 2, proc: 3, args: short, status: rpc.CantDecodeArgs},
		{name: "v2 SET short", via: viaUnix, vers: 2, proc: 1, args: short, status: rpc.CantDecodeArgs},
		{name: "v3 SET short", via: viaUnix, vers: 3, proc: 1, args: rpcbArgs(1, 1, "udp", "0.0.0.0.0.1", "")[:20], status: rpc.CantDecodeArgs},
		{name: "v4 GETADDR short", via: viaUDP, vers: 4, proc: 3, args: []byte{0, 0, 0, 1}, status: rpc.CantDecodeArgs},
		{name: "v4 GETADDRLIST short", via: viaUDP, vers: 4, proc: 11, args: nil, status: rpc.CantDecodeArgs},
		{name: "v3 UADDR2TADDR overlong", via: viaTCP, vers: 3, proc: 7, args: xdr.AppendString(nil, strings.Repeat("x", portmap.MaxUaddrLen+1)), status: rpc.CantDecodeArgs},
		{name: "non-local SET with garbage is garbage first", via: viaUDP, vers: 3, proc: 1, args: nil, status: rpc.CantDecodeArgs},
	})
}

// TestUDPReplyLimit fills the registry until a DUMP no longer fits in one
// datagram: v3 and v4 answer SYSTEM_ERR, v2 stays silent, TCP still lists.
func TestUDPReplyLimit(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.dial(t, viaUnix, false)
	udp := ts.dial(t, viaUDP, false)
	sizes := map[uint32]int{}
	for i := uint32(0); ; i++ {
		if !c.call(3, 1, rpcbArgs(600000+i, 1, "udp", "0.0.0.0.8.1", "")).bool(t) {
			t.Fatal("SET refused")
		}
		r := udp.call(3, 4, nil)
		if r.status() == rpc.SystemError {
			if sizes[3] > MaxUDPReply || sizes[3]+52 <= MaxUDPReply {
				t.Errorf("last v3 DUMP over UDP had %d bytes; the next, 52 longer, was refused; limit %d", sizes[3], MaxUDPReply)
			}
			break
		}
		sizes[3] = acceptedHeaderLen + len(r.res)
	}
	if r := udp.call(4, 4, nil); r.status() != rpc.SystemError {
		t.Errorf("v4 DUMP over UDP: %v, want SYSTEM_ERR", r.hdr.Err())
	}
	if r := ts.dial(t, viaTCP, false).call(4, 4, nil); r.status() != rpc.Success || acceptedHeaderLen+len(r.res) <= MaxUDPReply {
		t.Errorf("v4 DUMP over TCP: %v, %d bytes", r.hdr.Err(), len(r.res))
	}
	// The v2 list is shorter: grow it past the limit too.
	for i := uint32(0); ; i++ {
		r := udp.xid + 1
		udp.xid = r
		m := udp.raw(callMsg(r, 2, 4, nil), silenceWait)
		if m == nil || i > 1000 {
			if m != nil {
				t.Fatal("v2 DUMP over UDP never went silent")
			}
			break
		}
		if len(m) > MaxUDPReply {
			t.Fatalf("v2 DUMP over UDP of %d bytes", len(m))
		}
		c.call(3, 1, rpcbArgs(700000+i, 1, "tcp", "0.0.0.0.8.1", ""))
	}
	if r := ts.dial(t, viaTCP, false).call(2, 4, nil); r.status() != rpc.Success || acceptedHeaderLen+len(r.res) <= MaxUDPReply {
		t.Errorf("v2 DUMP over TCP: %v, %d bytes", r.hdr.Err(), len(r.res))
	}
}

// TestShutdownAndReuse checks that Serve returns ErrServerClosed and that
// the server's port is free again afterwards.
func TestShutdownAndReuse(t *testing.T) {
	srv := New()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	c := dialTarget(t, viaTCP, l.Addr().String(), false)
	c.call(2, 0, nil)
	ctx, cancel := context.WithTimeout(context.Background(), replyWait)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != ErrServerClosed {
		t.Errorf("Serve = %v, want ErrServerClosed", err)
	}
	l2, err := net.Listen("tcp4", l.Addr().String())
	if err != nil {
		t.Errorf("port not released: %v", err)
	} else {
		l2.Close()
	}
	if err := srv.Serve(l2); err != ErrServerClosed {
		t.Errorf("Serve after Shutdown = %v, want ErrServerClosed", err)
	}
}

// TestZeroServer checks that a Server not made by New works.
func TestZeroServer(t *testing.T) {
	var srv Server
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	defer srv.Shutdown(context.Background())
	c := dialTarget(t, viaTCP, l.Addr().String(), false)
	if port := c.call(2, 3, mapArgs(portmap.Program, 2, 6, 0)).uint(t); port != uint32(l.Addr().(*net.TCPAddr).Port) {
		t.Errorf("GETPORT of itself = %d", port)
	}
	if srv.Registry().Len() != 3 {
		t.Errorf("registry holds %d entries, want its 3 own", srv.Registry().Len())
	}
}
