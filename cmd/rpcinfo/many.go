package main

import (
	"bytes"
	"context"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/portmap-toolkit/pmap/internal/render"
	"github.com/portmap-toolkit/pmap/pkg/client"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

// The listings (default, -s, -p, -m, -l) ask several hosts at once when a
// host operand is a comma-separated list or a CIDR range: then every host
// operand is a host, a list or a range. Several plain hosts stay what they
// are in the original (a usage error for -p, -s and -l, a ping for
// "host prog", the first host for -m), so that every classic command line
// keeps its meaning; "a,b" asks both. Each host is listed by the same code as
// a single host, into buffers of its own, and the answers are printed in the
// order the hosts were given, each labelled with its host.

// scanTimeout bounds each host of a query of several, and the sweep of the
// ranges, when --timeout is not given. A port mapper answers in
// milliseconds; five seconds leaves room for a loaded host and for three UDP
// retransmissions (at 0.5, 1.5 and 3.5 s), while a range where most
// addresses never answer still takes about five seconds, not rpcinfo's 60 a
// host.
const scanTimeout = 5 * time.Second

// maxParallel caps --parallel. The named hosts and the addresses of ranges
// that answered the sweep are asked by two groups of up to --parallel each,
// each host holding one or two sockets (and --verify up to verifyParallel
// more), so two groups of 50 stay within the usual limit of 1,024 open
// files.
const maxParallel = 50

// manyHosts tells whether the command line asks several hosts, and returns
// the host operands and those after them (-l's program and version).
func (r *runner) manyHosts() (hosts, rest []string, ok bool) {
	q := &r.req
	args := q.args
	anyMany := func(list []string) bool {
		for _, a := range list {
			if client.IsMany(a) {
				return true
			}
		}
		return false
	}
	switch q.mode {
	case modePmapDump, modeDumpShort, modeStats:
		return args, nil, anyMany(args)
	case modeDump, modeProgPing:
		// With a list or a range, "a,b c" lists three hosts.
		if anyMany(args) {
			q.mode = modeDump
			return args, nil, true
		}
	case modeAddrList:
		if len(args) >= 3 && anyMany(args[:len(args)-2]) {
			return args[:len(args)-2], args[len(args)-2:], true
		}
	}
	return nil, nil, false
}

// hostResult is what asking one host printed.
type hostResult struct {
	skipped bool // an address of a range whose port mapper did not answer the sweep
	out     []byte
	errText []byte
	failed  bool
	found   bool // --audit: a reflector or forwarder; --discover: a program
	live    bool // something answered (counted by the progress bar when there is no sweep)
}

// many lists every host of hosts with the mode of r.req; rest are the
// operands that follow each host.
func (r *runner) many(ctx context.Context, hosts, rest []string) error {
	if r.req.mode == modePmapDump && r.req.port != 0 {
		return r.usage()
	}
	targets, err := client.ParseTargets(hosts)
	if err != nil {
		return r.fail("%s: %s", r.prog, strings.TrimPrefix(err.Error(), "client: "))
	}
	perHost := r.cfg.timeout
	if perHost <= 0 {
		perHost = scanTimeout
	}
	plan := scanPlan{sweep: perHost, parallel: r.cfg.parallel, label: true, progress: r.cfg.progress}
	n := r.scan(ctx, targets, plan, func(ctx context.Context, i int) hostResult {
		return r.askHost(ctx, targets[i].Host, rest, perHost)
	})
	if n.failed > 0 || n.shown == 0 {
		return errFailed
	}
	return nil
}

// scanPlan says how scan asks many hosts.
type scanPlan struct {
	// sweep, if not zero, is how long the addresses of ranges are swept
	// for a port mapper that answers (at --port); only those are asked.
	// Zero asks every address.
	sweep time.Duration
	// parallel bounds the hosts asked at once, in each of two groups: the
	// named hosts, and the addresses of ranges.
	parallel int
	// label heads each host's output with "host:" (listings, classic and
	// table forms); separate puts a blank line between hosts' outputs
	// instead (blocks that name their host themselves).
	label, separate bool
	// progress draws the progress bar.
	progress bool
}

// scanTally counts the hosts of a scan.
type scanTally struct {
	shown  int // hosts whose answer was printed (not skipped)
	failed int // hosts that failed
	found  int // hosts with a finding
}

// scan asks every target with ask (i is the target's index), and prints
// the answers in the order of targets as they come: the named hosts at once,
// the addresses of ranges once the sweep has found them (every one without
// a sweep). Each answer's messages on standard error are labelled with its
// host.
func (r *runner) scan(ctx context.Context, targets []client.Target, plan scanPlan, ask func(ctx context.Context, i int) hostResult) scanTally {
	var bar *progress
	if plan.progress {
		bar = newProgress(r.stderr, len(targets))
		defer bar.finish()
	}

	top := render.New(r.stdout, render.Options{Format: r.cfg.format, Color: r.cfg.color, Names: r.names})
	var n scanTally
	printed := 0 // hosts that printed something on standard output
	results := newOrdered(len(targets), func(i int, res hostResult) {
		if res.skipped {
			return
		}
		n.shown++
		if res.failed {
			n.failed++
		}
		if res.found {
			n.found++
		}
		bar.pause(func() {
			if len(res.out) > 0 {
				switch {
				case plan.label:
					top.BeginHost(targets[i].Host)
				case plan.separate && printed > 0:
					r.stdout.Write([]byte{'\n'})
				}
				printed++
				r.stdout.Write(res.out)
			}
			if len(res.errText) > 0 {
				r.stderr.Write(labelLines(targets[i].Host, res.errText))
			}
		})
	})
	run := func(idx []int) {
		client.ForEach(ctx, len(idx), plan.parallel, func(ctx context.Context, j int) hostResult {
			res := ask(ctx, idx[j])
			if res.live && plan.sweep == 0 {
				bar.answered()
			}
			bar.done()
			return res
		}, func(j int, res hostResult) { results.deliver(idx[j], res) })
	}

	// The named hosts are asked at once; the addresses of the ranges once
	// the sweep has found which of them have a port mapper that answers.
	var named, ranged []int
	for i, t := range targets {
		if t.Ranged && plan.sweep > 0 {
			ranged = append(ranged, i)
		} else {
			named = append(named, i)
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() { run(named) })
	wg.Go(func() {
		if len(ranged) == 0 {
			return
		}
		addrs := make([]netip.Addr, len(ranged))
		for j, i := range ranged {
			addrs[j] = targets[i].Addr
		}
		var mu sync.Mutex
		live := make(map[netip.Addr]bool)
		sctx, cancel := context.WithTimeout(ctx, plan.sweep)
		err := client.Sweep(sctx, addrs, r.mapperPort(), portmap.Program, portmap.V2, nil, func(a netip.Addr) {
			mu.Lock()
			live[a] = true
			mu.Unlock()
			bar.answered()
		})
		cancel()
		if err != nil {
			bar.pause(func() { r.fail("%s: sweep: %s", r.prog, callText(err)) })
		}
		var found []int
		for _, i := range ranged {
			if live[targets[i].Addr] {
				found = append(found, i)
			} else {
				bar.done()
				results.deliver(i, hostResult{skipped: true})
			}
		}
		run(found)
	})
	wg.Wait()
	return n
}

// ordered hands results that arrive in any order to emit in the order of
// their index, each as soon as those before it are in.
type ordered struct {
	mu      sync.Mutex
	results []hostResult
	ready   []bool
	next    int
	emit    func(i int, res hostResult)
}

func newOrdered(n int, emit func(int, hostResult)) *ordered {
	return &ordered{results: make([]hostResult, n), ready: make([]bool, n), emit: emit}
}

// deliver records result i and emits every result that is now in order.
func (o *ordered) deliver(i int, res hostResult) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.results[i], o.ready[i] = res, true
	for o.next < len(o.results) && o.ready[o.next] {
		o.emit(o.next, o.results[o.next])
		o.results[o.next] = hostResult{}
		o.next++
	}
}

// askHost runs the mode of r.req for one host, within perHost, with its
// output in buffers.
func (r *runner) askHost(ctx context.Context, host string, rest []string, perHost time.Duration) hostResult {
	var out, errb bytes.Buffer
	sub := *r
	sub.stdout, sub.stderr = &out, &errb
	sub.cfg.timeout = perHost // each call takes the host's context
	sub.req.args = append([]string{host}, rest...)
	sub.out = render.New(&out, render.Options{Format: r.cfg.format, Color: r.cfg.color, Names: r.names, Host: host, Lines: true})
	ctx, cancel := context.WithTimeout(ctx, perHost)
	defer cancel()
	err := sub.runMode(ctx)
	res := hostResult{failed: err != nil, errText: errb.Bytes()}
	if err != nil && out.Len() == 0 {
		// One JSON line per host named: say why this one has no answer.
		sub.out.SetHost(host)
		sub.out.Failure(strings.TrimSpace(errb.String()))
	}
	res.out = out.Bytes()
	return res
}

// labelLines prefixes every line of text with "host: ", unless it starts
// with it already (rpcinfo names the host in some of its messages).
func labelLines(host string, text []byte) []byte {
	var b []byte
	for _, line := range strings.SplitAfter(string(text), "\n") {
		if line == "" {
			continue
		}
		if !strings.HasPrefix(line, host+": ") {
			b = append(b, host...)
			b = append(b, ": "...)
		}
		b = append(b, line...)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		b = append(b, '\n')
	}
	return b
}
