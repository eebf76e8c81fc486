package regfile

import (
	"fmt"
	"strings"
	"testing"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

// pm and rb build wire values from positional fields.
func pm(prog, vers, prot, port uint32) portmap.Mapping {
	return portmap.Mapping{Prog: prog, Vers: vers, Prot: prot, Port: port}
}

func rb(prog, vers uint32, netid, addr, owner string) portmap.RPCB {
	return portmap.RPCB{Prog: prog, Vers: vers, Netid: netid, Addr: addr, Owner: owner}
}

// TestAppendClassic holds AppendClassic to pmap_dump's printf format, with
// Go's fmt (whose %u-like verbs pad as C's do) as the second opinion, at the
// ends of every field's range.
func TestAppendClassic(t *testing.T) {
	tests := []struct {
		m    portmap.Mapping
		name string
		want string
	}{
		{pm(100000, 2, portmap.IPProtoTCP, 111), "portmapper", "    100000    2   tcp    111  portmapper\n"},
		{pm(100003, 3, portmap.IPProtoUDP, 2049), "nfs", "    100003    3   udp   2049  nfs\n"},
		{pm(400000, 1, portmap.IPProtoUDP, 700), "", "    400000    1   udp    700  \n"},
		{pm(0, 0, 0, 0), "", "         0    0     0      0  \n"},
		{pm(4294967295, 4294967295, 4294967295, 4294967295), "", "4294967295 4294967295 4294967295 4294967295  \n"},
		{pm(99999, 12345, 132, 65535), "x", "     99999 12345   132  65535  x\n"},
	}
	for _, tt := range tests {
		got := string(AppendClassic(nil, tt.m, tt.name))
		if got != tt.want {
			t.Errorf("AppendClassic(%v, %q) = %q, want %q", tt.m, tt.name, got, tt.want)
		}
		proto := portmap.ProtName(tt.m.Prot)
		if printf := fmt.Sprintf("%10d %4d %5s %6d  %s\n", tt.m.Prog, tt.m.Vers, proto, tt.m.Port, tt.name); got != printf {
			t.Errorf("AppendClassic(%v, %q) = %q, printf gives %q", tt.m, tt.name, got, printf)
		}
	}
}

func TestAppendExtended(t *testing.T) {
	tests := []struct {
		r    portmap.RPCB
		name string
		want string
	}{
		{rb(100000, 4, "tcp6", "::.0.111", "superuser"), "portmapper",
			"    100000    4  tcp6 ::.0.111                superuser  portmapper\n"},
		{rb(100000, 3, "local", "/run/rpcbind.sock", "superuser"), "portmapper",
			"    100000    3 local /run/rpcbind.sock       superuser  portmapper\n"},
		{rb(100003, 3, "tcp", "255.255.255.255.255.255", "0"), "",
			"    100003    3   tcp 255.255.255.255.255.255 0\n"},
		{rb(4294967295, 4294967295, "udp", "0.0.0.0.8.1", "unknown"), "",
			"4294967295 4294967295   udp 0.0.0.0.8.1             unknown\n"},
		// Fields that cannot be written bare are quoted.
		{rb(1, 2, "my net", "a b", ""), "",
			"         1    2 \"my net\" \"a b\"                   \"\"\n"},
		{rb(1, 2, "local", "2049", "a\"b\\c"), "svc",
			"         1    2 local \"2049\"                  \"a\\\"b\\\\c\"  svc\n"},
		{rb(1, 2, "x", "\x00\t\n\r\x7f\xff", "ü"), "",
			"         1    2     x \"\\x00\\t\\n\\r\\x7f\\xff\"    \"\\xc3\\xbc\"\n"},
		// A name that would not read back the same is quoted as in Go.
		{rb(1, 2, "udp", "0.0.0.0.0.1", "o"), " two\nlines ",
			"         1    2   udp 0.0.0.0.0.1             o          \" two\\nlines \"\n"},
		// A field longer than its column pushes the rest along.
		{rb(1, 2, "tcp6", "fe80::1234:5678:9abc:def0.8.1", "superuser1"), "n",
			"         1    2  tcp6 fe80::1234:5678:9abc:def0.8.1 superuser1 n\n"},
	}
	for _, tt := range tests {
		got := string(AppendExtended(nil, tt.r, tt.name))
		if got != tt.want {
			t.Errorf("AppendExtended(%+v, %q)\n got %q\nwant %q", tt.r, tt.name, got, tt.want)
		}
		// Whatever was written reads back the same.
		es, err := Parse(strings.NewReader(got))
		if err != nil {
			t.Errorf("Parse(%q): %v", got, err)
			continue
		}
		want := RPCBEntry(tt.r, tt.name)
		if tt.name != "" && !cleanName(tt.name) {
			want.Name = fmt.Sprintf("%q", tt.name)
		}
		want.Line = 1
		if len(es) != 1 || es[0] != want {
			t.Errorf("Parse(%q) = %+v, want %+v", got, es, want)
		}
	}
}

// TestExtendedHeaderAligned checks that each column name of ExtendedHeader
// ends (right-aligned numbers and netid) or starts (address, owner, service)
// where AppendExtended puts its field.
func TestExtendedHeaderAligned(t *testing.T) {
	line := string(AppendExtended(nil, rb(100000, 4, "local", "/run/rpcbind.sock", "superuser"), "portmapper"))
	h := ExtendedHeader
	ends := map[string]string{"program": "100000", "vers": "4", "netid": "local"}
	for col, field := range ends {
		if he, le := strings.Index(h, col)+len(col), strings.Index(line, " "+field+" ")+1+len(field); he != le {
			t.Errorf("column %q ends at %d, its field %q at %d\n%s%s", col, he, field, le, h, line)
		}
	}
	starts := map[string]string{"address": "/run/rpcbind.sock", "owner": "superuser", "service": "portmapper"}
	for col, field := range starts {
		if hs, ls := strings.Index(h, col), strings.Index(line, field); hs != ls {
			t.Errorf("column %q starts at %d, its field %q at %d\n%s%s", col, hs, field, ls, h, line)
		}
	}
}

func TestEntryConversions(t *testing.T) {
	m := MappingEntry(pm(100003, 3, portmap.IPProtoTCP, 2049), "nfs")
	if !m.IsMapping() || m.Mapping() != (pm(100003, 3, portmap.IPProtoTCP, 2049)) {
		t.Errorf("MappingEntry round trip: %+v", m)
	}
	if got, want := m.RPCB(), (rb(100003, 3, "tcp", "0.0.0.0.8.1", "")); got != want {
		t.Errorf("RPCB() of a tcp mapping = %+v, want %+v", got, want)
	}
	if got, want := m.Key(), (Key{100003, 3, "tcp"}); got != want {
		t.Errorf("Key() = %+v, want %+v", got, want)
	}
	if got, want := m.String(), "    100003    3   tcp   2049  nfs"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	odd := MappingEntry(pm(1, 1, 132, 7), "")
	if got := odd.Key(); got != (Key{1, 1, "prot:132"}) {
		t.Errorf("Key() of protocol 132 = %+v", got)
	}
	if got := odd.String(); got != "         1    1   132      7" {
		t.Errorf("String() of a nameless mapping = %q", got)
	}
	r := RPCBEntry(rb(100003, 4, "TCP6", "::.8.1", "superuser"), "")
	if r.IsMapping() || r.RPCB() != (rb(100003, 4, "TCP6", "::.8.1", "superuser")) {
		t.Errorf("RPCBEntry round trip: %+v", r)
	}
	if got := r.Key(); got != (Key{100003, 4, "tcp6"}) {
		t.Errorf("Key() does not fold the netid's case: %+v", got)
	}
	for port, want := range map[uint32]string{0: "0.0.0.0.0.0", 111: "0.0.0.0.0.111", 2049: "0.0.0.0.8.1", 65535: "0.0.0.0.255.255"} {
		if got := V2Addr(port); got != want {
			t.Errorf("V2Addr(%d) = %q, want %q", port, got, want)
		}
	}
}
