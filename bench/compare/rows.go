package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// loadSpecs are the load rows, for each registry.
var loadSpecs = []loadSpec{
	{"udp", "getport", 2},
	{"tcp", "getport", 2},
	{"udp", "getaddr", 4},
	{"tcp", "getaddr", 4},
}

// describe names a registry in a row.
func (r *registry) describe() string {
	if r.name == "seed" {
		return "seed registry"
	}
	return fmt.Sprintf("%d registrations, key last", len(r.entries))
}

// saturated is the share of a CPU above which a process counts as the
// bound: /proc's CPU times tick at 10 ms, and a busy process loses a few
// percent to the other tasks of a shared machine.
const saturated = 0.9

// loadStats gathers, per side, what bounded the load runs of a row.
type loadStats struct {
	serverCPU, serverUS, genCPU [2][]float64 // [0] the reference, [1] ours
}

func (s *loadStats) add(side int, l *load) {
	s.serverCPU[side] = append(s.serverCPU[side], l.ServerCPU)
	s.serverUS[side] = append(s.serverUS[side], l.ServerUS)
	s.genCPU[side] = append(s.genCPU[side], l.GenCPU)
}

// bound says what limited the figures: the share of its CPU each mapper
// used, its CPU time per call, and the generator's share of its CPU. A
// mapper near 100% was the bound; a generator near 100% bounded the mapper
// it drove.
func (s *loadStats) bound() string {
	var parts []string
	for side, name := range []string{"rpcbind", "portmapd"} {
		if len(s.serverCPU[side]) == 0 {
			continue
		}
		srv, gen := median(s.serverCPU[side]), median(s.genCPU[side])
		by := "neither CPU at 90%"
		switch {
		case srv >= saturated && gen >= saturated:
			by = "both CPUs saturated"
		case srv >= saturated:
			by = "mapper-bound"
		case gen >= saturated:
			by = "generator-bound"
		}
		parts = append(parts, fmt.Sprintf("%s %.0f%% CPU, %.1f us/call, generator %.0f%%: %s",
			name, 100*srv, median(s.serverUS[side]), 100*gen, by))
	}
	return strings.Join(parts, "; ")
}

// mapperRows starts rpcbind (and portmapd, when built) holding r, and
// measures the load rows, the mappers' memory and the rpcinfo rows.
func (b *bench) mapperRows(ctx context.Context, r, seed *registry) {
	seedRows := map[loadSpec]*row{}
	for _, rw := range b.rows {
		if rw.seed == nil && rw.Unit == "calls/s" {
			seedRows[rw.spec] = rw
		}
	}
	b.printf("registry %s (%d entries): starting the mappers", r.name, len(r.entries))
	var loadRows []*row
	for _, s := range loadSpecs {
		name := fmt.Sprintf("%s v%d %s, %d clients, %s", strings.ToUpper(s.proc), s.vers, strings.ToUpper(s.network), b.clients, r.describe())
		target := "ours/ref >= 2"
		lr := &row{Name: name, Unit: "calls/s", Higher: true, MinRatio: 2, spec: s}
		if r != seed {
			lr.MinRatio, target = 4, "ours/ref >= 4, and >= 90% of ours on the seed"
			lr.seed = seedRows[s]
		}
		lr.Target = target
		if b.wanted(name) {
			loadRows = append(loadRows, lr)
		}
	}
	rssRow := &row{Name: "mapper RSS after the load, " + r.describe(), Unit: "MiB"}
	if r != seed {
		rssRow.Target, rssRow.Limit = "ours <= 12 MiB", 12
	}
	rpcinfoRows := b.rpcinfoRowsFor(r, seed)
	if !b.wanted(rssRow.Name) && len(loadRows) == 0 && len(rpcinfoRows) == 0 {
		return
	}
	b.rows = append(b.rows, loadRows...)
	b.rows = append(b.rows, rssRow)
	b.rows = append(b.rows, rpcinfoRows...)
	fail := func(err error) {
		for _, row := range append(append(loadRows, rssRow), rpcinfoRows...) {
			if row.Failed == "" {
				row.Failed = err.Error()
			}
		}
	}

	ref, err := b.startRegistered(ctx, "rpcbind", refAddr, r, b.rpcbind, "-f")
	if err != nil {
		fail(err)
		return
	}
	defer ref.stop()
	var ours *mapper
	pending := ""
	if b.portmapd == "" {
		pending = notBuilt("portmapd")
	} else {
		ours, err = b.startRegistered(ctx, "portmapd", ourAddr, r, b.portmapd,
			"--port", fmt.Sprint(ourPort), "--socket", "/run/portmapd.sock", "--log-level", "warn")
		if err != nil {
			pending = "portmapd would not run: " + err.Error()
		} else {
			defer ours.stop()
		}
	}
	for _, row := range append(loadRows, rssRow) {
		row.Pending = pending
	}
	// With the large registry, a second portmapd holds the seed, so that
	// each round measures what ours keeps of its seed figure side by side.
	var oursSeed *mapper
	if ours != nil && r != seed && len(loadRows) > 0 {
		oursSeed, err = b.startRegistered(ctx, "portmapd (seed)", ourSeedAddr, seed, b.portmapd,
			"--port", fmt.Sprint(ourSeedPort), "--socket", "/run/portmapd-seed.sock", "--log-level", "warn")
		if err != nil {
			b.printf("no side-by-side seed figures (the keep compares with the seed rows): %v", err)
			oursSeed = nil
		} else {
			defer oursSeed.stop()
		}
	}

	// Load rows: per round, the reference, ours (then ours on the seed, with
	// the large registry), the reference again.
	stats := make([]loadStats, len(loadRows))
	for round := 1; round <= b.rounds && len(loadRows) > 0; round++ {
		b.printf("registry %s: load round %d of %d", r.name, round, b.rounds)
		for i, lr := range loadRows {
			if lr.Failed != "" {
				continue
			}
			spec := lr.spec
			const (
				stepRef = iota
				stepOurs
				stepOursSeed
				stepRef2
			)
			for step, m := range []*mapper{ref, ours, oursSeed, ref} {
				if m == nil || (step == stepOursSeed && (lr.seed == nil || ours == nil)) {
					continue
				}
				reg := r
				if step == stepOursSeed {
					reg = seed
				}
				l, err := b.runLoad(ctx, m, spec, reg)
				if err != nil {
					if step == stepOursSeed {
						b.printf("portmapd (seed) failed the load; the keep compares with the seed rows: %v", err)
						oursSeed = nil
						lr.OursSeed = nil
						continue
					}
					if m == ours {
						lr.Pending = "portmapd failed the load: " + err.Error()
						ours = nil
						continue
					}
					lr.Failed = err.Error()
					break
				}
				v := l.Result.CallsPerSec
				switch step {
				case stepRef:
					lr.Ref, lr.RefBy = append(lr.Ref, v), l.Command
					stats[i].add(0, l)
				case stepOurs:
					lr.Ours, lr.OursBy = append(lr.Ours, v), l.Command
					stats[i].add(1, l)
				case stepOursSeed:
					lr.OursSeed = append(lr.OursSeed, v)
				case stepRef2:
					lr.Ref2 = append(lr.Ref2, v)
					stats[i].add(0, l)
				}
			}
		}
	}
	for i, lr := range loadRows {
		lr.Bound = stats[i].bound()
	}

	// Memory after the load.
	for side, m := range []*mapper{ref, ours} {
		if m == nil {
			continue
		}
		rss, peak, err := memory(m.pid())
		if err != nil {
			rssRow.Failed = err.Error()
			break
		}
		if side == 0 {
			rssRow.Ref = []float64{float64(rss) / 1024}
			rssRow.RefBy = fmt.Sprintf("VmRSS of rpcbind (peak %.1f MiB)", float64(peak)/1024)
		} else {
			rssRow.Ours = []float64{float64(rss) / 1024}
			rssRow.OursBy = fmt.Sprintf("VmRSS of portmapd (peak %.1f MiB)", float64(peak)/1024)
		}
	}

	b.runRpcinfoRows(ctx, rpcinfoRows)
}

// startRegistered starts a mapper and registers r into it.
func (b *bench) startRegistered(ctx context.Context, name, addr string, r *registry, argv ...string) (*mapper, error) {
	m, err := startMapper(ctx, name, addr, b.serverCPUs, argv...)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := register(ctx, addr, r); err != nil {
		m.stop()
		return nil, fmt.Errorf("registering into %s: %w", name, err)
	}
	n, err := dumpCount(ctx, addr)
	if err != nil || n < len(r.entries) {
		m.stop()
		return nil, fmt.Errorf("%s lists %d mappings after %d registrations (%v)", name, n, len(r.entries), err)
	}
	b.printf("%s: %d registrations in %v, %d listed", name, len(r.entries), time.Since(start).Round(time.Millisecond), n)
	return m, nil
}

// rpcinfoRowsFor returns the rpcinfo rows for r: rpcinfo -p for the seed;
// rpcinfo -p and the default listing, wall time and peak RSS, for the
// large registry.
func (b *bench) rpcinfoRowsFor(r, seed *registry) []*row {
	if b.rpcinfo == "" {
		return nil
	}
	type spec struct {
		what   string
		args   []string
		rss    bool
		target string
		max    float64
	}
	specs := []spec{{"rpcinfo -p 127.0.0.1", []string{"-p", "127.0.0.1"}, false, "ours/ref <= 1.0 within the noise", 1}}
	if r != seed {
		specs = []spec{
			{"rpcinfo -p 127.0.0.1", []string{"-p", "127.0.0.1"}, false, "ours/ref <= 0.5", 0.5},
			{"rpcinfo 127.0.0.1", []string{"127.0.0.1"}, false, "ours/ref <= 0.5", 0.5},
			{"rpcinfo -p 127.0.0.1", []string{"-p", "127.0.0.1"}, true, "ours/ref <= 2", 2},
			{"rpcinfo 127.0.0.1", []string{"127.0.0.1"}, true, "ours/ref <= 2", 2},
		}
	}
	var rows []*row
	for _, s := range specs {
		figure, unit := "whole-process wall", "ms"
		if s.rss {
			figure, unit = "peak RSS", "MiB"
		}
		rw := &row{
			Name: fmt.Sprintf("`%s` %s, %s, against rpcbind", s.what, figure, r.describe()), Unit: unit,
			Target: s.target, MaxRatio: s.max, args: s.args, rss: s.rss,
			WithinNoise: strings.Contains(s.target, "within the noise"),
		}
		if b.ourRpcinfo == "" {
			rw.Pending = notBuilt("rpcinfo")
		}
		if b.wanted(rw.Name) {
			rows = append(rows, rw)
		}
	}
	return rows
}

// runRpcinfoRows measures the rpcinfo rows against the rpcbind on port 111:
// per round, runs of Debian's rpcinfo, of ours, and of Debian's again; the
// figure of a side in a round is the median of its runs.
func (b *bench) runRpcinfoRows(ctx context.Context, rows []*row) {
	for _, rw := range rows {
		if rw.Failed != "" {
			continue
		}
		spec := rw
		sides := []string{b.rpcinfo, b.ourRpcinfo, b.rpcinfo}
		rw.RefBy = strings.Join(append([]string{b.rpcinfo}, spec.args...), " ")
		if b.ourRpcinfo != "" {
			rw.OursBy = strings.Join(append([]string{"bin/rpcinfo"}, spec.args...), " ")
		}
		lines := [2]int{-1, -1}
		var cpu [2][]float64
		for round := 1; round <= b.rounds && rw.Failed == ""; round++ {
			for step, bin := range sides {
				if bin == "" {
					continue
				}
				var vals []float64
				for range b.runs {
					p, err := timeProc(ctx, "", append([]string{bin}, spec.args...)...)
					if err != nil {
						if step == 1 {
							rw.Pending = "bin/rpcinfo failed: " + err.Error()
							sides[1] = ""
							break
						}
						rw.Failed = err.Error()
						return
					}
					lines[min(step, 1)] = p.Lines
					cpu[min(step, 1)] = append(cpu[min(step, 1)], float64(p.CPU)/float64(time.Millisecond))
					if spec.rss {
						vals = append(vals, float64(p.MaxRSS)/1024)
					} else {
						vals = append(vals, float64(p.Wall)/float64(time.Millisecond))
					}
				}
				if len(vals) == 0 {
					continue
				}
				switch step {
				case 0:
					rw.Ref = append(rw.Ref, median(vals))
				case 1:
					rw.Ours = append(rw.Ours, median(vals))
				case 2:
					rw.Ref2 = append(rw.Ref2, median(vals))
				}
			}
		}
		if lines[1] >= 0 && lines[0] != lines[1] {
			rw.Bound = fmt.Sprintf("outputs differ: Debian's printed %d lines, ours %d", lines[0], lines[1])
		} else if !spec.rss {
			rw.Bound = fmt.Sprintf("%d lines; CPU per run: Debian's %.2f ms", lines[0], median(cpu[0]))
			if len(cpu[1]) > 0 {
				rw.Bound += fmt.Sprintf(", ours %.2f ms", median(cpu[1]))
			}
		}
	}
}

// pmapsetRows times restoring the large registry into a fresh mapper on
// port 111: the libtirpc pmap_set loop (the reference), pmapset, and the
// loop again, into rpcbind and into portmapd with --state.
func (b *bench) pmapsetRows(ctx context.Context, big *registry) {
	if b.loopHelper == "" {
		return
	}
	data, err := os.ReadFile(big.file)
	if err != nil {
		b.skipped = append(b.skipped, "pmapset rows: "+err.Error())
		return
	}
	type target struct {
		name    string
		argv    func(state string) []string
		pending string
	}
	targets := []target{{name: "rpcbind", argv: func(string) []string { return []string{b.rpcbind, "-f"} }}}
	pt := target{name: "portmapd --state"}
	switch {
	case b.portmapd == "":
		pt.pending = notBuilt("portmapd")
	case !mentions(ctx, b.portmapd, "--state"):
		pt.pending = "bin/portmapd has no --state option yet (issue #6)"
	default:
		pt.argv = func(state string) []string { return []string{b.portmapd, "--state", state, "--log-level", "warn"} }
	}
	targets = append(targets, pt)
	for _, t := range targets {
		rw := &row{
			Name: fmt.Sprintf("restoring %d registrations into %s", len(big.entries), t.name), Unit: "ms",
			Target: "ours/ref <= 0.5", MaxRatio: 0.5,
			RefBy: "pmapsetloop < " + filepath.Base(big.file) + " (libtirpc pmap_set per line)",
		}
		if !b.wanted(rw.Name) {
			continue
		}
		b.rows = append(b.rows, rw)
		switch {
		case t.argv == nil:
			// The mapper is ours: without it neither side can be measured.
			rw.Pending = t.pending
			continue
		case b.ourPmapset == "":
			rw.Pending = notBuilt("pmapset")
		default:
			rw.OursBy = "bin/pmapset -f " + filepath.Base(big.file)
		}
		sides := [][]string{{b.loopHelper}, nil, {b.loopHelper}}
		var mapperCPU, clientCPU [2][]float64
		if rw.Pending == "" {
			sides[1] = []string{b.ourPmapset, "-f", big.file}
		}
		for round := 1; round <= b.rounds && rw.Failed == ""; round++ {
			b.printf("%s: round %d of %d", rw.Name, round, b.rounds)
			for step, argv := range sides {
				if argv == nil {
					continue
				}
				stdin := ""
				if step != 1 {
					stdin = string(data)
				}
				ms, cpus, err := b.restore(ctx, t.name, t.argv, stdin, argv, len(big.entries))
				if err != nil {
					if step == 1 {
						rw.Pending = "bin/pmapset failed: " + err.Error()
						sides[1] = nil
						continue
					}
					rw.Failed = err.Error()
					break
				}
				side := min(step, 1)
				mapperCPU[side] = append(mapperCPU[side], cpus[0])
				clientCPU[side] = append(clientCPU[side], cpus[1])
				switch step {
				case 0:
					rw.Ref = append(rw.Ref, ms)
				case 1:
					rw.Ours = append(rw.Ours, ms)
				case 2:
					rw.Ref2 = append(rw.Ref2, ms)
				}
			}
		}
		rw.Bound = fmt.Sprintf("CPU ms per restore: pmap_set loop %.0f, %s %.0f", median(clientCPU[0]), t.name, median(mapperCPU[0]))
		if len(clientCPU[1]) > 0 {
			rw.Bound += fmt.Sprintf("; pmapset %.0f, %s %.0f", median(clientCPU[1]), t.name, median(mapperCPU[1]))
		}
	}
}

// restore starts a fresh mapper on port 111, times cmd restoring n
// registrations into it, checks they are all listed, and stops the mapper.
// It returns the wall time in milliseconds, and the CPU milliseconds the
// mapper and cmd used.
func (b *bench) restore(ctx context.Context, name string, argv func(string) []string, stdin string, cmd []string, n int) (float64, [2]float64, error) {
	var cpus [2]float64
	state := filepath.Join(b.work, "portmapd.state")
	os.Remove(state)
	m, err := startMapper(ctx, name, refAddr, b.serverCPUs, argv(state)...)
	if err != nil {
		return 0, cpus, err
	}
	defer m.stop()
	before, err := cpuTime(m.pid())
	if err != nil {
		return 0, cpus, err
	}
	p, err := timeProc(ctx, stdin, cmd...)
	if err != nil {
		return 0, cpus, err
	}
	after, err := cpuTime(m.pid())
	if err != nil {
		return 0, cpus, err
	}
	if got, err := dumpCount(ctx, refAddr); err != nil || got < n {
		return 0, cpus, fmt.Errorf("%s lists %d mappings after restoring %d (%v)", name, got, n, err)
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	cpus = [2]float64{ms(after - before), ms(p.CPU)}
	return ms(p.Wall), cpus, nil
}

// mentions reports whether bin's --help mentions word.
func mentions(ctx context.Context, bin, word string) bool {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--help").CombinedOutput()
	return err == nil && strings.Contains(string(out), word)
}

// Scan row: our rpcinfo lists 1,024 addresses, one of which has a port
// mapper while the others are silent.
const (
	scanRange   = "127.1.0.0/22" // 1,024 loopback addresses, all this host's
	scanAnswers = "127.1.0.1"    // the one not silenced
	scanTimeout = "1s"
	scanLimit   = 3000 // ms: the target
)

// scanRuleset silences the scanned addresses but one: UDP to port 111 of
// them is dropped, as a host that filters the port mapper drops it (the
// loopback would otherwise answer for every 127.0.0.0/8 address).
const scanRuleset = `table inet pmapbench {
	chain input {
		type filter hook input priority 0; policy accept;
		ip daddr 127.1.0.0/22 ip daddr != ` + scanAnswers + ` udp dport 111 drop
	}
}
`

// scanRow times `rpcinfo -s` over scanRange with a 1 s timeout against
// rpcbind holding r on the one address that answers. There is no reference
// (Debian's rpcinfo takes one host); the target is absolute.
func (b *bench) scanRow(ctx context.Context, r *registry) {
	rw := &row{
		Name: fmt.Sprintf("a scan of 1,024 addresses (`rpcinfo -s` of %s, --timeout %s), all but one silent", scanRange, scanTimeout),
		Unit: "ms", Target: "ours <= 3 s", Limit: scanLimit,
	}
	if !b.wanted(rw.Name) {
		return
	}
	b.rows = append(b.rows, rw)
	args := []string{"-s", "-o", "json", "--timeout", scanTimeout, scanRange}
	rw.OursBy = strings.Join(append([]string{"bin/rpcinfo"}, args...), " ")
	nft, err := exec.LookPath("nft")
	switch {
	case b.ourRpcinfo == "":
		rw.Pending = notBuilt("rpcinfo")
		return
	case err != nil:
		rw.Pending = "nft is not installed (apt-get install nftables): the silent hosts are an nft drop rule"
		return
	}
	cmd := exec.CommandContext(ctx, nft, "-f", "-")
	cmd.Stdin = strings.NewReader(scanRuleset)
	if out, err := cmd.CombinedOutput(); err != nil {
		rw.Failed = fmt.Sprintf("nft: %v: %s", err, firstLine(string(out)))
		return
	}
	defer exec.Command(nft, "delete", "table", "inet", "pmapbench").Run()
	m, err := b.startRegistered(ctx, "rpcbind", refAddr, r, b.rpcbind, "-f")
	if err != nil {
		rw.Failed = err.Error()
		return
	}
	defer m.stop()
	var cpu []float64
	for round := 1; round <= b.rounds; round++ {
		b.printf("scan of %s: round %d of %d", scanRange, round, b.rounds)
		p, err := timeProc(ctx, "", append([]string{b.ourRpcinfo}, args...)...)
		if err != nil {
			rw.Failed = err.Error()
			return
		}
		if p.Lines != 1 {
			rw.Failed = fmt.Sprintf("the scan listed %d hosts, want 1 (%s)", p.Lines, scanAnswers)
			return
		}
		rw.Ours = append(rw.Ours, float64(p.Wall)/float64(time.Millisecond))
		cpu = append(cpu, float64(p.CPU)/float64(time.Millisecond))
	}
	rw.Bound = fmt.Sprintf("the timeout: every silent address is waited for once, all at once; CPU per scan %.0f ms", median(cpu))
}
