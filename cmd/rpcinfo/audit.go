package main

import (
	"bytes"
	"context"
	"strings"

	"github.com/portmap-toolkit/pmap/internal/render"
	"github.com/portmap-toolkit/pmap/pkg/audit"
)

// auditUsage is the synopsis --audit's refusals end with.
const auditUsage = "rpcinfo --audit [--probe list] [--no-forward] [--window d] [--attempts n] host..."

// auditHosts is rpcinfo --audit host...: the reflection audit of each host
// (pkg/audit), one report each, in the order given. The addresses of ranges
// are swept first, as the listings do, and only those whose port mapper
// answers are audited. The exit status is 2 when a host is a reflector or a
// forwarder, else 1 when a host could not be audited or nothing was, else 0.
func (r *runner) auditHosts(ctx context.Context) error {
	q := &r.req
	if q.mode != modeNone || q.hasNetid || q.port != 0 || len(q.args) == 0 {
		return r.fail("%s: --%s takes hosts and no mode, -T or -n (--port names the port mapper's port): %s",
			r.prog, flagAudit, auditUsage)
	}
	targets, err := parseExposureTargets(q.args)
	if err != nil {
		return r.fail("%s: %s", r.prog, err)
	}
	for _, t := range targets {
		if t.Ranged && t.port != 0 {
			return r.fail("%s: --%s: a range takes no port (%s): use --%s", r.prog, flagAudit, t.name(), flagPort)
		}
	}
	parallel, err := r.exposureParallel(audit.DefaultParallel, maxAuditParallel)
	if err != nil {
		return err
	}
	e := &r.cfg.exposure
	opts := &audit.AuditOptions{
		Port:           r.mapperPort(),
		Probes:         e.probes,
		Window:         e.window,
		Attempts:       e.attempts,
		Timeout:        r.cfg.timeout,
		SkipForwarding: e.noForward,
		Names:          r.names,
	}
	sweep := r.cfg.timeout
	if sweep <= 0 {
		sweep = scanTimeout
	}
	many := len(targets) > 1
	plan := scanPlan{sweep: sweep, parallel: parallel, separate: r.cfg.format != render.JSON, progress: r.cfg.progress && many}
	n := r.scan(ctx, scanTargets(targets), plan, func(ctx context.Context, i int) hostResult {
		rep := audit.AuditHost(ctx, targets[i].name(), opts)
		return r.auditResult(rep, many)
	})
	switch {
	case n.found > 0:
		return errFound
	case n.failed > 0 || n.shown == 0:
		return errFailed
	}
	return nil
}

// auditResult renders one report. A host that could not be audited is a
// failure: the JSON form prints its report (verdict "error"), the others its
// error on standard error, in rpcinfo's words.
func (r *runner) auditResult(rep audit.Report, many bool) hostResult {
	res := hostResult{failed: rep.Verdict == audit.VerdictError, found: rep.Finding()}
	if res.failed && r.cfg.format != render.JSON {
		res.errText = []byte(r.prog + ": " + strings.TrimPrefix(rep.Error, "audit: ") + "\n")
		return res
	}
	var out bytes.Buffer
	p := render.New(&out, render.Options{Format: r.cfg.format, Color: r.cfg.color, Names: r.names, Host: rep.Host, Lines: many})
	if err := p.Audit(rep); err != nil {
		res.failed = true
		res.errText = []byte(r.prog + ": " + err.Error() + "\n")
	}
	res.out = out.Bytes()
	return res
}
