package render

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

// tableLines returns the lines of a drawn table with colors removed, and
// checks that they all have the same width: the frame is intact.
func tableLines(t *testing.T, out string) []string {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(ansi.ReplaceAllString(out, ""), "\n"), "\n")
	w := utf8.RuneCountInString(lines[0])
	for i, l := range lines {
		if n := utf8.RuneCountInString(l); n != w {
			t.Errorf("line %d is %d wide, the first %d: %q", i, n, w, l)
		}
	}
	return lines
}

// cells splits a table's data line into its trimmed cells.
func cells(line string) []string {
	parts := strings.Split(line, "│")
	if len(parts) < 3 {
		return nil
	}
	var out []string
	for _, p := range parts[1 : len(parts)-1] {
		out = append(out, strings.TrimSpace(p))
	}
	return out
}

// dataRows returns the cells of every data row of a table.
func dataRows(t *testing.T, out string) [][]string {
	lines := tableLines(t, out)
	var rows [][]string
	for _, l := range lines[3 : len(lines)-1] { // top border, header, rule ... bottom border
		rows = append(rows, cells(l))
	}
	return rows
}

// TestTableRows checks that each table holds one row per entry with the
// entry's values, in order.
func TestTableRows(t *testing.T) {
	regs := referenceRegistrations(t)
	maps := referenceMappings(t)
	tests := []struct {
		name string
		fn   func(p *Printer) error
		want [][]string
	}{
		{"mappings", func(p *Printer) error { return p.Mappings(maps) }, func() (r [][]string) {
			for _, m := range maps {
				name, _ := names.Name(m.Prog)
				r = append(r, []string{itoa(m.Prog), itoa(m.Vers), portmap.ProtName(m.Prot), itoa(m.Port), name})
			}
			return
		}()},
		{"registrations", func(p *Printer) error { return p.Registrations(regs) }, func() (r [][]string) {
			for _, g := range regs {
				name, _ := names.Name(g.Prog)
				r = append(r, []string{itoa(g.Prog), itoa(g.Vers), g.Netid, g.Addr, name, g.Owner})
			}
			return
		}()},
		{"summary", func(p *Printer) error { return p.Summary(regs) }, [][]string{
			{"100000", "2,3,4", "local,udp,tcp,udp6,tcp6", "portmapper", "superuser"},
			{"100003", "4,3,2", "tcp,udp", "nfs", "superuser"},
			{"100024", "1", "tcp,udp", "status", "superuser"},
			{"100021", "4,3,1", "tcp,udp", "nlockmgr", "superuser"},
			{"100005", "3,2,1", "tcp,udp", "mountd", "superuser"},
		}},
		{"addresses", func(p *Printer) error { return p.Addresses(100003, 3, nfs3Entries) }, [][]string{
			{"100003", "3", "inet", "udp", "clts", "udp", "127.0.0.1.8.1", "nfs"},
			{"100003", "3", "inet", "tcp", "cots_ord", "tcp", "127.0.0.1.8.1", "nfs"},
		}},
		{"pings", func(p *Printer) error {
			_ = p.Ping(Ping{Prog: 100000, Vers: 2})
			_ = p.Ping(Ping{Prog: 100000, Vers: 7, Err: "RPC: Program/version mismatch; low version = 2, high version = 4"})
			return p.FlushPings()
		}, [][]string{
			{"100000", "2", "ready and waiting", ""},
			{"100000", "7", "not available", "RPC: Program/version mismatch; low version = 2, high version = 4"},
		}},
		{"replies", func(p *Printer) error {
			_ = p.Reply(Reply{Addr: "192.0.2.2.0.111", Host: "peer"})
			return p.FlushReplies()
		}, [][]string{{"192.0.2.2.0.111", "peer"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := render(t, Options{Format: Table, Names: names}, tt.fn)
			if strings.Contains(out, "\x1b") {
				t.Errorf("colors without Color:\n%s", out)
			}
			got := dataRows(t, out)
			if len(got) != len(tt.want) {
				t.Fatalf("%d rows, want %d:\n%s", len(got), len(tt.want), out)
			}
			for i := range got {
				if strings.Join(got[i], "|") != strings.Join(tt.want[i], "|") {
					t.Errorf("row %d = %q, want %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// TestTableColor checks that Color adds ANSI colors without breaking the
// frame, and that the table's statistics carry the classic counters.
func TestTableColor(t *testing.T) {
	out := render(t, Options{Format: Table, Names: names, Color: true}, func(p *Printer) error {
		return p.Registrations(referenceRegistrations(t))
	})
	if !strings.Contains(out, "\x1b[36mportmapper\x1b[0m") {
		t.Errorf("service names are not colored:\n%s", out)
	}
	tableLines(t, out)

	stats := render(t, Options{Format: Table, Names: names, Color: true}, func(p *Printer) error {
		return p.Stats(referenceStats())
	})
	plain := ansi.ReplaceAllString(stats, "")
	for _, want := range []string{"GETPORT/GETADDR", "2/4", "21/21", "Address lookups", "Remote calls", "nlockmgr"} {
		if !strings.Contains(plain, want) {
			t.Errorf("statistics table lacks %q:\n%s", want, plain)
		}
	}
}

// TestTableEmpty checks that an empty answer reads as in rpcinfo.
func TestTableEmpty(t *testing.T) {
	for _, fn := range []func(p *Printer) error{
		func(p *Printer) error { return p.Mappings(nil) },
		func(p *Printer) error { return p.Registrations(nil) },
		func(p *Printer) error { return p.Summary(nil) },
		func(p *Printer) error { return p.Addresses(1, 1, nil) },
	} {
		if out := render(t, Options{Format: Table}, fn); out != noPrograms {
			t.Errorf("got %q, want %q", out, noPrograms)
		}
	}
}

func TestParseFormat(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Format
		ok   bool
	}{{"classic", Classic, true}, {"table", Table, true}, {"json", JSON, true}, {"JSON", 0, false}, {"", 0, false}} {
		f, err := ParseFormat(tt.in)
		if (err == nil) != tt.ok || (tt.ok && f != tt.want) {
			t.Errorf("ParseFormat(%q) = %v, %v", tt.in, f, err)
		}
		if tt.ok && f.String() != tt.in {
			t.Errorf("%v.String() = %q", f, f.String())
		}
	}
}
