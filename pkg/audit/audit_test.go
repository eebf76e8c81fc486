package audit

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/internal/testsupport"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
)

// targetProg is the program the forwarding checks of the tests find
// registered: from the range RFC 5531 §8.3 leaves to local use, so that it is
// in no names table.
const targetProg = 0x20000042

// someStats is a GETSTAT result with a few entries in each list.
func someStats() portmap.StatByVers {
	var s portmap.StatByVers
	for i := range s {
		s[i].Info[3] = int32(10 * (i + 1))
		for p := range uint32(3) {
			s[i].AddrInfo = append(s[i].AddrInfo, portmap.AddrStat{Prog: 100003 + p, Vers: 3, Success: 1, Netid: "udp"})
		}
		s[i].RmtInfo = append(s[i].RmtInfo, portmap.RmtCallStat{Prog: 100024, Vers: 1, Netid: "udp", Success: 2})
	}
	return s
}

// closedUDPPort returns a UDP port of 127.0.0.1 with nothing behind it.
func closedUDPPort(t *testing.T) uint16 {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := pc.LocalAddr().(*net.UDPAddr).AddrPort().Port()
	pc.Close()
	return port
}

func TestAuditHost(t *testing.T) {
	t.Parallel()
	loop := netip.MustParseAddr("127.0.0.1")
	type want struct {
		verdict    string
		forwarding string
		outcomes   []string // of CALLIT v2 and INDIRECT v4
		direct     string
		self       bool   // the target is the mapper itself
		reason     string // part of the forwarding reason
	}
	tests := []struct {
		name   string
		mapper fakeMapper
		dead   bool     // register the target at a port with nothing behind it
		noReg  bool     // register no program but the mapper
		given  *Program // AuditOptions.ForwardTarget
		want   want
	}{
		{
			name:   "reflector that forwards",
			mapper: fakeMapper{forward: true},
			want: want{verdict: VerdictReflector, forwarding: ForwardsYes, direct: DirectAnswers,
				outcomes: []string{OutcomeForwarded, OutcomeForwarded}, reason: "through CALLIT v2 and INDIRECT v4"},
		},
		{
			name:   "reflector that refuses, as rpcbind without -r",
			mapper: fakeMapper{},
			want: want{verdict: VerdictReflector, forwarding: ForwardsNo, direct: DirectAnswers,
				outcomes: []string{OutcomeRefused, OutcomeRefused}, reason: "callit_v2: silent, indirect_v4: SYSTEM_ERR"},
		},
		{
			name:   "safe: short UDP answers, the listing over TCP",
			mapper: fakeMapper{short: true},
			want: want{verdict: VerdictSafe, forwarding: ForwardsNo, direct: DirectAnswers,
				outcomes: []string{OutcomeRefused, OutcomeRefused}},
		},
		{
			name:   "forwarder without amplification",
			mapper: fakeMapper{short: true, forward: true},
			want: want{verdict: VerdictForwarder, forwarding: ForwardsYes, direct: DirectAnswers,
				outcomes: []string{OutcomeForwarded, OutcomeForwarded}},
		},
		{
			name:   "nothing registered: the mapper's refusal to call itself tells nothing",
			mapper: fakeMapper{},
			noReg:  true,
			want: want{verdict: VerdictReflector, forwarding: ForwardsUnknown, direct: DirectAnswers, self: true,
				outcomes: []string{OutcomeInconclusive, OutcomeInconclusive}, reason: "the port mapper itself was the target"},
		},
		{
			name:   "nothing registered: a mapper that forwards to itself forwards",
			mapper: fakeMapper{forward: true},
			noReg:  true,
			want: want{verdict: VerdictReflector, forwarding: ForwardsYes, direct: DirectAnswers, self: true,
				outcomes: []string{OutcomeForwarded, OutcomeForwarded}, reason: "portmapper (100000) version 2"},
		},
		{
			name:   "a dead target: the mapper itself is called instead",
			mapper: fakeMapper{},
			dead:   true,
			want: want{verdict: VerdictReflector, forwarding: ForwardsUnknown, direct: DirectAnswers, self: true,
				outcomes: []string{OutcomeInconclusive, OutcomeInconclusive}, reason: "no registered program answered"},
		},
		{
			name:   "a dead target, and a mapper that forwards to itself",
			mapper: fakeMapper{forward: true},
			dead:   true,
			want: want{verdict: VerdictReflector, forwarding: ForwardsYes, direct: DirectAnswers, self: true,
				outcomes: []string{OutcomeForwarded, OutcomeForwarded}},
		},
		{
			name:   "a given target that is dead: silence tells nothing",
			mapper: fakeMapper{},
			dead:   true,
			given:  &Program{Prog: targetProg, Vers: 1},
			want: want{verdict: VerdictReflector, forwarding: ForwardsUnknown, direct: StatusRefused,
				outcomes: []string{OutcomeInconclusive, OutcomeRefused}, reason: "did not answer when called directly (refused)"},
		},
		{
			name:   "a given target",
			mapper: fakeMapper{forward: true},
			given:  &Program{Prog: targetProg, Vers: 1},
			want: want{verdict: VerdictReflector, forwarding: ForwardsYes, direct: DirectAnswers,
				outcomes: []string{OutcomeForwarded, OutcomeForwarded}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := tt.mapper
			mux := m.mux()
			pc, ln := listenPair(t, "127.0.0.1")
			port := pc.LocalAddr().(*net.UDPAddr).AddrPort().Port()
			m.list = mapperEntries(port)
			// Registrations with nothing behind them come first, as in the
			// seed; the audit must pass them by.
			m.list = append(m.list, registration(100003, 3, "udp", netip.AddrPortFrom(netip.IPv4Unspecified(), closedUDPPort(t))))
			m.list = append(m.list, registration(100003, 3, "tcp", netip.AddrPortFrom(netip.IPv4Unspecified(), 2049)))
			var target *testsupport.FakeService
			switch {
			case tt.noReg:
				m.list = m.list[:len(mapperEntries(port))]
			case tt.dead:
				m.list = m.list[:len(mapperEntries(port))]
				m.list = append(m.list, registration(targetProg, 1, "udp", netip.AddrPortFrom(loop, closedUDPPort(t))))
			default:
				target = testsupport.ServeFake(t, targetProg, 1, 1)
				m.list = append(m.list, registration(targetProg, 1, "udp", netip.AddrPortFrom(netip.IPv4Unspecified(), target.UDP.Port())))
			}
			m.stat = someStats()
			serve(t, &rpc.Server{Handler: mux}, pc, ln)

			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			r := AuditHost(ctx, "127.0.0.1", &AuditOptions{Port: int(port), Window: testWindow, ForwardTarget: tt.given})

			if r.Verdict != tt.want.verdict {
				t.Errorf("verdict %q (%s), want %q", r.Verdict, r.Summary, tt.want.verdict)
			}
			if r.Addr != netip.AddrPortFrom(loop, port).String() || r.Host != "127.0.0.1" {
				t.Errorf("host %q addr %q", r.Host, r.Addr)
			}
			checkProbes(t, r, &m)
			f := r.Forwarding
			if f == nil {
				t.Fatal("no forwarding check")
			}
			if f.Verdict != tt.want.forwarding || !strings.Contains(f.Reason, tt.want.reason) {
				t.Errorf("forwarding %q (%s), want %q with %q", f.Verdict, f.Reason, tt.want.forwarding, tt.want.reason)
			}
			var outcomes []string
			for _, c := range f.Calls {
				outcomes = append(outcomes, c.Outcome)
			}
			if !slices.Equal(outcomes, tt.want.outcomes) {
				t.Errorf("outcomes %v, want %v (%+v)", outcomes, tt.want.outcomes, f.Calls)
			}
			if tt.want.direct != "" {
				prog, vers := uint32(targetProg), uint32(1)
				if tt.want.self {
					prog, vers = portmap.Program, portmap.V2
				}
				if f.Target == nil || f.Target.Prog != prog || f.Target.Vers != vers || f.Target.Direct != tt.want.direct || f.Target.Self != tt.want.self {
					t.Fatalf("target %+v, want program %d version %d, direct %q, self %v", f.Target, prog, vers, tt.want.direct, tt.want.self)
				}
				if f.Target.Given != (tt.given != nil) {
					t.Errorf("target given %v, want %v", f.Target.Given, tt.given != nil)
				}
			}
			if tt.want.forwarding == ForwardsYes && tt.want.self {
				if f.Calls[0].Via != fmt.Sprint(port) {
					t.Errorf("via %q, want the mapper's port %d", f.Calls[0].Via, port)
				}
			} else if tt.want.forwarding == ForwardsYes {
				if f.Calls[0].Via != fmt.Sprint(target.UDP.Port()) || f.Calls[1].Via != portmap.FormatUaddr(netip.AddrPortFrom(loop, target.UDP.Port())) {
					t.Errorf("via %q and %q, want the target's port %d", f.Calls[0].Via, f.Calls[1].Via, target.UDP.Port())
				}
				if target.Calls() == 0 {
					t.Errorf("the target never saw a call")
				}
			}
			checkAdvice(t, r)
		})
	}
}

// checkProbes compares each probe with what the fake mapper sent: one
// datagram of a known size for each request, or a 24-byte SYSTEM_ERR for a
// short mapper.
func checkProbes(t *testing.T, r Report, m *fakeMapper) {
	t.Helper()
	if len(r.Probes) != len(AllProbes()) {
		t.Fatalf("%d probes, want %d", len(r.Probes), len(AllProbes()))
	}
	worst, worstKind := 0.0, ProbeKind("")
	for i, p := range r.Probes {
		if p.Kind != AllProbes()[i] {
			t.Errorf("probe %d is %q, want %q", i, p.Kind, AllProbes()[i])
		}
		vers, _, _ := p.Kind.call()
		results, status := m.dumpResults(vers), "SUCCESS"
		if p.Kind == GetstatV4 {
			results = m.stat.Append(nil)
		}
		if m.short {
			results, status = nil, "SYSTEM_ERR"
		}
		want := wantFactor(len(results))
		if p.Status != status || p.RequestDatagrams != 1 || p.ReplyDatagrams != 1 ||
			p.ReplyBytes != UDPHeaderLen+replyHeaderLen+len(results) || p.Factor != want {
			t.Errorf("%s: status %q, %d/%d datagrams, %d reply bytes, factor %v; want %q, 1/1, %d, %v",
				p.Kind, p.Status, p.RequestDatagrams, p.ReplyDatagrams, p.ReplyBytes, p.Factor,
				status, UDPHeaderLen+replyHeaderLen+len(results), want)
		}
		if want > worst {
			worst, worstKind = want, p.Kind
		}
	}
	if r.MaxFactor != worst || r.WorstProbe != worstKind {
		t.Errorf("max factor %v via %q, want %v via %q", r.MaxFactor, r.WorstProbe, worst, worstKind)
	}
}

// checkAdvice checks that the report advises exactly what fixes its findings.
func checkAdvice(t *testing.T, r Report) {
	t.Helper()
	var want []string
	if r.MaxFactor > MaxSafeFactor {
		want = append(want, AdviceReflector)
	}
	if r.Forwarding != nil && r.Forwarding.Verdict == ForwardsYes {
		want = append(want, AdviceForwarder)
	}
	if !slices.Equal(r.Advice, want) {
		t.Errorf("advice %q, want %q", r.Advice, want)
	}
}

func TestAuditSilentAndBadTargets(t *testing.T) {
	t.Parallel()
	port := closedUDPPort(t)
	tests := []struct {
		target, verdict, summary string
	}{
		{fmt.Sprintf("127.0.0.1:%d", port), VerdictSilent, "silent: no UDP reply from 127.0.0.1:"},
		{"127.0.0.1:99999", VerdictError, "error: audit: target"},
		{"", VerdictError, "error: audit: empty target"},
		{"a:b:c", VerdictError, "error: audit: target"},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			r := AuditHost(ctx, tt.target, &AuditOptions{Window: 100 * time.Millisecond})
			if r.Verdict != tt.verdict || !strings.HasPrefix(r.Summary, tt.summary) || len(r.Advice) != 0 {
				t.Errorf("verdict %q, summary %q, advice %q; want %q, %q..., none", r.Verdict, r.Summary, r.Advice, tt.verdict, tt.summary)
			}
			if tt.verdict == VerdictSilent {
				if r.Forwarding == nil || r.Forwarding.Verdict != ForwardsUnknown || !strings.Contains(r.Forwarding.Reason, "no UDP reply to any probe") || r.Forwarding.Target != nil {
					t.Errorf("forwarding %+v, want unknown and not tried", r.Forwarding)
				}
				for _, p := range r.Probes {
					if p.Status != StatusSilent || p.RequestDatagrams != DefaultAttempts || p.Factor != 0 {
						t.Errorf("%s: %+v, want silent after %d sends", p.Kind, p.Exchange, DefaultAttempts)
					}
				}
			}
		})
	}
}

func TestAuditManyHosts(t *testing.T) {
	t.Parallel()
	var targets []string
	var wantVerdicts []string
	for i, m := range []fakeMapper{{}, {short: true}, {}} {
		pc, ln := listenPair(t, "127.0.0.1")
		port := pc.LocalAddr().(*net.UDPAddr).AddrPort().Port()
		m.list = mapperEntries(port)
		serve(t, &rpc.Server{Handler: m.mux()}, pc, ln)
		targets = append(targets, fmt.Sprintf("127.0.0.1:%d", port))
		wantVerdicts = append(wantVerdicts, []string{VerdictReflector, VerdictSafe, VerdictReflector}[i])
	}
	targets = append(targets, fmt.Sprintf("127.0.0.1:%d", closedUDPPort(t)))
	wantVerdicts = append(wantVerdicts, VerdictSilent)

	var mu sync.Mutex
	var progress []string
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	reports := Audit(ctx, targets, &AuditOptions{Window: testWindow, Attempts: 1, Parallel: 2, SkipForwarding: true,
		Progress: func(r Report) {
			mu.Lock()
			progress = append(progress, r.Host)
			mu.Unlock()
		}})
	if len(reports) != len(targets) {
		t.Fatalf("%d reports for %d targets", len(reports), len(targets))
	}
	for i, r := range reports {
		if r.Host != targets[i] || r.Verdict != wantVerdicts[i] || r.Forwarding != nil {
			t.Errorf("report %d: host %q verdict %q forwarding %v; want %q, %q, none", i, r.Host, r.Verdict, r.Forwarding, targets[i], wantVerdicts[i])
		}
	}
	slices.Sort(progress)
	sorted := slices.Sorted(slices.Values(targets))
	if !slices.Equal(progress, sorted) {
		t.Errorf("progress reported %v, want each of %v once", progress, sorted)
	}
}

func TestAuditEndsWithTheContext(t *testing.T) {
	t.Parallel()
	targets := []string{"127.0.0.1:" + fmt.Sprint(closedUDPPort(t)), "127.0.0.1:" + fmt.Sprint(closedUDPPort(t))}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	reports := Audit(ctx, targets, &AuditOptions{Window: time.Minute, Parallel: 1})
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Audit took %v with a 200 ms context", d)
	}
	for _, r := range reports {
		if r.Verdict != VerdictSilent && r.Verdict != VerdictError {
			t.Errorf("%s: verdict %q after the context ended", r.Host, r.Verdict)
		}
	}
}

func TestForEachBoundsParallelism(t *testing.T) {
	t.Parallel()
	var now, peak atomic.Int64
	seen := make([]bool, 40)
	forEach(context.Background(), len(seen), 3, func(_ context.Context, i int) {
		n := now.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
		seen[i] = true
		now.Add(-1)
	})
	if p := peak.Load(); p < 2 || p > 3 {
		t.Errorf("peak parallelism %d, want 2 or 3 (bound 3)", p)
	}
	if slices.Contains(seen, false) {
		t.Errorf("not every index was visited: %v", seen)
	}
}

func TestSplitTarget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in       string
		host     string
		port     int
		wantFail bool
	}{
		{"example.org", "example.org", 111, false},
		{"example.org:4111", "example.org", 4111, false},
		{"192.0.2.7", "192.0.2.7", 111, false},
		{"192.0.2.7:2049", "192.0.2.7", 2049, false},
		{"::1", "::1", 111, false},
		{"[::1]", "::1", 111, false},
		{"[::1]:8111", "::1", 8111, false},
		{"fe80::1%eth0", "fe80::1%eth0", 111, false},
		{"host:0", "", 0, true},
		{"host:65536", "", 0, true},
		{":111", "", 0, true},
		{"a:b:c", "", 0, true},
		{"", "", 0, true},
	}
	for _, tt := range tests {
		host, port, err := splitTarget(tt.in, 111)
		if (err != nil) != tt.wantFail || host != tt.host || port != tt.port {
			t.Errorf("splitTarget(%q) = %q, %d, %v; want %q, %d, failure %v", tt.in, host, port, err, tt.host, tt.port, tt.wantFail)
		}
	}
}

func TestAuditListingFails(t *testing.T) {
	t.Parallel()
	// A mapper on UDP alone, short over UDP: no list from the probes, and no
	// TCP to ask instead. The mapper itself is the target of last resort.
	m := fakeMapper{short: true}
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := pc.LocalAddr().(*net.UDPAddr).AddrPort().Port()
	m.list = mapperEntries(port)
	serve(t, &rpc.Server{Handler: m.mux()}, pc, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r := AuditHost(ctx, fmt.Sprintf("127.0.0.1:%d", port), &AuditOptions{Window: testWindow})
	f := r.Forwarding
	if r.Verdict != VerdictSafe || f == nil || f.Verdict != ForwardsUnknown || f.Target == nil || !f.Target.Self ||
		!strings.Contains(f.Reason, "listing the registrations failed") {
		t.Errorf("verdict %q, forwarding %+v; want safe, unknown with the mapper as target and the listing's failure", r.Verdict, f)
	}
}
