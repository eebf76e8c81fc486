package render

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

// classicRows splits the classic output of a listing into the fields of its
// data rows (the header line dropped).
func classicRows(out string) [][]string {
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	var rows [][]string
	for _, l := range lines[1:] {
		rows = append(rows, strings.Fields(l))
	}
	return rows
}

// decode parses a JSON document strictly into v and checks its header.
func decode(t *testing.T, out string, v interface{ head() Header }, kind, host string) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("document does not parse: %v\n%s", err, out)
	}
	if dec.More() {
		t.Fatalf("more than one document:\n%s", out)
	}
	if h := v.head(); h != (Header{Schema: Schema, Kind: kind, Host: host}) {
		t.Errorf("header = %+v, want schema %q kind %q host %q", h, Schema, kind, host)
	}
}

func (h Header) head() Header { return h }

func svc(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func itoa[T ~uint32 | ~uint64 | ~int32](v T) string { return strconv.FormatInt(int64(v), 10) }

// TestJSONAgainstClassic renders each listing of the reference registry in
// both forms, parses the JSON back and checks that every row carries the
// same values as the classic output's row.
func TestJSONAgainstClassic(t *testing.T) {
	const host = "127.0.0.1"
	regs := referenceRegistrations(t)
	tests := []struct {
		name string
		fn   func(p *Printer) error
		rows func(t *testing.T, out string) [][]string
	}{
		{"mappings", func(p *Printer) error { return p.Mappings(referenceMappings(t)) }, func(t *testing.T, out string) [][]string {
			var doc MappingsDocument
			decode(t, out, &doc, KindMappings, host)
			var rows [][]string
			for _, m := range doc.Mappings {
				rows = append(rows, []string{itoa(m.Program), itoa(m.Version), m.Protocol, itoa(m.Port), m.Service})
			}
			return rows
		}},
		{"registrations", func(p *Printer) error { return p.Registrations(regs) }, func(t *testing.T, out string) [][]string {
			var doc RegistrationsDocument
			decode(t, out, &doc, KindRegistrations, host)
			var rows [][]string
			for _, r := range doc.Registrations {
				rows = append(rows, []string{itoa(r.Program), itoa(r.Version), r.Netid, r.Address, svc(r.Service), r.Owner})
			}
			return rows
		}},
		{"summary", func(p *Printer) error { return p.Summary(regs) }, func(t *testing.T, out string) [][]string {
			var doc SummaryDocument
			decode(t, out, &doc, KindSummary, host)
			var rows [][]string
			for _, s := range doc.Programs {
				var vers []string
				for _, v := range s.Versions {
					vers = append(vers, itoa(v))
				}
				rows = append(rows, []string{itoa(s.Program), strings.Join(vers, ","), strings.Join(s.Netids, ","), svc(s.Service), s.Owner})
			}
			return rows
		}},
		{"addresses", func(p *Printer) error { return p.Addresses(100003, 3, nfs3Entries) }, func(t *testing.T, out string) [][]string {
			var doc AddressesDocument
			decode(t, out, &doc, KindAddresses, host)
			var rows [][]string
			for _, e := range doc.Entries {
				rows = append(rows, []string{itoa(doc.Program), itoa(doc.Version), e.Family + "/" + e.Protocol + "/" + e.Semantics, e.Address, svc(doc.Service)})
			}
			return rows
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			classic := render(t, Options{Format: Classic, Names: names, Host: host}, tt.fn)
			want := classicRows(classic)
			got := tt.rows(t, render(t, Options{Format: JSON, Names: names, Host: host}, tt.fn))
			if len(got) != len(want) {
				t.Fatalf("JSON has %d rows, classic %d", len(got), len(want))
			}
			for i := range want {
				if strings.Join(got[i], " ") != strings.Join(want[i], " ") {
					t.Errorf("row %d: JSON %q, classic %q", i, got[i], want[i])
				}
			}
		})
	}
}

// TestJSONStats parses the statistics document back and checks each counter
// against the "success/total" fields of the classic rpcinfo -m output.
func TestJSONStats(t *testing.T) {
	st := referenceStats()
	out := render(t, Options{Format: JSON, Names: names}, func(p *Printer) error { return p.Stats(st) })
	var doc StatisticsDocument
	decode(t, out, &doc, KindStatistics, "")
	if len(doc.Versions) != 3 {
		t.Fatalf("%d versions, want 3", len(doc.Versions))
	}
	// The counter rows of m.out, in order: v2, v3, v4 (0-8), v4 (9-12).
	classic := strings.Split(string(readFile(t, referenceDir+"/m.out")), "\n")
	var counters [][]string
	for i, l := range classic {
		if strings.HasPrefix(l, "NULL ") || strings.HasPrefix(l, "VERADDR ") {
			counters = append(counters, strings.Fields(classic[i+1]))
		}
	}
	want := map[uint32][]string{2: counters[0], 3: counters[1], 4: append(counters[2], counters[3]...)}
	for _, v := range doc.Versions {
		var got []string
		for _, ps := range v.Procedures {
			calls := ps.Calls
			if v.Version == 4 && ps.Procedure == portmap.RpcbGetaddr {
				calls += v.Procedures[portmap.RpcbGetaddrlist].Calls // rpcinfo -m adds GETADDRLIST
			}
			cell := itoa(calls)
			if ps.Success != nil {
				cell = itoa(*ps.Success) + "/" + cell
			}
			got = append(got, cell)
		}
		if strings.Join(got, " ") != strings.Join(want[v.Version], " ") {
			t.Errorf("version %d counters: JSON %v, classic %v", v.Version, got, want[v.Version])
		}
		src := st.Version(v.Version)
		if len(v.AddressLookups) != len(src.AddrInfo) || len(v.RemoteCalls) != len(src.RmtInfo) {
			t.Errorf("version %d: %d lookups and %d remote calls, want %d and %d", v.Version,
				len(v.AddressLookups), len(v.RemoteCalls), len(src.AddrInfo), len(src.RmtInfo))
			continue
		}
		for i, a := range src.AddrInfo {
			name, _ := names.Name(a.Prog)
			w := AddrStatJSON{Program: a.Prog, Service: name, Version: a.Vers, Netid: a.Netid, Success: a.Success, Failure: a.Failure}
			if v.AddressLookups[i] != w {
				t.Errorf("version %d lookup %d = %+v, want %+v", v.Version, i, v.AddressLookups[i], w)
			}
		}
		for i, r := range src.RmtInfo {
			name, _ := names.Name(r.Prog)
			w := RmtCallStatJSON{Program: r.Prog, Service: name, Version: r.Vers, Procedure: r.Proc, Netid: r.Netid,
				Success: r.Success, Failure: r.Failure, Indirect: r.Indirect}
			if v.RemoteCalls[i] != w {
				t.Errorf("version %d remote call %d = %+v, want %+v", v.Version, i, v.RemoteCalls[i], w)
			}
		}
	}
}

// TestJSONPingsAndReplies checks the documents of the streaming modes,
// including an empty broadcast.
func TestJSONPingsAndReplies(t *testing.T) {
	list := []Ping{{Prog: 100000, Vers: 2}, {Prog: 100000, Vers: 7, Err: "RPC: Program/version mismatch; low version = 2, high version = 4"}}
	out := render(t, Options{Format: JSON, Host: "::1"}, func(p *Printer) error {
		for _, r := range list {
			if err := p.Ping(r); err != nil {
				return err
			}
		}
		return p.FlushPings()
	})
	var doc PingDocument
	decode(t, out, &doc, KindPing, "::1")
	want := []PingJSON{{Program: 100000, Version: 2, OK: true}, {Program: 100000, Version: 7, Error: list[1].Err}}
	if len(doc.Results) != 2 || doc.Results[0] != want[0] || doc.Results[1] != want[1] {
		t.Errorf("results = %+v, want %+v", doc.Results, want)
	}

	out = render(t, Options{Format: JSON}, func(p *Printer) error { return p.FlushReplies() })
	var empty BroadcastDocument
	decode(t, out, &empty, KindBroadcast, "")
	if empty.Replies == nil || len(empty.Replies) != 0 {
		t.Errorf("empty broadcast: replies = %#v, want []", empty.Replies)
	}
	if !strings.Contains(out, `"replies": []`) {
		t.Errorf("an empty list must read [] for jq, got:\n%s", out)
	}
}

// TestJSONEmptyLists checks that an empty answer is an empty array, never
// null or a missing field.
func TestJSONEmptyLists(t *testing.T) {
	for _, fn := range []func(p *Printer) error{
		func(p *Printer) error { return p.Mappings(nil) },
		func(p *Printer) error { return p.Registrations(nil) },
		func(p *Printer) error { return p.Summary(nil) },
		func(p *Printer) error { return p.Addresses(1, 1, nil) },
	} {
		out := render(t, Options{Format: JSON}, fn)
		var m map[string]any
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatal(err)
		}
		found := false
		for k, v := range m {
			if a, ok := v.([]any); ok {
				found = true
				if len(a) != 0 {
					t.Errorf("%s: %v, want empty", k, a)
				}
			}
		}
		if !found {
			t.Errorf("no array in %s", out)
		}
	}
}
