package loadgen

import (
	"fmt"
	"io"
	"time"
)

// stats is what one event loop or one goroutine counts; merged at the end.
type stats struct {
	hist       histogram
	ok         int64 // successful replies
	empty      int64 // of which said "nothing registered"
	errs       int64 // error replies, garbled replies, failed sends and reads
	timeouts   int64 // calls unanswered within the timeout
	unfinished int64 // calls in flight when the run ended
	stray      int64 // replies matching no call in flight
	reconnects int64 // TCP connections made again after one failed
	replyBytes int64 // bytes of the successful replies
	firstErr   string
	answer     string // the first successful reply, rendered
}

// fail counts a call that failed with err.
func (s *stats) fail(err error) {
	s.errs++
	s.note(err)
}

// note keeps err if it is the first error, without counting a call: a
// connection that closed is not itself a call.
func (s *stats) note(err error) {
	if s.firstErr == "" {
		s.firstErr = err.Error()
	}
}

func (s *stats) merge(o *stats) {
	s.hist.merge(&o.hist)
	s.ok += o.ok
	s.empty += o.empty
	s.errs += o.errs
	s.timeouts += o.timeouts
	s.unfinished += o.unfinished
	s.stray += o.stray
	s.reconnects += o.reconnects
	s.replyBytes += o.replyBytes
	if s.firstErr == "" {
		s.firstErr = o.firstErr
	}
	if s.answer == "" {
		s.answer = o.answer
	}
}

// Why a run ended.
const (
	StopDuration = "duration" // Config.Duration elapsed
	StopCount    = "count"    // Config.Count calls were done
	StopContext  = "context"  // the caller's context ended
	StopFailed   = "failed"   // every client lost its connection for good
)

// Latency holds latency percentiles in microseconds.
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// Result is the report of a run; its JSON form is pmapload's -o json output
// (field names are stable: scripts read them).
type Result struct {
	Target   string `json:"target"`  // address:port
	Network  string `json:"network"` // udp or tcp
	Proc     string `json:"proc"`    // null, getport, getaddr or dump
	Vers     uint32 `json:"vers"`    // version of program 100000 called
	Prog     uint32 `json:"prog"`    // the key looked up (getport, getaddr)
	ProgVers uint32 `json:"prog_vers"`
	Netid    string `json:"netid"`
	Clients  int    `json:"clients"`
	Window   int    `json:"window"` // calls in flight per client
	Engine   string `json:"engine"` // raw or rpc
	Loops    int    `json:"loops"`  // event loops of the raw engine
	Spin     bool   `json:"spin"`   // the event loops polled without sleeping

	Seconds     float64 `json:"seconds"`      // from the first call to the end
	CPUSeconds  float64 `json:"cpu_s"`        // CPU time pmapload used meanwhile (user + system)
	StoppedBy   string  `json:"stopped_by"`   // duration, count, context, failed
	Calls       int64   `json:"calls"`        // successful replies
	CallsPerSec float64 `json:"calls_per_s"`  // Calls / Seconds
	Empty       int64   `json:"empty"`        // successful replies saying "not registered"
	Errors      int64   `json:"errors"`       // error or garbled replies, failed sends
	Timeouts    int64   `json:"timeouts"`     // calls not answered within the timeout
	Unfinished  int64   `json:"unfinished"`   // calls in flight when the run ended
	Stray       int64   `json:"stray"`        // replies that matched no call in flight
	Reconnects  int64   `json:"reconnects"`   // TCP connections remade after a failure
	ReplyBytes  float64 `json:"reply_bytes"`  // mean size of a successful reply
	LatencyUS   Latency `json:"latency_us"`   // of successful calls, microseconds
	Answer      string  `json:"answer"`       // first successful reply: port, uaddr, N entries
	FirstError  string  `json:"first_error"`  // first error, if any
	TimeoutMS   float64 `json:"timeout_ms"`   // the per-call timeout
	CountLimit  int64   `json:"count_limit"`  // the count bound in force
	SecondLimit float64 `json:"second_limit"` // the time bound in force
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// result builds the report of a run of t that took elapsed.
func (t *target) result(s *stats, elapsed, cpu time.Duration, stoppedBy string, loops int) *Result {
	r := &Result{
		Target: t.addr.String(), Network: t.Network, Proc: t.Proc.String(), Vers: t.Vers,
		Prog: t.Prog, ProgVers: t.ProgVers, Netid: t.Netid,
		Clients: t.Clients, Window: t.Window, Engine: t.Engine.String(), Loops: loops, Spin: t.Spin && loops > 0,
		Seconds: elapsed.Seconds(), CPUSeconds: cpu.Seconds(), StoppedBy: stoppedBy,
		Calls: s.ok, Empty: s.empty, Errors: s.errs, Timeouts: s.timeouts,
		Unfinished: s.unfinished, Stray: s.stray, Reconnects: s.reconnects,
		Answer: s.answer, FirstError: s.firstErr,
		TimeoutMS:   float64(t.Timeout) / float64(time.Millisecond),
		CountLimit:  t.count,
		SecondLimit: t.limit.Seconds(),
		LatencyUS: Latency{
			P50: us(s.hist.quantile(0.50)), P90: us(s.hist.quantile(0.90)),
			P99: us(s.hist.quantile(0.99)), Max: us(time.Duration(s.hist.max)),
			Mean: us(s.hist.mean()),
		},
	}
	if t.Proc != ProcGetport && t.Proc != ProcGetaddr {
		r.Prog, r.ProgVers, r.Netid = 0, 0, ""
	}
	if elapsed > 0 {
		r.CallsPerSec = float64(s.ok) / elapsed.Seconds()
	}
	if s.ok > 0 {
		r.ReplyBytes = float64(s.replyBytes) / float64(s.ok)
	}
	return r
}

// Done returns the calls that ended: answered, failed or timed out.
func (r *Result) Done() int64 { return r.Calls + r.Errors + r.Timeouts }

// WriteText writes the report for a person.
func (r *Result) WriteText(w io.Writer) error {
	what := r.Proc
	if r.Proc == "getport" || r.Proc == "getaddr" {
		what = fmt.Sprintf("%s %d %d %s", r.Proc, r.Prog, r.ProgVers, r.Netid)
	}
	_, err := fmt.Fprintf(w, ""+
		"target      %s %s, program 100000 version %d, %s\n"+
		"clients     %d x %d in flight, %s engine (%d loops, spin %v)\n"+
		"ran         %.3f s (%.3f s of CPU), stopped by %s\n"+
		"calls/s     %.0f (%d calls, %.0f bytes per reply)\n"+
		"latency     p50 %.1f us  p90 %.1f us  p99 %.1f us  max %.1f us  mean %.1f us\n"+
		"answer      %s (%d empty)\n"+
		"errors      %d errors, %d timeouts (%.0f ms), %d unfinished, %d stray, %d reconnects\n",
		r.Network, r.Target, r.Vers, what,
		r.Clients, r.Window, r.Engine, r.Loops, r.Spin,
		r.Seconds, r.CPUSeconds, r.StoppedBy,
		r.CallsPerSec, r.Calls, r.ReplyBytes,
		r.LatencyUS.P50, r.LatencyUS.P90, r.LatencyUS.P99, r.LatencyUS.Max, r.LatencyUS.Mean,
		r.Answer, r.Empty,
		r.Errors, r.Timeouts, r.TimeoutMS, r.Unfinished, r.Stray, r.Reconnects)
	if err == nil && r.FirstError != "" {
		_, err = fmt.Fprintf(w, "first error %s\n", r.FirstError)
	}
	return err
}
