package main

import (
	"fmt"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/portmap-toolkit/pmap/pkg/audit"
	"github.com/portmap-toolkit/pmap/pkg/client"
)

// --audit and --discover check what a port mapper gives away (pkg/audit does
// the work; docs/security.md says how). Their options are read here; the
// targets are hosts, lists and ranges as for the listings, with a port
// allowed after a host ("192.0.2.2:2049", "[fd00::1]:2049", and for
// --discover "192.0.2.0/28:2049").

// Limits of the exposure checks' options.
const (
	// maxAuditParallel caps --parallel for --audit. The audit of one host
	// holds up to about 20 sockets at once (its probes, then the direct
	// calls of the forwarding check), and the named hosts and the addresses
	// of ranges are two groups of up to --parallel each: 2 x 25 x 20 stays
	// within the usual limit of 1,024 open files.
	maxAuditParallel = 25

	// maxAttempts caps --attempts: every attempt costs a window of silence
	// from a host that does not answer, and a datagram lost ten times in a
	// row is a path that drops them all.
	maxAttempts = 10

	// maxPrograms caps the programs of --programs: 65,536, a whole block of
	// RFC 5531's numbering. At the default rate that is 11 minutes a
	// target; a longer list is nearly always a mistyped range.
	maxPrograms = 1 << 16
)

// exposureConfig holds the options of --audit and --discover.
type exposureConfig struct {
	audit, discover bool
	probes          []audit.ProbeKind // --probe; nil: every probe
	probeSet        bool              // --probe was given
	noForward       bool              // --no-forward
	attempts        int               // --attempts; 0: the library's default
	attemptsSet     bool
	window          time.Duration // --window; 0: the library's default
	programs        []uint32      // --programs; nil: the names table
	rate            float64       // --rate; negative: no bound
	rateSet         bool
}

// configureExposure reads the options of --audit and --discover.
func (r *runner) configureExposure(c options) error {
	e := &r.cfg.exposure
	e.audit, e.discover = c.Bool(flagAudit), c.Bool(flagDiscover)
	e.noForward = c.Bool(flagNoForward)
	if e.probeSet = c.IsSet(flagProbe); e.probeSet {
		probes, err := parseProbes(c.String(flagProbe))
		if err != nil {
			return r.fail("%s: invalid value %q for --%s: %s", r.prog, c.String(flagProbe), flagProbe, err)
		}
		e.probes = probes
	}
	if e.attemptsSet = c.IsSet(flagAttempts); e.attemptsSet {
		if n := c.Int(flagAttempts); n < 1 || n > maxAttempts {
			return r.fail("%s: invalid value %d for --%s: want 1 to %d", r.prog, n, flagAttempts, maxAttempts)
		} else {
			e.attempts = n
		}
	}
	if c.IsSet(flagWindow) {
		if d := c.Duration(flagWindow); d <= 0 {
			return r.fail("%s: invalid value %q for --%s: want a positive duration such as 500ms", r.prog, d, flagWindow)
		} else {
			e.window = d
		}
	}
	if c.IsSet(flagPrograms) {
		progs, err := r.parsePrograms(c.String(flagPrograms))
		if err != nil {
			return r.fail("%s: invalid value %q for --%s: %s", r.prog, c.String(flagPrograms), flagPrograms, err)
		}
		e.programs = progs
	}
	e.rateSet = c.IsSet(flagRate)
	switch rate := c.Float64(flagRate); {
	case rate < 0 || math.IsNaN(rate) || math.IsInf(rate, 0):
		return r.fail("%s: invalid value %v for --%s: want a number of calls a second, or 0 for no bound", r.prog, rate, flagRate)
	case rate == 0:
		e.rate = -1 // the library's "no bound"
	default:
		e.rate = rate
	}
	return nil
}

// checkExposure refuses the options of --audit and --discover where they do
// not apply: with each other, with a mode, or alone.
func (r *runner) checkExposure() error {
	e := &r.cfg.exposure
	switch {
	case e.audit && e.discover:
		return r.fail("%s: --%s and --%s are two checks: run them one at a time", r.prog, flagAudit, flagDiscover)
	case !e.audit && (e.probeSet || e.noForward || e.attemptsSet):
		return r.fail("%s: --%s, --%s and --%s go with --%s", r.prog, flagProbe, flagNoForward, flagAttempts, flagAudit)
	case !e.discover && (e.programs != nil || e.rateSet):
		return r.fail("%s: --%s and --%s go with --%s", r.prog, flagPrograms, flagRate, flagDiscover)
	case !e.audit && !e.discover && e.window > 0:
		return r.fail("%s: --%s goes with --%s or --%s", r.prog, flagWindow, flagAudit, flagDiscover)
	case (e.audit || e.discover) && (r.cfg.verify || r.cfg.nfs):
		return r.fail("%s: --%s and --%s do not go with --%s or --%s", r.prog, flagAudit, flagDiscover, flagVerify, flagNFS)
	}
	return nil
}

// parseProbes reads --probe: "all", "none", or probe names separated by
// commas ("dump-v2,getstat-v4"). The probes come back in the order of
// audit.AllProbes, each once; "none" is an empty list, not nil.
func parseProbes(s string) ([]audit.ProbeKind, error) {
	switch s {
	case "all":
		return nil, nil
	case "none":
		return []audit.ProbeKind{}, nil
	}
	want := map[audit.ProbeKind]bool{}
	for _, w := range strings.Split(s, ",") {
		k, err := audit.ParseProbeKind(strings.TrimSpace(w))
		if err != nil {
			return nil, fmt.Errorf("want all, none, or a list of dump-v2, dump-v3, dump-v4, getstat-v4")
		}
		want[k] = true
	}
	var out []audit.ProbeKind
	for _, k := range audit.AllProbes() {
		if want[k] {
			out = append(out, k)
		}
	}
	return out, nil
}

// probeNames are the values --probe takes, for completion.
func probeNames() []string {
	out := []string{"all", "none"}
	for _, k := range audit.AllProbes() {
		out = append(out, strings.ReplaceAll(string(k), "_", "-"))
	}
	return out
}

// parsePrograms reads --programs: program numbers, names from the rpc
// database, and ranges of numbers ("100000-100099"), separated by commas;
// each program once, in the order given, at most maxPrograms.
func (r *runner) parsePrograms(s string) ([]uint32, error) {
	var out []uint32
	seen := map[uint32]bool{}
	add := func(p uint32) error {
		if seen[p] {
			return nil
		}
		if len(out) == maxPrograms {
			return fmt.Errorf("more than %d programs", maxPrograms)
		}
		seen[p] = true
		out = append(out, p)
		return nil
	}
	for _, w := range strings.Split(s, ",") {
		w = strings.TrimSpace(w)
		if lo, hi, ok := strings.Cut(w, "-"); ok {
			l, err1 := strconv.ParseUint(lo, 10, 32)
			h, err2 := strconv.ParseUint(hi, 10, 32)
			if err1 == nil && err2 == nil {
				if l > h {
					return nil, fmt.Errorf("range %s runs backwards", w)
				}
				if h-l >= maxPrograms {
					return nil, fmt.Errorf("range %s is more than %d programs", w, maxPrograms)
				}
				for p := l; p <= h; p++ {
					if err := add(uint32(p)); err != nil {
						return nil, err
					}
				}
				continue
			}
		}
		if w == "" {
			return nil, fmt.Errorf("an empty program")
		}
		p, err := progNumber(w, r.names)
		if err != nil {
			return nil, fmt.Errorf("%s is neither a program number, a name of /etc/rpc nor a range", w)
		}
		if p > math.MaxUint32 {
			return nil, fmt.Errorf("%s is not a 32-bit program number", w)
		}
		if err := add(uint32(p)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// exposureTarget is one target of --audit or --discover.
type exposureTarget struct {
	client.Target        // Host as given, or the address of a range; Addr; Ranged
	port          uint16 // the port given after the host; 0 when none
}

// name is the target as it is shown and labelled: the host, with its port
// when one was given.
func (t exposureTarget) name() string {
	if t.port == 0 {
		return t.Host
	}
	return net.JoinHostPort(t.Host, strconv.Itoa(int(t.port)))
}

// parseExposureTargets reads the operands of --audit and --discover: hosts,
// addresses and CIDR ranges as client.ParseTargets reads them, each
// optionally followed by ":port" ("[v6]:port" for an IPv6 address), in
// comma-separated lists. A target given twice is kept once.
func parseExposureTargets(args []string) ([]exposureTarget, error) {
	var out []exposureTarget
	seen := map[string]bool{}
	for _, arg := range args {
		for _, item := range strings.Split(arg, ",") {
			if item == "" {
				return nil, fmt.Errorf("empty host in %q", arg)
			}
			host, port := item, uint16(0)
			if h, p, err := net.SplitHostPort(item); err == nil {
				n, err := strconv.ParseUint(p, 10, 16)
				if err != nil || n == 0 || h == "" {
					return nil, fmt.Errorf("bad target %q: want host, host:port or [ipv6]:port", item)
				}
				host, port = h, uint16(n)
			}
			ts, err := client.ParseTargets([]string{host})
			if err != nil {
				return nil, fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "client: "))
			}
			for _, t := range ts {
				et := exposureTarget{Target: t, port: port}
				if seen[et.name()] {
					continue
				}
				if len(out) == client.MaxTargets {
					return nil, fmt.Errorf("more than %d hosts in one query", client.MaxTargets)
				}
				seen[et.name()] = true
				out = append(out, et)
			}
		}
	}
	return out, nil
}

// scanTargets returns the targets as scan labels them: by name, with their
// port.
func scanTargets(ts []exposureTarget) []client.Target {
	out := make([]client.Target, len(ts))
	for i, t := range ts {
		out[i] = t.Target
		out[i].Host = t.name()
	}
	return out
}

// exposureParallel is --parallel for --audit or --discover: def when it was
// not given.
func (r *runner) exposureParallel(def, most int) (int, error) {
	if !r.cfg.parallelSet {
		return def, nil
	}
	if r.cfg.parallel > most {
		return 0, r.fail("%s: invalid value %d for --%s: want 1 to %d", r.prog, r.cfg.parallel, flagParallel, most)
	}
	return r.cfg.parallel, nil
}

// anyRanged reports whether a target comes from a range.
func anyRanged(ts []exposureTarget) bool {
	return slices.ContainsFunc(ts, func(t exposureTarget) bool { return t.Ranged })
}
