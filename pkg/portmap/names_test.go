package portmap_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

const sampleRPC = `# This file contains user readable names that can be used in place of rpc
# program numbers.

portmapper	100000	portmap sunrpc rpcbind
rstatd		100001	rstat rstat_svc rup perfmeter
nfs		100003	nfsprog # trailing comment
  mountd 100005 mount	showmount
ypbind		100007
tfsd		100037 
#disabled	100099	gone
dup		100003	nfs
other		100100	portmap
x25.inr		100022
fypxfrd		600100069	freebsd-ypxfrd
`

func TestParseNames(t *testing.T) {
	n, err := portmap.ParseNames(strings.NewReader(sampleRPC))
	if err != nil {
		t.Fatal(err)
	}
	byNumber := []struct {
		prog uint32
		name string
	}{
		{100000, "portmapper"}, {100001, "rstatd"}, {100003, "nfs"}, // first of two entries wins
		{100005, "mountd"}, {100007, "ypbind"}, {100037, "tfsd"}, {100022, "x25.inr"},
		{100100, "other"}, {600100069, "fypxfrd"},
	}
	for _, tt := range byNumber {
		if got, ok := n.Name(tt.prog); !ok || got != tt.name {
			t.Errorf("Name(%d) = %q, %v; want %q", tt.prog, got, ok, tt.name)
		}
	}
	byName := []struct {
		name string
		prog uint32
	}{
		{"portmapper", 100000}, {"rpcbind", 100000}, {"sunrpc", 100000},
		{"portmap", 100000}, // an alias seen first for 100000 keeps it
		{"perfmeter", 100001}, {"nfsprog", 100003}, {"showmount", 100005},
		{"nfs", 100003}, {"dup", 100003}, {"other", 100100}, {"freebsd-ypxfrd", 600100069},
	}
	for _, tt := range byName {
		if got, ok := n.Number(tt.name); !ok || got != tt.prog {
			t.Errorf("Number(%q) = %d, %v; want %d", tt.name, got, ok, tt.prog)
		}
	}
	for _, s := range []string{"disabled", "#disabled", "gone", "comment", "NFS", "trailing", ""} {
		if v, ok := n.Number(s); ok {
			t.Errorf("Number(%q) = %d, want not found", s, v)
		}
	}
	if _, ok := n.Name(100099); ok {
		t.Error("a commented-out line was read")
	}
	if n.Len() != 10 {
		t.Errorf("Len = %d, want 10", n.Len())
	}
	wantFirst := portmap.NameEntry{Name: "portmapper", Number: 100000, Aliases: []string{"portmap", "sunrpc", "rpcbind"}}
	if e := n.Entries(); !reflect.DeepEqual(e[0], wantFirst) || e[5].Aliases != nil {
		t.Errorf("Entries()[0] = %+v, [5] = %+v", e[0], e[5])
	}
}

func TestParseNamesErrors(t *testing.T) {
	tests := []struct {
		text string
		line int
		frag string
	}{
		{"nfs\t100003\nbroken\nmountd 100005\n", 2, `program "broken" has no number`},
		{"# c\n\nnfs abc\nmountd 100005\n", 3, `bad program number "abc"`},
		{"big 4294967296\nmountd 100005\n", 1, `bad program number "4294967296"`},
		{"neg -1\nmountd 100005 # ok\n", 1, `bad program number "-1"`},
	}
	for _, tt := range tests {
		n, err := portmap.ParseNames(strings.NewReader(tt.text))
		var ne *portmap.NamesError
		if !errors.As(err, &ne) || ne.Line != tt.line || !strings.Contains(err.Error(), tt.frag) || !strings.HasPrefix(err.Error(), "portmap: ") {
			t.Errorf("%q: %v, want line %d %s", tt.text, err, tt.line, tt.frag)
		}
		// The good lines are kept, as glibc skips the bad ones.
		if v, ok := n.Number("mountd"); !ok || v != 100005 {
			t.Errorf("%q: mountd not read past the bad line", tt.text)
		}
	}
	// A reader error is reported too.
	if _, err := portmap.ParseNames(iotest.ErrReader(errors.New("boom"))); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("reader error: %v", err)
	}
	// A line beyond the scanner's bound is an error, not a huge buffer.
	if _, err := portmap.ParseNames(strings.NewReader("a 1 " + strings.Repeat("x", 70<<10) + "\n")); err == nil {
		t.Error("a 70 KiB line was accepted")
	}
}

func TestResolve(t *testing.T) {
	n := portmap.BuiltinNames()
	tests := []struct {
		s    string
		want uint32
		ok   bool
	}{
		{"100003", 100003, true}, {"nfs", 100003, true}, {"rpcbind", 100000, true},
		{"4294967295", 4294967295, true}, {"nosuch", 0, false}, {"-1", 0, false},
	}
	for _, tt := range tests {
		if got, ok := n.Resolve(tt.s); got != tt.want || ok != tt.ok {
			t.Errorf("Resolve(%q) = %d, %v; want %d, %v", tt.s, got, ok, tt.want, tt.ok)
		}
	}
	var none *portmap.Names
	if _, ok := none.Name(100000); ok {
		t.Error("nil Names found a name")
	}
	if _, ok := none.Number("nfs"); ok || none.Len() != 0 || none.Entries() != nil {
		t.Error("nil Names is not empty")
	}
}

// TestBuiltinMatchesSystem: the built-in table covers every entry of the
// machine's /etc/rpc (Debian's, where these tests were written).
func TestBuiltinMatchesSystem(t *testing.T) {
	sys, err := portmap.LoadNames(portmap.DefaultNamesPath)
	if errors.Is(err, fs.ErrNotExist) {
		t.Skip("no /etc/rpc on this machine")
	}
	if err != nil {
		t.Fatal(err)
	}
	builtin := portmap.BuiltinNames()
	for _, e := range sys.Entries() {
		if name, ok := builtin.Name(e.Number); !ok || name != e.Name {
			t.Errorf("program %d: built-in %q, /etc/rpc %q", e.Number, name, e.Name)
		}
		for _, a := range e.Aliases {
			if v, _ := builtin.Number(a); v != e.Number {
				t.Errorf("alias %q: built-in %d, /etc/rpc %d", a, v, e.Number)
			}
		}
	}
	if builtin.Len() < 38 {
		t.Errorf("built-in table has %d entries, Debian's /etc/rpc 38", builtin.Len())
	}
	if d := portmap.DefaultNames(); d != portmap.DefaultNames() || d.Len() == 0 {
		t.Error("DefaultNames is not cached or is empty")
	}
}

func TestLoadNames(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "rpc")
	if err := os.WriteFile(good, []byte("myprog 400123 mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	n, err := portmap.LoadNames(good)
	if v, ok := n.Number("mine"); err != nil || !ok || v != 400123 {
		t.Errorf("LoadNames: %v, %v, %v", v, ok, err)
	}
	n, err = portmap.LoadNames(filepath.Join(dir, "missing"))
	if !errors.Is(err, fs.ErrNotExist) || n != nil || !strings.HasPrefix(err.Error(), "portmap: ") {
		t.Errorf("missing file: %v, %v", n, err)
	}
}
