package regfile

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestWriteJSON(t *testing.T) {
	tests := []struct {
		name    string
		kind    string
		host    string
		entries []Entry
		want    string
	}{
		{"mappings", KindMappings, "", []Entry{
			mapping(0, 100000, 2, tcp, 111, "portmapper"),
			mapping(0, 4294967295, 0, 132, 65535, ""),
		}, `{
  "schema": "pmap.pmapdump/v1",
  "kind": "mappings",
  "host": "",
  "mappings": [
    {
      "program": 100000,
      "version": 2,
      "prot": 6,
      "protocol": "tcp",
      "port": 111,
      "service": "portmapper"
    },
    {
      "program": 4294967295,
      "version": 0,
      "prot": 132,
      "protocol": "132",
      "port": 65535
    }
  ]
}
`},
		{"registrations", KindRegistrations, "192.0.2.1", []Entry{
			rpcb(0, 100000, 4, "local", "/run/rpcbind.sock", "superuser", "portmapper"),
			rpcb(0, 1, 1, "tcp", "0.0.0.0.0.1", "", "<&>"),
		}, `{
  "schema": "pmap.pmapdump/v1",
  "kind": "registrations",
  "host": "192.0.2.1",
  "registrations": [
    {
      "program": 100000,
      "version": 4,
      "netid": "local",
      "address": "/run/rpcbind.sock",
      "service": "portmapper",
      "owner": "superuser"
    },
    {
      "program": 1,
      "version": 1,
      "netid": "tcp",
      "address": "0.0.0.0.0.1",
      "service": "<&>",
      "owner": ""
    }
  ]
}
`},
		{"empty", KindRegistrations, "h", nil, `{
  "schema": "pmap.pmapdump/v1",
  "kind": "registrations",
  "host": "h",
  "registrations": []
}
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteJSON(&b, tt.kind, tt.host, tt.entries); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.want {
				t.Errorf("WriteJSON =\n%s\nwant\n%s", b.String(), tt.want)
			}
			got, err := Parse(&b)
			if err != nil {
				t.Fatalf("Parse of the document: %v", err)
			}
			for i := range got {
				got[i].Line = 0
			}
			if tt.entries == nil {
				tt.entries = []Entry{}
			}
			if !reflect.DeepEqual(got, tt.entries) {
				t.Errorf("read back %+v, want %+v", got, tt.entries)
			}
		})
	}
}

func TestWriteJSONRefusesMixedForms(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, KindMappings, "", []Entry{rpcb(0, 1, 1, "tcp", "0.0.0.0.0.1", "", "")}); err == nil {
		t.Error("a mappings document took an rpcbind entry")
	}
	if err := WriteJSON(&b, KindRegistrations, "", []Entry{mapping(0, 1, 1, tcp, 1, "")}); err == nil {
		t.Error("a registrations document took a mapping")
	}
	if err := WriteJSON(&b, "summary", "", nil); err == nil {
		t.Error("an unknown kind was accepted")
	}
}

func TestParseJSON(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Entry
	}{
		{"rpcinfo -p document, compact, unknown fields", `{"schema":"pmap.rpcinfo/v1","kind":"mappings","host":"","extra":{"a":[1,2]},"mappings":[{"program":100000,"version":2,"prot":6,"protocol":"tcp","port":111,"service":"portmapper","new":true}]}`,
			[]Entry{mapping(1, 100000, 2, tcp, 111, "portmapper")}},
		{"protocol alone, prot alone", "  \n{\"kind\": \"mappings\", \"schema\": \"pmap.pmapdump/v1\", \"mappings\": [\n" +
			"  {\"program\": 1, \"version\": 2, \"protocol\": \"UDP\", \"port\": 3},\n" +
			"  {\"program\": 1, \"version\": 3, \"prot\": 6, \"port\": 3}\n]}",
			[]Entry{mapping(3, 1, 2, udp, 3, ""), mapping(4, 1, 3, tcp, 3, "")}},
		{"registrations, owner optional", `{"schema": "pmap.pmapdump/v1", "kind": "registrations", "registrations": [
  {"program": 100003, "version": 4, "netid": "tcp6", "address": "::.8.1"},
  {"program": 100003, "version": 4, "netid": "local", "address": "/tmp/x y", "owner": "0", "service": "nfs"}
]}`,
			[]Entry{rpcb(2, 100003, 4, "tcp6", "::.8.1", "", ""), rpcb(3, 100003, 4, "local", "/tmp/x y", "0", "nfs")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestParseJSONMalformed(t *testing.T) {
	head := `{"schema": "pmap.pmapdump/v1", "kind": "mappings", "mappings": [` + "\n"
	ok := `{"program": 1, "version": 1, "protocol": "tcp", "port": 1},` + "\n"
	tests := []struct {
		name   string
		in     string
		line   int
		reason string
		text   string
	}{
		{"negative program", head + ok + `{"program": -1, "version": 1, "protocol": "tcp", "port": 1}` + "\n]}", 3,
			`bad JSON value for "program": number -1 cannot be a uint32`, `{"program": -1`},
		{"program too large", head + `{"program": 4294967296, "version": 1, "protocol": "tcp", "port": 1}` + "\n]}", 2,
			`number 4294967296 cannot be a uint32`, `{"program": 4294967296`},
		{"string version", head + `{"program": 1, "version": "1", "protocol": "tcp", "port": 1}` + "\n]}", 2,
			`"version": string cannot be a uint32`, `{"program": 1`},
		{"port too large", head + `{"program": 1, "version": 1, "protocol": "tcp", "port": 70000}` + "\n]}", 2,
			"bad port 70000", `{"program": 1`},
		{"unknown protocol", head + ok + ok + `{"program": 1, "version": 2, "protocol": "sctp", "port": 1}` + "\n]}", 4,
			`unknown protocol "sctp"`, `{"program": 1, "version": 2`},
		{"prot and protocol disagree", head + `{"program": 1, "version": 1, "prot": 17, "protocol": "tcp", "port": 1}` + "\n]}", 2,
			`"prot" 17 and "protocol" "tcp" disagree`, `{"program": 1`},
		{"no port", head + `{"program": 1, "version": 1, "protocol": "tcp"}` + "\n]}", 2, `no "port"`, `{"program": 1`},
		{"no protocol", head + `{"program": 1, "version": 1, "port": 1}` + "\n]}", 2, `no "prot" or "protocol"`, `{"program": 1`},
		{"syntax error", head + ok + `{"program": 1,, "version": 1}` + "\n]}", 3, "bad JSON: invalid character ','", `{"program": 1,,`},
		{"truncated", head + ok, 2, "JSON document ends early", `{"program": 1`},
		{"trailing data", `{"schema": "pmap.pmapdump/v1", "kind": "mappings", "mappings": []}` + "\n" + `{"x": 1}`, 2,
			"data after the JSON document", `{"x": 1}`},
		{"no schema", `{"kind": "mappings", "mappings": []}`, 1, `no "schema" field`, `{"kind"`},
		{"unknown schema", "{\n\"schema\": \"pmap.rpcinfo/v2\", \"kind\": \"mappings\", \"mappings\": []}", 2, `unknown schema "pmap.rpcinfo/v2"`, `"schema"`},
		{"kind and list disagree", "{\"schema\": \"pmap.pmapdump/v1\", \"kind\": \"registrations\",\n\"mappings\": []}", 2,
			`kind "registrations" holds no "mappings" list`, `"mappings"`},
		{"no list", `{"schema": "pmap.rpcinfo/v1", "kind": "summary", "programs": []}`, 1, `no "mappings" or "registrations" list`, `{"schema"`},
		{"two lists", `{"schema": "pmap.pmapdump/v1", "kind": "mappings", "mappings": [], "registrations": []}`, 1, "a document holds one list", `{"schema"`},
		{"not an object", `{"schema": "pmap.pmapdump/v1", "kind": "mappings", "mappings": [1]}`, 1, "cannot be a regfile.mappingIn", `{"schema"`},
		{"bad address", `{"schema": "pmap.pmapdump/v1", "kind": "registrations", "registrations": [` + "\n" +
			`{"program": 1, "version": 1, "netid": "tcp", "address": "1.2.3.4", "owner": "x"}]}`, 2, `bad tcp address "1.2.3.4"`, `{"program": 1`},
		{"no netid", `{"schema": "pmap.pmapdump/v1", "kind": "registrations", "registrations": [` + "\n" +
			`{"program": 1, "version": 1, "address": "1.2.3.4", "owner": "x"}]}`, 2, `no "netid"`, `{"program": 1`},
		{"conflict", `{"schema": "pmap.pmapdump/v1", "kind": "registrations", "registrations": [` + "\n" +
			`{"program": 1, "version": 1, "netid": "tcp", "address": "0.0.0.0.0.1"},` + "\n" +
			`{"program": 1, "version": 1, "netid": "TCP", "address": "0.0.0.0.0.2"}]}`, 3, "already given another address at line 2", `{"program": 1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(tt.in))
			if got != nil {
				t.Errorf("entries %+v returned with the error", got)
			}
			var pe *ParseError
			if !errors.As(err, &pe) || len(pe.Errs) == 0 {
				t.Fatalf("err = %v, want a *ParseError", err)
			}
			se := pe.Errs[0]
			if se.Line != tt.line || !strings.Contains(se.Reason, tt.reason) || !strings.HasPrefix(se.Text, tt.text) {
				t.Errorf("first error = line %d, reason %q, text %q; want line %d, reason containing %q, text starting %q",
					se.Line, se.Reason, se.Text, tt.line, tt.reason, tt.text)
			}
		})
	}
}

// TestParseJSONGoesOnAfterBadValues checks that values of the wrong type are
// all reported, not only the first.
func TestParseJSONGoesOnAfterBadValues(t *testing.T) {
	in := `{"schema": "pmap.pmapdump/v1", "kind": "mappings", "mappings": [` + "\n" +
		`{"program": -1, "version": 1, "protocol": "tcp", "port": 1},` + "\n" +
		`{"program": 1, "version": 1, "protocol": "tcp", "port": 1},` + "\n" +
		`{"program": 2, "version": 1, "protocol": "x", "port": 1}` + "\n]}"
	_, err := Parse(strings.NewReader(in))
	var pe *ParseError
	if !errors.As(err, &pe) || len(pe.Errs) != 2 || pe.Errs[0].Line != 2 || pe.Errs[1].Line != 4 {
		t.Fatalf("err = %v, want errors at lines 2 and 4", err)
	}
}

func TestParseJSONTooLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 64 MiB")
	}
	in := &repeatReader{b: ' ', n: MaxInputSize + 10}
	_, err := Parse(strings.NewReader("{" + strings.Repeat(" ", 10)))
	if err == nil {
		t.Fatal("a truncated document was accepted")
	}
	_, err = Parse(io.MultiReader(strings.NewReader("{"), in))
	var pe *ParseError
	if !errors.As(err, &pe) || !strings.Contains(pe.Stopped, "JSON document longer than 67108864 bytes") {
		t.Fatalf("err = %v", err)
	}
}
