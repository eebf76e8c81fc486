package portmap_test

import (
	"errors"
	"net/netip"
	"reflect"
	"testing"

	"github.com/portmap-toolkit/pmap/internal/vectors"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

// TestV2DumpVector decodes the recorded portmap v2 DUMP: the portmapper's own
// entries, then the seed table in registration order, exactly the rows Debian's
// rpcinfo -p printed for the same registry, then the mapping v2_set had added
// (the DUMP was recorded between v2_set and v2_unset).
func TestV2DumpVector(t *testing.T) {
	got := roundTrip[mappingList](t, "v2_dump", results(t, "v2_dump"))
	v2set := portmap.Mapping{Prog: 100099, Vers: 1, Prot: portmap.IPProtoTCP, Port: 4242}
	if n := len(got); n == 0 || got[n-1] != v2set {
		t.Fatalf("last entry of %v is not v2_set's %v", got, v2set)
	}
	got = got[:len(got)-1]

	var want mappingList
	for _, f := range readTable(t, "rpcinfo/p.out", 1) {
		m := mappingRow(t, f)
		want = append(want, m)
		// The service column is the name table's answer for the program.
		if name, _ := portmap.BuiltinNames().Name(m.Prog); name != f[4] {
			t.Errorf("program %d: built-in name %q, rpcinfo printed %q", m.Prog, name, f[4])
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("v2_dump decodes to\n%v\nrpcinfo -p printed\n%v", got, want)
	}

	var seed mappingList
	for _, f := range readTable(t, "seed-registrations.txt", 0) {
		seed = append(seed, mappingRow(t, f))
	}
	own := len(got) - len(seed)
	if own != 6 {
		t.Fatalf("%d entries besides the seed's %d, want the portmapper's 6", own, len(seed))
	}
	for _, m := range got[:own] {
		if m.Prog != portmap.Program || m.Port != portmap.Port {
			t.Errorf("leading entry %+v is not the portmapper's", m)
		}
	}
	if !reflect.DeepEqual(got[own:], seed) {
		t.Errorf("after the portmapper's entries:\n%v\nwant the seed table\n%v", got[own:], seed)
	}
}

// defaultRows reads what rpcinfo (no option, an rpcbind DUMP) printed.
func defaultRows(t *testing.T) rpcbList {
	var l rpcbList
	for _, f := range readTable(t, "rpcinfo/default.out", 1) {
		l = append(l, portmap.RPCB{Prog: atou(t, f[0]), Vers: atou(t, f[1]), Netid: f[2], Addr: f[3], Owner: f[5]})
	}
	return l
}

// TestRPCBDumpVectors decodes the recorded v3 and v4 DUMPs and compares them
// with rpcinfo's listing. The v3 DUMP was taken while v3_set's registration
// (100099 v2 udp 127.0.0.1 port 4242) was in place, so it has that entry
// more, at the end, owned by "superuser" whatever the caller asked: the server
// decides.
func TestRPCBDumpVectors(t *testing.T) {
	rows := defaultRows(t)
	v3set := portmap.RPCB{Prog: 100099, Vers: 2, Netid: "udp", Addr: "127.0.0.1.16.146", Owner: "superuser"}
	tests := []struct {
		name string
		want rpcbList
	}{
		{"v4_dump", rows},
		{"v3_dump", append(rows[:len(rows):len(rows)], v3set)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := roundTrip[rpcbList](t, tt.name, results(t, tt.name))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("decodes to\n%v\nwant\n%v", got, tt.want)
			}
			for _, r := range got {
				if err := portmap.CheckUaddr(r.Netid, r.Addr); err != nil {
					t.Errorf("entry %+v: %v", r, err)
				}
			}
		})
	}
}

// TestGetaddrlistVector: GETADDRLIST nfs v3 over UDP lists nfs's udp and tcp
// IPv4 addresses, wildcard replaced by the address reached.
func TestGetaddrlistVector(t *testing.T) {
	got := roundTrip[entryList](t, "v4_getaddrlist", results(t, "v4_getaddrlist"))
	want := entryList{
		{Maddr: "127.0.0.1.8.1", Netid: "udp", Semantics: portmap.SemanticsCLTS, Protofmly: "inet", Proto: "udp"},
		{Maddr: "127.0.0.1.8.1", Netid: "tcp", Semantics: portmap.SemanticsCOTSOrd, Protofmly: "inet", Proto: "tcp"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decodes to %+v, want %+v", got, want)
	}
	for _, e := range got {
		n, ok := portmap.LookupNetid(e.Netid)
		if !ok || n.Family != e.Protofmly || n.Proto != e.Proto || n.Semantics != e.Semantics {
			t.Errorf("entry %+v disagrees with the netid table %+v", e, n)
		}
	}
}

// TestGetstatVector decodes the recorded GETSTAT. Every counter follows from
// the calls INDEX.md lists before it (xid order), so each is asserted.
func TestGetstatVector(t *testing.T) {
	got := roundTrip[portmap.StatByVers](t, "v4_getstat", results(t, "v4_getstat"))
	want := portmap.StatByVers{
		{ // v2: NULL x2 (plain and AUTH_SYS), SET, UNSET x2, GETPORT x4, DUMP x2, CALLIT
			Info:      [13]int32{2, 1, 2, 4, 2, 1},
			SetInfo:   1,
			UnsetInfo: 2, // rpcbind answers TRUE to the second UNSET too
			AddrInfo: []portmap.AddrStat{ // newest first; the garbage GETPORT is not recorded
				{Prog: 100999, Vers: 1, Success: 0, Failure: 1, Netid: "udp"},
				{Prog: 100099, Vers: 1, Success: 1, Failure: 0, Netid: "tcp"},
				{Prog: 100003, Vers: 3, Success: 1, Failure: 0, Netid: "tcp"},
			},
			RmtInfo: []portmap.RmtCallStat{ // the silent CALLIT still counts as a success
				{Prog: 100024, Vers: 1, Proc: 0, Success: 1, Failure: 0, Indirect: 1, Netid: "udp"},
			},
		},
		{ // v3: NULL, SET x21 (the 20 seed entries and v3_set), UNSET, GETADDR x2, DUMP, GETTIME, UADDR2TADDR, TADDR2UADDR
			Info:      [13]int32{1, 21, 1, 2, 1, 0, 1, 1, 1},
			SetInfo:   21,
			UnsetInfo: 1,
			AddrInfo: []portmap.AddrStat{ // the arriving transport's netid, not r_netid
				{Prog: 100999, Vers: 1, Success: 0, Failure: 1, Netid: "udp"},
				{Prog: 100003, Vers: 3, Success: 1, Failure: 0, Netid: "udp"},
			},
		},
		{ // v4: NULL, GETADDR, DUMP, GETVERSADDR, GETADDRLIST, GETSTAT itself
			Info: [13]int32{1, 0, 0, 1, 1, 0, 0, 0, 0, 1, 0, 1, 1},
			AddrInfo: []portmap.AddrStat{
				{Prog: 100003, Vers: 3, Success: 1, Failure: 0, Netid: "udp"}, // GETADDRLIST
				{Prog: 100021, Vers: 4, Success: 1, Failure: 0, Netid: "udp"}, // GETVERSADDR
				{Prog: 100005, Vers: 3, Success: 1, Failure: 0, Netid: "udp"}, // GETADDR
			},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decodes to\n%+v\nwant\n%+v", got, want)
	}
	if s := got.Version(portmap.V4); s == nil || s.Info[portmap.RpcbGetstat] != 1 {
		t.Errorf("Version(4) = %+v, want v4's statistics", s)
	}
	if got.Version(5) != nil || got.Version(1) != nil {
		t.Error("Version outside 2..4 is not nil")
	}
}

// TestAddressVectors decodes the replies that are a single universal address
// or netbuf.
func TestAddressVectors(t *testing.T) {
	loop := netip.MustParseAddr("127.0.0.1")
	tests := []struct {
		name  string
		netid string // the transport the call came in on
		want  netip.AddrPort
	}{
		{"v3_getaddr", "udp", netip.AddrPortFrom(loop, 2049)},      // nfs v3 tcp, wildcard replaced
		{"v4_getaddr", "udp", netip.AddrPortFrom(loop, 644)},       // mountd v3 udp
		{"v4_getversaddr", "udp", netip.AddrPortFrom(loop, 32770)}, // asked for tcp, answered for udp
		{"v3_taddr2uaddr", "udp", netip.AddrPortFrom(loop, 2049)},  // sockaddr_in 127.0.0.1:2049
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := roundTrip[xdrString](t, tt.name, results(t, tt.name))
			got, err := portmap.ParseUaddr(tt.netid, string(s))
			if err != nil || got != tt.want {
				t.Errorf("uaddr %q parses to %v, %v; want %v", s, got, err, tt.want)
			}
			if f := portmap.FormatUaddr(got); f != string(s) {
				t.Errorf("FormatUaddr(%v) = %q, rpcbind sent %q", got, f, s)
			}
		})
	}
	for _, name := range []string{"v3_getaddr_unregistered"} {
		if s := roundTrip[xdrString](t, name, results(t, name)); s != "" {
			t.Errorf("%s: %q, want the empty string", name, s)
		}
	}

	t.Run("v3_uaddr2taddr", func(t *testing.T) {
		uaddr := roundTrip[xdrString](t, "call", args(t, "v3_uaddr2taddr"))
		nb := roundTrip[portmap.Netbuf](t, "reply", results(t, "v3_uaddr2taddr"))
		ap, err := nb.AddrPort()
		if want := netip.AddrPortFrom(loop, 2049); err != nil || ap != want {
			t.Errorf("netbuf %x: %v, %v; want %v", nb.Buf, ap, err, want)
		}
		// What rpcbind did, we do: the same uaddr gives the same bytes.
		ours, err := portmap.NetbufFromUaddr("udp", string(uaddr))
		if err != nil || !reflect.DeepEqual(ours, nb) {
			t.Errorf("NetbufFromUaddr(%q) = %+v, %v; rpcbind sent %+v", uaddr, ours, err, nb)
		}
	})
	t.Run("v3_taddr2uaddr", func(t *testing.T) {
		nb := roundTrip[portmap.Netbuf](t, "call", args(t, "v3_taddr2uaddr"))
		got, err := nb.Uaddr()
		want := roundTrip[xdrString](t, "reply", results(t, "v3_taddr2uaddr"))
		if err != nil || got != string(want) {
			t.Errorf("Uaddr of %x = %q, %v; rpcbind answered %q", nb.Buf, got, err, want)
		}
	})
}

// TestCallVectors decodes the arguments of every recorded call and encodes
// them back to the same bytes. Every vector must be classified here, so a new
// recording cannot be skipped silently.
func TestCallVectors(t *testing.T) {
	type check func(t *testing.T, name string, b []byte)
	is := func(f func(testing.TB, string, []byte)) check {
		return func(t *testing.T, name string, b []byte) { f(t, name, b) }
	}
	mapping := is(func(t testing.TB, n string, b []byte) { roundTrip[portmap.Mapping](t, n, b) })
	rpcb := is(func(t testing.TB, n string, b []byte) { roundTrip[portmap.RPCB](t, n, b) })
	none := is(func(t testing.TB, n string, b []byte) { roundTrip[noArgs](t, n, b) })
	callArgs := is(func(t testing.TB, n string, b []byte) { roundTrip[portmap.CallArgs](t, n, b) })
	rmtArgs := is(func(t testing.TB, n string, b []byte) { roundTrip[portmap.RmtCallArgs](t, n, b) })
	str := is(func(t testing.TB, n string, b []byte) { roundTrip[xdrString](t, n, b) })
	netbuf := is(func(t testing.TB, n string, b []byte) { roundTrip[portmap.Netbuf](t, n, b) })
	short := func(t *testing.T, name string, b []byte) { // 8 of GETPORT's 16 bytes
		_, err := decodeAll[portmap.Mapping](b)
		if !errors.Is(err, xdr.ErrShort) {
			t.Errorf("%s: %v, want a short-input error", name, err)
		}
	}
	kinds := map[string]check{
		"v2_set": mapping, "v2_unset": mapping, "v2_unset_again": mapping,
		"v2_getport_registered": mapping, "v2_getport_set": mapping, "v2_getport_unregistered": mapping,
		"v2_getport_garbage_args":          short,
		"v2_callit_null_to_nfs_unanswered": callArgs,
		"v3_set":                           rpcb, "v3_unset": rpcb, "v3_getaddr": rpcb, "v3_getaddr_unregistered": rpcb,
		"v4_getaddr": rpcb, "v4_getversaddr": rpcb, "v4_getaddrlist": rpcb,
		"v3_uaddr2taddr": str, "v3_taddr2uaddr": netbuf,
		"v4_indirect_unregistered": rmtArgs,
		"v2_null":                  none, "v2_null_authsys": none, "v3_null": none, "v4_null": none,
		"v2_dump": none, "v3_dump": none, "v4_dump": none, "v3_gettime": none, "v4_getstat": none,
		"v2_proc_unavail": none, "prog_mismatch_v5": none, "prog_unavail": none,
		"rpc_mismatch": none, "auth_badflavor": none,
	}
	seen := 0
	for _, c := range vectors.All() {
		t.Run(c.Name, func(t *testing.T) {
			f, ok := kinds[c.Name]
			if !ok {
				t.Fatalf("vector %s is not classified in this test", c.Name)
			}
			seen++
			_, _, _, a := callHeader(t, c.Call)
			f(t, c.Name, a)
		})
	}
	if seen != len(kinds) {
		t.Errorf("%d vectors checked, %d classified: a vector is missing", seen, len(kinds))
	}

	// Spot-check decoded values against INDEX.md.
	m, _ := decodeAll[portmap.Mapping](args(t, "v2_set"))
	if want := (portmap.Mapping{Prog: 100099, Vers: 1, Prot: portmap.IPProtoTCP, Port: 4242}); m != want {
		t.Errorf("v2_set args %+v, want %+v", m, want)
	}
	r, _ := decodeAll[portmap.RPCB](args(t, "v3_set"))
	if want := (portmap.RPCB{Prog: 100099, Vers: 2, Netid: "udp", Addr: "127.0.0.1.16.146", Owner: "vector"}); r != want {
		t.Errorf("v3_set args %+v, want %+v", r, want)
	}
	ca, _ := decodeAll[portmap.CallArgs](args(t, "v2_callit_null_to_nfs_unanswered"))
	if ca.Prog != 100024 || ca.Vers != 1 || ca.Proc != 0 || len(ca.Args) != 0 {
		t.Errorf("v2 CALLIT args %+v, want status v1 NULL with no arguments", ca)
	}
}

// TestScalarReplyVectors checks the replies whose result is a bare unsigned
// integer or boolean against INDEX.md.
func TestScalarReplyVectors(t *testing.T) {
	tests := []struct {
		name string
		want uint32
	}{
		{"v2_set", 1}, {"v2_unset", 1}, {"v2_unset_again", 1}, {"v3_set", 1}, {"v3_unset", 1},
		{"v2_getport_registered", 2049}, {"v2_getport_set", 4242},
		{"v2_getport_unregistered", 0}, {"v2_getport_garbage_args", 0},
		{"v3_gettime", 1795842941},
	}
	for _, tt := range tests {
		if got := roundTrip[xdrUint](t, tt.name, results(t, tt.name)); uint32(got) != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
}
