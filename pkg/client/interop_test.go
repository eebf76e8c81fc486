package client

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/internal/testsupport"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
)

// The interop tests run against Debian's rpcbind inside a namespace of their
// own (testsupport.Isolate): they skip where root or rpcbind is missing, and
// fail then when CI is set.

var (
	loop4 = netip.MustParseAddr("127.0.0.1")
	loop6 = netip.MustParseAddr("::1")
)

// runChild runs the test binary's child program (see TestMain) under uid and
// returns what it printed.
func runChild(t *testing.T, bin string, uid uint32, op string, vers uint32, r portmap.RPCB) string {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Dir = "/"
	cmd.Env = append(os.Environ(), envChild+"="+op,
		envChildArgs+"="+strings.Join([]string{itoa(int(vers)), itoa(int(r.Prog)), itoa(int(r.Vers)), r.Netid, r.Addr}, "|"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := testsupport.AsUser(cmd, uid, uid).Output()
	if err != nil {
		t.Fatalf("child %s as uid %d: %v: %s", op, uid, err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// tirpcSet is a C program that registers argv[1] version argv[2] at the tcp
// universal address argv[3] with libtirpc's rpcb_set, which talks to the
// local mapper over its unix socket, and prints the answer.
const tirpcSet = `#include <rpc/rpc.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
	struct netconfig *nc;
	struct netbuf *nb;
	if (argc != 4 || (nc = getnetconfigent("tcp")) == NULL || (nb = uaddr2taddr(nc, argv[3])) == NULL)
		return 2;
	printf("%s\n", rpcb_set(strtoul(argv[1], NULL, 10), strtoul(argv[2], NULL, 10), nc, nb) ? "true" : "false");
	return 0;
}
`

// rpcinfo runs Debian's rpcinfo with args and returns its output.
func rpcinfo(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("rpcinfo", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("rpcinfo %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// parseRpcinfoP reads the table of rpcinfo -p: a header, then
// "prog vers proto port [service]".
func parseRpcinfoP(t *testing.T, out string) []portmap.Mapping {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) == 0 || strings.Join(strings.Fields(lines[0]), " ") != "program vers proto port service" {
		t.Fatalf("rpcinfo -p printed no header:\n%s", out)
	}
	var ms []portmap.Mapping
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		if len(f) < 4 {
			t.Fatalf("rpcinfo -p line %q", line)
		}
		prot, ok := portmap.ParseProt(f[2])
		if !ok {
			t.Fatalf("rpcinfo -p line %q: protocol", line)
		}
		ms = append(ms, portmap.Mapping{Prog: atou(t, f[0]), Vers: atou(t, f[1]), Prot: prot, Port: atou(t, f[3])})
	}
	return ms
}

// parseRpcinfo reads the table of rpcinfo [host]: a header, then
// "prog vers netid address service owner".
func parseRpcinfo(t *testing.T, out string) []portmap.RPCB {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) == 0 || strings.Join(strings.Fields(lines[0]), " ") != "program version netid address service owner" {
		t.Fatalf("rpcinfo printed no header:\n%s", out)
	}
	var rs []portmap.RPCB
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		if len(f) != 6 {
			t.Fatalf("rpcinfo line %q", line)
		}
		rs = append(rs, portmap.RPCB{Prog: atou(t, f[0]), Vers: atou(t, f[1]), Netid: f[2], Addr: f[3], Owner: f[5]})
	}
	return rs
}

func atou(t *testing.T, s string) uint32 {
	t.Helper()
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		t.Fatal(err)
	}
	return uint32(n)
}

// reached returns the address rpcbind gives out for a registered address to a
// caller on the loopback of its family: the wildcard replaced.
func reached(r portmap.RPCB) string {
	n, _ := portmap.LookupNetid(r.Netid)
	switch {
	case n.IsLocal():
		return r.Addr
	case n.IsIPv6():
		return portmap.ReplaceWildcard(r.Addr, loop6)
	}
	return portmap.ReplaceWildcard(r.Addr, loop4)
}

// addrKey identifies an address-lookup statistics entry.
type addrKey struct {
	vers       int // index in rpcb_stat_byvers: 0 for v2
	prog, pver uint32
	netid      string
}

// addrDeltas returns how each address-lookup counter moved from s0 to s1,
// as success and failure counts, leaving out those that did not move.
func addrDeltas(s0, s1 portmap.StatByVers) map[addrKey][2]int32 {
	sum := func(s portmap.StatByVers) map[addrKey][2]int32 {
		m := make(map[addrKey][2]int32)
		for i := range s {
			for _, a := range s[i].AddrInfo {
				k := addrKey{i, a.Prog, a.Vers, a.Netid}
				v := m[k]
				m[k] = [2]int32{v[0] + a.Success, v[1] + a.Failure}
			}
		}
		return m
	}
	m0, m1 := sum(s0), sum(s1)
	d := make(map[addrKey][2]int32)
	for k, v := range m1 {
		if dv := [2]int32{v[0] - m0[k][0], v[1] - m0[k][1]}; dv != [2]int32{} {
			d[k] = dv
		}
	}
	return d
}

func TestInteropRpcbind(t *testing.T) {
	if !testsupport.Isolate(t) {
		return
	}
	testsupport.Require(t, "rpcbind", "rpcinfo")
	child := childBinary(t)
	testsupport.StartRpcbind(t)
	ctx := ctxT(t, 2*time.Minute)

	local := Local(nil)
	tcp := New("127.0.0.1", nil)
	udp := New("127.0.0.1", &Options{Network: "udp"})
	tcp6 := New("::1", nil)
	udp6 := New("[::1]", &Options{Network: "udp"})
	for _, c := range []*Client{local, tcp, udp, tcp6, udp6} {
		defer c.Close()
	}

	// The registry as it should be: rpcbind's own entries, then ours in
	// the order we make them.
	reg := slices.Clone(mapperOwn)
	checkDumps := func(t *testing.T) {
		t.Helper()
		for _, c := range []*Client{local, tcp, udp, tcp6, udp6} {
			for _, vers := range []uint32{3, 4} {
				got, err := c.Dump(ctx, vers)
				if err != nil {
					t.Fatalf("%s DUMP v%d: %v", c.home().network, vers, err)
				}
				if !reflect.DeepEqual(got, reg) {
					t.Errorf("%s DUMP v%d:\n got %v\nwant %v", c.home().network, vers, got, reg)
				}
			}
			if c.home().network == "udp" {
				// The v2 list may be too long for a datagram: see
				// "too large for a datagram".
				var want []portmap.RPCB
				for _, m := range pmapView(reg) {
					want = append(want, RPCBFromMapping(m))
				}
				if got, err := c.Dump(ctx, 2); err != nil || !reflect.DeepEqual(got, want) {
					t.Errorf("udp Dump v2: %v\n got %v\nwant %v", err, got, want)
				}
				continue
			}
			got, err := c.PmapDump(ctx)
			if want := pmapView(reg); err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("%s DUMP v2: %v\n got %v\nwant %v", c.home().network, err, got, want)
			}
		}
	}
	t.Run("initial", checkDumps)

	seed := seedMappings(t)
	t.Run("register", func(t *testing.T) {
		// The seed with portmap v2 SET, as root over the unix socket.
		for _, m := range seed {
			if ok, err := local.PmapSet(ctx, m); err != nil || !ok {
				t.Fatalf("v2 SET %+v: %v, %v", m, ok, err)
			}
		}
		reg = append(reg, seedRPCBs(seed)...)

		// More with rpcbind v3 and v4 SET, IPv6 included. The owner sent is
		// ignored: rpcbind records "superuser" for root over the socket.
		extras := []struct {
			vers uint32
			r    portmap.RPCB
		}{
			{3, portmap.RPCB{Prog: 200001, Vers: 1, Netid: "udp6", Addr: "::.3.232"}},
			{3, portmap.RPCB{Prog: 200001, Vers: 1, Netid: "tcp6", Addr: "::.3.233"}},
			{4, portmap.RPCB{Prog: 200001, Vers: 2, Netid: "tcp", Addr: "0.0.0.0.3.234"}},
			{4, portmap.RPCB{Prog: 200002, Vers: 1, Netid: "udp", Addr: "127.0.0.1.3.235", Owner: "nobody"}},
			{3, portmap.RPCB{Prog: 200002, Vers: 1, Netid: "tcp6", Addr: "::1.3.236"}},
			{4, portmap.RPCB{Prog: 200002, Vers: 1, Netid: "local", Addr: "/run/pmap-test.sock"}},
		}
		for _, e := range extras {
			if ok, err := local.RpcbSet(ctx, e.vers, e.r); err != nil || !ok {
				t.Fatalf("v%d SET %+v: %v, %v", e.vers, e.r, ok, err)
			}
			r := e.r
			r.Owner = "superuser"
			reg = append(reg, r)
		}
		// SET of a registered (prog, vers, netid): true at the same
		// address, false at another; nothing changes either way.
		same := portmap.RPCB{Prog: 200001, Vers: 2, Netid: "tcp", Addr: "0.0.0.0.3.234"}
		if ok, err := local.RpcbSet(ctx, 4, same); err != nil || !ok {
			t.Errorf("SET again at the same address: %v, %v; want true", ok, err)
		}
		same.Addr = "0.0.0.0.3.239"
		if ok, err := local.RpcbSet(ctx, 4, same); err != nil || ok {
			t.Errorf("SET again at another address: %v, %v; want false", ok, err)
		}

		// A non-root owner: a child process under uid 65534 over the socket.
		own := portmap.RPCB{Prog: 200003, Vers: 1, Netid: "tcp", Addr: "0.0.0.0.3.237"}
		if got := runChild(t, child, testsupport.Nobody, "set", 4, own); got != "true" {
			t.Fatalf("SET by uid %d: %s, want true", testsupport.Nobody, got)
		}
		own.Owner = strconv.Itoa(testsupport.Nobody)
		reg = append(reg, own)

		// libtirpc's rpcb_set under another uid: the owner is recorded the
		// same way.
		cmd := exec.Command(testsupport.BuildC(t, "tirpc-set", tirpcSet), "200004", "1", "0.0.0.0.3.238")
		out, err := testsupport.AsUser(cmd, testsupport.Nobody-1, testsupport.Nobody-1).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "true" {
			t.Fatalf("rpcb_set by uid %d: %s, %v; want true", testsupport.Nobody-1, out, err)
		}
		reg = append(reg, portmap.RPCB{Prog: 200004, Vers: 1, Netid: "tcp", Addr: "0.0.0.0.3.238",
			Owner: strconv.Itoa(testsupport.Nobody - 1)})
	})
	t.Run("dumps", checkDumps)

	t.Run("rpcinfo", func(t *testing.T) {
		want := pmapView(reg)
		for _, args := range [][]string{{"-p", "127.0.0.1"}, {"-p"}} {
			if got := parseRpcinfoP(t, rpcinfo(t, args...)); !reflect.DeepEqual(got, want) {
				t.Errorf("rpcinfo %v:\n got %v\nwant %v", args, got, want)
			}
		}
		for _, args := range [][]string{{"127.0.0.1"}, {}} {
			got := parseRpcinfo(t, rpcinfo(t, args...))
			ours, err := tcp.Dump(ctx, 3)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, ours) {
				t.Errorf("rpcinfo %v:\n got %v\n our DUMP %v", args, got, ours)
			}
		}
	})

	t.Run("getport", func(t *testing.T) {
		for _, m := range seed {
			for _, c := range []*Client{tcp, udp, local} {
				port, err := c.PmapGetport(ctx, portmap.Mapping{Prog: m.Prog, Vers: m.Vers, Prot: m.Prot})
				if err != nil || port != m.Port {
					t.Errorf("%s GETPORT %d/%d/%d: %d, %v; want %d", c.home().network, m.Prog, m.Vers, m.Prot, port, err, m.Port)
				}
			}
		}
		others := []struct {
			m    portmap.Mapping
			want uint32
		}{
			{portmap.Mapping{Prog: 100003, Vers: 9, Prot: portmap.IPProtoTCP}, 2049}, // another version's port
			{portmap.Mapping{Prog: 100021, Vers: 4, Prot: portmap.IPProtoTCP}, 32769},
			{portmap.Mapping{Prog: 100021, Vers: 4, Prot: portmap.IPProtoUDP}, 32770}, // prot is honoured
			{portmap.Mapping{Prog: 200002, Vers: 1, Prot: portmap.IPProtoUDP}, 1003},  // registered with v4 SET
			{portmap.Mapping{Prog: 100999, Vers: 1, Prot: portmap.IPProtoUDP}, 0},
		}
		for _, o := range others {
			if port, err := udp.PmapGetport(ctx, o.m); err != nil || port != o.want {
				t.Errorf("GETPORT %+v: %d, %v; want %d", o.m, port, err, o.want)
			}
		}
	})

	t.Run("lookup", func(t *testing.T) {
		for _, r := range reg {
			want := reached(r)
			clients := []*Client{local}
			switch n, _ := portmap.LookupNetid(r.Netid); {
			case n.IsIPv6():
				clients = append(clients, tcp6, udp6)
			case !n.IsLocal():
				clients = append(clients, tcp, udp)
			}
			for _, c := range clients {
				got, err := c.Lookup(ctx, r.Prog, r.Vers, r.Netid)
				if err != nil || got != want {
					t.Errorf("%s Lookup %d/%d/%s: %q, %v; want %q", c.home().network, r.Prog, r.Vers, r.Netid, got, err, want)
				}
			}
		}
		// Another version of the program, and none at all.
		if got, err := tcp.Lookup(ctx, 100003, 9, "tcp"); err != nil || got != "127.0.0.1.8.1" {
			t.Errorf("Lookup nfs v9: %q, %v; want 127.0.0.1.8.1", got, err)
		}
		_, err := tcp.Lookup(ctx, 100999, 1, "udp")
		var e *rpc.Error
		if !errors.As(err, &e) || e.Status != rpc.ProgNotRegistered || e.Prog != 100999 {
			t.Errorf("Lookup of an unregistered program: %v, want ProgNotRegistered", err)
		}
		// Version 1 of 200001 is IPv6 only; version 2 has a tcp address.
		if got, err := tcp.Lookup(ctx, 200001, 1, "tcp"); err != nil || got != "127.0.0.1.3.234" {
			t.Errorf("Lookup 200001/1/tcp: %q, %v; want version 2's 127.0.0.1.3.234", got, err)
		}
		if _, err := tcp.Lookup(ctx, 200002, 1, "tcp"); !errors.Is(err, rpc.ErrProgNotRegistered) {
			t.Errorf("Lookup of a program without a tcp address: %v, want ProgNotRegistered", err)
		}

		// Raw GETADDR answers for the transport it arrives on, not r_netid.
		for _, tc := range []struct {
			c    *Client
			vers uint32
			want string
		}{
			{udp, 3, "127.0.0.1.128.2"}, {udp, 4, "127.0.0.1.128.2"},
			{tcp, 3, "127.0.0.1.128.1"}, {tcp, 4, "127.0.0.1.128.1"},
			{tcp6, 4, ""}, {local, 4, ""},
		} {
			got, err := tc.c.RpcbGetaddr(ctx, tc.vers, portmap.RPCB{Prog: 100021, Vers: 4, Netid: "tcp"})
			if err != nil || got != tc.want {
				t.Errorf("%s GETADDR v%d nlockmgr 4 tcp: %q, %v; want %q", tc.c.home().network, tc.vers, got, err, tc.want)
			}
		}
	})

	t.Run("getversaddr", func(t *testing.T) {
		tests := []struct {
			c          *Client
			prog, vers uint32
			want       string
		}{
			{udp, 100021, 4, "127.0.0.1.128.2"},
			{tcp, 100021, 4, "127.0.0.1.128.1"},
			{tcp, 100003, 9, ""}, // insists on the version
			{tcp6, 200001, 1, "::1.3.233"},
			{udp6, 200001, 1, "::1.3.232"},
			{udp6, 200001, 2, ""},
			{local, 200002, 1, "/run/pmap-test.sock"},
		}
		for _, tc := range tests {
			got, err := tc.c.Getversaddr(ctx, portmap.RPCB{Prog: tc.prog, Vers: tc.vers, Netid: "tcp"})
			if err != nil || got != tc.want {
				t.Errorf("%s GETVERSADDR %d/%d: %q, %v; want %q", tc.c.home().network, tc.prog, tc.vers, got, err, tc.want)
			}
		}
	})

	t.Run("getaddrlist", func(t *testing.T) {
		for _, tc := range []struct {
			c          *Client
			family     string
			prog, vers uint32
		}{
			{tcp, portmap.FamilyInet, 100003, 3}, {udp, portmap.FamilyInet, 100021, 4},
			{tcp6, portmap.FamilyInet6, 200001, 1}, {udp6, portmap.FamilyInet6, 200002, 1},
			{tcp, portmap.FamilyInet, 200001, 1}, {tcp, portmap.FamilyInet, 100999, 1},
		} {
			var want []portmap.Entry
			for _, r := range reg {
				n, _ := portmap.LookupNetid(r.Netid)
				if r.Prog == tc.prog && r.Vers == tc.vers && n.Family == tc.family {
					want = append(want, portmap.Entry{Maddr: reached(r), Netid: r.Netid, Semantics: n.Semantics,
						Protofmly: n.Family, Proto: n.Proto})
				}
			}
			got, err := tc.c.Getaddrlist(ctx, portmap.RPCB{Prog: tc.prog, Vers: tc.vers})
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("%s GETADDRLIST %d/%d: %+v, %v\nwant %+v", tc.c.home().network, tc.prog, tc.vers, got, err, want)
			}
		}
	})

	t.Run("gettime", func(t *testing.T) {
		for _, c := range []*Client{udp, tcp6, local} {
			for _, vers := range []uint32{3, 4} {
				got, err := c.Gettime(ctx, vers)
				now := time.Now().Unix()
				if err != nil || int64(got) < now-5 || int64(got) > now+5 {
					t.Errorf("%s GETTIME v%d: %d, %v; want about %d", c.home().network, vers, got, err, now)
				}
			}
		}
	})

	t.Run("conversions", func(t *testing.T) {
		for _, tc := range []struct {
			c     *Client
			netid string
			uaddr string
		}{
			{udp, "udp", "127.0.0.1.8.1"}, {tcp, "tcp", "192.0.2.7.3.232"},
			{udp6, "udp6", "::1.8.1"}, {tcp6, "tcp6", "2001:db8::7.0.111"},
		} {
			want, err := portmap.NetbufFromUaddr(tc.netid, tc.uaddr)
			if err != nil {
				t.Fatal(err)
			}
			for _, vers := range []uint32{3, 4} {
				nb, err := tc.c.Uaddr2taddr(ctx, vers, tc.uaddr)
				if err != nil || !reflect.DeepEqual(nb, want) {
					t.Errorf("%s UADDR2TADDR v%d %s: %+v, %v; want %+v", tc.netid, vers, tc.uaddr, nb, err, want)
				}
				ua, err := tc.c.Taddr2uaddr(ctx, vers, want)
				if err != nil || ua != tc.uaddr {
					t.Errorf("%s TADDR2UADDR v%d: %q, %v; want %q", tc.netid, vers, ua, err, tc.uaddr)
				}
			}
		}
		// rpcbind reads the address as one of the transport it arrives on.
		if nb, err := udp.Uaddr2taddr(ctx, 3, "::1.8.1"); err != nil || len(nb.Buf) != 0 {
			t.Errorf("UADDR2TADDR of an IPv6 address over udp: %+v, %v; want an empty netbuf", nb, err)
		}
	})

	t.Run("getstat", func(t *testing.T) {
		s0, err := tcp.Getstat(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// The calls counted, and what each should add (RFC 1833 §2.2;
		// PROTOCOL.md for rpcbind's ways).
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(tcp.Null(ctx, 2))
		_, err = tcp.PmapGetport(ctx, portmap.Mapping{Prog: 100003, Vers: 3, Prot: portmap.IPProtoTCP})
		must(err)
		_, err = tcp.PmapGetport(ctx, portmap.Mapping{Prog: 100999, Vers: 1, Prot: portmap.IPProtoUDP})
		must(err)
		_, err = tcp.PmapDump(ctx)
		must(err)
		must(tcp.Null(ctx, 3))
		_, err = udp.RpcbGetaddr(ctx, 3, portmap.RPCB{Prog: 100003, Vers: 3, Netid: "tcp"})
		must(err)
		_, err = tcp.Gettime(ctx, 3)
		must(err)
		_, err = tcp.Uaddr2taddr(ctx, 3, "127.0.0.1.8.1")
		must(err)
		_, err = tcp.Taddr2uaddr(ctx, 3, portmap.NetbufFromAddrPort(netip.MustParseAddrPort("127.0.0.1:2049")))
		must(err)
		_, err = tcp.Getversaddr(ctx, portmap.RPCB{Prog: 100021, Vers: 4, Netid: "tcp"})
		must(err)
		_, err = tcp.Getaddrlist(ctx, portmap.RPCB{Prog: 100005, Vers: 3})
		must(err)
		_, err = tcp.Lookup(ctx, 100024, 1, "udp")
		must(err)
		tmp := portmap.RPCB{Prog: 200009, Vers: 1, Netid: "tcp", Addr: "0.0.0.0.4.0"}
		if ok, err := local.RpcbSet(ctx, 3, tmp); err != nil || !ok {
			t.Fatalf("SET: %v, %v", ok, err)
		}
		if ok, err := local.RpcbUnset(ctx, 3, tmp); err != nil || !ok {
			t.Fatalf("UNSET: %v, %v", ok, err)
		}
		s1, err := tcp.Getstat(ctx)
		must(err)

		var want [3][portmap.StatHighProc]int32
		want[0][portmap.ProcNull] = 1
		want[0][portmap.PmapGetport] = 2
		want[0][portmap.PmapDump] = 1
		want[1][portmap.ProcNull] = 1
		want[1][portmap.RpcbGetaddr] = 1
		want[1][portmap.RpcbGettime] = 1
		want[1][portmap.RpcbUaddr2taddr] = 1
		want[1][portmap.RpcbTaddr2uaddr] = 1
		want[1][portmap.RpcbSet] = 1
		want[1][portmap.RpcbUnset] = 1
		want[2][portmap.RpcbGetversaddr] = 1
		want[2][portmap.RpcbGetaddrlist] = 1
		want[2][portmap.RpcbGetaddr] = 1
		want[2][portmap.RpcbGetstat] = 1
		for v := range s1 {
			var got [portmap.StatHighProc]int32
			for p := range got {
				got[p] = s1[v].Info[p] - s0[v].Info[p]
			}
			if got != want[v] {
				t.Errorf("v%d calls counted %v, want %v", v+2, got, want[v])
			}
		}
		if d := [2]int32{s1[1].SetInfo - s0[1].SetInfo, s1[1].UnsetInfo - s0[1].UnsetInfo}; d != [2]int32{1, 1} {
			t.Errorf("v3 successful SET, UNSET moved by %v, want [1 1]", d)
		}
		// Address lookups: v2 records the netid of the prot asked, v3 and
		// v4 that of the transport; GETVERSADDR and GETADDRLIST count as
		// successful lookups.
		wantAddr := map[addrKey][2]int32{
			{0, 100003, 3, "tcp"}: {1, 0},
			{0, 100999, 1, "udp"}: {0, 1},
			{1, 100003, 3, "udp"}: {1, 0},
			{2, 100021, 4, "tcp"}: {1, 0},
			{2, 100005, 3, "tcp"}: {1, 0},
			{2, 100024, 1, "udp"}: {1, 0},
		}
		if got := addrDeltas(s0, s1); !reflect.DeepEqual(got, wantAddr) {
			t.Errorf("address lookups moved by %v, want %v", got, wantAddr)
		}
	})

	t.Run("unset", func(t *testing.T) {
		own := portmap.RPCB{Prog: 200003, Vers: 1, Netid: "tcp"}
		// Not the owner: a caller from an unprivileged loopback port
		// ("unknown") and another uid over the socket.
		if ok, err := tcp.RpcbUnset(ctx, 3, own); err != nil || ok {
			t.Errorf("UNSET by an unprivileged TCP caller: %v, %v; want false", ok, err)
		}
		if got := runChild(t, child, testsupport.Nobody-1, "unset", 4, own); got != "false" {
			t.Errorf("UNSET by uid %d: %s, want false", testsupport.Nobody-1, got)
		}
		checkDumps(t)
		// The owner.
		if got := runChild(t, child, testsupport.Nobody, "unset", 4, own); got != "true" {
			t.Errorf("UNSET by the owner: %s, want true", got)
		}
		reg = slices.DeleteFunc(reg, func(r portmap.RPCB) bool { return r.Prog == own.Prog })
		// Root, with v2 UNSET: both the udp and the tcp mapping go.
		if ok, err := local.PmapUnset(ctx, portmap.Mapping{Prog: 100005, Vers: 2}); err != nil || !ok {
			t.Errorf("v2 UNSET by root: %v, %v; want true", ok, err)
		}
		reg = slices.DeleteFunc(reg, func(r portmap.RPCB) bool { return r.Prog == 100005 && r.Vers == 2 })
		// v3 UNSET of every netid, by root.
		if ok, err := local.RpcbUnset(ctx, 3, portmap.RPCB{Prog: 200002, Vers: 1}); err != nil || !ok {
			t.Errorf("v3 UNSET of every netid by root: %v, %v; want true", ok, err)
		}
		reg = slices.DeleteFunc(reg, func(r portmap.RPCB) bool { return r.Prog == 200002 })
		checkDumps(t)
	})

	t.Run("ping", func(t *testing.T) {
		for _, network := range []string{"udp", "tcp"} {
			got, err := PingVersions(ctx, network, "127.0.0.1:111", portmap.Program, nil)
			want := []PingResult{{Vers: 2}, {Vers: 3}, {Vers: 4}}
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("%s: %+v, %v; want %+v", network, got, err, want)
			}
		}
		got, err := PingVersions(ctx, "unix", testsupport.RpcbindSocket, portmap.Program, nil)
		if err != nil || len(got) != 3 {
			t.Errorf("unix: %+v, %v; want versions 2 to 4", got, err)
		}
		// Version 5 is refused with the range.
		err = Ping(ctx, "udp", "127.0.0.1:111", portmap.Program, 5, nil)
		var e *rpc.Error
		if !errors.As(err, &e) || e.Status != rpc.ProgVersMismatch || e.Low != 2 || e.High != 4 {
			t.Errorf("version 5: %v, want PROG_MISMATCH 2-4", err)
		}
	})

	t.Run("too large for a datagram", func(t *testing.T) {
		// 500 more udp and tcp registrations: the v2 list (20 bytes an
		// entry) and the v3/v4 lists outgrow rpcbind's 9000-byte datagrams.
		for i := range uint32(500) {
			r := portmap.RPCB{Prog: 300000 + i/2, Vers: 1, Netid: []string{"udp", "tcp"}[i%2],
				Addr: portmap.FormatUaddr(netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(10000+i)))}
			if ok, err := local.RpcbSet(ctx, 3, r); err != nil || !ok {
				t.Fatalf("SET %+v: %v, %v", r, ok, err)
			}
			r.Owner = "superuser"
			reg = append(reg, r)
		}
		// Over UDP, v3 and v4 answer SYSTEM_ERR and v2 nothing at all.
		for _, vers := range []uint32{3, 4} {
			if _, err := udp.RpcbDump(ctx, vers); !errors.Is(err, rpc.ErrSystemErr) {
				t.Errorf("v%d DUMP over UDP: %v, want SYSTEM_ERR", vers, err)
			}
		}
		short, cancel := context.WithTimeout(ctx, time.Second)
		_, err := udp.PmapDump(short)
		cancel()
		if !errors.Is(err, rpc.ErrTimedOut) {
			t.Errorf("v2 DUMP over UDP: %v, want no answer", err)
		}
		// Dump moves to TCP.
		for _, vers := range []uint32{3, 4} {
			if got, err := udp.Dump(ctx, vers); err != nil || !reflect.DeepEqual(got, reg) {
				t.Errorf("Dump v%d over UDP: %d entries, %v; want %d", vers, len(got), err, len(reg))
			}
		}
		var want []portmap.RPCB
		for _, m := range pmapView(reg) {
			want = append(want, RPCBFromMapping(m))
		}
		start := time.Now()
		if got, err := udp.Dump(ctx, 2); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("Dump v2 over UDP: %d entries, %v; want %d", len(got), err, len(want))
		}
		t.Logf("Dump v2 over UDP moved to TCP after %v", time.Since(start).Round(time.Millisecond))
		checkDumps(t)
	})

	t.Run("fake program", func(t *testing.T) {
		// A program with versions 2 to 4 on pkg/rpc's server, registered
		// with rpcbind, found by Lookup and pinged as rpcinfo -t does.
		srv := &rpc.Server{Handler: versionsMux(2, 3, 4)}
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go srv.Serve(l)
		go srv.ServePacket(pc)
		defer srv.Shutdown(context.Background())
		for v := uint32(2); v <= 4; v++ {
			for _, a := range []net.Addr{l.Addr(), pc.LocalAddr()} {
				ap := addrPort(a)
				r := portmap.RPCB{Prog: fakeProg, Vers: v, Netid: a.Network(), Addr: portmap.FormatUaddr(ap)}
				if ok, err := local.RpcbSet(ctx, 4, r); err != nil || !ok {
					t.Fatalf("SET %+v: %v, %v", r, ok, err)
				}
			}
		}
		for _, netid := range []string{"tcp", "udp"} {
			// Version 0 is not registered: GETADDR answers for another.
			ua, err := tcp.Lookup(ctx, fakeProg, 0, netid)
			if err != nil {
				t.Fatal(err)
			}
			network, addr, err := portmap.DialAddress(netid, ua)
			if err != nil {
				t.Fatal(err)
			}
			got, err := PingVersions(ctx, network, addr, fakeProg, nil)
			want := []PingResult{{Vers: 2}, {Vers: 3}, {Vers: 4}}
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("%s %s: %+v, %v; want %+v", netid, addr, got, err, want)
			}
		}
	})
}
