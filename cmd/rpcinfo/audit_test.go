package main

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/internal/render"
	"github.com/portmap-toolkit/pmap/internal/testsupport"
	"github.com/portmap-toolkit/pmap/pkg/audit"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

// The tests of --audit run the port mapper under audit in a peer, a second
// network namespace joined by a veth pair, so that the audit's calls come
// from a non-loopback source as an attacker's would; the kernel counts the
// same packets with nftables counters in the test namespace, a count
// independent of the audit's own.

// progForwardTarget is the program a mapper is asked to forward to in the
// audit tests, served in the peer and registered over UDP.
const progForwardTarget = 0x20000042

// auditWindow is the listening window of the tests' audits: every mapper is
// across a veth pair and answers within a millisecond.
const auditWindow = "300ms"

// seedMappings reads testdata/seed-registrations.txt: "prog vers proto port".
func seedMappings(t *testing.T) []portmap.Mapping {
	t.Helper()
	b, err := os.ReadFile("../../testdata/seed-registrations.txt")
	if err != nil {
		t.Fatal(err)
	}
	var out []portmap.Mapping
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		prot, ok := portmap.ParseProt(f[2])
		if len(f) != 4 || !ok {
			t.Fatalf("seed line %q", line)
		}
		var m portmap.Mapping
		if _, err := fmt.Sscan(f[0]+" "+f[1]+" "+f[3], &m.Prog, &m.Vers, &m.Port); err != nil {
			t.Fatalf("seed line %q: %v", line, err)
		}
		m.Prot = prot
		out = append(out, m)
	}
	return out
}

// auditedMapper starts a port mapper with start in a new peer called name,
// registers the seed and a forwarding target that answers (over UDP), and
// returns the peer and the target.
func auditedMapper(t *testing.T, name string, start func(*testing.T, *testsupport.Host)) (*testsupport.Host, *testsupport.FakeService) {
	t.Helper()
	h := testsupport.Peer(t, name)
	target := h.ServeFake(t, progForwardTarget, 1, 1)
	start(t, h)
	m := newPeerMapper(t, h)
	for _, s := range seedMappings(t) {
		netid := "udp"
		if s.Prot == portmap.IPProtoTCP {
			netid = "tcp"
		}
		m.set(s.Prog, s.Vers, int(s.Port), netid)
	}
	m.set(progForwardTarget, 1, int(target.UDP.Port()), "udp")
	return h, target
}

// startRpcbindWith returns a start function of Debian's rpcbind with args.
func startRpcbindWith(args ...string) func(*testing.T, *testsupport.Host) {
	return func(t *testing.T, h *testsupport.Host) { h.StartRpcbind(t, args...) }
}

// decodeAudit decodes one JSON document of --audit.
func decodeAudit(t *testing.T, out string) render.AuditDocument {
	t.Helper()
	var doc render.AuditDocument
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil || dec.More() {
		t.Fatalf("not one audit document (%v):\n%s", err, out)
	}
	if doc.Schema != render.Schema || doc.Kind != render.KindAudit {
		t.Fatalf("schema %q, kind %q", doc.Schema, doc.Kind)
	}
	return doc
}

// TestAuditInNamespaces runs rpcinfo --audit from the test namespace against
// Debian's rpcbind (which reflects), rpcbind -r (which also forwards) and
// portmapd with its defaults (which must do neither), each in a peer: each
// probe's counts must equal the kernel's, byte for byte; the verdicts, the
// classic, table and JSON forms and the exit status must say so.
func TestAuditInNamespaces(t *testing.T) {
	if !testsupport.Isolate(t) {
		return
	}
	testsupport.Require(t, "rpcbind", "nft")
	cases := []struct {
		name       string
		start      func(*testing.T, *testsupport.Host)
		reflects   bool
		verdict    string
		forwarding string
		rc         int
	}{
		{"rpcbind", startRpcbindWith(), true, audit.VerdictReflector, audit.ForwardsNo, exitFound},
		{"rpcbind -r", startRpcbindWith("-r"), true, audit.VerdictReflector, audit.ForwardsYes, exitFound},
		{"portmapd defaults", func(t *testing.T, h *testsupport.Host) { startPortmapd(t, h) }, false,
			audit.VerdictSafe, audit.ForwardsNo, 0},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, target := auditedMapper(t, fmt.Sprintf("audit%d", i), c.start)
			host := h.Addr.String()
			counter := testsupport.CountUDP(t, h.Addr, portmap.Port)

			// Each probe alone, against the kernel's counts.
			for _, k := range audit.AllProbes() {
				counter.Take(t)
				res := runOurs(t, nil, "--audit", "-o", "json", "--no-forward", "--window", auditWindow,
					"--probe", strings.ReplaceAll(string(k), "_", "-"), host)
				reqPkts, reqBytes, repPkts, repBytes := counter.Take(t)
				doc := decodeAudit(t, res.out)
				if len(doc.Probes) != 1 || doc.Probes[0].Kind != k || doc.Forwarding != nil || doc.Host != host {
					t.Fatalf("--probe %s: %v", k, res)
				}
				p := doc.Probes[0]
				t.Logf("%s %s: %d bytes in %d datagrams for %d in %d (%s); the kernel counted %d/%d for %d/%d",
					c.name, k.Label(), p.ReplyBytes, p.ReplyDatagrams, p.RequestBytes, p.RequestDatagrams,
					audit.FormatFactor(p.Factor), repBytes, repPkts, reqBytes, reqPkts)
				if p.RequestDatagrams != reqPkts || p.RequestBytes != reqBytes || p.ReplyDatagrams != repPkts || p.ReplyBytes != repBytes {
					t.Errorf("%s: rpcinfo counted %d/%d sent and %d/%d received; the kernel %d/%d and %d/%d",
						k, p.RequestBytes, p.RequestDatagrams, p.ReplyBytes, p.ReplyDatagrams, reqBytes, reqPkts, repBytes, repPkts)
				}
				if reqBytes == 0 || p.Factor != float64(repBytes)/float64(reqBytes) {
					t.Errorf("%s: factor %v; the kernel's counts give %d/%d", k, p.Factor, repBytes, reqBytes)
				}
				if c.reflects != (p.Factor > audit.MaxSafeFactor) {
					t.Errorf("%s: factor %v; this mapper reflects: %v", k, p.Factor, c.reflects)
				}
				if wantRC := map[bool]int{true: exitFound, false: 0}[c.reflects]; res.rc != wantRC || res.err != "" {
					t.Errorf("%s: exit %d, stderr %q; want exit %d", k, res.rc, res.err, wantRC)
				}
			}

			// The whole audit, in each form.
			before := target.Calls()
			res := runOurs(t, nil, "--audit", "-o", "json", "--window", auditWindow, host)
			doc := decodeAudit(t, res.out)
			t.Logf("%s: %s", c.name, doc.Summary)
			if res.rc != c.rc || doc.Verdict != c.verdict || doc.Forwarding == nil || doc.Forwarding.Verdict != c.forwarding ||
				len(doc.Probes) != len(audit.AllProbes()) {
				t.Errorf("audit: exit %d, verdict %q, forwarding %+v; want exit %d, %q, %q\n%s",
					res.rc, doc.Verdict, doc.Forwarding, c.rc, c.verdict, c.forwarding, res.out)
			}
			if f := doc.Forwarding; f != nil && (f.Target == nil || f.Target.Prog != progForwardTarget || f.Target.Direct != audit.DirectAnswers) {
				t.Errorf("forwarding target %+v, want program %#x answering directly", f.Target, progForwardTarget)
			}
			calls := target.Calls() - before
			if c.forwarding == audit.ForwardsYes && calls < 2 || c.forwarding == audit.ForwardsNo && calls != 1 {
				t.Errorf("the target saw %d NULL calls; forwarding %s", calls, c.forwarding)
			}

			res = runOurs(t, nil, "--audit", "--window", auditWindow, host)
			lines := strings.Split(strings.TrimSuffix(res.out, "\n"), "\n")
			wantFirst := host + ": " + c.verdict + ": "
			if res.rc != c.rc || res.err != "" || len(lines) < 8 || !strings.HasPrefix(lines[0], wantFirst) {
				t.Fatalf("classic audit: want exit %d and a first line %q...: %v", c.rc, wantFirst, res)
			}
			for i, k := range audit.AllProbes() {
				if !regexp.MustCompile(`^  ` + k.Label() + ` +\S+ +\d+/\d+ bytes +\d+/\d+ datagrams +[\d.]+x$`).MatchString(lines[1+i]) {
					t.Errorf("probe line %q", lines[1+i])
				}
			}
			for _, want := range []string{"\n  CALLIT v2 ", "\n  INDIRECT v4 ", "\n  forwarding: " + c.forwarding + ": "} {
				if !strings.Contains(res.out, want) {
					t.Errorf("classic audit lacks %q:\n%s", want, res.out)
				}
			}
			if fix := strings.Contains(res.out, "\n  fix: "); fix != (c.rc == exitFound) {
				t.Errorf("classic audit: fix lines %v, finding %v:\n%s", fix, c.rc == exitFound, res.out)
			}
			t.Logf("rpcinfo --audit %s:\n%s", host, res.out)

			res = runOurs(t, nil, "--audit", "-o", "table", "--color", "never", "--window", auditWindow, host)
			if res.rc != c.rc || !strings.HasPrefix(res.out, host+": "+c.verdict+": ") || !strings.Contains(res.out, "EXCHANGE") ||
				!strings.Contains(res.out, "v3 DUMP") || !strings.Contains(res.out, "\nforwarding: "+c.forwarding+": ") {
				t.Errorf("table audit: %v", res)
			}
		})
	}
}

// TestAuditMany audits several hosts at once: JSON lines in the order
// given, a silent host reported as such, a range swept first so that only
// its mappers are audited, a blank line between the classic blocks, and the
// exit status of the worst finding.
func TestAuditMany(t *testing.T) {
	if !testsupport.Isolate(t) {
		return
	}
	testsupport.Require(t, "rpcbind", "nft")
	h1, _ := auditedMapper(t, "reflector", startRpcbindWith())
	h2, _ := auditedMapper(t, "safe", func(t *testing.T, h *testsupport.Host) { startPortmapd(t, h) })
	h3 := testsupport.Peer(t, "down")
	h3.Silence(t, "", 0)
	a1, a2, a3 := h1.Addr.String(), h2.Addr.String(), h3.Addr.String()

	start := time.Now()
	res := runOurs(t, nil, "--audit", "-o", "json", "--window", auditWindow, a3+","+a1, a2)
	t.Logf("three hosts in %v", time.Since(start))
	docs := decodeLines(t, res.out)
	if res.rc != exitFound || res.err != "" || len(docs) != 3 || strings.Count(res.out, "\n") != 3 {
		t.Fatalf("three hosts: want three JSON lines and exit %d: %v", exitFound, res)
	}
	for i, want := range [][2]string{{a3, audit.VerdictSilent}, {a1, audit.VerdictReflector}, {a2, audit.VerdictSafe}} {
		if docs[i]["kind"] != render.KindAudit || docs[i]["host"] != want[0] || docs[i]["verdict"] != want[1] {
			t.Errorf("line %d: host %v, verdict %v; want %s, %s", i, docs[i]["host"], docs[i]["verdict"], want[0], want[1])
		}
	}

	// Without a finding, a silent host is no failure.
	if res = runOurs(t, nil, "--audit", "--window", auditWindow, a2+","+a3); res.rc != 0 ||
		!strings.HasPrefix(res.out, a2+": safe: ") || !strings.Contains(res.out, "\n\n"+a3+": silent: no UDP reply from "+a3+":111") {
		t.Errorf("a safe and a silent host: %v", res)
	}

	// A range: only the addresses whose mapper answers the sweep.
	all := netip.PrefixFrom(h1.Addr, 28).Masked()
	if !all.Contains(h2.Addr) || !all.Contains(h3.Addr) {
		t.Fatalf("the peers %v, %v, %v are not all in %v", h1.Addr, h2.Addr, h3.Addr, all)
	}
	start = time.Now()
	res = runOurs(t, nil, "--audit", "-o", "json", "--timeout", "2s", "--window", auditWindow, all.String())
	t.Logf("the range %s in %v:\n%s", all, time.Since(start), res.out)
	docs = decodeLines(t, res.out)
	if res.rc != exitFound || len(docs) != 2 || docs[0]["host"] != a1 || docs[1]["host"] != a2 {
		t.Errorf("the range %s: want the audits of %s and %s: %v", all, a1, a2, res)
	}

	// A host that cannot be audited fails, in rpcinfo's words on standard
	// error, or as a report of verdict "error" in JSON. The resolver never
	// asks DNS for a .onion name (RFC 7686): no packet leaves.
	res = runOurs(t, nil, "--audit", "--timeout", "2s", "--window", auditWindow, "nonexistent.onion,"+a2)
	t.Logf("an unknown host and a safe one: %v", res)
	if res.rc != 1 || !strings.HasPrefix(res.err, "nonexistent.onion: rpcinfo: resolving \"nonexistent.onion\"") ||
		!strings.HasPrefix(res.out, a2+": safe: ") {
		t.Errorf("an unknown host: %v", res)
	}
	res = runOurs(t, nil, "--audit", "-o", "json", "--timeout", "2s", "nonexistent.onion")
	if docs = decodeLines(t, res.out); res.rc != 1 || len(docs) != 1 || docs[0]["verdict"] != audit.VerdictError || docs[0]["error"] == "" {
		t.Errorf("an unknown host in JSON: %v", res)
	}
}
