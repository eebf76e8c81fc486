package portmap_test

import (
	"testing"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

func TestLookupNetid(t *testing.T) {
	tests := []struct {
		name string
		want portmap.Netid
	}{
		{"udp", portmap.Netid{Name: "udp", Network: "udp4", Family: "inet", Semantics: 1, Proto: "udp", IPProto: 17}},
		{"tcp", portmap.Netid{Name: "tcp", Network: "tcp4", Family: "inet", Semantics: 3, Proto: "tcp", IPProto: 6}},
		{"udp6", portmap.Netid{Name: "udp6", Network: "udp6", Family: "inet6", Semantics: 1, Proto: "udp", IPProto: 17}},
		{"TCP6", portmap.Netid{Name: "tcp6", Network: "tcp6", Family: "inet6", Semantics: 3, Proto: "tcp", IPProto: 6}},
		{"local", portmap.Netid{Name: "local", Network: "unix", Family: "loopback", Semantics: 3, Proto: "-"}},
		{"Unix", portmap.Netid{Name: "unix", Network: "unix", Family: "loopback", Semantics: 3, Proto: "-"}},
	}
	for _, tt := range tests {
		got, ok := portmap.LookupNetid(tt.name)
		if !ok || got != tt.want {
			t.Errorf("LookupNetid(%q) = %+v, %v; want %+v", tt.name, got, ok, tt.want)
		}
		if got.IsLocal() != (tt.want.Family == "loopback") || got.IsIPv6() != (tt.want.Family == "inet6") {
			t.Errorf("%q: IsLocal %v IsIPv6 %v", tt.name, got.IsLocal(), got.IsIPv6())
		}
	}
	for _, bad := range []string{"", "rawip", "tcp4", "udp "} {
		if n, ok := portmap.LookupNetid(bad); ok {
			t.Errorf("LookupNetid(%q) = %+v, want not found", bad, n)
		}
	}
	if l := portmap.Netids(); len(l) != 6 || l[0].Name != "udp" || l[5].Name != "unix" {
		t.Errorf("Netids() = %+v", l)
	}
}

func TestProt(t *testing.T) {
	tests := []struct {
		prot  uint32
		netid string
		name  string
	}{
		{portmap.IPProtoTCP, "tcp", "tcp"},
		{portmap.IPProtoUDP, "udp", "udp"},
		{132, "", "132"},
		{0, "", "0"},
		{4294967295, "", "4294967295"},
	}
	for _, tt := range tests {
		netid, ok := portmap.NetidForProt(tt.prot)
		if netid != tt.netid || ok != (tt.netid != "") {
			t.Errorf("NetidForProt(%d) = %q, %v", tt.prot, netid, ok)
		}
		if tt.netid != "" {
			if p, ok := portmap.ProtForNetid(tt.netid); !ok || p != tt.prot {
				t.Errorf("ProtForNetid(%q) = %d, %v", tt.netid, p, ok)
			}
		}
		if got := portmap.ProtName(tt.prot); got != tt.name {
			t.Errorf("ProtName(%d) = %q, want %q", tt.prot, got, tt.name)
		}
		if p, ok := portmap.ParseProt(tt.name); !ok || p != tt.prot {
			t.Errorf("ParseProt(%q) = %d, %v", tt.name, p, ok)
		}
	}
	for _, n := range []string{"tcp6", "udp6", "local", ""} {
		if _, ok := portmap.ProtForNetid(n); ok {
			t.Errorf("ProtForNetid(%q) found a v2 prot", n)
		}
	}
	if p, ok := portmap.ProtForNetid("TCP"); !ok || p != 6 {
		t.Error("ProtForNetid is case-sensitive")
	}
	for _, s := range []string{"", "sctp", "-1", "4294967296"} {
		if _, ok := portmap.ParseProt(s); ok {
			t.Errorf("ParseProt(%q) accepted", s)
		}
	}
}

func TestSemanticsName(t *testing.T) {
	for s, want := range map[uint32]string{1: "clts", 2: "cots", 3: "cots_ord", 4: "raw", 0: "unknown", 5: "unknown"} {
		if got := portmap.SemanticsName(s); got != want {
			t.Errorf("SemanticsName(%d) = %q, want %q", s, got, want)
		}
	}
}
