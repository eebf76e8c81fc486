package main

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"syscall"
	"time"

	"github.com/portmap-toolkit/pmap/internal/render"
	"github.com/portmap-toolkit/pmap/pkg/client"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
)

// --verify: after a listing, call NULL at every registered address over its
// own transport, and tell for each registration whether something answers
// there, as the registration says it should.

// verifyParallel is how many registrations of one host are called at once.
// A port mapper lists a few dozen registrations; eight calls at a time make
// a host's check take about one timeout when several are silent, and with
// --parallel hosts at once stay within the usual 1,024 open files.
const verifyParallel = 8

// verify checks every registration of list, found by the port mapper of
// host reached at mapperAddr (the zero Addr for the local mapper), prints
// the checks and fails unless all answered.
func (r *runner) verify(ctx context.Context, host string, mapperAddr netip.Addr, list []portmap.RPCB) error {
	checks := make([]render.Check, len(list))
	client.ForEach(ctx, len(list), verifyParallel, func(ctx context.Context, i int) render.Check {
		return r.checkReg(ctx, host, mapperAddr, list[i])
	}, func(i int, c render.Check) { checks[i] = c })
	if err := r.out.Checks(checks); err != nil {
		return err
	}
	bad := 0
	for _, c := range checks {
		if !c.OK() {
			bad++
		}
	}
	if bad == 0 {
		return nil
	}
	if r.cfg.format == render.Classic {
		return r.fail("rpcinfo: %d of %d registrations do not answer as registered", bad, len(checks))
	}
	return errFailed
}

// checkReg calls NULL of one registration at its address.
func (r *runner) checkReg(ctx context.Context, host string, mapperAddr netip.Addr, reg portmap.RPCB) render.Check {
	c := render.Check{Reg: reg}
	network, address, why := r.regTarget(ctx, host, mapperAddr, reg)
	if why != "" {
		c.Verdict, c.Err = render.Skipped, why
		return c
	}
	c.Target = address
	pr := r.probe(ctx, network, address, reg.Prog, reg.Vers)
	c.Verdict, c.Low, c.High, c.RTT = pr.verdict, pr.low, pr.high, pr.rtt
	if pr.err != nil && pr.verdict == render.Failed {
		c.Err = callText(pr.err)
	}
	return c
}

// regTarget returns the Go network and address at which to call a
// registration, or why it cannot be called from here. A wildcard address
// means the host's own address of that family; a loopback address or a unix
// socket belongs to the host that registered it, so it can be called only
// when that host is this one.
func (r *runner) regTarget(ctx context.Context, host string, mapperAddr netip.Addr, reg portmap.RPCB) (network, address, why string) {
	local := !mapperAddr.IsValid() || mapperAddr.IsLoopback()
	n, ok := getnetconfigent(reg.Netid)
	switch {
	case !ok || (n.proto == "-" && !n.local()):
		return "", "", "netid " + reg.Netid + " cannot be called"
	case n.local():
		if !local {
			return "", "", "a unix socket of " + host
		}
		network, address, err := portmap.DialAddress(n.canonical(), reg.Addr)
		if err != nil {
			return "", "", "bad address: " + err.Error()
		}
		return network, address, ""
	}
	ap, err := portmap.ParseUaddr(reg.Netid, reg.Addr)
	if err != nil {
		return "", "", "bad address " + reg.Addr
	}
	a := ap.Addr().Unmap()
	switch {
	case a.IsUnspecified() && local:
		a = netip.MustParseAddr("127.0.0.1")
		if n.family == portmap.FamilyInet6 {
			a = netip.IPv6Loopback()
		}
	case a.IsUnspecified():
		a = mapperAddr
		if a.Is4() != (n.family == portmap.FamilyInet) {
			other, err := resolve(ctx, host, n.ipFamily())
			if err != nil {
				return "", "", host + " has no " + familyName(n) + " address to call"
			}
			a = other
		}
	case a.IsLoopback() && !local:
		return "", "", "the loopback of " + host
	}
	return n.goNetwork(), netip.AddrPortFrom(a, ap.Port()).String(), ""
}

// probeResult is the outcome of one NULL call.
type probeResult struct {
	verdict   render.Verdict
	low, high uint32        // for Mismatch
	rtt       time.Duration // from the call to its answer, when one came
	err       error
}

// probe calls NULL of (prog, vers) at address over network, within
// rpcinfo's ping timeout (or the query's, under --timeout), and classifies
// the outcome. The round-trip time is that of the call, after a TCP
// connection is made.
func (r *runner) probe(ctx context.Context, network, address string, prog, vers uint32) probeResult {
	ctx, cancel := r.callCtx(ctx, pingTimeout)
	defer cancel()
	rc, err := rpc.Dial(ctx, network, address, nil)
	if err != nil {
		return classify(err, 0)
	}
	defer rc.Close()
	start := time.Now()
	_, err = rc.Call(ctx, prog, vers, 0, nil)
	return classify(err, time.Since(start))
}

// classify turns the outcome of a NULL call into a verdict.
func classify(err error, rtt time.Duration) probeResult {
	if err == nil {
		return probeResult{verdict: render.Alive, rtt: rtt}
	}
	e := asRPCError(err)
	res := probeResult{verdict: render.Failed, err: err}
	switch {
	case e.Status == rpc.ProgVersMismatch:
		res.verdict, res.low, res.high, res.rtt = render.Mismatch, e.Low, e.High, rtt
	case e.Status == rpc.ProgUnavail:
		res.verdict, res.rtt = render.Unavailable, rtt
	case errors.Is(err, syscall.ECONNREFUSED):
		res.verdict = render.Refused
	case e.Status == rpc.TimedOut || e.Timeout() || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, os.ErrDeadlineExceeded):
		res.verdict = render.Silent
	}
	return res
}

// familyName is "IPv4" or "IPv6", the family of an IP netid.
func familyName(n netconf) string {
	if n.family == portmap.FamilyInet6 {
		return "IPv6"
	}
	return "IPv4"
}
