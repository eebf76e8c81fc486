package render

import (
	"net/netip"
	"strconv"

	"github.com/portmap-toolkit/pmap/pkg/audit"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

// Output of rpcinfo --audit: one block per host. The report itself comes
// from pkg/audit (docs/security.md, "Reflection audit"); this file only lays
// it out.

// Audit prints the reflection audit of one host: in the classic form a line
// "host: summary", then an indented line per probe and per remote call
// (label, status, reply/request bytes, datagrams, factor), the forwarding
// verdict and its reason, and a "fix:" line per piece of advice; in the table
// form the same as a title and a table; in the JSON form a document of kind
// "audit".
func (p *Printer) Audit(r audit.Report) error {
	switch p.opts.Format {
	case Table:
		return p.tableAudit(r)
	case JSON:
		return p.encode(AuditDocument{Schema: Schema, Kind: KindAudit, Host: r.Host, Report: r})
	}
	return p.write(classicAudit(nil, r))
}

// AuditDocument is rpcinfo --audit's answer for one host: the common fields,
// then those of an audit.Report (docs/security.md gives their meaning). The
// report's own "host" is the document's Host: when a document is decoded,
// Report.Host stays empty.
type AuditDocument struct {
	Schema string `json:"schema"` // always Schema
	Kind   string `json:"kind"`   // always KindAudit
	Host   string `json:"host"`   // the host as given
	audit.Report
}

// auditTitle names the host, with the address probed when it is not just
// the host at port 111, and the summary: "192.0.2.2: reflector: ...",
// "nfs1 (192.0.2.2:111): safe: ...".
func auditTitle(r audit.Report) (host, summary string) {
	host = r.Host
	if r.Addr != "" {
		ap, err := netip.ParseAddrPort(r.Addr)
		if err != nil || ap.Port() != portmap.Port || ap.Addr().String() != r.Host {
			host += " (" + r.Addr + ")"
		}
	}
	return host, r.Summary
}

// classicAudit lays out one report:
//
//	HOST: SUMMARY
//	  LABEL  STATUS  REPLY/REQUEST bytes  R/Q datagrams  FACTOR  [OUTCOME]
//	  forwarding: VERDICT: REASON
//	  fix: ADVICE
//
// with "  %-11s  %-13s %11s bytes %5s datagrams %6s" for each exchange.
func classicAudit(b []byte, r audit.Report) []byte {
	host, summary := auditTitle(r)
	b = append(b, host...)
	b = append(b, ": "...)
	b = append(b, summary...)
	b = append(b, '\n')
	for _, pr := range r.Probes {
		b = classicExchange(b, pr.Kind.Label(), &pr.Exchange, "")
	}
	if f := r.Forwarding; f != nil {
		for _, c := range f.Calls {
			b = classicExchange(b, c.Label(), &c.Exchange, c.Outcome)
		}
		b = append(b, "  forwarding: "...)
		b = append(b, f.Verdict...)
		b = append(b, ": "...)
		b = append(b, f.Reason...)
		b = append(b, '\n')
	}
	for _, a := range r.Advice {
		b = append(b, "  fix: "...)
		b = append(b, a...)
		b = append(b, '\n')
	}
	return b
}

// classicExchange is one measured exchange's line; outcome is a remote
// call's, "" for a probe.
func classicExchange(b []byte, label string, ex *audit.Exchange, outcome string) []byte {
	b = append(b, "  "...)
	b = padRight(b, label, 11)
	b = append(b, "  "...)
	b = padRight(b, ex.Status, 13)
	b = append(b, ' ')
	b = padLeft(b, strconv.Itoa(ex.ReplyBytes)+"/"+strconv.Itoa(ex.RequestBytes), 11)
	b = append(b, " bytes "...)
	b = padLeft(b, strconv.Itoa(ex.ReplyDatagrams)+"/"+strconv.Itoa(ex.RequestDatagrams), 5)
	b = append(b, " datagrams "...)
	b = padLeft(b, audit.FormatFactor(ex.Factor), 6)
	if outcome != "" {
		b = append(b, "  "...)
		b = append(b, outcome...)
	}
	if ex.Error != "" {
		b = append(b, "  "...)
		b = append(b, ex.Error...)
	}
	return append(b, '\n')
}

func (p *Printer) tableAudit(r audit.Report) error {
	pal := newPalette(p.opts.Color)
	host, summary := auditTitle(r)
	switch {
	case r.Finding():
		summary = pal.bad.Sprint(summary)
	case r.Verdict == audit.VerdictSafe:
		summary = pal.good.Sprint(summary)
	}
	if err := p.writeString(pal.title.Sprint(host+":") + " " + summary + "\n"); err != nil {
		return err
	}
	var rows [][]string
	row := func(label string, ex *audit.Exchange, outcome string) {
		factor := audit.FormatFactor(ex.Factor)
		if ex.Factor > audit.MaxSafeFactor {
			factor = pal.bad.Sprint(factor)
		}
		rtt := ""
		if ex.RTTMillis > 0 {
			rtt = strconv.FormatFloat(ex.RTTMillis, 'f', 3, 64) + "ms"
		}
		detail := outcome
		if ex.Error != "" {
			detail = joinNonEmpty(detail, ex.Error)
		}
		rows = append(rows, []string{label, ex.Status, strconv.Itoa(ex.RequestBytes), strconv.Itoa(ex.ReplyBytes),
			strconv.Itoa(ex.ReplyDatagrams) + "/" + strconv.Itoa(ex.RequestDatagrams), factor, rtt, detail})
	}
	for _, pr := range r.Probes {
		row(pr.Kind.Label(), &pr.Exchange, "")
	}
	if r.Forwarding != nil {
		for _, c := range r.Forwarding.Calls {
			row(c.Label(), &c.Exchange, c.Outcome)
		}
	}
	if len(rows) > 0 {
		if err := draw(p.w, []column{{"EXCHANGE", false}, {"STATUS", false}, {"REQUEST B", true}, {"REPLY B", true},
			{"DATAGRAMS", true}, {"FACTOR", true}, {"RTT", true}, {"DETAIL", false}}, rows); err != nil {
			return err
		}
	}
	if f := r.Forwarding; f != nil {
		v := f.Verdict
		if v == audit.ForwardsYes {
			v = pal.bad.Sprint(v)
		}
		if err := p.writeString("forwarding: " + v + ": " + f.Reason + "\n"); err != nil {
			return err
		}
	}
	for _, a := range r.Advice {
		if err := p.writeString(pal.bad.Sprint("fix:") + " " + a + "\n"); err != nil {
			return err
		}
	}
	return nil
}

// joinNonEmpty joins a and b with "; ", leaving out an empty one.
func joinNonEmpty(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}

// writeString writes s whole.
func (p *Printer) writeString(s string) error {
	_, err := p.w.Write([]byte(s))
	return err
}
