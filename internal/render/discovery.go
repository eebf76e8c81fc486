package render

import (
	"strconv"
	"strings"

	"github.com/portmap-toolkit/pmap/pkg/audit"
)

// Output of rpcinfo --discover: what answers at one address, found without
// the port mapper (docs/security.md, "Program discovery").

// Discovery prints the programs found at one target: in the classic form a
// line "addr/net  prog service  versions L-H" per program found, or one
// line saying "silent", "refused", "any-program: ..." or "no program found
// (N asked)", then a line for the programs that drew no answer and one for
// an error; in the table form the same as a table; in the JSON form a
// document of kind "discovery".
func (p *Printer) Discovery(d audit.Discovery) error {
	switch p.opts.Format {
	case Table:
		return p.tableDiscovery(d)
	case JSON:
		return p.encode(DiscoveryDocument{Header: p.header(KindDiscovery), Discovery: d})
	}
	return p.write(classicDiscovery(nil, d))
}

// DiscoveryDocument is rpcinfo --discover's answer for one target: the
// common fields (host is the host part of the target, as given), then those
// of an audit.Discovery (docs/security.md gives their meaning).
type DiscoveryDocument struct {
	Header
	audit.Discovery
}

// foundText is what a found program's answer says: "versions 1-3" for
// PROG_MISMATCH, "any version (SUCCESS)", or "answers STATUS".
func foundText(f audit.Found) string {
	switch f.Status {
	case "PROG_MISMATCH":
		return "versions " + strconv.FormatUint(uint64(f.Low), 10) + "-" + strconv.FormatUint(uint64(f.High), 10)
	case "SUCCESS":
		return "any version (SUCCESS)"
	}
	return "answers " + f.Status
}

// discoveryState is the line of a target where no program is listed.
func discoveryState(d audit.Discovery) string {
	switch d.State {
	case audit.StateRPC:
		return "no program found (" + strconv.Itoa(d.Asked) + " asked)"
	case audit.StateAnyProgram:
		return "any-program: an unassigned program drew " + d.ControlStatus + ", so the answers cannot tell programs apart"
	case audit.StateError:
		return "error"
	}
	return d.State
}

// programList writes program numbers separated by spaces.
func programList(progs []uint32) string {
	s := make([]string, len(progs))
	for i, p := range progs {
		s[i] = strconv.FormatUint(uint64(p), 10)
	}
	return strings.Join(s, " ")
}

// classicDiscovery: "%s/%s  " with the target and network, then "%10u %-10s
// " and the versions for each program found, or the state; then
// "no answer from P ..." and "error: ..." lines.
func classicDiscovery(b []byte, d audit.Discovery) []byte {
	where := d.Target.Addr + "/" + d.Network + "  "
	line := func(text string) {
		b = append(b, where...)
		b = append(b, text...)
		b = append(b, '\n')
	}
	for _, f := range d.Programs {
		b = append(b, where...)
		b = padUint(b, uint64(f.Prog), 10)
		b = append(b, ' ')
		name := f.Name
		if name == "" {
			name = "-"
		}
		b = padRight(b, name, 10)
		b = append(b, "  "...)
		b = append(b, foundText(f)...)
		b = append(b, '\n')
	}
	if len(d.Programs) == 0 && d.State != audit.StateError {
		line(discoveryState(d))
	}
	if len(d.Unanswered) > 0 {
		line("no answer from " + programList(d.Unanswered))
	}
	if d.Error != "" {
		line("error: " + d.Error)
	}
	return b
}

func (p *Printer) tableDiscovery(d audit.Discovery) error {
	pal := newPalette(p.opts.Color)
	state := d.State
	switch d.State {
	case audit.StateRPC:
		state = pal.good.Sprint(state)
	case audit.StateError:
		state = pal.bad.Sprint(state)
	}
	var rows [][]string
	for _, f := range d.Programs {
		name := "-"
		if f.Name != "" {
			name = pal.service.Sprint(f.Name)
		}
		vers := ""
		if f.Status == "PROG_MISMATCH" {
			vers = u32(f.Low) + "-" + u32(f.High)
		}
		rows = append(rows, []string{d.Target.Addr, d.Network, state, u32(f.Prog), name, vers, f.Status})
	}
	if len(rows) == 0 {
		detail := "" // silent, refused, error: the state says it
		switch d.State {
		case audit.StateRPC:
			detail = discoveryState(d)
		case audit.StateAnyProgram:
			detail = "an unassigned program drew " + d.ControlStatus
		}
		rows = append(rows, []string{d.Target.Addr, d.Network, state, "", "", "", detail})
	}
	if err := draw(p.w, []column{{"TARGET", false}, {"NET", false}, {"STATE", false}, {"PROGRAM", true},
		{"SERVICE", false}, {"VERSIONS", false}, {"STATUS", false}}, rows); err != nil {
		return err
	}
	if len(d.Unanswered) > 0 {
		if err := p.writeString("no answer from " + programList(d.Unanswered) + "\n"); err != nil {
			return err
		}
	}
	if d.Error != "" {
		return p.writeString(pal.bad.Sprint("error:") + " " + d.Error + "\n")
	}
	return nil
}
