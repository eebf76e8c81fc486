package regfile

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"strconv"
	"testing"
	"unicode/utf8"
)

// FuzzParse holds Parse to its promises on any input: it fails with a
// *ParseError naming lines, or returns entries that the text form (and, for
// one-form inputs of UTF-8 text, the JSON form) writes and reads back
// unchanged, and whose writing is then stable.
func FuzzParse(f *testing.F) {
	seeds := []string{
		"",
		"    100000    2   tcp    111  portmapper\n    100003    3   udp   2049  nfs\n    400000    1   udp    700  \n",
		"4294967295 4294967295 4294967295 65535\n0 0 0 0",
		ExtendedHeader + "    100000    4  tcp6 ::.0.111                superuser  portmapper\n" +
			"    100000    3 local /run/rpcbind.sock       superuser  portmapper\n" +
			"         1    3 local \"2049\" \"a\\\"b\\\\c\\x00\\t\\n\\r\"  svc\n",
		"100003 3 tcp 2049 nfs\n# c\n100003 3 tcp 0.0.0.0.8.1 superuser nfs\r\n",
		"100003 3 sctp 2049\n",
		"\x00\x01\x02binary\xff\n",
		`{"schema":"pmap.pmapdump/v1","kind":"mappings","host":"","mappings":[{"program":1,"version":2,"prot":6,"protocol":"tcp","port":3,"service":"x\ny"}]}`,
		`{"schema":"pmap.rpcinfo/v1","kind":"registrations","registrations":[{"program":1,"version":2,"netid":"weird id","address":"\u0001","owner":""}]}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	for _, path := range []string{"../../testdata/seed-registrations.txt", "../../testdata/rpcinfo/p.out", "../../testdata/rpcinfo/default.out"} {
		if b, err := os.ReadFile(path); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		es, err := Parse(bytes.NewReader(data))
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse failed without a *ParseError: %v", err)
			}
			if es != nil || len(pe.Errs) > MaxErrors || len(pe.Errs) == 0 && pe.Stopped == "" {
				t.Fatalf("bad failure: entries %v, error %v", es, err)
			}
			for _, se := range pe.Errs {
				if se.Line < 1 || len(se.Text) > maxShown {
					t.Fatalf("bad SyntaxError %+v", se)
				}
			}
			return
		}
		// The text form reads back what it was written from.
		var text []byte
		want := make([]Entry, len(es))
		for i, e := range es {
			text = e.AppendLine(text)
			w := e
			w.Line = i + 1
			if !cleanName(w.Name) {
				w.Name = cutName(strconv.QuoteToASCII(w.Name))
			}
			want[i] = w
		}
		got, err := Parse(bytes.NewReader(text))
		if err != nil {
			t.Fatalf("Parse of the written text %q: %v", text, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("text round trip:\n got %+v\nwant %+v\ntext %q", got, want, text)
		}
		var again []byte
		for _, e := range got {
			again = e.AppendLine(again)
		}
		if !bytes.Equal(again, text) {
			t.Fatalf("writing is not stable:\n%q\n%q", text, again)
		}

		// The JSON form too, for one form of UTF-8 text.
		kind, ok := oneForm(es)
		if !ok {
			return
		}
		var doc bytes.Buffer
		if err := WriteJSON(&doc, kind, "h", es); err != nil {
			t.Fatal(err)
		}
		got, err = Parse(&doc)
		if err != nil {
			t.Fatalf("Parse of the written JSON: %v", err)
		}
		for i := range got {
			got[i].Line = es[i].Line
		}
		if !reflect.DeepEqual(got, es) {
			t.Fatalf("JSON round trip:\n got %+v\nwant %+v", got, es)
		}
	})
}

// oneForm returns the JSON kind fit for es, and whether there is one: all
// entries of one form, every string UTF-8.
func oneForm(es []Entry) (string, bool) {
	if len(es) == 0 {
		return KindMappings, true
	}
	for _, e := range es {
		if e.IsMapping() != es[0].IsMapping() {
			return "", false
		}
		for _, s := range []string{e.Netid, e.Addr, e.Owner, e.Name} {
			if !utf8.ValidString(s) {
				return "", false
			}
		}
	}
	if es[0].IsMapping() {
		return KindMappings, true
	}
	return KindRegistrations, true
}
