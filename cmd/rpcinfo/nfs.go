package main

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/portmap-toolkit/pmap/internal/render"
	"github.com/portmap-toolkit/pmap/pkg/client"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
)

// --nfs host follows the path an NFS client takes to mount from host and
// to lock its files: the port mapper (over tcp and udp), then mountd, nfs,
// nlockmgr and status, each at the ports the mapper gives, over tcp and
// udp. Each step is one line with a verdict and, when it is not ok, the
// likely cause in words an administrator can act on.

// nfsPort is where NFS servers listen by convention (RFC 7530 §3.1): an
// NFSv4 client connects there without asking the port mapper.
const nfsPort = 2049

// maxMapperVersions caps the versions of the port mapper's range that --nfs
// lists: a port mapper serves 2 to 4; a wider range is a broken one, whose
// start is enough to show.
const maxMapperVersions = 8

// nfsProgram is one program an NFS client needs after the port mapper.
type nfsProgram struct {
	name   string // as /etc/rpc names it
	prog   uint32 // its number
	need   uint32 // the version an NFSv3 client cannot do without
	daemon string // what to restart when it is stale
	// missing is the cause when it is registered on no transport.
	missing string
}

// nfsPrograms are the steps after the port mapper, in the order an NFSv3
// mount and its first lock go through them.
var nfsPrograms = []nfsProgram{
	{name: "mountd", prog: 100005, need: 3, daemon: "rpc.mountd",
		missing: "mountd is not registered: is rpc.mountd running (nfs-server starts it)? NFSv3 mounts fail; NFSv4 mounts do not need it"},
	{name: "nfs", prog: 100003, need: 3, daemon: "nfs-server",
		missing: "nfs is not registered: is nfs-server running?"},
	{name: "nlockmgr", prog: 100021, need: 4, daemon: "nfs-server (which restarts lockd)",
		missing: "nlockmgr is not registered: lockd is not running (nfs-server starts it); NFSv3 locks (flock, fcntl) will hang"},
	{name: "status", prog: 100024, need: 1, daemon: "rpc-statd",
		missing: "status is not registered: is rpc-statd running? NFSv3 locks will not be recovered after a reboot"},
}

// nfsPath is rpcinfo --nfs host.
func (r *runner) nfsPath(ctx context.Context) error {
	if r.req.mode != modeNone || len(r.req.args) != 1 || r.cfg.verify {
		return r.fail("%s: --%s takes one host and no mode: rpcinfo --nfs host", r.prog, flagNFS)
	}
	host := r.req.args[0]
	addr, err := resolve(ctx, host, "ip")
	if err != nil {
		return r.fail("%s: %s", host, createText(err))
	}
	fam := ""
	if addr.Is6() {
		fam = "6"
	}
	protos := []string{"tcp" + fam, "udp" + fam}

	steps := r.mapperSteps(ctx, addr, protos)
	answering := ""
	for _, s := range steps {
		if s.Verdict == render.StepOK || len(s.Versions) > 0 {
			answering = s.Proto
			break
		}
	}
	if answering == "" {
		steps = append(steps, r.withoutMapper(ctx, addr)...)
	} else {
		steps = append(steps, r.programSteps(ctx, host, addr, answering, protos)...)
	}
	r.out.SetHost(host)
	if err := r.out.NFSPath(host, steps); err != nil {
		return err
	}
	if !render.NFSOK(steps) {
		return errFailed
	}
	return nil
}

// stepCtx bounds one step: --timeout (here each step's limit), or
// rpcinfo's ping timeout.
func (r *runner) stepCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if r.cfg.timeout > 0 {
		return context.WithTimeout(ctx, r.cfg.timeout)
	}
	return context.WithTimeout(ctx, pingTimeout)
}

// nullAt calls NULL of (prog, vers) at ap over network within a step's
// time.
func (r *runner) nullAt(ctx context.Context, network string, ap netip.AddrPort, prog, vers uint32) probeResult {
	ctx, cancel := r.stepCtx(ctx)
	defer cancel()
	return r.probe(ctx, network, ap.String(), prog, vers)
}

// mapperSteps calls the port mapper over tcp and over udp, at once: NULL of
// version 0, which a mapper refuses with the range of versions it serves.
func (r *runner) mapperSteps(ctx context.Context, addr netip.Addr, protos []string) []render.NFSStep {
	port := r.mapperPort()
	ap := netip.AddrPortFrom(addr, uint16(port))
	res := make([]probeResult, len(protos))
	var wg sync.WaitGroup
	for i, proto := range protos {
		wg.Go(func() { res[i] = r.nullAt(ctx, goNetwork(proto), ap, portmap.Program, 0) })
	}
	wg.Wait()
	steps := make([]render.NFSStep, len(protos))
	for i, proto := range protos {
		s := render.NFSStep{Name: "portmapper", Prog: portmap.Program, Proto: proto, Port: uint32(port)}
		p := res[i]
		switch p.verdict {
		case render.Mismatch, render.Alive:
			s.Verdict, s.RTT = render.StepOK, p.rtt
			if p.verdict == render.Alive {
				p.low, p.high = 0, 0 // answers version 0: rare, but it answers
			}
			for v := p.low; v <= p.high && v-p.low < maxMapperVersions; v++ {
				s.Versions = append(s.Versions, v)
			}
			s.Detail = "serves versions " + versionList(s.Versions)
		default:
			s.Verdict = render.StepFailed
			s.Detail = probeDetail(p)
		}
		steps[i] = s
	}
	tcp, udp := &steps[0], &steps[1]
	tv, uv := res[0].verdict, res[1].verdict
	tOK, uOK := tcp.Verdict == render.StepOK, udp.Verdict == render.StepOK
	switch {
	case tOK && !uOK:
		udp.Cause = oneTransportCause("tcp", "udp", port, uv)
	case uOK && !tOK:
		tcp.Cause = oneTransportCause("udp", "tcp", port, tv)
	case !tOK && !uOK:
		cause := fmt.Sprintf("nothing answers on port %d: the port mapper cannot be reached (%s, %s)", port, tv, uv)
		switch {
		case tv == render.Refused && uv == render.Refused:
			cause = fmt.Sprintf("nothing listens on port %d: is rpcbind running? (systemctl start rpcbind)", port)
		case tv == render.Silent && uv == render.Silent:
			cause = fmt.Sprintf("nothing answers on port %d, not even a refusal: the host is down or a firewall drops port %d", port, port)
		}
		tcp.Cause, udp.Cause = cause, cause
	}
	return steps
}

// oneTransportCause is the cause of a port mapper that answers over ok but
// not over bad, which found verdict there.
func oneTransportCause(ok, bad string, port int, verdict render.Verdict) string {
	switch verdict {
	case render.Silent:
		return fmt.Sprintf("the port mapper answers on %s but not %s: a firewall drops %s %d", ok, bad, bad, port)
	case render.Refused:
		return fmt.Sprintf("the port mapper answers on %s but %s %d is closed: it does not listen on %s, or a firewall rejects %s %d",
			ok, bad, port, bad, bad, port)
	}
	return fmt.Sprintf("the port mapper answers on %s but not %s", ok, bad)
}

// withoutMapper is the rest of the path when the port mapper does not
// answer: every program is skipped, but an NFSv4 server may still answer
// at its standard port, and NFSv4 mounts need nothing else.
func (r *runner) withoutMapper(ctx context.Context, addr netip.Addr) []render.NFSStep {
	var steps []render.NFSStep
	for _, p := range nfsPrograms {
		steps = append(steps, render.NFSStep{Name: p.name, Prog: p.prog, Proto: "-", Verdict: render.StepSkipped,
			Detail: "not checked", Cause: "the port mapper does not answer"})
	}
	network := "tcp4"
	if addr.Is6() {
		network = "tcp6"
	}
	pr := r.nullAt(ctx, network, netip.AddrPortFrom(addr, nfsPort), 100003, 4)
	s := render.NFSStep{Name: "nfs", Prog: 100003, Proto: strings.TrimSuffix(network, "4"), Port: nfsPort}
	if pr.verdict == render.Alive {
		s.Verdict, s.Versions, s.RTT = render.StepOK, []uint32{4}, pr.rtt
		s.Detail = "version 4 answers at the standard port, without the port mapper"
		s.Cause = ""
		steps = append(steps, s)
		return steps
	}
	s.Verdict, s.Detail = render.StepFailed, probeDetail(pr)
	s.Cause = fmt.Sprintf("no NFSv4 server answers at tcp %d either", nfsPort)
	return append(steps, s)
}

// programSteps reads the registrations over proto, a transport on which the
// mapper answers, and checks each program of nfsPrograms over each of
// protos.
func (r *runner) programSteps(ctx context.Context, host string, addr netip.Addr, proto string, protos []string) []render.NFSStep {
	list, err := r.nfsDump(ctx, addr, proto)
	if err != nil {
		var steps []render.NFSStep
		for _, p := range nfsPrograms {
			steps = append(steps, render.NFSStep{Name: p.name, Prog: p.prog, Proto: "-", Verdict: render.StepSkipped,
				Detail: "not checked", Cause: "the port mapper answers but does not list its registrations: " + callText(err)})
		}
		return steps
	}
	type job struct {
		p     nfsProgram
		proto string
		regs  []portmap.RPCB
	}
	var jobs []job
	var out [][]render.NFSStep
	for _, p := range nfsPrograms {
		var any bool
		for _, pr := range protos {
			regs := registered(list, p.prog, pr)
			any = any || len(regs) > 0
			jobs = append(jobs, job{p, pr, regs})
		}
		if !any {
			jobs = jobs[:len(jobs)-len(protos)]
			jobs = append(jobs, job{p: p, proto: "-"})
		}
	}
	out = make([][]render.NFSStep, len(jobs))
	client.ForEach(ctx, len(jobs), verifyParallel, func(ctx context.Context, i int) []render.NFSStep {
		j := jobs[i]
		if j.proto == "-" {
			return []render.NFSStep{{Name: j.p.name, Prog: j.p.prog, Proto: "-", Verdict: render.StepFailed,
				Detail: "not registered", Cause: j.p.missing}}
		}
		return r.programStep(ctx, addr, j.p, j.proto, j.regs)
	}, func(i int, s []render.NFSStep) { out[i] = s })
	var steps []render.NFSStep
	for _, s := range out {
		steps = append(steps, s...)
	}
	return steps
}

// nfsDump lists the registrations of the mapper at addr over proto: rpcbind
// DUMP version 3 (4 if the mapper serves only 4), or portmap version 2
// converted as rpcinfo converts it.
func (r *runner) nfsDump(ctx context.Context, addr netip.Addr, proto string) ([]portmap.RPCB, error) {
	ctx, cancel := r.stepCtx(ctx)
	defer cancel()
	c := r.ipClient(addr, goNetwork(proto))
	defer c.Close()
	list, err := c.RpcbDump(ctx, portmap.V3)
	if e := asRPCError(err); err != nil && (e.Status == rpc.ProgVersMismatch || e.Status == rpc.ProgUnavail) {
		if e.Low == portmap.V4 {
			return c.RpcbDump(ctx, portmap.V4)
		}
		ms, err := c.PmapDump(ctx)
		return rpcbFromMappings(ms), err
	}
	return list, err
}

// registered returns the registrations of prog over netid.
func registered(list []portmap.RPCB, prog uint32, netid string) []portmap.RPCB {
	var out []portmap.RPCB
	for _, r := range list {
		if r.Prog == prog && r.Netid == netid {
			out = append(out, r)
		}
	}
	return out
}

// programStep checks program p over proto: a line for each address it is
// registered at (nearly always one), or one saying it is not registered.
func (r *runner) programStep(ctx context.Context, addr netip.Addr, p nfsProgram, proto string, regs []portmap.RPCB) []render.NFSStep {
	if len(regs) == 0 {
		s := render.NFSStep{Name: p.name, Prog: p.prog, Proto: proto, Verdict: render.StepWarning, Detail: "not registered"}
		bare := strings.TrimSuffix(proto, "6")
		s.Cause = fmt.Sprintf("%s is not registered on %s: clients that ask for %s fail, the others use the other transport", p.name, bare, bare)
		switch {
		case p.name == "nfs" && bare == "udp":
			s.Cause = "nfs is not registered on udp: NFS over udp is off (the default of recent kernels); mount with proto=tcp"
		case p.name == "nfs" && bare == "tcp":
			s.Verdict = render.StepFailed
			s.Cause = "nfs is not registered on tcp: NFSv4 and most NFSv3 clients need tcp; enable it for nfsd (/etc/nfs.conf)"
		}
		return []render.NFSStep{s}
	}
	// Group the registered versions by address, in the mapper's order.
	var addrs []string
	vers := make(map[string][]uint32)
	for _, reg := range regs {
		if _, ok := vers[reg.Addr]; !ok {
			addrs = append(addrs, reg.Addr)
		}
		vers[reg.Addr] = append(vers[reg.Addr], reg.Vers)
	}
	var steps []render.NFSStep
	for _, ua := range addrs {
		steps = append(steps, r.checkProgramAt(ctx, addr, p, proto, ua, vers[ua]))
	}
	return steps
}

// checkProgramAt calls NULL of each registered version of p at the universal
// address ua. The first version that finds nothing there (refused, silent)
// decides: the others would find the same.
func (r *runner) checkProgramAt(ctx context.Context, addr netip.Addr, p nfsProgram, proto, ua string, versions []uint32) render.NFSStep {
	s := render.NFSStep{Name: p.name, Prog: p.prog, Proto: proto}
	bare := strings.TrimSuffix(proto, "6")
	ap, err := portmap.ParseUaddr(proto, ua)
	if err != nil {
		s.Verdict, s.Detail = render.StepFailed, "registered at "+ua
		s.Cause = fmt.Sprintf("%s is registered at a bad address: remove the registration (rpcinfo -d %s VERSION) and restart %s", p.name, p.name, p.daemon)
		return s
	}
	s.Port = uint32(ap.Port())
	if a := ap.Addr().Unmap(); a.IsLoopback() && !addr.IsLoopback() {
		s.Verdict, s.Detail = render.StepFailed, "registered at "+ua
		s.Cause = fmt.Sprintf("%s listens only on the loopback of the host: clients elsewhere cannot reach it; make %s listen on every address",
			p.name, p.daemon)
		return s
	}
	// A wildcard, or one of the host's own addresses: call it where the
	// mapper was reached, which is where a client calls.
	dest := netip.AddrPortFrom(addr, ap.Port())
	slices.Sort(versions)
	versions = slices.Compact(versions)
	var worst *probeResult
	var mismatched []uint32
	for _, v := range versions {
		pr := r.nullAt(ctx, goNetwork(proto), dest, p.prog, v)
		switch pr.verdict {
		case render.Alive:
			s.Versions = append(s.Versions, v)
			if s.RTT == 0 || pr.rtt < s.RTT {
				s.RTT = pr.rtt
			}
			continue
		case render.Mismatch:
			mismatched = append(mismatched, v)
			if worst == nil {
				worst = &pr
			}
			continue
		}
		worst = &pr
		break
	}
	switch {
	case worst == nil:
		s.Verdict = render.StepOK
		s.Detail = answerText(s.Versions)
		if !slices.Contains(s.Versions, p.need) && p.name != "nfs" {
			s.Verdict = render.StepWarning
			s.Cause = fmt.Sprintf("version %d, which NFSv3 clients need, is not registered on %s", p.need, bare)
		}
		if p.name == "nfs" && !slices.Contains(s.Versions, 3) && !slices.Contains(s.Versions, 4) {
			s.Verdict = render.StepWarning
			s.Cause = "neither version 3 nor 4 is registered: only NFSv2 clients can mount"
		}
	case worst.verdict == render.Refused:
		s.Verdict, s.Detail = render.StepFailed, "refused"
		s.Cause = fmt.Sprintf("%s is registered on %s %d but nothing answers there: restart %s or remove the stale registration",
			p.name, bare, s.Port, p.daemon)
	case worst.verdict == render.Silent:
		s.Verdict, s.Detail = render.StepFailed, "no answer"
		s.Cause = fmt.Sprintf("%s is registered on %s %d but nothing answers there, not even a refusal: a firewall drops %s %d; allow it, or fix %s's port in /etc/nfs.conf and allow that one",
			p.name, bare, s.Port, bare, s.Port, p.name)
	case worst.verdict == render.Mismatch:
		s.Verdict = render.StepFailed
		if len(s.Versions) > 0 {
			s.Verdict = render.StepWarning
		}
		s.Detail = fmt.Sprintf("versions %s registered, the program there serves %d-%d", versionList(versions), worst.low, worst.high)
		s.Cause = fmt.Sprintf("the registration of %s version %s on %s %d is stale: the program now there serves versions %d-%d; restart %s",
			p.name, versionList(mismatched), bare, s.Port, worst.low, worst.high, p.daemon)
	case worst.verdict == render.Unavailable:
		s.Verdict, s.Detail = render.StepFailed, "another program answers"
		s.Cause = fmt.Sprintf("%s %d answers, but not as %s: the registration is stale and another program took the port; restart %s",
			bare, s.Port, p.name, p.daemon)
	default:
		s.Verdict, s.Detail = render.StepFailed, callText(worst.err)
	}
	return s
}

// probeDetail is what a failed probe found, in a few words.
func probeDetail(p probeResult) string {
	switch p.verdict {
	case render.Refused:
		return "refused"
	case render.Silent:
		return "no answer"
	case render.Unavailable:
		return "another program answers"
	case render.Mismatch:
		return fmt.Sprintf("serves versions %d-%d", p.low, p.high)
	}
	if p.err != nil {
		return callText(p.err)
	}
	return p.verdict.String()
}

// answerText says which versions answered: "version 1 answers", "versions
// 1,2,3 answer".
func answerText(vs []uint32) string {
	if len(vs) == 1 {
		return "version " + versionList(vs) + " answers"
	}
	return "versions " + versionList(vs) + " answer"
}

// versionList prints versions as "1,2,3".
func versionList(vs []uint32) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = strconv.FormatUint(uint64(v), 10)
	}
	return strings.Join(parts, ",")
}

// goNetwork is the Go network of an IP netid: "tcp" is "tcp4".
func goNetwork(netid string) string {
	if strings.HasSuffix(netid, "6") {
		return netid
	}
	return netid + "4"
}
