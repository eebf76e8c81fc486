package render

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/portmap-toolkit/pmap/pkg/audit"
)

// exchange is a measured exchange of req bytes in reqN datagrams drawing rep
// bytes in repN, with its factors computed as pkg/audit computes them.
func exchange(status string, req, reqN, rep, repN int, rtt float64) audit.Exchange {
	ex := audit.Exchange{Status: status, RequestBytes: req, RequestDatagrams: reqN, ReplyBytes: rep, ReplyDatagrams: repN, RTTMillis: rtt}
	ex.Factor = float64(rep) / float64(req)
	ex.PayloadFactor = float64(rep-audit.UDPHeaderLen*repN) / float64(req-audit.UDPHeaderLen*reqN)
	return ex
}

// reports holds a reflector that forwards (rpcbind -r), a safe mapper
// reached by name, a silent host and one that could not be audited.
var reports = []audit.Report{
	{
		Host: "192.0.2.2", Addr: "192.0.2.2:111", Verdict: audit.VerdictReflector,
		Summary:   "reflector: 37x amplification via v3 DUMP; forwards remote calls (CALLIT v2, INDIRECT v4)",
		MaxFactor: 1760.0 / 48, WorstProbe: audit.DumpV3, Advice: []string{audit.AdviceReflector, audit.AdviceForwarder},
		Probes: []audit.Probe{
			{Kind: audit.DumpV2, Exchange: exchange("SUCCESS", 48, 1, 576, 1, 0.736)},
			{Kind: audit.DumpV3, Exchange: exchange("SUCCESS", 48, 1, 1760, 1, 1.042)},
			{Kind: audit.DumpV4, Exchange: exchange("SUCCESS", 48, 1, 1760, 1, 0.93)},
			{Kind: audit.GetstatV4, Exchange: exchange("SUCCESS", 48, 1, 236, 1, 1.229)},
		},
		Forwarding: &audit.Forwarding{
			Verdict: audit.ForwardsYes,
			Reason:  "the mapper returned the NULL result of program 536870978 version 1 through CALLIT v2 and INDIRECT v4",
			Target: &audit.ForwardTarget{Prog: 536870978, Vers: 1, Netid: "udp", Uaddr: "0.0.0.0.188.91",
				Direct: audit.DirectAnswers, Candidates: 12},
			Calls: []audit.RemoteCall{
				{Call: audit.CallitV2, Exchange: exchange("SUCCESS", 64, 1, 40, 1, 0.5), Outcome: audit.OutcomeForwarded, Via: "48219"},
				{Call: audit.IndirectV4, Exchange: exchange("SUCCESS", 64, 1, 60, 1, 0.6), Outcome: audit.OutcomeForwarded, Via: "0.0.0.0.188.91"},
			},
		},
	},
	{
		Host: "nfs1", Addr: "192.0.2.3:111", Verdict: audit.VerdictSafe,
		Summary:   "safe: no UDP amplification (largest 0.7x, v2 DUMP); forwarding not checked",
		MaxFactor: 32.0 / 48, WorstProbe: audit.DumpV2,
		Probes: []audit.Probe{
			{Kind: audit.DumpV2, Exchange: exchange("SYSTEM_ERR", 48, 1, 32, 1, 0.2)},
		},
	},
	{
		Host: "192.0.2.4", Addr: "192.0.2.4:1111", Verdict: audit.VerdictSilent,
		Summary: "silent: no UDP reply from 192.0.2.4:1111; forwarding unknown",
		Probes: []audit.Probe{
			{Kind: audit.GetstatV4, Exchange: audit.Exchange{Status: audit.StatusSilent, RequestBytes: 96, RequestDatagrams: 2}},
		},
		Forwarding: &audit.Forwarding{Verdict: audit.ForwardsUnknown,
			Reason: "no UDP reply to any probe, so remote calls (UDP too) were not tried"},
	},
	{
		Host: "nowhere.onion", Verdict: audit.VerdictError, Probes: []audit.Probe{},
		Summary: "error: audit: resolving \"nowhere.onion\": no such host", Error: "audit: resolving \"nowhere.onion\": no such host",
	},
}

func TestClassicAudit(t *testing.T) {
	want := []string{`192.0.2.2: reflector: 37x amplification via v3 DUMP; forwards remote calls (CALLIT v2, INDIRECT v4)
  v2 DUMP      SUCCESS            576/48 bytes   1/1 datagrams    12x
  v3 DUMP      SUCCESS           1760/48 bytes   1/1 datagrams    37x
  v4 DUMP      SUCCESS           1760/48 bytes   1/1 datagrams    37x
  v4 GETSTAT   SUCCESS            236/48 bytes   1/1 datagrams   4.9x
  CALLIT v2    SUCCESS             40/64 bytes   1/1 datagrams   0.6x  forwarded
  INDIRECT v4  SUCCESS             60/64 bytes   1/1 datagrams   0.9x  forwarded
  forwarding: forwards: the mapper returned the NULL result of program 536870978 version 1 through CALLIT v2 and INDIRECT v4
  fix: ` + audit.AdviceReflector + `
  fix: ` + audit.AdviceForwarder + `
`, `nfs1 (192.0.2.3:111): safe: no UDP amplification (largest 0.7x, v2 DUMP); forwarding not checked
  v2 DUMP      SYSTEM_ERR          32/48 bytes   1/1 datagrams   0.7x
`, `192.0.2.4 (192.0.2.4:1111): silent: no UDP reply from 192.0.2.4:1111; forwarding unknown
  v4 GETSTAT   silent               0/96 bytes   0/2 datagrams   0.0x
  forwarding: unknown: no UDP reply to any probe, so remote calls (UDP too) were not tried
`, `nowhere.onion: error: audit: resolving "nowhere.onion": no such host
`}
	for i, r := range reports {
		var b bytes.Buffer
		if err := New(&b, Options{Names: names}).Audit(r); err != nil {
			t.Fatal(err)
		}
		if b.String() != want[i] {
			t.Errorf("report of %s:\ngot\n%s\nwant\n%s", r.Host, b.String(), want[i])
		}
	}
}

func TestTableAudit(t *testing.T) {
	tests := []struct {
		r       audit.Report
		color   bool
		has     []string
		hasNone []string
	}{
		{reports[0], false, []string{"192.0.2.2: reflector: 37x", "EXCHANGE", "REQUEST B", "v3 DUMP", "1760", "INDIRECT v4", "forwarded",
			"1.042ms", "\nforwarding: forwards: the mapper returned", "\nfix: block UDP port 111"}, []string{"\x1b["}},
		{reports[0], true, []string{"\x1b[31mreflector: 37x", "\x1b[31m37x\x1b[0m", "\x1b[31mforwards\x1b[0m"}, nil},
		{reports[1], true, []string{"nfs1 (192.0.2.3:111):", "\x1b[32msafe: no UDP amplification", "SYSTEM_ERR"}, []string{"fix:", "forwarding:"}},
		{reports[3], false, []string{"nowhere.onion: error: audit: resolving"}, []string{"EXCHANGE"}},
	}
	for i, tt := range tests {
		var b bytes.Buffer
		if err := New(&b, Options{Format: Table, Color: tt.color}).Audit(tt.r); err != nil {
			t.Fatal(err)
		}
		for _, s := range tt.has {
			if !strings.Contains(b.String(), s) {
				t.Errorf("table %d lacks %q:\n%s", i, s, b.String())
			}
		}
		for _, s := range tt.hasNone {
			if strings.Contains(b.String(), s) {
				t.Errorf("table %d has %q:\n%s", i, s, b.String())
			}
		}
	}
}

// TestJSONAudit prints each report and reads it back: the document holds
// the common fields and the whole report, on one line under Lines.
func TestJSONAudit(t *testing.T) {
	for _, lines := range []bool{false, true} {
		var b bytes.Buffer
		p := New(&b, Options{Format: JSON, Lines: lines})
		for _, r := range reports {
			if err := p.Audit(r); err != nil {
				t.Fatal(err)
			}
		}
		if n := strings.Count(b.String(), "\n"); lines != (n == len(reports)) {
			t.Errorf("lines %v: %d lines for %d documents", lines, n, len(reports))
		}
		dec := json.NewDecoder(&b)
		dec.DisallowUnknownFields()
		for _, want := range reports {
			var doc AuditDocument
			if err := dec.Decode(&doc); err != nil {
				t.Fatal(err)
			}
			if doc.Schema != Schema || doc.Kind != KindAudit || doc.Host != want.Host || doc.Report.Host != "" {
				t.Errorf("header %q %q %q, report host %q", doc.Schema, doc.Kind, doc.Host, doc.Report.Host)
			}
			got := doc.Report
			got.Host = doc.Host
			if !reflect.DeepEqual(got, want) {
				t.Errorf("read back\n%+v\nwant\n%+v", got, want)
			}
		}
	}

	// The field names docs/json.md and docs/security.md promise.
	var b bytes.Buffer
	New(&b, Options{Format: JSON}).Audit(reports[0])
	var generic map[string]any
	if err := json.Unmarshal(b.Bytes(), &generic); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"schema", "kind", "host", "addr", "verdict", "summary", "max_factor", "worst_probe", "advice", "probes", "forwarding"} {
		if _, ok := generic[k]; !ok {
			t.Errorf("no field %q in %s", k, b.String())
		}
	}
	if len(generic) != 11 {
		t.Errorf("%d fields, want 11: %s", len(generic), b.String())
	}
}

// discoveries holds one discovery of each state.
var discoveries = []audit.Discovery{
	{Target: audit.Target{Network: "udp", Addr: "192.0.2.2:2049"}, Addr: "192.0.2.2:2049", State: audit.StateRPC,
		Version: 4248220415, ControlProgram: 2160594645, ControlStatus: "PROG_UNAVAIL", Asked: 39,
		Programs: []audit.Found{
			{Prog: 100003, Name: "nfs", Status: "PROG_MISMATCH", Low: 3, High: 4},
			{Prog: 100227, Name: "nfs_acl", Status: "PROG_MISMATCH", Low: 3, High: 3},
			{Prog: 536875572, Status: "SUCCESS"},
			{Prog: 536875573, Status: "AUTH_ERROR"},
		}},
	{Target: audit.Target{Network: "tcp", Addr: "nfs1:20048"}, Addr: "192.0.2.3:20048", State: audit.StateRPC,
		Version: 16777216, ControlProgram: 2147483648, ControlStatus: "PROG_UNAVAIL", Asked: 38, Programs: []audit.Found{},
		Unanswered: []uint32{100005, 100024}, Error: "audit: stopped after 38 of 40 programs: context deadline exceeded"},
	{Target: audit.Target{Network: "udp", Addr: "192.0.2.4:111"}, Addr: "192.0.2.4:111", State: audit.StateSilent,
		Version: 16777217, ControlProgram: 2147483649, Programs: []audit.Found{}},
	{Target: audit.Target{Network: "tcp", Addr: "192.0.2.4:112"}, Addr: "192.0.2.4:112", State: audit.StateRefused,
		Version: 16777217, ControlProgram: 2147483649, Programs: []audit.Found{}},
	{Target: audit.Target{Network: "udp", Addr: "[fd00::1]:7"}, Addr: "[fd00::1]:7", State: audit.StateAnyProgram,
		Version: 16777217, ControlProgram: 2147483649, ControlStatus: "SUCCESS", Programs: []audit.Found{}},
	{Target: audit.Target{Network: "udp", Addr: "nowhere.onion:1"}, State: audit.StateError,
		Version: 16777217, ControlProgram: 2147483649, Programs: []audit.Found{}, Error: "audit: resolving \"nowhere.onion\": no such host"},
}

func TestClassicDiscovery(t *testing.T) {
	want := `192.0.2.2:2049/udp      100003 nfs         versions 3-4
192.0.2.2:2049/udp      100227 nfs_acl     versions 3-3
192.0.2.2:2049/udp   536875572 -           any version (SUCCESS)
192.0.2.2:2049/udp   536875573 -           answers AUTH_ERROR
nfs1:20048/tcp  no program found (38 asked)
nfs1:20048/tcp  no answer from 100005 100024
nfs1:20048/tcp  error: audit: stopped after 38 of 40 programs: context deadline exceeded
192.0.2.4:111/udp  silent
192.0.2.4:112/tcp  refused
[fd00::1]:7/udp  any-program: an unassigned program drew SUCCESS, so the answers cannot tell programs apart
nowhere.onion:1/udp  error: audit: resolving "nowhere.onion": no such host
`
	var b bytes.Buffer
	p := New(&b, Options{Names: names})
	for _, d := range discoveries {
		if err := p.Discovery(d); err != nil {
			t.Fatal(err)
		}
	}
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestTableDiscovery(t *testing.T) {
	tests := []struct {
		d   audit.Discovery
		has []string
	}{
		{discoveries[0], []string{"TARGET", "VERSIONS", "192.0.2.2:2049", "nfs_acl", "3-4", "PROG_MISMATCH", "536875573", "AUTH_ERROR"}},
		{discoveries[1], []string{"nfs1:20048", "no program found (38 asked)", "\nno answer from 100005 100024\n", "\nerror: audit: stopped"}},
		{discoveries[2], []string{"192.0.2.4:111", "silent"}},
		{discoveries[5], []string{"nowhere.onion:1", "\nerror: audit: resolving"}},
	}
	for i, tt := range tests {
		var b bytes.Buffer
		if err := New(&b, Options{Format: Table}).Discovery(tt.d); err != nil {
			t.Fatal(err)
		}
		for _, s := range tt.has {
			if !strings.Contains(b.String(), s) {
				t.Errorf("table %d lacks %q:\n%s", i, s, b.String())
			}
		}
		if n := strings.Count(b.String(), tt.d.State); tt.d.State == audit.StateSilent && n != 1 {
			t.Errorf("table %d says %q %d times:\n%s", i, tt.d.State, n, b.String())
		}
	}
}

func TestJSONDiscovery(t *testing.T) {
	var b bytes.Buffer
	p := New(&b, Options{Format: JSON, Lines: true})
	for _, d := range discoveries {
		p.SetHost(strings.TrimSuffix(d.Target.Addr, ":2049"))
		if err := p.Discovery(d); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(b.String(), "\n"); n != len(discoveries) {
		t.Errorf("%d lines for %d documents:\n%s", n, len(discoveries), b.String())
	}
	dec := json.NewDecoder(&b)
	dec.DisallowUnknownFields()
	for i, want := range discoveries {
		var doc DiscoveryDocument
		if err := dec.Decode(&doc); err != nil {
			t.Fatal(err)
		}
		if doc.Schema != Schema || doc.Kind != KindDiscovery || (i == 0) != (doc.Host == "192.0.2.2") {
			t.Errorf("header %+v", doc.Header)
		}
		if !reflect.DeepEqual(doc.Discovery, want) {
			t.Errorf("read back\n%+v\nwant\n%+v", doc.Discovery, want)
		}
	}
	var generic map[string]any
	b.Reset()
	New(&b, Options{Format: JSON, Host: "192.0.2.2"}).Discovery(discoveries[0])
	if err := json.Unmarshal(b.Bytes(), &generic); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"schema", "kind", "host", "network", "target", "addr", "state", "probe_version",
		"control_program", "control_status", "programs", "asked"} {
		if _, ok := generic[k]; !ok {
			t.Errorf("no field %q in %s", k, b.String())
		}
	}
}

// TestJSONDocsExamples decodes the examples of docs/json.md for the kinds
// audit and discovery into their documents, with no field left over.
func TestJSONDocsExamples(t *testing.T) {
	doc := string(readFile(t, "../../docs/json.md"))
	var a AuditDocument
	var d DiscoveryDocument
	for _, tt := range []struct {
		heading string
		into    any
	}{
		{"## `audit`", &a},
		{"## `discovery`", &d},
	} {
		_, after, ok := strings.Cut(doc, tt.heading)
		if !ok {
			t.Fatalf("docs/json.md has no heading %q", tt.heading)
		}
		_, after, ok = strings.Cut(after, "```json\n")
		body, _, ok2 := strings.Cut(after, "```")
		if !ok || !ok2 {
			t.Fatalf("docs/json.md: no JSON block after %q", tt.heading)
		}
		dec := json.NewDecoder(strings.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(tt.into); err != nil {
			t.Errorf("the example after %q: %v", tt.heading, err)
		}
	}
	if a.Kind != KindAudit || a.Schema != Schema || a.Verdict != audit.VerdictReflector || len(a.Probes) == 0 || a.Forwarding == nil {
		t.Errorf("the audit example reads %+v", a)
	}
	if d.Kind != KindDiscovery || d.Schema != Schema || d.State != audit.StateRPC || len(d.Programs) != 1 {
		t.Errorf("the discovery example reads %+v", d)
	}
}
