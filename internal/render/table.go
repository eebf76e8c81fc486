package render

import (
	"fmt"
	"io"
	"strconv"

	"github.com/fatih/color"
	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

// palette holds the colors of the table form. Each color is switched on or
// off by itself, so the package never touches fatih/color's global NoColor.
type palette struct {
	service, good, bad, owner, title *color.Color
}

func newPalette(on bool) palette {
	p := palette{
		service: color.New(color.FgCyan),
		good:    color.New(color.FgGreen),
		bad:     color.New(color.FgRed),
		owner:   color.New(color.FgYellow),
		title:   color.New(color.Bold),
	}
	for _, c := range []*color.Color{p.service, p.good, p.bad, p.owner, p.title} {
		if on {
			c.EnableColor()
		} else {
			c.DisableColor()
		}
	}
	return p
}

// column is one column of a table: its title and whether it holds numbers,
// which are right-aligned.
type column struct {
	title   string
	numeric bool
}

// draw renders one table of rows under cols.
func draw(w io.Writer, cols []column, rows [][]string) error {
	titles := make([]any, len(cols))
	aligns := make(tw.Alignment, len(cols))
	for i, c := range cols {
		titles[i] = c.title
		aligns[i] = tw.AlignLeft
		if c.numeric {
			aligns[i] = tw.AlignRight
		}
	}
	t := tablewriter.NewTable(w,
		tablewriter.WithAlignment(aligns),
		tablewriter.WithHeaderAlignment(tw.AlignCenter),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithTrimSpace(tw.Off),
	)
	t.Header(titles...)
	for _, r := range rows {
		if err := t.Append(r); err != nil {
			return fmt.Errorf("render: %w", err)
		}
	}
	if err := t.Render(); err != nil {
		return fmt.Errorf("render: %w", err)
	}
	return nil
}

// service returns the program's name, colored, or "-".
func (p *Printer) service(pal palette, prog uint32) string {
	if name, ok := p.name(prog); ok {
		return pal.service.Sprint(name)
	}
	return "-"
}

func u32(v uint32) string { return strconv.FormatUint(uint64(v), 10) }
func i32(v int32) string  { return strconv.FormatInt(int64(v), 10) }

// noProgramsTable prints rpcinfo's words for an empty answer.
func (p *Printer) noProgramsTable() error {
	_, err := io.WriteString(p.w, noPrograms)
	return err
}

func (p *Printer) tableMappings(list []portmap.Mapping) error {
	if len(list) == 0 {
		return p.noProgramsTable()
	}
	pal := newPalette(p.opts.Color)
	rows := make([][]string, 0, len(list))
	for _, m := range list {
		rows = append(rows, []string{u32(m.Prog), u32(m.Vers), portmap.ProtName(m.Prot), u32(m.Port), p.service(pal, m.Prog)})
	}
	return draw(p.w, []column{{"PROGRAM", true}, {"VERS", true}, {"PROTO", false}, {"PORT", true}, {"SERVICE", false}}, rows)
}

func (p *Printer) tableRegistrations(list []portmap.RPCB) error {
	if len(list) == 0 {
		return p.noProgramsTable()
	}
	pal := newPalette(p.opts.Color)
	rows := make([][]string, 0, len(list))
	for _, r := range list {
		rows = append(rows, []string{u32(r.Prog), u32(r.Vers), r.Netid, r.Addr, p.service(pal, r.Prog), pal.owner.Sprint(r.Owner)})
	}
	return draw(p.w, []column{{"PROGRAM", true}, {"VERSION", true}, {"NETID", false}, {"ADDRESS", false},
		{"SERVICE", false}, {"OWNER", false}}, rows)
}

func (p *Printer) tableSummary(list []portmap.RPCB) error {
	if len(list) == 0 {
		return p.noProgramsTable()
	}
	pal := newPalette(p.opts.Color)
	sum := Summarize(list)
	rows := make([][]string, 0, len(sum))
	for _, s := range sum {
		vers := make([]byte, 0, 16)
		for i, v := range s.Versions {
			if i > 0 {
				vers = append(vers, ',')
			}
			vers = strconv.AppendUint(vers, uint64(v), 10)
		}
		netids := make([]byte, 0, 32)
		for i, n := range s.Netids {
			if i > 0 {
				netids = append(netids, ',')
			}
			netids = append(netids, n...)
		}
		rows = append(rows, []string{u32(s.Prog), string(vers), string(netids), p.service(pal, s.Prog), pal.owner.Sprint(s.Owner)})
	}
	return draw(p.w, []column{{"PROGRAM", true}, {"VERSIONS", false}, {"NETIDS", false},
		{"SERVICE", false}, {"OWNER", false}}, rows)
}

func (p *Printer) tableAddresses(prog, vers uint32, list []portmap.Entry) error {
	if len(list) == 0 {
		return p.noProgramsTable()
	}
	pal := newPalette(p.opts.Color)
	rows := make([][]string, 0, len(list))
	for _, e := range list {
		rows = append(rows, []string{u32(prog), u32(vers), e.Protofmly, e.Proto, portmap.SemanticsName(e.Semantics),
			e.Netid, e.Maddr, p.service(pal, prog)})
	}
	return draw(p.w, []column{{"PROGRAM", true}, {"VERS", true}, {"FAMILY", false}, {"PROTO", false},
		{"CLASS", false}, {"NETID", false}, {"ADDRESS", false}, {"SERVICE", false}}, rows)
}

// tableStats draws one table of counters with a column per version, then the
// address-lookup and remote-call lists of every version that has entries.
func (p *Printer) tableStats(st *portmap.StatByVers) error {
	pal := newPalette(p.opts.Color)
	var vs [3]VersionStatsJSON
	for i := range st {
		vs[i] = p.versionStats(uint32(portmap.V2+i), &st[i])
	}
	counts := make([][]string, 0, procsV4)
	for i := 0; i < procsV4; i++ {
		name := rpcbProcNames[i]
		if i < procsV2 && pmapProcNames[i] != name {
			name = pmapProcNames[i] + "/" + name
		}
		row := []string{i32(int32(i)), name}
		for _, v := range vs {
			row = append(row, procCell(v.Procedures, i))
		}
		counts = append(counts, row)
	}
	if err := p.tableTitle(pal, "Calls per procedure (success/total where counted)"); err != nil {
		return err
	}
	if err := draw(p.w, []column{{"PROC", true}, {"NAME", false}, {"V2", true}, {"V3", true}, {"V4", true}}, counts); err != nil {
		return err
	}
	var lookups, calls [][]string
	for _, v := range vs {
		for _, a := range v.AddressLookups {
			lookups = append(lookups, []string{u32(v.Version), u32(a.Program), p.service(pal, a.Program), u32(a.Version),
				a.Netid, pal.good.Sprint(i32(a.Success)), pal.bad.Sprint(i32(a.Failure))})
		}
		for _, r := range v.RemoteCalls {
			calls = append(calls, []string{u32(v.Version), u32(r.Program), p.service(pal, r.Program), u32(r.Version),
				u32(r.Procedure), r.Netid, i32(r.Indirect), pal.good.Sprint(i32(r.Success)), pal.bad.Sprint(i32(r.Failure))})
		}
	}
	if len(lookups) > 0 {
		if err := p.tableTitle(pal, "Address lookups"); err != nil {
			return err
		}
		if err := draw(p.w, []column{{"MAPPER", true}, {"PROGRAM", true}, {"SERVICE", false}, {"VERS", true},
			{"NETID", false}, {"SUCCESS", true}, {"FAILURE", true}}, lookups); err != nil {
			return err
		}
	}
	if len(calls) > 0 {
		if err := p.tableTitle(pal, "Remote calls"); err != nil {
			return err
		}
		if err := draw(p.w, []column{{"MAPPER", true}, {"PROGRAM", true}, {"SERVICE", false}, {"VERS", true},
			{"PROC", true}, {"NETID", false}, {"INDIRECT", true}, {"SUCCESS", true}, {"FAILURE", true}}, calls); err != nil {
			return err
		}
	}
	return nil
}

// procCell is a counter cell: "success/calls", "calls", or empty when the
// version has no such procedure.
func procCell(procs []ProcStatJSON, i int) string {
	if i >= len(procs) {
		return ""
	}
	ps := procs[i]
	if ps.Success != nil {
		return i32(*ps.Success) + "/" + i32(ps.Calls)
	}
	return i32(ps.Calls)
}

func (p *Printer) tableTitle(pal palette, s string) error {
	_, err := io.WriteString(p.w, pal.title.Sprint(s)+"\n")
	return err
}

func (p *Printer) tablePings(list []Ping) error {
	pal := newPalette(p.opts.Color)
	rows := make([][]string, 0, len(list))
	for _, r := range list {
		status, cause := pal.good.Sprint("ready and waiting"), ""
		if !r.OK() {
			status, cause = pal.bad.Sprint("not available"), r.Err
		}
		rows = append(rows, []string{strconv.FormatUint(r.Prog, 10), strconv.FormatUint(r.Vers, 10), status, cause})
	}
	return draw(p.w, []column{{"PROGRAM", true}, {"VERSION", true}, {"STATUS", false}, {"ERROR", false}}, rows)
}

func (p *Printer) tableReplies(list []Reply) error {
	rows := make([][]string, 0, len(list))
	for _, r := range list {
		rows = append(rows, []string{r.Addr, r.Host})
	}
	return draw(p.w, []column{{"ADDRESS", false}, {"HOST", false}}, rows)
}
