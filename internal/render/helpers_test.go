package render

import (
	"bufio"
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

// referenceDir holds what Debian's rpcinfo printed (NAME.cmd/.out/.err/.rc).
const referenceDir = "../../testdata/rpcinfo"

// names is the table the reference was printed with: Debian's /etc/rpc, which
// the built-in table copies.
var names = portmap.BuiltinNames()

// readFile returns a file's contents, failing the test if it cannot be read.
func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fields reads a whitespace-separated table, skipping blank lines.
func fields(t *testing.T, path string) [][]string {
	t.Helper()
	var rows [][]string
	sc := bufio.NewScanner(bytes.NewReader(readFile(t, path)))
	for sc.Scan() {
		if f := strings.FieldsFunc(sc.Text(), func(r rune) bool { return r == ' ' || r == '\t' }); len(f) > 0 {
			rows = append(rows, f)
		}
	}
	return rows
}

func atou(t *testing.T, s string) uint32 {
	t.Helper()
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		t.Fatalf("bad number %q: %v", s, err)
	}
	return uint32(v)
}

// selfMappings are rpcbind's own v2 entries, which come first in a DUMP.
var selfMappings = []portmap.Mapping{
	{Prog: 100000, Vers: 4, Prot: portmap.IPProtoTCP, Port: 111},
	{Prog: 100000, Vers: 3, Prot: portmap.IPProtoTCP, Port: 111},
	{Prog: 100000, Vers: 2, Prot: portmap.IPProtoTCP, Port: 111},
	{Prog: 100000, Vers: 4, Prot: portmap.IPProtoUDP, Port: 111},
	{Prog: 100000, Vers: 3, Prot: portmap.IPProtoUDP, Port: 111},
	{Prog: 100000, Vers: 2, Prot: portmap.IPProtoUDP, Port: 111},
}

// selfRegistrations are rpcbind's own v3/v4 entries, which come first in a
// DUMP.
func selfRegistrations() []portmap.RPCB {
	var out []portmap.RPCB
	for _, e := range []struct {
		netid, addr string
		vers        []uint32
	}{
		{"tcp6", "::.0.111", []uint32{4, 3}},
		{"udp6", "::.0.111", []uint32{4, 3}},
		{"tcp", "0.0.0.0.0.111", []uint32{4, 3, 2}},
		{"udp", "0.0.0.0.0.111", []uint32{4, 3, 2}},
		{"local", "/run/rpcbind.sock", []uint32{4, 3}},
	} {
		for _, v := range e.vers {
			out = append(out, portmap.RPCB{Prog: 100000, Vers: v, Netid: e.netid, Addr: e.addr, Owner: "superuser"})
		}
	}
	return out
}

// seedMappings reads testdata/seed-registrations.txt: the table the
// reference registry holds after rpcbind's own entries.
func seedMappings(t *testing.T) []portmap.Mapping {
	t.Helper()
	var out []portmap.Mapping
	for _, f := range fields(t, "../../testdata/seed-registrations.txt") {
		prot, ok := portmap.ParseProt(f[2])
		if !ok {
			t.Fatalf("bad protocol %q", f[2])
		}
		out = append(out, portmap.Mapping{Prog: atou(t, f[0]), Vers: atou(t, f[1]), Prot: prot, Port: atou(t, f[3])})
	}
	return out
}

// referenceMappings is the reference registry as portmap v2 DUMP shows it.
func referenceMappings(t *testing.T) []portmap.Mapping {
	return append(append([]portmap.Mapping(nil), selfMappings...), seedMappings(t)...)
}

// referenceRegistrations is the reference registry as rpcbind DUMP shows it:
// the seed was registered with v2 SET, so its addresses have a wildcard host.
func referenceRegistrations(t *testing.T) []portmap.RPCB {
	out := selfRegistrations()
	for _, m := range seedMappings(t) {
		netid, _ := portmap.NetidForProt(m.Prot)
		addr := portmap.FormatUaddr(netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(m.Port)))
		out = append(out, portmap.RPCB{Prog: m.Prog, Vers: m.Vers, Netid: netid, Addr: addr, Owner: "superuser"})
	}
	return out
}

// edgeRegistrations reads testdata/edge/rpcb.dump.
func edgeRegistrations(t *testing.T) []portmap.RPCB {
	t.Helper()
	var out []portmap.RPCB
	for _, line := range strings.Split(strings.TrimSpace(string(readFile(t, "testdata/edge/rpcb.dump"))), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 5 {
			t.Fatalf("bad line %q", line)
		}
		out = append(out, portmap.RPCB{Prog: atou(t, f[0]), Vers: atou(t, f[1]), Netid: f[2], Addr: f[3], Owner: f[4]})
	}
	return out
}

// edgeMappings reads testdata/edge/pmap.dump.
func edgeMappings(t *testing.T) []portmap.Mapping {
	t.Helper()
	var out []portmap.Mapping
	for _, f := range fields(t, "testdata/edge/pmap.dump") {
		out = append(out, portmap.Mapping{Prog: atou(t, f[0]), Vers: atou(t, f[1]), Prot: atou(t, f[2]), Port: atou(t, f[3])})
	}
	return out
}

// referenceStats is the GETSTAT answer behind testdata/rpcinfo/m.out.
func referenceStats() *portmap.StatByVers {
	var st portmap.StatByVers
	st[0] = portmap.Stat{
		Info:      [portmap.StatHighProc]int32{2, 1, 2, 4, 4, 1},
		SetInfo:   1,
		UnsetInfo: 2,
		AddrInfo: []portmap.AddrStat{
			{Prog: 100999, Vers: 1, Success: 0, Failure: 1, Netid: "udp"},
			{Prog: 100099, Vers: 1, Success: 1, Failure: 0, Netid: "tcp"},
			{Prog: 100003, Vers: 3, Success: 1, Failure: 0, Netid: "tcp"},
		},
		RmtInfo: []portmap.RmtCallStat{{Prog: 100024, Vers: 1, Proc: 0, Success: 1, Failure: 0, Netid: "udp"}},
	}
	st[1] = portmap.Stat{
		Info:      [portmap.StatHighProc]int32{1, 21, 1, 2, 5, 0, 1, 1, 1},
		SetInfo:   21,
		UnsetInfo: 1,
		AddrInfo: []portmap.AddrStat{
			{Prog: 100999, Vers: 1, Success: 0, Failure: 1, Netid: "udp"},
			{Prog: 100003, Vers: 3, Success: 1, Failure: 0, Netid: "udp"},
		},
	}
	st[2] = portmap.Stat{
		Info: [portmap.StatHighProc]int32{1, 0, 0, 3, 1, 0, 0, 0, 0, 1, 1, 1, 2},
		AddrInfo: []portmap.AddrStat{
			{Prog: 100000, Vers: 2, Success: 2, Failure: 0, Netid: "tcp"},
			{Prog: 100003, Vers: 3, Success: 1, Failure: 0, Netid: "udp"},
			{Prog: 100021, Vers: 4, Success: 1, Failure: 0, Netid: "udp"},
			{Prog: 100005, Vers: 3, Success: 1, Failure: 0, Netid: "udp"},
		},
		RmtInfo: []portmap.RmtCallStat{{Prog: 100999, Vers: 1, Proc: 0, Success: 0, Failure: 1, Indirect: 1, Netid: "udp"}},
	}
	return &st
}

// nfs3Entries is the GETADDRLIST answer behind l_nfs3.out.
var nfs3Entries = []portmap.Entry{
	{Maddr: "127.0.0.1.8.1", Netid: "udp", Semantics: portmap.SemanticsCLTS, Protofmly: "inet", Proto: "udp"},
	{Maddr: "127.0.0.1.8.1", Netid: "tcp", Semantics: portmap.SemanticsCOTSOrd, Protofmly: "inet", Proto: "tcp"},
}

// pings returns the ping records of versions from..to of prog, all answered.
func pings(prog uint64, from, to uint64) []Ping {
	var out []Ping
	for v := from; v <= to; v++ {
		out = append(out, Ping{Prog: prog, Vers: v})
	}
	return out
}

// render runs fn against a Printer of the given options and returns what it
// printed.
func render(t *testing.T, opts Options, fn func(p *Printer) error) string {
	t.Helper()
	var buf bytes.Buffer
	if err := fn(New(&buf, opts)); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// referenceFiles lists the reference cases by name (the .cmd files).
func referenceFiles(t *testing.T) []string {
	t.Helper()
	cmds, err := filepath.Glob(filepath.Join(referenceDir, "*.cmd"))
	if err != nil || len(cmds) == 0 {
		t.Fatalf("no reference cases in %s: %v", referenceDir, err)
	}
	var out []string
	for _, c := range cmds {
		out = append(out, strings.TrimSuffix(filepath.Base(c), ".cmd"))
	}
	return out
}
