package render

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

// classicCases renders, for each reference case whose standard output is not
// empty, the data behind it. Cases with an empty output are errors, which
// cmd/rpcinfo's tests cover.
func classicCases(t *testing.T) map[string]func(p *Printer) error {
	mappings := referenceMappings(t)
	regs := referenceRegistrations(t)
	ping := func(list ...Ping) func(p *Printer) error {
		return func(p *Printer) error {
			for _, r := range list {
				if err := p.Ping(r); err != nil {
					return err
				}
			}
			return p.FlushPings()
		}
	}
	portmapper := ping(pings(100000, 2, 4)...)
	dead := "RPC: Unable to receive; errno = Connection refused"
	return map[string]func(p *Printer) error{
		"p":                   func(p *Printer) error { return p.Mappings(mappings) },
		"p_nohost":            func(p *Printer) error { return p.Mappings(mappings) },
		"p_after_host":        func(p *Printer) error { return p.Mappings(mappings) },
		"default":             func(p *Printer) error { return p.Registrations(regs) },
		"s":                   func(p *Printer) error { return p.Summary(regs) },
		"s_nohost":            func(p *Printer) error { return p.Summary(regs) },
		"l_nfs3":              func(p *Printer) error { return p.Addresses(100003, 3, nfs3Entries) },
		"l_nfs3_tcp":          func(p *Printer) error { return p.Addresses(100003, 3, nfs3Entries) },
		"l_unregistered":      func(p *Printer) error { return p.Addresses(100999, 1, nil) },
		"m":                   func(p *Printer) error { return p.Stats(referenceStats()) },
		"t_portmapper":        portmapper,
		"t_name":              portmapper,
		"T_tcp_portmapper":    portmapper,
		"a_portmapper":        portmapper,
		"T_udp_portmapper_v4": ping(Ping{Prog: 100000, Vers: 4}),
		"u_portmapper_v2":     ping(Ping{Prog: 100000, Vers: 2}),
		"n_portmapper":        ping(Ping{Prog: 100000, Vers: 2}),
		"t_badversion": ping(Ping{Prog: 100000, Vers: 7,
			Err: "RPC: Program/version mismatch; low version = 2, high version = 4"}),
		"T_udp_dead":       ping(Ping{Prog: 100024, Vers: 1, Err: dead}),
		"u_dead_v3":        ping(Ping{Prog: 100005, Vers: 3, Err: dead}),
		"u_dead_noversion": ping(Ping{Prog: 100005, Vers: 0, Err: dead}),
	}
}

// TestClassicReference renders the data behind every reference case with a
// non-empty standard output and compares it, byte for byte, with what
// Debian's rpcinfo printed.
func TestClassicReference(t *testing.T) {
	cases := classicCases(t)
	for _, name := range referenceFiles(t) {
		want := string(readFile(t, filepath.Join(referenceDir, name+".out")))
		fn, ok := cases[name]
		if want == "" {
			if ok {
				t.Errorf("%s: a case renders output where rpcinfo printed none", name)
			}
			continue
		}
		if !ok {
			t.Errorf("%s: rpcinfo printed output that no case renders", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			got := render(t, Options{Format: Classic, Names: names}, fn)
			if got != want {
				t.Errorf("output differs from Debian's rpcinfo\n got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// TestClassicEdges compares the classic form with what Debian's rpcinfo
// printed for a registry of extremes (testdata/edge/README.md): numbers at
// the ends of the 32-bit range overflowing their columns, signed versions in
// -s, a long IPv6 address, every netid, forty versions, a non-root owner.
func TestClassicEdges(t *testing.T) {
	regs := edgeRegistrations(t)
	tests := []struct {
		golden string
		fn     func(p *Printer) error
	}{
		{"default.out", func(p *Printer) error { return p.Registrations(regs) }},
		{"s.out", func(p *Printer) error { return p.Summary(regs) }},
		{"p.out", func(p *Printer) error { return p.Mappings(edgeMappings(t)) }},
		{"l_max.out", func(p *Printer) error {
			return p.Addresses(4294967295, 4294967295, []portmap.Entry{{Maddr: "127.0.0.1.255.255", Netid: "udp",
				Semantics: portmap.SemanticsCLTS, Protofmly: "inet", Proto: "udp"}})
		}},
		{"l_v6.out", func(p *Printer) error {
			return p.Addresses(2147483647, 2147483647, []portmap.Entry{{Maddr: "::1.255.255", Netid: "udp6",
				Semantics: portmap.SemanticsCLTS, Protofmly: "inet6", Proto: "udp"}})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			want := string(readFile(t, filepath.Join("testdata/edge", tt.golden)))
			if got := render(t, Options{Format: Classic, Names: names}, tt.fn); got != want {
				t.Errorf("output differs from Debian's rpcinfo\n got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// TestClassicFormats checks the printf rules the reference cannot reach
// (no real rpcbind sends such values): C strings ending at NUL, protocols
// other than tcp and udp, unknown programs, semantics, buffer limits, signed
// counters, and the width rules of rpcinfo -m.
func TestClassicFormats(t *testing.T) {
	long := strings.Repeat("n", 100)
	tests := []struct {
		name string
		fn   func(p *Printer) error
		want string
	}{
		{"mapping with another protocol and no name", func(p *Printer) error {
			return p.Mappings([]portmap.Mapping{{Prog: 7, Vers: 1, Prot: 99, Port: 70000}})
		}, "   program vers proto   port  service\n         7    1    99  70000\n"},
		{"empty mappings", func(p *Printer) error { return p.Mappings(nil) }, "No remote programs registered.\n"},
		{"empty registrations", func(p *Printer) error { return p.Registrations(nil) }, "No remote programs registered.\n"},
		{"empty summary", func(p *Printer) error { return p.Summary(nil) }, "No remote programs registered.\n"},
		{"strings end at NUL", func(p *Printer) error {
			return p.Registrations([]portmap.RPCB{{Prog: 1, Vers: 2, Netid: "udp\x00junk", Addr: "1.2.3.4.0.1\x00x", Owner: "root\x00y"}})
		}, "   program version netid     address                service    owner\n" +
			"         1    2    udp       1.2.3.4.0.1            -          root\n"},
		{"summary merges netids equal up to NUL", func(p *Printer) error {
			return p.Summary([]portmap.RPCB{{Prog: 1, Vers: 1, Netid: "udp", Owner: "o"}, {Prog: 1, Vers: 2, Netid: "udp\x00x", Owner: "p"}})
		}, "   program version(s) netid(s)                         service     owner\n" +
			"         1  2,1       udp                              -           o\n"},
		{"summary cuts netids at 255 bytes", func(p *Printer) error {
			var l []portmap.RPCB
			for _, c := range "abc" {
				l = append(l, portmap.RPCB{Prog: 1, Vers: 1, Netid: string(c) + long, Owner: "o"})
			}
			return p.Summary(l)
		}, "   program version(s) netid(s)                         service     owner\n" +
			"         1  1         c" + long + ",b" + long + ",a" + long[:50] + " -           o\n"},
		{"address list semantics and class cut at 127 bytes", func(p *Printer) error {
			return p.Addresses(5, 1, []portmap.Entry{
				{Maddr: "a", Semantics: portmap.SemanticsCOTS, Protofmly: "inet", Proto: "tcp"},
				{Maddr: "b", Semantics: 9, Protofmly: "x", Proto: "y"},
				{Maddr: "c", Semantics: 1, Protofmly: long, Proto: long},
			})
		}, "   program vers  tp_family/name/class    address\t\t  service\n" +
			"         5  1    inet/tcp/cots           a                        -            \n" +
			"         5  1    x/y/cots_ord            b                        -            \n" +
			"         5  1    " + long + "/" + long[:26] + "c                        -            \n"},
		{"ping with widened numbers", func(p *Printer) error {
			return p.Ping(Ping{Prog: 99999999999, Vers: 18446744073709551615, Err: "x"})
		}, "program 99999999999 version 18446744073709551615 is not available\n"},
		{"broadcast reply", func(p *Printer) error {
			return p.Reply(Reply{Addr: "192.0.2.2.0.111", Host: "peer"})
		}, "192.0.2.2.0.111\tpeer\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := render(t, Options{Format: Classic, Names: names}, tt.fn); got != tt.want {
				t.Errorf("got:\n%q\nwant:\n%q", got, tt.want)
			}
		})
	}
}

// TestClassicStatsWidths checks rpcinfo -m's column rule, 8*(1+len/8), with
// wide and negative counters, signed program numbers in the lists, and the
// GETADDR total of version 4 that includes GETADDRLIST.
func TestClassicStatsWidths(t *testing.T) {
	var st portmap.StatByVers
	st[0].Info = [portmap.StatHighProc]int32{-1, 2147483647, 0, 0, 12345678}
	st[0].SetInfo = -2147483648
	st[2].Info[portmap.RpcbGetaddr] = 2147483647
	st[2].Info[portmap.RpcbGetaddrlist] = 1 // wraps, as the C int does
	st[2].AddrInfo = []portmap.AddrStat{{Prog: 4294967295, Vers: 4294967295, Success: 1, Failure: -1, Netid: "udp"}}
	got := render(t, Options{Format: Classic}, func(p *Printer) error { return p.Stats(&st) })
	want := "PORTMAP (version 2) statistics\n" +
		"NULL    SET                     UNSET   GETPORT DUMP            CALLIT  \n" +
		"-1      -2147483648/2147483647  0/0     0/0     12345678        0/0     \n\n" +
		"RPCBIND (version 3) statistics\n" +
		"NULL    SET     UNSET   GETADDR DUMP    CALLIT  TIME    U2T     T2U     \n" +
		"0       0/0     0/0     0/0     0       0/0     0       0       0       \n\n" +
		"RPCBIND (version 4) statistics\n" +
		"NULL    SET     UNSET   GETADDR         DUMP    CALLIT  TIME    U2T     T2U     \n" +
		"0       0/0     0/0     1/-2147483648   0       0/0     0       0       0       \n" +
		"VERADDR INDRECT GETLIST GETSTAT \n" +
		"0       0       1       0       \n\n" +
		"RPCB_GETADDR (version 4) call statistics\n" +
		"prog\t\tvers\tnetid\t  success\tfailure\n" +
		"-1              -1\tudp\t  1           \t-1\n"
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

// TestSummarize checks the grouping of rpcinfo -s without the classic form's
// quirks: versions of 2^31 and more are merged like any other.
func TestSummarize(t *testing.T) {
	list := []portmap.RPCB{
		{Prog: 9, Vers: 1, Netid: "udp", Owner: "a"},
		{Prog: 8, Vers: 4294967295, Netid: "tcp", Owner: "b"},
		{Prog: 9, Vers: 2, Netid: "tcp", Owner: "c"},
		{Prog: 8, Vers: 4294967295, Netid: "udp", Owner: "d"},
		{Prog: 9, Vers: 1, Netid: "udp", Owner: "e"},
	}
	got := Summarize(list)
	want := []ProgramSummary{
		{Prog: 9, Versions: []uint32{2, 1}, Netids: []string{"tcp", "udp"}, Owner: "a"},
		{Prog: 8, Versions: []uint32{4294967295}, Netids: []string{"udp", "tcp"}, Owner: "b"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d programs, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Prog != w.Prog || g.Owner != w.Owner || !equal(g.Versions, w.Versions) || !equal(g.Netids, w.Netids) {
			t.Errorf("program %d: got %+v, want %+v", i, g, w)
		}
	}
	classic := summarize(list, true)
	if v := classic[1].Versions; !equal(v, []uint32{4294967295, 4294967295}) {
		t.Errorf("classic versions of program 8 = %v, want the version twice, as rpcinfo prints it", v)
	}
}

func equal[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
