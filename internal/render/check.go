package render

import (
	"fmt"
	"strconv"
	"time"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

// Verdict is what calling NULL at a registered address found.
type Verdict int

// The verdicts of a registration check (rpcinfo --verify).
const (
	// Alive: the program answered NULL of the registered version.
	Alive Verdict = iota
	// Refused: nothing listens at the address (a TCP reset, or an ICMP
	// port unreachable for UDP): a service that died while its
	// registration stayed.
	Refused
	// Silent: no answer before the timeout: a firewall drops the packets,
	// or the service hangs.
	Silent
	// Mismatch: a program answered with PROG_MISMATCH and the range of
	// versions it serves, which leaves out the registered one.
	Mismatch
	// Unavailable: something answered PROG_UNAVAIL: another program took
	// the port after the registered one left.
	Unavailable
	// Failed: any other failure, such as an unreachable network or an
	// authentication error; the check's Err says which.
	Failed
	// Skipped: the address cannot be called from here (a unix socket or a
	// loopback address of another host, an address family the host has
	// none of); Err says why. A skipped check is not a failure.
	Skipped
)

var verdictNames = [...]string{Alive: "alive", Refused: "refused", Silent: "silent", Mismatch: "mismatch",
	Unavailable: "unavailable", Failed: "failed", Skipped: "skipped"}

// String returns the verdict's name, as the JSON form spells it: "alive",
// "refused", "silent", "mismatch", "unavailable", "failed" or "skipped".
func (v Verdict) String() string {
	if v >= 0 && int(v) < len(verdictNames) {
		return verdictNames[v]
	}
	return fmt.Sprintf("verdict(%d)", int(v))
}

// Check is the outcome of calling NULL at one registered address, for
// rpcinfo --verify.
type Check struct {
	// Reg is the registration, as the listing gave it (a portmap version
	// 2 mapping converted as rpcinfo converts it).
	Reg portmap.RPCB
	// Target is where the call went: "host:port", "[v6]:port", or a unix
	// socket path; "" when the check was skipped.
	Target string
	// Verdict is what the call found.
	Verdict Verdict
	// Low and High are the versions the program serves, for Mismatch.
	Low, High uint32
	// RTT is the time from sending the call to its answer (Alive,
	// Mismatch, Unavailable); zero otherwise.
	RTT time.Duration
	// Err is libtirpc's text of the failure, or why the check was skipped;
	// "" when the program answered.
	Err string
}

// OK reports whether the check found nothing wrong: the program answered,
// or the address could not be checked from here.
func (c Check) OK() bool { return c.Verdict == Alive || c.Verdict == Skipped }

// AllOK reports whether every check of list is OK.
func AllOK(list []Check) bool {
	for _, c := range list {
		if !c.OK() {
			return false
		}
	}
	return true
}

// Checks prints the outcome of rpcinfo --verify: each registration with its
// verdict.
func (p *Printer) Checks(list []Check) error {
	switch p.opts.Format {
	case Table:
		return p.tableChecks(list)
	case JSON:
		return p.jsonChecks(list)
	}
	return p.write(p.classicChecks(nil, list))
}

// verdictText is a check's verdict in words, with its details: "alive
// 0.213ms", "mismatch 2-4", "failed: RPC: ...".
func verdictText(c Check) string {
	s := c.Verdict.String()
	switch c.Verdict {
	case Alive:
		return s + " " + formatRTT(c.RTT)
	case Mismatch:
		return s + " " + strconv.FormatUint(uint64(c.Low), 10) + "-" + strconv.FormatUint(uint64(c.High), 10)
	case Failed, Skipped:
		if c.Err != "" {
			return s + ": " + c.Err
		}
	}
	return s
}

// formatRTT prints a round-trip time in milliseconds with three decimals.
func formatRTT(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 3, 64) + "ms"
}

// rttMillis is a round-trip time for JSON, in milliseconds with microsecond
// precision; nil when there was no answer.
func rttMillis(d time.Duration, answered bool) *float64 {
	if !answered {
		return nil
	}
	ms := float64(d.Microseconds()) / 1000
	return &ms
}

// classicChecks prints the registrations in the columns of rpcinfo's default
// listing, with the verdict where the owner was: "%10u%5u    ", "%-9s ",
// "%-22s", " %-10s", " %s".
func (p *Printer) classicChecks(b []byte, list []Check) []byte {
	if len(list) == 0 {
		return append(b, noPrograms...)
	}
	b = append(b, "   program version netid     address                service    verdict\n"...)
	for _, c := range list {
		b = padUint(b, uint64(c.Reg.Prog), 10)
		b = padUint(b, uint64(c.Reg.Vers), 5)
		b = append(b, "    "...)
		b = padRight(b, cstr(c.Reg.Netid), 9)
		b = append(b, ' ')
		b = padRight(b, cstr(c.Reg.Addr), 22)
		b = append(b, ' ')
		b = padRight(b, p.nameOr(c.Reg.Prog, "-"), 10)
		b = append(b, ' ')
		b = append(b, verdictText(c)...)
		b = append(b, '\n')
	}
	return b
}

func (p *Printer) tableChecks(list []Check) error {
	if len(list) == 0 {
		return p.noProgramsTable()
	}
	pal := newPalette(p.opts.Color)
	rows := make([][]string, 0, len(list))
	for _, c := range list {
		verdict := c.Verdict.String()
		switch {
		case c.Verdict == Alive:
			verdict = pal.good.Sprint(verdict)
		case !c.OK():
			verdict = pal.bad.Sprint(verdict)
		}
		rtt, detail := "", c.Err
		if c.RTT > 0 {
			rtt = formatRTT(c.RTT)
		}
		if c.Verdict == Mismatch {
			detail = fmt.Sprintf("serves versions %d-%d", c.Low, c.High)
		}
		rows = append(rows, []string{u32(c.Reg.Prog), u32(c.Reg.Vers), c.Reg.Netid, c.Reg.Addr, p.service(pal, c.Reg.Prog),
			verdict, rtt, detail})
	}
	return draw(p.w, []column{{"PROGRAM", true}, {"VERSION", true}, {"NETID", false}, {"ADDRESS", false},
		{"SERVICE", false}, {"VERDICT", false}, {"RTT", true}, {"DETAIL", false}}, rows)
}

// VerificationDocument is rpcinfo --verify's answer: every registration of
// the listing and what calling it found.
type VerificationDocument struct {
	Header
	// Alive tells whether every check is alive or skipped, which is also
	// what the exit status says.
	Alive  bool        `json:"alive"`
	Checks []CheckJSON `json:"checks"`
}

// CheckJSON is one registration (RFC 1833 §2.1, rpcb) and the outcome of a
// NULL call (RFC 5531 §12) at its address.
type CheckJSON struct {
	Program uint32 `json:"program"`
	Version uint32 `json:"version"`
	Netid   string `json:"netid"`
	Address string `json:"address"`
	Service string `json:"service,omitempty"`
	Owner   string `json:"owner"`
	// Target is where the call went ("host:port" or a socket path); absent
	// when skipped.
	Target  string `json:"target,omitempty"`
	Verdict string `json:"verdict"`
	// Low and High are present for "mismatch".
	Low  *uint32 `json:"low,omitempty"`
	High *uint32 `json:"high,omitempty"`
	// RTTMillis is the round-trip time in milliseconds, present when
	// something answered.
	RTTMillis *float64 `json:"rtt_ms,omitempty"`
	Error     string   `json:"error,omitempty"`
}

func (p *Printer) jsonChecks(list []Check) error {
	doc := VerificationDocument{Header: p.header(KindVerification), Alive: AllOK(list), Checks: make([]CheckJSON, 0, len(list))}
	for _, c := range list {
		name, _ := p.name(c.Reg.Prog)
		j := CheckJSON{Program: c.Reg.Prog, Version: c.Reg.Vers, Netid: c.Reg.Netid, Address: c.Reg.Addr, Service: name,
			Owner: c.Reg.Owner, Target: c.Target, Verdict: c.Verdict.String(), Error: c.Err,
			RTTMillis: rttMillis(c.RTT, c.Verdict == Alive || c.Verdict == Mismatch || c.Verdict == Unavailable)}
		if c.Verdict == Mismatch {
			low, high := c.Low, c.High
			j.Low, j.High = &low, &high
		}
		doc.Checks = append(doc.Checks, j)
	}
	return p.encode(doc)
}
