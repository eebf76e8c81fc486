package audit

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

// MaxForwardCandidates bounds the registered programs the forwarding check
// calls directly to find one that answers. A host rarely registers more than
// a dozen distinct programs over UDP (NFS, mountd, nlockmgr, status, rquota
// and their versions); 16 calls at once cost one window and a few sockets.
const MaxForwardCandidates = 16

// Verdicts of a [Forwarding] check.
const (
	// ForwardsYes: the mapper returned the target's result through CALLIT
	// or INDIRECT.
	ForwardsYes = "forwards"
	// ForwardsNo: every remote call was refused.
	ForwardsNo = "refuses"
	// ForwardsUnknown: the answers do not tell; Reason says why.
	ForwardsUnknown = "unknown"
)

// Outcomes of a [RemoteCall].
const (
	// OutcomeForwarded: SUCCESS, with the target's result decoded from it.
	OutcomeForwarded = "forwarded"
	// OutcomeRefused: SYSTEM_ERR (rpcbind's INDIRECT without -r),
	// PROC_UNAVAIL or a denied call; or silence toward a target known to
	// answer (rpcbind's CALLIT without -r).
	OutcomeRefused = "refused"
	// OutcomeInconclusive: PROG_UNAVAIL or PROG_MISMATCH (the mapper does
	// not know the target as listed), garbage, or silence toward a target
	// not known to answer.
	OutcomeInconclusive = "inconclusive"
)

// Remote calls the forwarding check makes.
const (
	CallitV2   = "callit_v2"   // portmap v2 CALLIT (RFC 1833 §3.2)
	IndirectV4 = "indirect_v4" // rpcbind v4 INDIRECT (RFC 1833 §2.2)
)

// Direct results of a [ForwardTarget] besides a reply's status, StatusSilent,
// StatusRefused and StatusError.
const (
	// DirectAnswers: the target's NULL answered SUCCESS.
	DirectAnswers = "answers"
	// DirectNotTried: a given target whose port the listing did not show.
	DirectNotTried = "not-tried"
)

// Forwarding is the forwarding check of one host.
//
// The check needs a program the mapper would forward to and that would
// answer. An unregistered program is no use: INDIRECT answers PROG_UNAVAIL
// and CALLIT stays silent whether forwarding is on or not. So it lists the
// mapper's registrations (from the DUMP replies of the probes, or over TCP
// when UDP gave none), calls the NULL procedure of up to MaxForwardCandidates
// programs registered over UDP straight at their ports, and takes the first
// that answers (or, if none does, the first listed). Then it asks the mapper
// to call that NULL through portmap v2 CALLIT and rpcbind v4 INDIRECT. NULL
// is the one procedure rpcbind's forwarding filter always lets through, and
// it changes nothing at the target.
//
// When no registered program answers (or none is registered), the mapper's
// own NULL is the target: Debian's rpcbind with -r forwards it like any
// other, so a SUCCESS still proves forwarding, but a mapper may refuse to
// forward to itself alone, so a refusal then proves nothing.
type Forwarding struct {
	// Verdict is ForwardsYes, ForwardsNo or ForwardsUnknown; Reason says why.
	Verdict string `json:"verdict"`
	Reason  string `json:"reason"`
	// Target is the program the mapper was asked to call; nil when none
	// could be found.
	Target *ForwardTarget `json:"target,omitempty"`
	// Calls are the remote calls made: CALLIT v2, then INDIRECT v4.
	Calls []RemoteCall `json:"calls,omitempty"`
}

// ForwardTarget is the program a forwarding check asks the mapper to call.
type ForwardTarget struct {
	Prog uint32 `json:"program"`
	Vers uint32 `json:"version"`
	// Name is the program's name in the names table; absent when it has none.
	Name string `json:"service,omitempty"`
	// Netid and Uaddr are the registration, as the mapper listed it.
	Netid string `json:"netid,omitempty"`
	Uaddr string `json:"uaddr,omitempty"`
	// Given is set when the caller named the target (AuditOptions.ForwardTarget).
	Given bool `json:"given,omitempty"`
	// Direct is how the target's NULL answered when called at the host's
	// address and its registered port: DirectAnswers; the reply's status
	// (such as "PROG_UNAVAIL" from another program now on that port);
	// StatusSilent, StatusRefused (nothing listens) or StatusError; or
	// DirectNotTried. DirectError gives the details of a failure.
	Direct      string `json:"direct"`
	DirectError string `json:"direct_error,omitempty"`
	// Candidates is how many registered programs were called directly.
	Candidates int `json:"candidates"`
	// Self is set when the target is the port mapper itself, chosen when
	// no program registered over UDP answers (or given). Its forwarding
	// is conclusive; its refusal is not, since a mapper may refuse to
	// forward to itself alone.
	Self bool `json:"self,omitempty"`
}

// RemoteCall is one remote call the mapper was asked to forward, measured
// like a probe.
type RemoteCall struct {
	// Call is CallitV2 or IndirectV4.
	Call string `json:"call"`
	Exchange
	// Outcome is one of the Outcome* values.
	Outcome string `json:"outcome"`
	// Via is where the mapper says it sent the call: CALLIT's port, or
	// INDIRECT's universal address.
	Via string `json:"via,omitempty"`
}

// candidate is a program registered over UDP that the mapper could forward to.
type candidate struct {
	prog, vers   uint32
	netid, uaddr string
	port         uint16
}

// checkForwarding runs the forwarding check against the mapper at dst, using
// the DUMP replies among probes when there are any.
func checkForwarding(ctx context.Context, dst netip.AddrPort, probes []Probe, o *AuditOptions) *Forwarding {
	f := &Forwarding{Verdict: ForwardsUnknown}
	if len(probes) > 0 && !slices.ContainsFunc(probes, func(p Probe) bool { return p.ReplyDatagrams > 0 }) {
		// Remote calls go over UDP too: they would meet the same silence,
		// and a scan of many dead addresses would pay for it.
		f.Reason = "no UDP reply to any probe, so remote calls (UDP too) were not tried"
		return f
	}
	cands, listErr := listCandidates(ctx, dst, probes, o)
	// The mapper itself comes last: the target only when no registered
	// program answers.
	cands = append(cands, selfCandidate(dst))
	var t *ForwardTarget
	if o.ForwardTarget != nil {
		t = givenTarget(ctx, dst, cands, o)
	} else {
		t = chooseTarget(ctx, dst, cands, o)
	}
	t.Self = t.Prog == portmap.Program
	f.Target = t

	args := portmap.RmtCallArgs{Prog: t.Prog, Vers: t.Vers, Proc: portmap.ProcNull}.Append(nil)
	cfg := measureConfig{window: o.Window, attempts: o.Attempts}
	f.Calls = []RemoteCall{{Call: CallitV2}, {Call: IndirectV4}}
	var wg sync.WaitGroup
	wg.Go(func() {
		f.Calls[0].Exchange = measure(ctx, dst, portmap.Program, portmap.V2, portmap.PmapCallit, args, cfg)
	})
	wg.Go(func() {
		f.Calls[1].Exchange = measure(ctx, dst, portmap.Program, portmap.V4, portmap.RpcbIndirect, args, cfg)
	})
	wg.Wait()
	for i := range f.Calls {
		c := &f.Calls[i]
		c.classify(t.Direct == DirectAnswers)
		if t.Self && c.Outcome == OutcomeRefused {
			c.Outcome = OutcomeInconclusive // a mapper may refuse itself alone
		}
	}
	f.decide()
	if listErr != nil {
		f.Reason += "; listing the registrations failed: " + listErr.Error()
	}
	return f
}

// selfCandidate is the port mapper itself, version 2, at dst: the target of
// last resort, when no program registered over UDP answers.
func selfCandidate(dst netip.AddrPort) candidate {
	return candidate{prog: portmap.Program, vers: portmap.V2, netid: udpNetid(dst),
		uaddr: portmap.FormatUaddr(dst), port: dst.Port()}
}

// udpNetid is the netid of the mapper's UDP registrations a client at dst's
// address family can use.
func udpNetid(dst netip.AddrPort) string {
	if dst.Addr().Is4() {
		return portmap.NetidUDP
	}
	return portmap.NetidUDP6
}

// listCandidates returns the programs registered over UDP in the mapper's
// listing: from the decodable DUMP replies of the probes (v4, v3, then v2),
// else from DUMP over TCP. It skips the port mapper itself and repeats of a
// (program, version), and keeps at most MaxForwardCandidates.
func listCandidates(ctx context.Context, dst netip.AddrPort, probes []Probe, o *AuditOptions) ([]candidate, error) {
	byKind := map[ProbeKind]*Probe{}
	for i := range probes {
		byKind[probes[i].Kind] = &probes[i]
	}
	for _, k := range []ProbeKind{DumpV4, DumpV3, DumpV2} {
		p := byKind[k]
		if p == nil || p.Status != rpc.AcceptSuccess.String() {
			continue
		}
		vers, _, _ := k.call()
		if c, err := decodeCandidates(dst, vers, p.results); err == nil {
			return c, nil
		}
	}
	return dumpTCP(ctx, dst, o)
}

// dumpTCP lists the registrations over TCP: v4 DUMP, else v3, else v2, as a
// client does when the mapper will not answer a DUMP over UDP.
func dumpTCP(ctx context.Context, dst netip.AddrPort, o *AuditOptions) ([]candidate, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(o.Attempts)*o.Window)
	defer cancel()
	c, err := rpc.Dial(ctx, "tcp", dst.String(), nil)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var errs []error
	for _, vers := range []uint32{portmap.V4, portmap.V3, portmap.V2} {
		res, err := c.Call(ctx, portmap.Program, vers, portmap.RpcbDump, nil)
		if err == nil {
			cands, err := decodeCandidates(dst, vers, res)
			if err == nil {
				return cands, nil
			}
			errs = append(errs, err)
			continue
		}
		errs = append(errs, err)
		if !errors.Is(err, rpc.ErrProgMismatch) && !errors.Is(err, rpc.ErrProcUnavail) {
			break // the connection or the mapper failed: another version will not do better
		}
	}
	return nil, errors.Join(errs...)
}

// decodeCandidates reads a DUMP result of version vers: an rpcblist (v3, v4)
// or a pmaplist (v2).
func decodeCandidates(dst netip.AddrPort, vers uint32, res []byte) ([]candidate, error) {
	netid := udpNetid(dst)
	d := xdr.NewDecoder(res)
	var out []candidate
	seen := map[[2]uint32]bool{}
	add := func(c candidate) {
		k := [2]uint32{c.prog, c.vers}
		if c.prog == portmap.Program || seen[k] || len(out) == MaxForwardCandidates {
			return
		}
		seen[k] = true
		out = append(out, c)
	}
	if vers == portmap.V2 {
		list := portmap.DecodeMappingList(d, nil, portmap.MaxListEntries)
		if err := d.Err(); err != nil {
			return nil, fmt.Errorf("audit: decoding the v2 DUMP: %w", err)
		}
		if netid != portmap.NetidUDP {
			return nil, nil // a pmaplist holds IPv4 entries only
		}
		for _, m := range list {
			if m.Prot == portmap.IPProtoUDP && m.Port > 0 && m.Port <= 0xffff {
				ap := netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(m.Port))
				add(candidate{prog: m.Prog, vers: m.Vers, netid: netid, uaddr: portmap.FormatUaddr(ap), port: uint16(m.Port)})
			}
		}
		return out, nil
	}
	list := portmap.DecodeRPCBList(d, nil, portmap.MaxListEntries)
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("audit: decoding the v%d DUMP: %w", vers, err)
	}
	for _, r := range list {
		if !strings.EqualFold(r.Netid, netid) {
			continue
		}
		ap, err := portmap.ParseUaddr(r.Netid, r.Addr)
		if err != nil || ap.Port() == 0 {
			continue
		}
		add(candidate{prog: r.Prog, vers: r.Vers, netid: r.Netid, uaddr: r.Addr, port: ap.Port()})
	}
	return out, nil
}

// chooseTarget calls every candidate's NULL at the host's address and its
// registered port, all at once, and returns the first candidate (in listing
// order) that answered, or the first one if none did. cands is not empty.
func chooseTarget(ctx context.Context, dst netip.AddrPort, cands []candidate, o *AuditOptions) *ForwardTarget {
	results := make([]*ForwardTarget, len(cands))
	var wg sync.WaitGroup
	for i, c := range cands {
		wg.Go(func() {
			t := c.target(o.Names)
			t.Direct, t.DirectError = pingDirect(ctx, netip.AddrPortFrom(dst.Addr(), c.port), c.prog, c.vers, o.Window)
			results[i] = t
		})
	}
	wg.Wait()
	best := results[0]
	for _, t := range results {
		if t.Direct == DirectAnswers {
			best = t
			break
		}
	}
	best.Candidates = len(cands)
	return best
}

// givenTarget returns the caller's target, called directly when the listing
// shows its port.
func givenTarget(ctx context.Context, dst netip.AddrPort, cands []candidate, o *AuditOptions) *ForwardTarget {
	p := *o.ForwardTarget
	t := &ForwardTarget{Prog: p.Prog, Vers: p.Vers, Given: true, Direct: DirectNotTried}
	t.Name, _ = o.Names.Name(p.Prog)
	for _, c := range cands {
		if c.prog == p.Prog && c.vers == p.Vers {
			t = c.target(o.Names)
			t.Given = true
			t.Direct, t.DirectError = pingDirect(ctx, netip.AddrPortFrom(dst.Addr(), c.port), c.prog, c.vers, o.Window)
			t.Candidates = 1
			break
		}
	}
	return t
}

func (c candidate) target(names *portmap.Names) *ForwardTarget {
	t := &ForwardTarget{Prog: c.prog, Vers: c.vers, Netid: c.netid, Uaddr: c.uaddr}
	t.Name, _ = names.Name(c.prog)
	return t
}

// pingDirect calls NULL of (prog, vers) at addr over UDP within window and
// says how it answered: DirectAnswers, the reply's status, StatusSilent,
// StatusRefused or StatusError, with the details of a failure.
func pingDirect(ctx context.Context, addr netip.AddrPort, prog, vers uint32, window time.Duration) (string, string) {
	ctx, cancel := context.WithTimeout(ctx, window)
	defer cancel()
	c, err := rpc.Dial(ctx, "udp", addr.String(), nil)
	if err != nil {
		return StatusError, err.Error()
	}
	defer c.Close()
	_, err = c.Call(ctx, prog, vers, portmap.ProcNull, nil)
	if err == nil {
		return DirectAnswers, ""
	}
	outcome, _ := callOutcome(err)
	if outcome == StatusSilent {
		return outcome, ""
	}
	return outcome, err.Error()
}

// classify sets the outcome of a remote call from its reply; targetAnswers
// says whether the target answered when called directly.
func (c *RemoteCall) classify(targetAnswers bool) {
	c.Outcome = OutcomeInconclusive
	switch c.Status {
	case rpc.AcceptSuccess.String():
		d := xdr.NewDecoder(c.results)
		if c.Call == CallitV2 {
			var res portmap.CallResult
			res.Decode(d)
			if d.Err() == nil && d.Remaining() == 0 {
				c.Outcome, c.Via = OutcomeForwarded, fmt.Sprint(res.Port)
			}
		} else {
			var res portmap.RmtCallRes
			res.Decode(d)
			if d.Err() == nil && d.Remaining() == 0 {
				c.Outcome, c.Via = OutcomeForwarded, res.Addr
			}
		}
	case rpc.AcceptSystemErr.String(), rpc.AcceptProcUnavail.String(),
		rpc.RejectAuthError.String(), rpc.RejectRPCMismatch.String():
		c.Outcome = OutcomeRefused
	case StatusSilent:
		if targetAnswers {
			c.Outcome = OutcomeRefused
		}
	}
}

// decide sets the verdict and its reason from the calls' outcomes.
func (f *Forwarding) decide() {
	var fwd, parts []string
	refused := 0
	for _, c := range f.Calls {
		parts = append(parts, c.Call+": "+c.Status)
		switch c.Outcome {
		case OutcomeForwarded:
			fwd = append(fwd, c.Label())
		case OutcomeRefused:
			refused++
		}
	}
	t := f.Target
	if t.Self && len(fwd) == 0 {
		why := "no registered program answered, so "
		if t.Given {
			why = ""
		}
		f.Verdict = ForwardsUnknown
		f.Reason = fmt.Sprintf("%sthe port mapper itself was the target, and a mapper may refuse "+
			"to forward to itself alone (%s)", why, strings.Join(parts, ", "))
		return
	}
	prog := fmt.Sprintf("program %d version %d", t.Prog, t.Vers)
	if t.Name != "" {
		prog = fmt.Sprintf("%s (%d) version %d", t.Name, t.Prog, t.Vers)
	}
	answers := "answers NULL when called directly"
	if t.Direct != DirectAnswers {
		answers = "did not answer when called directly (" + t.Direct + ")"
	}
	switch {
	case len(fwd) > 0:
		f.Verdict = ForwardsYes
		f.Reason = fmt.Sprintf("the mapper returned the NULL result of %s through %s", prog, strings.Join(fwd, " and "))
	case refused == len(f.Calls):
		f.Verdict = ForwardsNo
		f.Reason = fmt.Sprintf("%s %s; the mapper did not forward it (%s)", prog, answers, strings.Join(parts, ", "))
	default:
		f.Verdict = ForwardsUnknown
		f.Reason = fmt.Sprintf("%s %s, and the mapper's answers do not tell (%s)", prog, answers, strings.Join(parts, ", "))
	}
}

// Label names the call as a person reads it: "CALLIT v2", "INDIRECT v4".
func (c RemoteCall) Label() string {
	switch c.Call {
	case CallitV2:
		return "CALLIT v2"
	case IndirectV4:
		return "INDIRECT v4"
	}
	return c.Call
}

// clause is the forwarding part of a report's summary.
func (f *Forwarding) clause() string {
	switch f.Verdict {
	case ForwardsYes:
		var via []string
		for _, c := range f.Calls {
			if c.Outcome == OutcomeForwarded {
				via = append(via, c.Label())
			}
		}
		return "forwards remote calls (" + strings.Join(via, ", ") + ")"
	case ForwardsNo:
		return "does not forward remote calls"
	}
	return "forwarding unknown"
}
