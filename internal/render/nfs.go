package render

import (
	"fmt"
	"strconv"
	"time"
)

// StepVerdict is the outcome of one step of the NFS path check.
type StepVerdict int

// The outcomes of a step of rpcinfo --nfs.
const (
	StepOK      StepVerdict = iota // the step works
	StepWarning                    // it works for some clients only (tcp but not udp, say)
	StepFailed                     // it fails: mounts or locks that need it fail
	StepSkipped                    // it could not be checked (the port mapper did not answer)
)

var stepNames = [...]string{StepOK: "ok", StepWarning: "warning", StepFailed: "failed", StepSkipped: "skipped"}

// String returns "ok", "warning", "failed" or "skipped".
func (v StepVerdict) String() string {
	if v >= 0 && int(v) < len(stepNames) {
		return stepNames[v]
	}
	return fmt.Sprintf("step(%d)", int(v))
}

// NFSStep is one line of rpcinfo --nfs: one program of the NFS path over
// one transport.
type NFSStep struct {
	// Name is the program's name: portmapper, mountd, nfs, nlockmgr or
	// status.
	Name string
	// Prog is its number.
	Prog uint32
	// Proto is the transport, "tcp" or "udp" ("tcp6", "udp6" for a host
	// asked over IPv6).
	Proto string
	// Port is where the program is registered (the port mapper: where it
	// was called); 0 when it is not registered.
	Port uint32
	// Versions are the versions that answered NULL.
	Versions []uint32
	// Verdict is the step's outcome.
	Verdict StepVerdict
	// RTT is the round-trip time of the fastest answer; zero without one.
	RTT time.Duration
	// Detail says what was found: "versions 1,2,3 answer", "refused",
	// "not registered", ...
	Detail string
	// Cause is, for a step that is not ok, the likely cause in words an
	// administrator can act on.
	Cause string
}

// NFSPath prints the steps of rpcinfo --nfs for host, one line each, then
// (classic and table forms) a line summing them up.
func (p *Printer) NFSPath(host string, steps []NFSStep) error {
	switch p.opts.Format {
	case Table:
		return p.tableNFS(host, steps)
	case JSON:
		return p.jsonNFS(steps)
	}
	return p.write(classicNFS(nil, host, steps))
}

// NFSOK reports whether no step failed.
func NFSOK(steps []NFSStep) bool {
	for _, s := range steps {
		if s.Verdict == StepFailed {
			return false
		}
	}
	return true
}

// stepText is a step's detail and cause on one line.
func stepText(s NFSStep) string {
	text := s.Detail
	if s.RTT > 0 {
		text += " (" + formatRTT(s.RTT) + ")"
	}
	if s.Cause != "" {
		text += ": " + s.Cause
	}
	return text
}

// portText is a step's port, or "-".
func portText(s NFSStep) string {
	if s.Port == 0 {
		return "-"
	}
	return strconv.FormatUint(uint64(s.Port), 10)
}

// nfsSummary sums the steps up in one sentence.
func nfsSummary(host string, steps []NFSStep) string {
	var failed, warned, skipped int
	for _, s := range steps {
		switch s.Verdict {
		case StepFailed:
			failed++
		case StepWarning:
			warned++
		case StepSkipped:
			skipped++
		}
	}
	if failed+warned+skipped == 0 {
		return "NFS path to " + host + ": every step answers"
	}
	s := "NFS path to " + host + ":"
	sep := " "
	for _, n := range []struct {
		count int
		what  string
	}{{failed, "failed"}, {warned, "with warnings"}, {skipped, "skipped"}} {
		if n.count == 0 {
			continue
		}
		s += sep + plural(n.count, "step") + " " + n.what
		sep = ", "
	}
	return s
}

// plural returns "1 step" or "n steps".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

// classicNFS: "%-11s %-5s %5s  %-8s %s" per step, a blank line and the sum.
func classicNFS(b []byte, host string, steps []NFSStep) []byte {
	b = append(b, "step        proto  port  verdict  detail\n"...)
	for _, s := range steps {
		b = padRight(b, s.Name, 11)
		b = append(b, ' ')
		b = padRight(b, s.Proto, 5)
		b = append(b, ' ')
		b = padLeft(b, portText(s), 5)
		b = append(b, "  "...)
		b = padRight(b, s.Verdict.String(), 8)
		b = append(b, ' ')
		b = append(b, stepText(s)...)
		b = append(b, '\n')
	}
	b = append(b, '\n')
	b = append(b, nfsSummary(host, steps)...)
	return append(b, '\n')
}

func (p *Printer) tableNFS(host string, steps []NFSStep) error {
	pal := newPalette(p.opts.Color)
	rows := make([][]string, 0, len(steps))
	for _, s := range steps {
		v := s.Verdict.String()
		switch s.Verdict {
		case StepOK:
			v = pal.good.Sprint(v)
		case StepFailed:
			v = pal.bad.Sprint(v)
		case StepWarning:
			v = pal.owner.Sprint(v)
		}
		rtt := ""
		if s.RTT > 0 {
			rtt = formatRTT(s.RTT)
		}
		detail := s.Detail
		if s.Cause != "" {
			detail += ": " + s.Cause
		}
		rows = append(rows, []string{s.Name, s.Proto, portText(s), v, rtt, detail})
	}
	if err := draw(p.w, []column{{"STEP", false}, {"PROTO", false}, {"PORT", true}, {"VERDICT", false},
		{"RTT", true}, {"DETAIL", false}}, rows); err != nil {
		return err
	}
	return p.tableTitle(pal, nfsSummary(host, steps))
}

// NFSDocument is rpcinfo --nfs's answer.
type NFSDocument struct {
	Header
	// OK tells whether no step failed, which is also what the exit status
	// says.
	OK    bool          `json:"ok"`
	Steps []NFSStepJSON `json:"steps"`
}

// NFSStepJSON is one step of the NFS path check.
type NFSStepJSON struct {
	Step     string   `json:"step"`
	Program  uint32   `json:"program"`
	Protocol string   `json:"protocol"`
	Port     uint32   `json:"port,omitempty"`
	Versions []uint32 `json:"versions"`
	Verdict  string   `json:"verdict"`
	// RTTMillis is the round-trip time of the fastest answer in
	// milliseconds, absent without an answer.
	RTTMillis *float64 `json:"rtt_ms,omitempty"`
	Detail    string   `json:"detail"`
	Cause     string   `json:"cause,omitempty"`
}

func (p *Printer) jsonNFS(steps []NFSStep) error {
	doc := NFSDocument{Header: p.header(KindNFS), OK: NFSOK(steps), Steps: make([]NFSStepJSON, 0, len(steps))}
	for _, s := range steps {
		vers := s.Versions
		if vers == nil {
			vers = []uint32{}
		}
		doc.Steps = append(doc.Steps, NFSStepJSON{Step: s.Name, Program: s.Prog, Protocol: s.Proto, Port: s.Port,
			Versions: vers, Verdict: s.Verdict.String(), RTTMillis: rttMillis(s.RTT, s.RTT > 0), Detail: s.Detail, Cause: s.Cause})
	}
	return p.encode(doc)
}
