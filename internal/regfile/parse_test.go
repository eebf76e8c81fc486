package regfile

import (
	"errors"
	"io"
	"os"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

// mapping and rpcb build expected entries.
func mapping(line int, prog, vers, prot, port uint32, name string) Entry {
	return Entry{Prog: prog, Vers: vers, Prot: prot, Port: port, Name: name, Line: line}
}

func rpcb(line int, prog, vers uint32, netid, addr, owner, name string) Entry {
	return Entry{Prog: prog, Vers: vers, Netid: netid, Addr: addr, Owner: owner, Name: name, Line: line}
}

const tcp, udp = portmap.IPProtoTCP, portmap.IPProtoUDP

func TestParseText(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Entry
	}{
		{"empty", "", []Entry{}},
		{"blank and comments only", "\n  \t\n# a comment\n   # another\n", []Entry{}},
		{"pmap_dump output", "" +
			"    100000    2   tcp    111  portmapper\n" +
			"    100003    3   udp   2049  nfs\n" +
			"    400000    1   udp    700  \n",
			[]Entry{
				mapping(1, 100000, 2, tcp, 111, "portmapper"),
				mapping(2, 100003, 3, udp, 2049, "nfs"),
				mapping(3, 400000, 1, udp, 700, ""),
			}},
		{"pmap_set accepts more", "" +
			"100003 2 udp 2049\n" + // the seed's form
			"100003\t3\tTCP\t2049\tnfs and more words\r\n" +
			"007 08 17 0009\n" + // leading zeros, protocol by number
			"1 1 132 5", // another protocol, no final newline
			[]Entry{
				mapping(1, 100003, 2, udp, 2049, ""),
				mapping(2, 100003, 3, tcp, 2049, "nfs and more words"),
				mapping(3, 7, 8, udp, 9, ""),
				mapping(4, 1, 1, 132, 5, ""),
			}},
		{"range ends", "4294967295 4294967295 4294967295 65535\n0 0 0 0\n",
			[]Entry{
				mapping(1, 4294967295, 4294967295, 4294967295, 65535, ""),
				mapping(2, 0, 0, 0, 0, ""),
			}},
		{"extended", "" +
			ExtendedHeader +
			"    100000    4  tcp6 ::.0.111                superuser  portmapper\n" +
			"    100000    3 local /run/rpcbind.sock       superuser  portmapper\n" +
			"    100003    3   tcp 127.0.0.1.8.1           0\n" +
			"    200000    1  rdma whatever:it:is          unknown    some service\n" +
			"         1    2 \"my net\" \"a b\" \"\" \n" +
			"         1    3 local \"2049\" \"a\\\"b\\\\c\\x00\\t\\n\\r\"  svc\n",
			[]Entry{
				rpcb(2, 100000, 4, "tcp6", "::.0.111", "superuser", "portmapper"),
				rpcb(3, 100000, 3, "local", "/run/rpcbind.sock", "superuser", "portmapper"),
				rpcb(4, 100003, 3, "tcp", "127.0.0.1.8.1", "0", ""),
				rpcb(5, 200000, 1, "rdma", "whatever:it:is", "unknown", "some service"),
				rpcb(6, 1, 2, "my net", "a b", "", ""),
				rpcb(7, 1, 3, "local", "2049", "a\"b\\c\x00\t\n\r", "svc"),
			}},
		{"mixed forms, same slot and address twice", "" +
			"100003 3 tcp 2049 nfs\n" +
			"# restored by hand\n" +
			"100003 3 tcp 0.0.0.0.8.1 superuser nfs\n" +
			"100003 3 TCP 2049\n",
			[]Entry{
				mapping(1, 100003, 3, tcp, 2049, "nfs"),
				rpcb(3, 100003, 3, "tcp", "0.0.0.0.8.1", "superuser", "nfs"),
				mapping(4, 100003, 3, tcp, 2049, ""),
			}},
		{"name cut to MaxNameLen", "1 1 tcp 1 " + strings.Repeat("é", MaxNameLen) + "\n",
			[]Entry{mapping(1, 1, 1, tcp, 1, strings.Repeat("é", MaxNameLen/2))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(tt.in))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

// TestParseMalformed checks that every kind of malformed line makes Parse
// return no entries and an error naming the line, its content and the fault.
func TestParseMalformed(t *testing.T) {
	good := "100003 3 tcp 2049 nfs\n"
	tests := []struct {
		name   string
		in     string
		line   int
		reason string // a part of the reason
		text   string // the start of the quoted line
	}{
		{"negative program", "-1 2 tcp 111\n", 1, `bad program number "-1"`, "-1 2 tcp 111"},
		{"program too large", good + "4294967296 2 tcp 111\n", 2, `bad program number "4294967296"`, "4294967296"},
		{"hex version", good + "100000 0x2 tcp 111\n", 2, `bad version number "0x2"`, "100000 0x2"},
		{"port too large", "100000 2 tcp 65536\n", 1, `bad port "65536" (want 0 to 65535)`, "100000"},
		{"port with letters", "100000 2 tcp 11a\n", 1, "too few fields: no owner", "100000"},
		{"unknown protocol", good + good + "100003 3 sctp 2049\n", 3, `unknown protocol "sctp"`, "100003 3 sctp"},
		{"quoted protocol", `100003 3 "tcp" 2049` + "\n", 1, `unknown protocol "tcp"`, "100003"},
		{"too few fields", "100003 3 tcp\n", 1, "too few fields", "100003 3 tcp"},
		{"one field", "hello\n", 1, `bad program number "hello"`, "hello"},
		{"no owner", "100003 3 tcp 0.0.0.0.8.1\n", 1, "no owner", "100003"},
		{"bad tcp address", "100003 3 tcp 0.0.0.0.8 superuser\n", 1, `bad tcp address "0.0.0.0.8"`, "100003"},
		{"ipv6 address for udp", "100003 3 udp ::.8.1 superuser\n", 1, `bad udp address`, "100003"},
		{"empty local address", `1 1 local "" superuser` + "\n", 1, "empty address", "1 1 local"},
		{"empty netid", `1 1 "" 0.0.0.0.0.1 x` + "\n", 1, "empty netid", "1 1"},
		{"unterminated quote", `1 1 x "abc` + "\n", 1, "unterminated quoted field", "1 1 x"},
		{"bad escape", `1 1 x "a\qb" o` + "\n", 1, `bad escape \q`, "1 1 x"},
		{"bad hex escape", `1 1 x "a\xZZ" o` + "\n", 1, `bad escape \xZZ`, "1 1 x"},
		{"quote inside a bare field", `1 1 x a"b o` + "\n", 1, "quote or backslash inside the unquoted field", "1 1 x"},
		{"no blank after a quoted field", `1 1 x "a"b o` + "\n", 1, "no blank after the quoted field", "1 1 x"},
		{"NUL byte", good + "100003 3 tcp\x00 2049\n", 2, "binary data (byte 0x00 at column 13)", "100003 3 tcp\x00"},
		{"escape sequence", "\x1b[2J100003 3 tcp 2049\n", 1, "binary data (byte 0x1b at column 1)", "\x1b[2J"},
		{"not UTF-8", "100003 3 tcp 2049 \xff\xfe\n", 1, "byte 0xff at column 19 is not UTF-8", "100003"},
		{"conflicting addresses", good + "100003 3 tcp 2050\n", 2,
			`program 100003 version 3 netid "tcp" already given another address at line 1`, "100003 3 tcp 2050"},
		{"conflict across forms", good + "100003 3 TCP 127.0.0.1.8.1 superuser\n", 2, "already given another address at line 1", "100003"},
		{"conflicting other protocol", "1 1 132 5\n1 1 132 6\n", 2, "program 1 version 1 protocol 132 already given", "1 1 132 6"},
		{"line too long", good + "100003 3 tcp 2049 " + strings.Repeat("x", MaxLineLen) + "\n" + good, 2,
			"line longer than 32768 bytes", "100003 3 tcp 2049 xxx"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(tt.in))
			if got != nil {
				t.Errorf("Parse returned entries %+v with its error", got)
			}
			var pe *ParseError
			if !errors.As(err, &pe) || len(pe.Errs) == 0 {
				t.Fatalf("Parse error = %v, want a *ParseError", err)
			}
			se := pe.Errs[0]
			if se.Line != tt.line || !strings.Contains(se.Reason, tt.reason) || !strings.HasPrefix(se.Text, tt.text) {
				t.Errorf("first error = line %d, reason %q, text %q; want line %d, reason containing %q, text starting %q",
					se.Line, se.Reason, se.Text, tt.line, tt.reason, tt.text)
			}
			if msg := err.Error(); !strings.Contains(msg, "line ") || strings.ContainsAny(msg, "\x00\x1b\xff") {
				t.Errorf("error message %q does not name the line or lets binary through", msg)
			}
		})
	}
}

func TestParseReportsEveryBadLine(t *testing.T) {
	in := "1 1 tcp 1\nbad\n2 2 tcp 2\n3 3 xyz 3\n"
	_, err := Parse(strings.NewReader(in))
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v", err)
	}
	if len(pe.Errs) != 2 || pe.Errs[0].Line != 2 || pe.Errs[1].Line != 4 || pe.Stopped != "" {
		t.Errorf("errors = %v, want lines 2 and 4", err)
	}
	want := "regfile: line 2: bad program number \"bad\": \"bad\"\n" +
		"regfile: line 4: unknown protocol \"xyz\" (want tcp, udp or a number): \"3 3 xyz 3\""
	if err.Error() != want {
		t.Errorf("Error() =\n%s\nwant\n%s", err, want)
	}
}

func TestParseStopsAfterMaxErrors(t *testing.T) {
	in := strings.Repeat("garbage line\n", 1000)
	_, err := Parse(strings.NewReader(in))
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v", err)
	}
	if len(pe.Errs) != MaxErrors || !strings.Contains(pe.Stopped, "stopped at line 10") {
		t.Errorf("%d errors, stopped %q; want %d and a stop at line 10", len(pe.Errs), pe.Stopped, MaxErrors)
	}
}

// repeatReader yields n bytes of b, over and over, without holding them.
type repeatReader struct {
	b byte
	n int64
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	k := int64(len(p))
	if k > r.n {
		k = r.n
	}
	for i := range p[:k] {
		p[i] = r.b
	}
	r.n -= k
	return int(k), nil
}

// TestParseHugeLine feeds a 100 MB line of garbage between good lines and
// checks that Parse names the line, stops at MaxInputSize, and holds only a
// bounded amount of memory while doing it.
func TestParseHugeLine(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 64 MiB")
	}
	in := io.MultiReader(
		strings.NewReader("100003 3 tcp 2049\n"),
		&repeatReader{b: 'A', n: 100 << 20},
		strings.NewReader("\n100003 3 udp 2049\n"))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	got, err := Parse(in)
	runtime.ReadMemStats(&after)
	if got != nil {
		t.Errorf("entries %+v", got)
	}
	var pe *ParseError
	if !errors.As(err, &pe) || len(pe.Errs) != 1 {
		t.Fatalf("err = %v", err)
	}
	if se := pe.Errs[0]; se.Line != 2 || !se.Cut || se.Text != strings.Repeat("A", maxShown) || !strings.Contains(se.Reason, "longer than") {
		t.Errorf("error = %+v", se)
	}
	if !strings.Contains(pe.Stopped, "input longer than 67108864 bytes") {
		t.Errorf("Stopped = %q", pe.Stopped)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Errorf("Parse allocated %d bytes for a 100 MB line; want at most 1 MiB", alloc)
	}
	if !strings.Contains(err.Error(), `line 2: line longer than 32768 bytes: "AAAA`) {
		t.Errorf("message %q", err)
	}
}

// TestParseLongLineThenGood checks that a line over MaxLineLen but within
// MaxInputSize is reported and the lines after it still read.
func TestParseLongLineThenGood(t *testing.T) {
	in := "1 1 tcp 1\n" + strings.Repeat("B", 3*MaxLineLen) + "\n2 2 tcp\n"
	_, err := Parse(strings.NewReader(in))
	var pe *ParseError
	if !errors.As(err, &pe) || len(pe.Errs) != 2 || pe.Errs[0].Line != 2 || pe.Errs[1].Line != 3 || pe.Stopped != "" {
		t.Fatalf("err = %v", err)
	}
}

func TestParseTooManyEntries(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a large input")
	}
	var sb strings.Builder
	for i := range MaxEntries + 1 {
		sb.WriteString("1 ")
		sb.WriteString(itoa(i))
		sb.WriteString(" tcp 1\n")
	}
	_, err := Parse(strings.NewReader(sb.String()))
	var pe *ParseError
	if !errors.As(err, &pe) || len(pe.Errs) != 1 || pe.Errs[0].Line != MaxEntries+1 || !strings.Contains(pe.Errs[0].Reason, "more than 262144 entries") {
		t.Fatalf("err = %v", err)
	}
}

func itoa(i int) string { return strings.TrimSpace(string(appendUintRight(nil, uint32(i), 0))) }

type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n > 0 {
		r.n--
		return copy(p, "1 1 tcp 1\n"), nil
	}
	return 0, os.ErrDeadlineExceeded
}

func TestParseReaderError(t *testing.T) {
	_, err := Parse(&failingReader{n: 3})
	var pe *ParseError
	if err == nil || errors.As(err, &pe) || !errors.Is(err, os.ErrDeadlineExceeded) || !strings.HasPrefix(err.Error(), "regfile: reading line 4") {
		t.Errorf("err = %v, want the reader's error at line 4", err)
	}
}
