package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/portmap-toolkit/pmap/internal/cliutil"
	"github.com/portmap-toolkit/pmap/internal/regfile"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
)

// setAction is the command's action: check the arguments, read the input,
// then plan and make the changes.
func setAction(c *cli.Context) error {
	if done, err := printDocs(c); done {
		return err
	}
	m := modeSet
	switch {
	case c.Bool(flagUnset) && c.Bool(flagSync):
		return usagef(c, "--unset and --sync exclude each other")
	case c.Bool(flagUnset):
		m = modeUnset
	case c.Bool(flagSync):
		m = modeSync
	}
	if c.NArg() > 1 {
		return usagef(c, "too many arguments: %q (options go before the host)", c.Args().Slice())
	}
	t, err := cliutil.MapperFrom(c)
	if err != nil {
		return usagef(c, "%v", err)
	}
	timeout := t.Timeout
	stderr := c.App.ErrWriter

	entries, err := readEntries(c)
	if err != nil {
		return err
	}
	if m == modeSync && len(entries) == 0 {
		// A failed pmapdump piped in must not wipe the registry.
		fmt.Fprintf(stderr, "pmapset: %s holds no entries: --sync would remove every registration; nothing done\n", source(c))
		return errReported
	}

	ctx := c.Context
	mp, err := dialMapper(ctx, t, timeout)
	if err != nil {
		_, _, where := t.Addr()
		fmt.Fprintf(stderr, "pmapset: can't contact the port mapper at %s: %s\n", where, rpcText(err))
		return errReported
	}
	defer mp.Close()
	cur, err := mp.dump(ctx)
	if err != nil {
		if isConnFailure(err) {
			fmt.Fprintf(stderr, "pmapset: can't contact the port mapper at %s: %s\n", mp.where, rpcText(err))
		} else {
			fmt.Fprintf(stderr, "pmapset: the port mapper at %s failed to list its registrations: %s\n", mp.where, rpcText(err))
		}
		return errReported
	}
	p := makePlan(m, entries, cur, mp.vers)
	if c.Bool(flagDryRun) {
		return printPlan(c.App.Writer, m, p, mp.vers)
	}
	return execute(ctx, c.App.Writer, stderr, mp, m, p)
}

// readEntries reads and parses the whole input. A malformed input is
// reported line by line, and nothing is registered.
func readEntries(c *cli.Context) ([]regfile.Entry, error) {
	stderr := c.App.ErrWriter
	name := c.String(flagFile)
	var r io.Reader = c.App.Reader
	src := source(c)
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintf(stderr, "pmapset: %v\n", err)
			return nil, errReported
		}
		defer f.Close()
		r = f
	}
	entries, err := regfile.Parse(r)
	var pe *regfile.ParseError
	switch {
	case errors.As(err, &pe):
		for _, se := range pe.Errs {
			fmt.Fprintf(stderr, "pmapset: %s: malformed %v\n", src, se)
		}
		if pe.Stopped != "" {
			fmt.Fprintf(stderr, "pmapset: %s: %s\n", src, pe.Stopped)
		}
		fmt.Fprintf(stderr, "pmapset: nothing registered: %s is malformed\n", src)
		return nil, errReported
	case err != nil:
		fmt.Fprintf(stderr, "pmapset: %s: %v\n", src, err)
		return nil, errReported
	}
	return entries, nil
}

// source names the input in messages.
func source(c *cli.Context) string {
	if name := c.String(flagFile); name != "-" {
		return name
	}
	return "stdin"
}

// rpcText returns libtirpc's words for err when it is an *rpc.Error.
func rpcText(err error) string {
	var re *rpc.Error
	if errors.As(err, &re) {
		return re.Text()
	}
	return err.Error()
}

// line returns an entry as its line, for messages.
func line(e regfile.Entry) string { return strings.TrimSpace(e.String()) }

// printPlan prints what a run would do, and reports a failure if it foresees
// one.
func printPlan(w io.Writer, m mode, p plan, vers uint32) error {
	var b strings.Builder
	adds, fails := 0, 0
	for _, r := range p.remove {
		fmt.Fprintf(&b, "would remove: %s\n", line(r))
	}
	for _, e := range p.setOrder() {
		if reason := p.foreseen(e, vers); reason != "" {
			fmt.Fprintf(&b, "would not register: %s (line %d: %s)\n", line(e), e.Line, reason)
			fails++
			continue
		}
		fmt.Fprintf(&b, "would add: %s\n", line(e))
		adds++
	}
	if m == modeUnset {
		for _, c := range p.conflict {
			fmt.Fprintf(&b, "would not remove: %s (line %d: %s)\n", line(c.want), c.want.Line, conflictReason(c))
			fails++
		}
	}
	fmt.Fprintf(&b, "dry run: %d to add, %d to remove, %d already registered, %d not registered, %d skipped (program %d)",
		adds, len(p.remove), len(p.held), len(p.absent), len(p.skip), portmap.Program)
	if fails > 0 {
		fmt.Fprintf(&b, ", %d would fail", fails)
	}
	b.WriteString("\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("writing the plan: %w", err)
	}
	if fails > 0 {
		return errReported
	}
	return nil
}

// setOrder returns the entries to SET in file order: those to add, and in
// the default mode those whose slot holds another address, which the mapper
// will refuse but which the user asked for.
func (p plan) setOrder() []regfile.Entry {
	l := append([]regfile.Entry(nil), p.add...)
	if p.mode == modeSet {
		for _, c := range p.conflict {
			l = append(l, c.want)
		}
	}
	sort.SliceStable(l, func(i, j int) bool { return l[i].Line < l[j].Line })
	return l
}

// foreseen returns why the mapper will refuse to register e, if that is
// known before asking.
func (p plan) foreseen(e regfile.Entry, vers uint32) string {
	if vers == portmap.V2 && !e.IsMapping() {
		return errV2Only.Error()
	}
	for _, c := range p.conflict {
		if c.want.Line == e.Line {
			return conflictReason(c)
		}
	}
	return ""
}

// conflictReason says which registration fills a conflicting entry's slot.
func conflictReason(c conflict) string {
	h := c.have
	addr := h.Addr
	if h.IsMapping() {
		addr = "port " + strconv.FormatUint(uint64(h.Port), 10)
	}
	s := fmt.Sprintf("the port mapper holds program %d version %d on %s at %s", h.Prog, h.Vers, h.Key().Netid, addr)
	if h.Owner != "" {
		s += fmt.Sprintf(", owned by %q", h.Owner)
	}
	return s
}

// execute makes the plan's changes and reports each outcome.
func execute(ctx context.Context, stdout, stderr io.Writer, mp *mapper, m mode, p plan) error {
	var ops []op
	for _, r := range p.remove {
		ops = append(ops, op{unset: true, e: r})
	}
	sets := p.setOrder()
	for _, e := range sets {
		ops = append(ops, op{e: e})
	}
	res := mp.run(ctx, ops)

	var out, errs strings.Builder
	failed := false
	var added []regfile.Entry
	for i, o := range ops {
		r := res[i]
		switch {
		case o.unset && r.ok && r.err == nil:
			fmt.Fprintf(&out, "removed: %s\n", line(o.e))
		case o.unset:
			failed = true
			reason := rpcReason(r.err)
			if r.err == nil {
				reason = "the port mapper refused"
				if o.e.Owner != "" {
					reason += fmt.Sprintf(": the entry is owned by %q, and only its owner or the superuser may remove it", o.e.Owner)
				}
			}
			fmt.Fprintf(&errs, "pmapset: not removed: %s (%s)\n", line(o.e), reason)
		case r.ok && r.err == nil:
			added = append(added, o.e)
			if m == modeSync {
				fmt.Fprintf(&out, "added: %s\n", line(o.e))
			}
		default:
			failed = true
			reason := rpcReason(r.err)
			if r.err == nil {
				reason = p.foreseen(o.e, mp.vers)
				if reason == "" {
					reason = "the port mapper refused"
				}
			}
			fmt.Fprintf(&errs, "pmapset: not registered: %s (line %d: %s)\n", line(o.e), o.e.Line, reason)
		}
	}
	if m == modeUnset {
		for _, c := range p.conflict {
			failed = true
			fmt.Fprintf(&errs, "pmapset: not removed: %s (line %d: %s)\n", line(c.want), c.want.Line, conflictReason(c))
		}
	}
	io.WriteString(stdout, out.String())
	io.WriteString(stderr, errs.String())
	if len(added) > 0 && !isConnFailure(firstErr(res)) {
		verify(ctx, stderr, mp, added)
	}
	if failed {
		return errReported
	}
	return nil
}

// firstErr returns the first error among res, if any.
func firstErr(res []result) error {
	for _, r := range res {
		if r.err != nil {
			return r.err
		}
	}
	return nil
}

// rpcReason words a failed call.
func rpcReason(err error) string {
	if err == nil {
		return ""
	}
	return rpcText(err)
}

// verify lists the mapper's registrations again and reports what of the
// added entries did not turn out as the file has it: entries listed out of
// the file's order (a mapper that handles the calls of one connection
// concurrently may apply them out of order), and owners the mapper did not
// keep, grouped by the two owners.
func verify(ctx context.Context, stderr io.Writer, mp *mapper, added []regfile.Entry) {
	cur, err := mp.dump(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "pmapset: cannot check the result: %s\n", rpcText(err))
		return
	}
	if a, b, ok := outOfOrder(added, cur); !ok {
		fmt.Fprintf(stderr, "pmapset: the port mapper lists line %d before line %d: it did not apply the registrations in the order they were sent\n", a, b)
	}
	owners := make(map[regfile.Key]string, len(cur))
	for _, c := range cur {
		owners[c.Key()] = c.Owner
	}
	type pair struct{ recorded, got string }
	lines := map[pair][]int{}
	var order []pair
	for _, e := range added {
		if e.IsMapping() || e.Owner == "" {
			continue
		}
		got, ok := owners[e.Key()]
		if !ok || got == e.Owner {
			continue
		}
		k := pair{e.Owner, got}
		if _, seen := lines[k]; !seen {
			order = append(order, k)
		}
		lines[k] = append(lines[k], e.Line)
	}
	for _, k := range order {
		n := len(lines[k])
		fmt.Fprintf(stderr, "pmapset: owner not restored for %d %s (%s): recorded %q, the port mapper gave %q\n",
			n, plural(n, "entry", "entries"), lineRanges(lines[k]), k.recorded, k.got)
	}
	if len(order) > 0 {
		fmt.Fprintf(stderr, "pmapset: the port mapper decides owners: \"superuser\" needs root over its local socket\n")
	}
}

// outOfOrder checks that the added entries, in file order, appear in that
// order in the listing cur. When they do not, it returns the lines of the
// first pair found the wrong way round and false.
func outOfOrder(added, cur []regfile.Entry) (before, after int, ok bool) {
	pos := make(map[regfile.Key]int, len(cur))
	for i, c := range cur {
		if _, dup := pos[c.Key()]; !dup {
			pos[c.Key()] = i
		}
	}
	last, lastLine := -1, 0
	for _, e := range added {
		i, listed := pos[e.Key()]
		if !listed {
			continue
		}
		if i < last {
			return e.Line, lastLine, false
		}
		last, lastLine = i, e.Line
	}
	return 0, 0, true
}

// plural returns one or many by n.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// lineRanges writes ascending line numbers as "line 3" or "lines 1-4, 7".
func lineRanges(ls []int) string {
	var parts []string
	for i := 0; i < len(ls); {
		j := i
		for j+1 < len(ls) && ls[j+1] == ls[j]+1 {
			j++
		}
		if j > i {
			parts = append(parts, fmt.Sprintf("%d-%d", ls[i], ls[j]))
		} else {
			parts = append(parts, strconv.Itoa(ls[i]))
		}
		i = j + 1
	}
	if len(ls) == 1 {
		return "line " + parts[0]
	}
	return "lines " + strings.Join(parts, ", ")
}
