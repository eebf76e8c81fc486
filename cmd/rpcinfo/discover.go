package main

import (
	"bytes"
	"context"
	"strings"

	"github.com/portmap-toolkit/pmap/internal/render"
	"github.com/portmap-toolkit/pmap/pkg/audit"
)

// discoverUsage is the synopsis --discover's refusals end with.
const discoverUsage = "rpcinfo --discover -T udp|tcp [--programs list] [--rate n] host:port... (or -n port host...)"

// discover is rpcinfo --discover -T udp|tcp host:port... (or -n port
// host...): which programs answer at each target, found without the port
// mapper (pkg/audit), in the order given. Every target is asked; an address
// of a range where no RPC service answers gets no line. The exit status is 0
// when a program was found and every target could be asked, else 1.
func (r *runner) discover(ctx context.Context) error {
	q := &r.req
	network := q.netid
	if q.mode != modeNone || (network != "udp" && network != "tcp") || len(q.args) == 0 {
		return r.fail("%s: --%s takes -T udp or -T tcp, targets and no mode: %s", r.prog, flagDiscover, discoverUsage)
	}
	targets, err := parseExposureTargets(q.args)
	if err != nil {
		return r.fail("%s: %s", r.prog, err)
	}
	for i := range targets {
		t := &targets[i]
		switch {
		case t.port == 0 && q.port == 0:
			return r.fail("%s: --%s: %s has no port: give host:port, or -n port", r.prog, flagDiscover, t.Host)
		case t.port == 0:
			t.port = q.port
		}
	}
	parallel, err := r.exposureParallel(audit.DefaultParallel, maxParallel)
	if err != nil {
		return err
	}
	e := &r.cfg.exposure
	opts := &audit.DiscoverOptions{
		Programs:    e.programs,
		Names:       r.names,
		Rate:        e.rate,
		CallTimeout: e.window,
		Timeout:     r.cfg.timeout,
	}
	many := len(targets) > 1
	plan := scanPlan{parallel: parallel, separate: r.cfg.format == render.Table, progress: r.cfg.progress && many}
	n := r.scan(ctx, scanTargets(targets), plan, func(ctx context.Context, i int) hostResult {
		t := targets[i]
		d := audit.DiscoverTarget(ctx, audit.Target{Network: network, Addr: t.name()}, opts)
		return r.discoveryResult(d, t, many)
	})
	if n.found == 0 || n.failed > 0 {
		return errFailed
	}
	return nil
}

// discoveryResult renders one target's discovery. An address of a range
// where no RPC service answers is skipped, as the sweep skips those of a
// listing: silent, refused, or unreachable (an error: a range holds only
// addresses, so nothing but the network can fail there). A named target
// that could not be asked is a failure: the JSON form prints its document
// (state "error"), the others its error on standard error.
func (r *runner) discoveryResult(d audit.Discovery, t exposureTarget, many bool) hostResult {
	switch d.State {
	case audit.StateSilent, audit.StateRefused, audit.StateError:
		if t.Ranged {
			return hostResult{skipped: true}
		}
	}
	res := hostResult{failed: d.State == audit.StateError, found: len(d.Programs) > 0,
		live: d.State == audit.StateRPC || d.State == audit.StateAnyProgram}
	if res.failed && r.cfg.format != render.JSON {
		res.errText = []byte(r.prog + ": " + strings.TrimPrefix(d.Error, "audit: ") + "\n")
		return res
	}
	var out bytes.Buffer
	p := render.New(&out, render.Options{Format: r.cfg.format, Color: r.cfg.color, Names: r.names, Host: t.Host, Lines: many})
	if err := p.Discovery(d); err != nil {
		res.failed = true
		res.errText = []byte(r.prog + ": " + err.Error() + "\n")
	}
	res.out = out.Bytes()
	return res
}
