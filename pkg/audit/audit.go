package audit

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

// Defaults of [AuditOptions].
const (
	// DefaultWindow is how long a probe listens after each send. A port
	// mapper on any network that can reach it answers within a few hundred
	// milliseconds, and a reflector sends all the datagrams of one answer
	// back to back, so one second catches them all without making an audit
	// of many silent hosts slow.
	DefaultWindow = time.Second

	// DefaultAttempts is how many times a probe is sent while nothing comes
	// back: a second send keeps one lost datagram from making a reflector
	// look silent. Every send is counted in the request bytes.
	DefaultAttempts = 2

	// DefaultHostTimeout bounds the audit of one host: the probes
	// (Attempts x Window, run at once), the listing over TCP when UDP gave
	// none, the direct calls and the remote calls of the forwarding check
	// (a Window each, plus their attempts): about 6 s with the defaults,
	// so 10 s leaves room for a slow TCP connect.
	DefaultHostTimeout = 10 * time.Second
)

// MaxSafeFactor is the largest amplification factor that does not make a host
// a reflector: a reply no larger than the request that drew it gives an
// attacker nothing over sending to the victim directly. It is the rule
// portmapd follows toward non-loopback sources.
const MaxSafeFactor = 1.0

// ProbeKind names one amplification probe: a call whose UDP reply the audit
// measures.
type ProbeKind string

// The probes (RFC 1833 §3.2 for portmap v2, §2.2 for rpcbind v3 and v4).
const (
	DumpV2    ProbeKind = "dump_v2"    // portmap v2 DUMP: the pmaplist
	DumpV3    ProbeKind = "dump_v3"    // rpcbind v3 DUMP: the rpcblist
	DumpV4    ProbeKind = "dump_v4"    // rpcbind v4 DUMP: the rpcblist
	GetstatV4 ProbeKind = "getstat_v4" // rpcbind v4 GETSTAT: rpcb_stat_byvers
)

// AllProbes returns every probe, in the order a report lists them.
func AllProbes() []ProbeKind { return []ProbeKind{DumpV2, DumpV3, DumpV4, GetstatV4} }

// ParseProbeKind reads a probe's name as [ProbeKind] spells it, with '-'
// accepted for '_' ("dump-v3").
func ParseProbeKind(s string) (ProbeKind, error) {
	k := ProbeKind(strings.ReplaceAll(strings.ToLower(s), "-", "_"))
	if _, _, ok := k.call(); !ok {
		return "", fmt.Errorf("audit: unknown probe %q (want dump_v2, dump_v3, dump_v4 or getstat_v4)", s)
	}
	return k, nil
}

// call returns the version and procedure of program 100000 the probe calls.
func (k ProbeKind) call() (vers, proc uint32, ok bool) {
	switch k {
	case DumpV2:
		return portmap.V2, portmap.PmapDump, true
	case DumpV3:
		return portmap.V3, portmap.RpcbDump, true
	case DumpV4:
		return portmap.V4, portmap.RpcbDump, true
	case GetstatV4:
		return portmap.V4, portmap.RpcbGetstat, true
	}
	return 0, 0, false
}

// Label returns the probe as a person reads it: "v2 DUMP", "v4 GETSTAT".
func (k ProbeKind) Label() string {
	vers, proc, ok := k.call()
	if !ok {
		return string(k)
	}
	name := "DUMP"
	if proc == portmap.RpcbGetstat {
		name = "GETSTAT"
	}
	return fmt.Sprintf("v%d %s", vers, name)
}

// Probe is the measured exchange of one probe.
type Probe struct {
	Kind ProbeKind `json:"probe"`
	Exchange
}

// Verdicts of a [Report], from the worst.
const (
	// VerdictReflector: some probe's factor is above MaxSafeFactor.
	VerdictReflector = "reflector"
	// VerdictForwarder: no amplification, but remote calls are forwarded.
	VerdictForwarder = "forwarder"
	// VerdictSafe: the host answered over UDP, no reply was larger than its
	// request, and no forwarding was seen (Summary says whether forwarding
	// was refused, not checked, or could not be told).
	VerdictSafe = "safe"
	// VerdictSilent: nothing came back over UDP; from here the host is no
	// reflector, but a firewall may treat other sources differently.
	VerdictSilent = "silent"
	// VerdictUnknown: no probe was run (AuditOptions.Probes was empty) and
	// no forwarding was seen.
	VerdictUnknown = "unknown"
	// VerdictError: the host could not be audited (a name that does not
	// resolve, no socket); Error says why.
	VerdictError = "error"
)

// Advice given with a verdict.
const (
	// AdviceReflector fixes a reflector.
	AdviceReflector = "block UDP port 111 from outside the local network (host firewall or border filter), " +
		"or run portmapd with its defaults, which never answer a non-loopback source with a UDP reply larger than its request"
	// AdviceForwarder fixes a mapper that forwards remote calls.
	AdviceForwarder = "turn remote-call forwarding off: start rpcbind without -r, " +
		"or run portmapd with its defaults (forwarding off)"
)

// Report is the audit of one host.
type Report struct {
	// Host is the target as given; Addr the address probed (ip:port).
	Host string `json:"host"`
	Addr string `json:"addr,omitempty"`
	// Verdict is one of the Verdict* values; Summary says it in one line,
	// such as "reflector: 46x amplification via v3 DUMP; does not forward
	// remote calls".
	Verdict string `json:"verdict"`
	Summary string `json:"summary"`
	// MaxFactor is the largest factor of any probe, WorstProbe the probe.
	MaxFactor  float64   `json:"max_factor"`
	WorstProbe ProbeKind `json:"worst_probe,omitempty"`
	// Advice lists what fixes each finding; empty when there is none.
	Advice []string `json:"advice,omitempty"`
	// Probes holds the measured exchanges, in the order of AllProbes.
	Probes []Probe `json:"probes"`
	// Forwarding is the forwarding check; nil when it was skipped.
	Forwarding *Forwarding `json:"forwarding,omitempty"`
	// Error says why the host could not be audited.
	Error string `json:"error,omitempty"`
}

// Finding reports whether the verdict is one a person must act on:
// VerdictReflector or VerdictForwarder.
func (r *Report) Finding() bool {
	return r.Verdict == VerdictReflector || r.Verdict == VerdictForwarder
}

// Program names a program and version, the target of a forwarding check.
type Program struct {
	Prog uint32 `json:"program"`
	Vers uint32 `json:"version"`
}

// AuditOptions tunes an audit; the zero value (or nil) gives the defaults
// noted on each field.
type AuditOptions struct {
	// Port is the port mapper's port; 0 means 111. A target of the form
	// host:port overrides it.
	Port int
	// Probes selects the probes to run; nil means AllProbes.
	Probes []ProbeKind
	// Window is how long each send listens for replies; 0 means DefaultWindow.
	Window time.Duration
	// Attempts is how many sends a probe makes while nothing comes back; 0
	// means DefaultAttempts.
	Attempts int
	// Timeout bounds the audit of one host; 0 means DefaultHostTimeout.
	Timeout time.Duration
	// Parallel is how many hosts Audit works on at once; 0 means
	// DefaultParallel.
	Parallel int
	// SkipForwarding leaves out the forwarding check.
	SkipForwarding bool
	// ForwardTarget names the program the forwarding check asks the mapper
	// to call; nil lets the audit choose from the mapper's registrations.
	ForwardTarget *Program
	// Names names programs in the report; nil means portmap.DefaultNames().
	Names *portmap.Names
	// Progress, if set, is called by Audit with each report as it is done,
	// one call at a time.
	Progress func(Report)
}

// withDefaults returns a copy of o with every zero field defaulted.
func (o *AuditOptions) withDefaults() AuditOptions {
	var c AuditOptions
	if o != nil {
		c = *o
	}
	if c.Port <= 0 {
		c.Port = portmap.Port
	}
	if c.Probes == nil {
		c.Probes = AllProbes()
	}
	if c.Window <= 0 {
		c.Window = DefaultWindow
	}
	if c.Attempts <= 0 {
		c.Attempts = DefaultAttempts
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultHostTimeout
	}
	if c.Parallel <= 0 {
		c.Parallel = DefaultParallel
	}
	if c.Names == nil {
		c.Names = portmap.DefaultNames()
	}
	return c
}

// Audit audits every target ("host", "host:port", "[ipv6]:port"), at most
// opts.Parallel at once, and returns the reports in the order of targets.
// Each host gets opts.Timeout; once ctx ends, the hosts not yet audited get a
// report saying so.
func Audit(ctx context.Context, targets []string, opts *AuditOptions) []Report {
	o := opts.withDefaults()
	out := make([]Report, len(targets))
	rep := reporter[Report]{fn: o.Progress}
	forEach(ctx, len(targets), o.Parallel, func(ctx context.Context, i int) {
		out[i] = auditHost(ctx, targets[i], &o)
		rep.report(out[i])
	})
	return out
}

// AuditHost audits one target ("host", "host:port" or "[ipv6]:port") within
// opts.Timeout: it measures each probe's amplification, checks forwarding
// unless told not to, and judges. It never registers or removes anything.
func AuditHost(ctx context.Context, target string, opts *AuditOptions) Report {
	o := opts.withDefaults()
	return auditHost(ctx, target, &o)
}

func auditHost(ctx context.Context, target string, o *AuditOptions) Report {
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	r := Report{Host: target, Probes: []Probe{}}
	host, port, err := splitTarget(target, o.Port)
	var addr netip.Addr
	if err == nil {
		addr, err = resolve(ctx, host)
	}
	if err != nil {
		r.Error = err.Error()
		r.judge()
		return r
	}
	dst := netip.AddrPortFrom(addr, uint16(port))
	r.Addr = dst.String()
	r.Probes = runProbes(ctx, dst, o)
	if !o.SkipForwarding {
		r.Forwarding = checkForwarding(ctx, dst, r.Probes, o)
	}
	r.judge()
	return r
}

// runProbes measures the selected probes at once, each on its own socket.
func runProbes(ctx context.Context, dst netip.AddrPort, o *AuditOptions) []Probe {
	cfg := measureConfig{window: o.Window, attempts: o.Attempts}
	out := make([]Probe, len(o.Probes))
	var wg sync.WaitGroup
	for i, k := range o.Probes {
		out[i].Kind = k
		vers, proc, ok := k.call()
		if !ok {
			out[i].fail(fmt.Errorf("audit: unknown probe %q", k))
			continue
		}
		wg.Go(func() { out[i].Exchange = measure(ctx, dst, portmap.Program, vers, proc, nil, cfg) })
	}
	wg.Wait()
	return out
}

// judge sets the verdict, summary, worst factor and advice from the probes
// and the forwarding check.
func (r *Report) judge() {
	r.MaxFactor, r.WorstProbe, r.Advice = 0, "", nil
	heard := false
	for _, p := range r.Probes {
		if p.ReplyDatagrams > 0 {
			heard = true
		}
		if p.Factor > r.MaxFactor {
			r.MaxFactor, r.WorstProbe = p.Factor, p.Kind
		}
	}
	fwd := ""
	if r.Forwarding != nil {
		fwd = r.Forwarding.Verdict
	}
	switch {
	case r.Error != "" && !heard:
		r.Verdict = VerdictError
		r.Summary = "error: " + r.Error
		return
	case r.MaxFactor > MaxSafeFactor:
		r.Verdict = VerdictReflector
		r.Summary = fmt.Sprintf("reflector: %s amplification via %s", FormatFactor(r.MaxFactor), r.WorstProbe.Label())
		r.Advice = append(r.Advice, AdviceReflector)
	case fwd == ForwardsYes:
		r.Verdict = VerdictForwarder
		r.Summary = "forwarder: no UDP amplification"
		if len(r.Probes) == 0 {
			r.Summary = "forwarder: amplification not measured"
		}
	case len(r.Probes) == 0:
		r.Verdict = VerdictUnknown
		r.Summary = "unknown: amplification not measured"
	case !heard:
		r.Verdict = VerdictSilent
		r.Summary = "silent: no UDP reply"
		if r.Addr != "" {
			r.Summary += " from " + r.Addr
		}
	default:
		r.Verdict = VerdictSafe
		r.Summary = "safe: no UDP amplification"
		if r.WorstProbe != "" {
			r.Summary += fmt.Sprintf(" (largest %s, %s)", FormatFactor(r.MaxFactor), r.WorstProbe.Label())
		}
	}
	if r.Forwarding != nil {
		r.Summary += "; " + r.Forwarding.clause()
	}
	if fwd == ForwardsYes {
		r.Advice = append(r.Advice, AdviceForwarder)
	}
}

// FormatFactor writes an amplification factor as the summaries do: "46x",
// "1.3x", "0.7x"; a factor just above 1 keeps a second decimal ("1.02x"), so
// that a reflector never reads as "1.0x".
func FormatFactor(f float64) string {
	switch s := fmt.Sprintf("%.1f", f); {
	case f >= 10:
		return fmt.Sprintf("%.0fx", f)
	case s == "1.0" && f > MaxSafeFactor:
		return fmt.Sprintf("%.2fx", f)
	default:
		return s + "x"
	}
}
