package audit

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/portmap-toolkit/pmap/internal/vectors"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

// probe returns a measured probe of kind with a factor of reply/48 bytes.
func probe(kind ProbeKind, status string, reply int) Probe {
	p := Probe{Kind: kind, Exchange: Exchange{Status: status, RequestDatagrams: 1, RequestBytes: 48, ReplyBytes: reply}}
	if reply > 0 {
		p.ReplyDatagrams = 1
	}
	p.finish()
	return p
}

func TestJudge(t *testing.T) {
	t.Parallel()
	big := []Probe{probe(DumpV2, "SUCCESS", 576), probe(DumpV3, "SUCCESS", 1760), probe(DumpV4, "SUCCESS", 1760), probe(GetstatV4, "SUCCESS", 236)}
	short := []Probe{probe(DumpV2, StatusSilent, 0), probe(DumpV3, "SYSTEM_ERR", 32), probe(DumpV4, "SYSTEM_ERR", 32), probe(GetstatV4, "SYSTEM_ERR", 32)}
	silent := []Probe{probe(DumpV2, StatusSilent, 0), probe(DumpV3, StatusSilent, 0)}
	just := []Probe{probe(DumpV3, "SUCCESS", 48), probe(DumpV4, "SUCCESS", 49)}
	fwd := func(verdict string, outcomes ...string) *Forwarding {
		f := &Forwarding{Verdict: verdict, Target: &ForwardTarget{Prog: 1}}
		for i, o := range outcomes {
			f.Calls = append(f.Calls, RemoteCall{Call: []string{CallitV2, IndirectV4}[i], Outcome: o})
		}
		return f
	}
	tests := []struct {
		name       string
		r          Report
		verdict    string
		summary    string
		worst      ProbeKind
		advice     []string
		wantFactor float64
	}{
		{
			name: "rpcbind", r: Report{Probes: big, Forwarding: fwd(ForwardsNo, OutcomeRefused, OutcomeRefused)},
			verdict: VerdictReflector, summary: "reflector: 37x amplification via v3 DUMP; does not forward remote calls",
			worst: DumpV3, advice: []string{AdviceReflector}, wantFactor: 1760.0 / 48,
		},
		{
			name: "rpcbind -r", r: Report{Probes: big, Forwarding: fwd(ForwardsYes, OutcomeForwarded, OutcomeRefused)},
			verdict: VerdictReflector, summary: "reflector: 37x amplification via v3 DUMP; forwards remote calls (CALLIT v2)",
			worst: DumpV3, advice: []string{AdviceReflector, AdviceForwarder}, wantFactor: 1760.0 / 48,
		},
		{
			name: "forwarding not checked", r: Report{Probes: big},
			verdict: VerdictReflector, summary: "reflector: 37x amplification via v3 DUMP",
			worst: DumpV3, advice: []string{AdviceReflector}, wantFactor: 1760.0 / 48,
		},
		{
			name: "safe", r: Report{Probes: short, Forwarding: fwd(ForwardsNo, OutcomeRefused, OutcomeRefused)},
			verdict: VerdictSafe, summary: "safe: no UDP amplification (largest 0.7x, v3 DUMP); does not forward remote calls",
			worst: DumpV3, wantFactor: 32.0 / 48,
		},
		{
			name: "safe, forwarding unknown", r: Report{Probes: short, Forwarding: fwd(ForwardsUnknown)},
			verdict: VerdictSafe, summary: "safe: no UDP amplification (largest 0.7x, v3 DUMP); forwarding unknown",
			worst: DumpV3, wantFactor: 32.0 / 48,
		},
		{
			name: "a reply one byte larger than its request reflects", r: Report{Probes: just},
			verdict: VerdictReflector, summary: "reflector: 1.02x amplification via v4 DUMP",
			worst: DumpV4, advice: []string{AdviceReflector}, wantFactor: 49.0 / 48,
		},
		{
			name: "forwarder", r: Report{Probes: short, Forwarding: fwd(ForwardsYes, OutcomeForwarded, OutcomeForwarded)},
			verdict: VerdictForwarder, summary: "forwarder: no UDP amplification; forwards remote calls (CALLIT v2, INDIRECT v4)",
			worst: DumpV3, advice: []string{AdviceForwarder}, wantFactor: 32.0 / 48,
		},
		{
			name: "silent", r: Report{Addr: "192.0.2.9:111", Probes: silent, Forwarding: fwd(ForwardsUnknown)},
			verdict: VerdictSilent, summary: "silent: no UDP reply from 192.0.2.9:111; forwarding unknown",
		},
		{
			name: "no probe run, forwarding refused", r: Report{Probes: []Probe{}, Forwarding: fwd(ForwardsNo, OutcomeRefused, OutcomeRefused)},
			verdict: VerdictUnknown, summary: "unknown: amplification not measured; does not forward remote calls",
		},
		{
			name: "no probe run, forwards", r: Report{Probes: []Probe{}, Forwarding: fwd(ForwardsYes, OutcomeRefused, OutcomeForwarded)},
			verdict: VerdictForwarder, summary: "forwarder: amplification not measured; forwards remote calls (INDIRECT v4)",
			advice: []string{AdviceForwarder},
		},
		{
			name: "error", r: Report{Error: "audit: resolving \"x\": no address", Probes: []Probe{}},
			verdict: VerdictError, summary: "error: audit: resolving \"x\": no address",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.r
			r.judge()
			if r.Verdict != tt.verdict || r.Summary != tt.summary || r.WorstProbe != tt.worst ||
				!slices.Equal(r.Advice, tt.advice) || r.MaxFactor != tt.wantFactor {
				t.Errorf("got %q %q worst %q (%v) advice %q;\nwant %q %q worst %q (%v) advice %q",
					r.Verdict, r.Summary, r.WorstProbe, r.MaxFactor, r.Advice, tt.verdict, tt.summary, tt.worst, tt.wantFactor, tt.advice)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	callRes := portmap.CallResult{Port: 2049, Res: nil}.Append(nil)
	rmtRes := portmap.RmtCallRes{Addr: "192.0.2.2.8.1"}.Append(nil)
	tests := []struct {
		call, status  string
		results       []byte
		targetAnswers bool
		outcome, via  string
	}{
		{CallitV2, "SUCCESS", callRes, true, OutcomeForwarded, "2049"},
		{CallitV2, "SUCCESS", callRes, false, OutcomeForwarded, "2049"},
		{IndirectV4, "SUCCESS", rmtRes, true, OutcomeForwarded, "192.0.2.2.8.1"},
		{CallitV2, "SUCCESS", rmtRes, true, OutcomeInconclusive, ""},              // not a call_result
		{IndirectV4, "SUCCESS", append(rmtRes, 0), true, OutcomeInconclusive, ""}, // trailing garbage
		{IndirectV4, "SUCCESS", nil, true, OutcomeInconclusive, ""},
		{CallitV2, StatusSilent, nil, true, OutcomeRefused, ""},
		{CallitV2, StatusSilent, nil, false, OutcomeInconclusive, ""},
		{IndirectV4, "SYSTEM_ERR", nil, false, OutcomeRefused, ""},
		{IndirectV4, "PROC_UNAVAIL", nil, false, OutcomeRefused, ""},
		{IndirectV4, "AUTH_ERROR", nil, false, OutcomeRefused, ""},
		{IndirectV4, "PROG_UNAVAIL", nil, true, OutcomeInconclusive, ""},
		{IndirectV4, "PROG_MISMATCH", nil, true, OutcomeInconclusive, ""},
		{IndirectV4, "GARBAGE_ARGS", nil, true, OutcomeInconclusive, ""},
		{IndirectV4, StatusGarbled, nil, true, OutcomeInconclusive, ""},
		{IndirectV4, StatusError, nil, true, OutcomeInconclusive, ""},
	}
	for _, tt := range tests {
		c := RemoteCall{Call: tt.call, Exchange: Exchange{Status: tt.status, results: tt.results}}
		c.classify(tt.targetAnswers)
		if c.Outcome != tt.outcome || c.Via != tt.via {
			t.Errorf("%s %s (target answers %v): %q via %q, want %q via %q", tt.call, tt.status, tt.targetAnswers, c.Outcome, c.Via, tt.outcome, tt.via)
		}
	}
}

func TestDecide(t *testing.T) {
	t.Parallel()
	tests := []struct {
		outcomes []string
		direct   string
		verdict  string
		reason   string
	}{
		{[]string{OutcomeForwarded, OutcomeRefused}, DirectAnswers, ForwardsYes, "through CALLIT v2"},
		{[]string{OutcomeInconclusive, OutcomeForwarded}, StatusSilent, ForwardsYes, "through INDIRECT v4"},
		{[]string{OutcomeRefused, OutcomeRefused}, DirectAnswers, ForwardsNo, "answers NULL when called directly; the mapper did not forward it"},
		{[]string{OutcomeRefused, OutcomeInconclusive}, DirectAnswers, ForwardsUnknown, "do not tell"},
		{[]string{OutcomeInconclusive, OutcomeRefused}, StatusRefused, ForwardsUnknown, "did not answer when called directly (refused)"},
	}
	for _, tt := range tests {
		f := &Forwarding{Target: &ForwardTarget{Prog: 100024, Vers: 1, Name: "status", Direct: tt.direct}}
		for i, o := range tt.outcomes {
			f.Calls = append(f.Calls, RemoteCall{Call: []string{CallitV2, IndirectV4}[i], Outcome: o, Exchange: Exchange{Status: "x"}})
		}
		f.decide()
		if f.Verdict != tt.verdict || !strings.Contains(f.Reason, tt.reason) || !strings.Contains(f.Reason, "status (100024) version 1") {
			t.Errorf("%v, direct %s: %q (%s), want %q with %q", tt.outcomes, tt.direct, f.Verdict, f.Reason, tt.verdict, tt.reason)
		}
	}
}

// seedUDP is what a forwarding check may call in the recorded DUMP replies:
// the udp registrations of testdata/seed-registrations.txt, once per
// (program, version), in the seed's order.
var seedUDP = []candidate{
	{prog: 100003, vers: 2, port: 2049}, {prog: 100003, vers: 3, port: 2049}, {prog: 100003, vers: 4, port: 2049},
	{prog: 100024, vers: 1, port: 32770},
	{prog: 100021, vers: 1, port: 32770}, {prog: 100021, vers: 3, port: 32770}, {prog: 100021, vers: 4, port: 32770},
	{prog: 100005, vers: 1, port: 644}, {prog: 100005, vers: 2, port: 644}, {prog: 100005, vers: 3, port: 644},
}

func TestDecodeCandidates(t *testing.T) {
	t.Parallel()
	v4 := netip.MustParseAddrPort("192.0.2.2:111")
	v6 := netip.MustParseAddrPort("[2001:db8::2]:111")
	// The v3 recording was made after v3_set registered 100099 v2 over udp
	// at 127.0.0.1 port 4242 (testdata/INDEX.md).
	v3 := append(slices.Clone(seedUDP), candidate{prog: 100099, vers: 2, port: 4242})
	tests := []struct {
		vector string
		vers   uint32
		dst    netip.AddrPort
		want   []candidate
	}{
		{"v2_dump", portmap.V2, v4, seedUDP},
		{"v3_dump", portmap.V3, v4, v3},
		{"v4_dump", portmap.V4, v4, seedUDP},
		{"v2_dump", portmap.V2, v6, nil}, // a pmaplist is IPv4 only
		{"v3_dump", portmap.V3, v6, nil}, // udp6 holds only the mapper itself
	}
	for _, tt := range tests {
		reply := vectors.Load(tt.vector).Reply
		var h rpc.ReplyHeader
		d := xdr.NewDecoder(reply)
		h.Decode(d)
		got, err := decodeCandidates(tt.dst, tt.vers, d.Rest())
		if err != nil {
			t.Fatalf("%s: %v", tt.vector, err)
		}
		var ports []candidate
		for _, c := range got {
			if c.netid != udpNetid(tt.dst) {
				t.Errorf("%s: candidate %+v has netid %q", tt.vector, c, c.netid)
			}
			ports = append(ports, candidate{prog: c.prog, vers: c.vers, port: c.port})
		}
		if !slices.Equal(ports, tt.want) {
			t.Errorf("%s for %v: %+v,\nwant %+v", tt.vector, tt.dst, ports, tt.want)
		}
	}
	if _, err := decodeCandidates(v4, portmap.V3, []byte{0, 0, 0, 1, 0}); err == nil {
		t.Errorf("a truncated rpcblist decoded")
	}
}

func TestDecodeCandidatesCaps(t *testing.T) {
	t.Parallel()
	var list []portmap.RPCB
	for i := range uint32(3 * MaxForwardCandidates) {
		list = append(list, registration(0x20000000+i/2, 1, "udp", netip.MustParseAddrPort("0.0.0.0:1000")))
	}
	got, err := decodeCandidates(netip.MustParseAddrPort("192.0.2.2:111"), portmap.V4, portmap.AppendRPCBList(nil, list))
	if err != nil || len(got) != MaxForwardCandidates || got[1].prog != 0x20000001 {
		t.Errorf("%d candidates (%v), want %d distinct", len(got), err, MaxForwardCandidates)
	}
}

func TestProbeKinds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in    string
		kind  ProbeKind
		label string
	}{
		{"dump_v2", DumpV2, "v2 DUMP"},
		{"dump-v3", DumpV3, "v3 DUMP"},
		{"DUMP_V4", DumpV4, "v4 DUMP"},
		{"getstat-v4", GetstatV4, "v4 GETSTAT"},
	}
	for _, tt := range tests {
		k, err := ParseProbeKind(tt.in)
		if err != nil || k != tt.kind || k.Label() != tt.label {
			t.Errorf("ParseProbeKind(%q) = %q (%v), label %q; want %q, %q", tt.in, k, err, k.Label(), tt.kind, tt.label)
		}
	}
	for _, bad := range []string{"", "dump", "getstat_v3", "dump_v5"} {
		if _, err := ParseProbeKind(bad); err == nil || !strings.HasPrefix(err.Error(), "audit: ") {
			t.Errorf("ParseProbeKind(%q): %v, want an audit error", bad, err)
		}
	}
	for _, tt := range []struct {
		f    float64
		want string
	}{{45.9, "46x"}, {10, "10x"}, {9.96, "10.0x"}, {1.02, "1.02x"}, {1.0, "1.0x"}, {0.99, "1.0x"}, {0.666, "0.7x"}, {0, "0.0x"}} {
		if got := FormatFactor(tt.f); got != tt.want {
			t.Errorf("FormatFactor(%v) = %q, want %q", tt.f, got, tt.want)
		}
	}
}

func TestCallOutcome(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want string
	}{
		{nil, "SUCCESS"},
		{&rpc.Error{Status: rpc.TimedOut, Err: context.DeadlineExceeded}, StatusSilent},
		{&rpc.Error{Status: rpc.SystemError, Err: os.ErrDeadlineExceeded}, StatusSilent}, // a connect that timed out
		{&rpc.Error{Status: rpc.SystemError, Err: syscall.ECONNREFUSED}, StatusRefused},
		{&rpc.Error{Status: rpc.CantRecv, Err: syscall.ECONNREFUSED}, StatusRefused},
		{&rpc.Error{Status: rpc.SystemError}, "SYSTEM_ERR"},
		{&rpc.Error{Status: rpc.SystemError, Err: syscall.ENETUNREACH}, StatusError},
		{&rpc.Error{Status: rpc.ProgUnavail}, "PROG_UNAVAIL"},
		{&rpc.Error{Status: rpc.ProgVersMismatch, Low: 1, High: 3}, "PROG_MISMATCH"},
		{&rpc.Error{Status: rpc.ProcUnavail}, "PROC_UNAVAIL"},
		{&rpc.Error{Status: rpc.CantDecodeArgs}, "GARBAGE_ARGS"},
		{&rpc.Error{Status: rpc.AuthError, Why: rpc.AuthTooWeak}, "AUTH_ERROR"},
		{&rpc.Error{Status: rpc.VersMismatch}, "RPC_MISMATCH"},
		{&rpc.Error{Status: rpc.CantDecodeRes}, StatusError},
		{errors.New("something else"), StatusError},
	}
	for _, tt := range tests {
		got, e := callOutcome(tt.err)
		if got != tt.want || (tt.err != nil && e == nil) {
			t.Errorf("callOutcome(%v) = %q (%v), want %q", tt.err, got, e, tt.want)
		}
	}
}

func TestFindingAndCallLabel(t *testing.T) {
	for _, tt := range []struct {
		verdict string
		finding bool
	}{
		{VerdictReflector, true}, {VerdictForwarder, true}, {VerdictSafe, false},
		{VerdictSilent, false}, {VerdictUnknown, false}, {VerdictError, false},
	} {
		r := Report{Verdict: tt.verdict}
		if r.Finding() != tt.finding {
			t.Errorf("verdict %q: Finding() = %v", tt.verdict, !tt.finding)
		}
	}
	for call, want := range map[string]string{CallitV2: "CALLIT v2", IndirectV4: "INDIRECT v4", "other": "other"} {
		if got := (RemoteCall{Call: call}).Label(); got != want {
			t.Errorf("Label of %q = %q, want %q", call, got, want)
		}
	}
}
