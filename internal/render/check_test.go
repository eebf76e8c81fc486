package render

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

// checks holds one check of each verdict.
var checks = []Check{
	{Reg: portmap.RPCB{Prog: 100000, Vers: 4, Netid: "tcp", Addr: "0.0.0.0.0.111", Owner: "superuser"},
		Target: "192.0.2.2:111", Verdict: Alive, RTT: 1234567 * time.Nanosecond},
	{Reg: portmap.RPCB{Prog: 100005, Vers: 3, Netid: "udp", Addr: "0.0.0.0.2.132", Owner: "superuser"},
		Target: "192.0.2.2:644", Verdict: Refused},
	{Reg: portmap.RPCB{Prog: 100021, Vers: 4, Netid: "tcp", Addr: "0.0.0.0.15.205", Owner: "superuser"},
		Target: "192.0.2.2:4045", Verdict: Silent},
	{Reg: portmap.RPCB{Prog: 536870931, Vers: 3, Netid: "udp", Addr: "0.0.0.0.11.188", Owner: "unknown"},
		Target: "192.0.2.2:3004", Verdict: Mismatch, Low: 1, High: 2, RTT: time.Millisecond},
	{Reg: portmap.RPCB{Prog: 100024, Vers: 1, Netid: "tcp", Addr: "0.0.0.0.11.185", Owner: "superuser"},
		Target: "192.0.2.2:3001", Verdict: Unavailable, RTT: time.Millisecond},
	{Reg: portmap.RPCB{Prog: 100003, Vers: 3, Netid: "tcp", Addr: "0.0.0.0.8.1", Owner: "superuser"},
		Target: "192.0.2.2:2049", Verdict: Failed, Err: "RPC: Authentication error; why = Client credential too weak"},
	{Reg: portmap.RPCB{Prog: 100000, Vers: 4, Netid: "local", Addr: "/run/rpcbind.sock", Owner: "superuser"},
		Verdict: Skipped, Err: "a unix socket of 192.0.2.2"},
}

func TestClassicChecks(t *testing.T) {
	var b bytes.Buffer
	if err := New(&b, Options{Names: names}).Checks(checks); err != nil {
		t.Fatal(err)
	}
	want := `   program version netid     address                service    verdict
    100000    4    tcp       0.0.0.0.0.111          portmapper alive 1.235ms
    100005    3    udp       0.0.0.0.2.132          mountd     refused
    100021    4    tcp       0.0.0.0.15.205         nlockmgr   silent
 536870931    3    udp       0.0.0.0.11.188         -          mismatch 1-2
    100024    1    tcp       0.0.0.0.11.185         status     unavailable
    100003    3    tcp       0.0.0.0.8.1            nfs        failed: RPC: Authentication error; why = Client credential too weak
    100000    4    local     /run/rpcbind.sock      portmapper skipped: a unix socket of 192.0.2.2
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	New(&b, Options{}).Checks(nil)
	if b.String() != noPrograms {
		t.Errorf("no checks: %q", b.String())
	}
	if AllOK(checks) || !AllOK([]Check{checks[0], checks[6]}) {
		t.Error("AllOK: alive and skipped are OK, the others not")
	}
}

func TestJSONChecks(t *testing.T) {
	var b bytes.Buffer
	if err := New(&b, Options{Format: JSON, Names: names, Host: "192.0.2.2"}).Checks(checks); err != nil {
		t.Fatal(err)
	}
	var doc VerificationDocument
	dec := json.NewDecoder(&b)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if doc.Schema != Schema || doc.Kind != KindVerification || doc.Host != "192.0.2.2" || doc.Alive || len(doc.Checks) != len(checks) {
		t.Fatalf("document %+v", doc)
	}
	for i, c := range doc.Checks {
		in := checks[i]
		answered := in.Verdict == Alive || in.Verdict == Mismatch || in.Verdict == Unavailable
		if c.Verdict != in.Verdict.String() || c.Program != in.Reg.Prog || c.Netid != in.Reg.Netid || c.Address != in.Reg.Addr ||
			c.Owner != in.Reg.Owner || c.Target != in.Target || c.Error != in.Err || (c.RTTMillis != nil) != answered ||
			(c.Low != nil) != (in.Verdict == Mismatch) {
			t.Errorf("check %d: %+v from %+v", i, c, in)
		}
	}
	if *doc.Checks[0].RTTMillis != 1.234 || *doc.Checks[3].Low != 1 || *doc.Checks[3].High != 2 || doc.Checks[0].Service != "portmapper" {
		t.Errorf("values: %+v %+v", doc.Checks[0], doc.Checks[3])
	}
}

func TestTableChecks(t *testing.T) {
	var b bytes.Buffer
	if err := New(&b, Options{Format: Table, Names: names}).Checks(checks); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"VERDICT", "alive", "1.235ms", "refused", "serves versions 1-2", "a unix socket of 192.0.2.2"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}

var steps = []NFSStep{
	{Name: "portmapper", Prog: 100000, Proto: "tcp", Port: 111, Versions: []uint32{2, 3, 4}, Verdict: StepOK,
		RTT: 150 * time.Microsecond, Detail: "serves versions 2,3,4"},
	{Name: "portmapper", Prog: 100000, Proto: "udp", Port: 111, Verdict: StepFailed, Detail: "no answer",
		Cause: "the port mapper answers on tcp but not udp: a firewall drops udp 111"},
	{Name: "nfs", Prog: 100003, Proto: "udp", Verdict: StepWarning, Detail: "not registered", Cause: "nfs is not registered on udp"},
	{Name: "status", Prog: 100024, Proto: "-", Verdict: StepSkipped, Detail: "not checked", Cause: "the port mapper does not answer"},
}

func TestNFSForms(t *testing.T) {
	var b bytes.Buffer
	if err := New(&b, Options{}).NFSPath("nfs1", steps); err != nil {
		t.Fatal(err)
	}
	want := `step        proto  port  verdict  detail
portmapper  tcp     111  ok       serves versions 2,3,4 (0.150ms)
portmapper  udp     111  failed   no answer: the port mapper answers on tcp but not udp: a firewall drops udp 111
nfs         udp       -  warning  not registered: nfs is not registered on udp
status      -         -  skipped  not checked: the port mapper does not answer

NFS path to nfs1: 1 step failed, 1 step with warnings, 1 step skipped
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	New(&b, Options{}).NFSPath("h", steps[:1])
	if !strings.HasSuffix(b.String(), "\nNFS path to h: every step answers\n") {
		t.Errorf("all ok: %q", b.String())
	}

	b.Reset()
	if err := New(&b, Options{Format: JSON, Host: "nfs1"}).NFSPath("nfs1", steps); err != nil {
		t.Fatal(err)
	}
	var doc NFSDocument
	dec := json.NewDecoder(&b)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if doc.Kind != KindNFS || doc.OK || len(doc.Steps) != len(steps) {
		t.Fatalf("document %+v", doc)
	}
	for i, s := range doc.Steps {
		in := steps[i]
		if s.Step != in.Name || s.Protocol != in.Proto || s.Port != in.Port || s.Verdict != in.Verdict.String() ||
			s.Cause != in.Cause || s.Detail != in.Detail || s.Versions == nil || (s.RTTMillis != nil) != (in.RTT > 0) {
			t.Errorf("step %d: %+v from %+v", i, s, in)
		}
	}
	if NFSOK(steps) || !NFSOK(steps[2:]) {
		t.Error("NFSOK: a failed step fails, warnings and skips do not")
	}

	b.Reset()
	if err := New(&b, Options{Format: Table}).NFSPath("nfs1", steps); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"VERDICT", "a firewall drops udp 111", "NFS path to nfs1: 1 step failed"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}

func TestManyHostForms(t *testing.T) {
	// Two hosts: the first answered, the second could not be asked.
	for _, tt := range []struct {
		format Format
		want   string
	}{
		{Classic, "a:\n\nb:\n"},
		{Table, "a:\n\nb:\n"},
		{JSON, `{"schema":"pmap.rpcinfo/v1","kind":"error","host":"b","error":"rpcinfo: can't contact rpcbind"}` + "\n"},
	} {
		var b bytes.Buffer
		p := New(&b, Options{Format: tt.format, Lines: true})
		p.BeginHost("a")
		p.BeginHost("b")
		p.SetHost("b")
		if err := p.Failure("rpcinfo: can't contact rpcbind"); err != nil {
			t.Fatal(err)
		}
		if b.String() != tt.want {
			t.Errorf("%v: %q, want %q", tt.format, b.String(), tt.want)
		}
	}
	// Lines: one document a line.
	var b bytes.Buffer
	New(&b, Options{Format: JSON, Lines: true, Host: "h"}).Registrations([]portmap.RPCB{{Prog: 1, Vers: 1, Netid: "udp", Addr: "a", Owner: "o"}})
	if strings.Count(b.String(), "\n") != 1 {
		t.Errorf("JSON lines: %q", b.String())
	}
	for v, want := range map[Verdict]string{Alive: "alive", Skipped: "skipped", Verdict(99): "verdict(99)"} {
		if v.String() != want {
			t.Errorf("Verdict %d = %q", int(v), v.String())
		}
	}
	if StepVerdict(9).String() != "step(9)" || StepWarning.String() != "warning" {
		t.Error("StepVerdict.String")
	}
}
