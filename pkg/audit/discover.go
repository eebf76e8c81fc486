package audit

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
)

// Defaults of [DiscoverOptions].
const (
	// DefaultCallParallel is how many calls are in flight at one target.
	// Eight keep a round trip of latency from dominating a scan while a
	// single-threaded server (rpc.mountd, rpc.statd) queues at most a few.
	DefaultCallParallel = 8

	// DefaultRate is how many calls a second are started at one target:
	// the 38 programs of the built-in table take under half a second, and
	// a server that answers NULL in microseconds sees a small fraction of
	// what it can take, as does an intrusion detector's rate threshold.
	DefaultRate = 100

	// DefaultCallTimeout bounds each call, UDP retransmissions included
	// (sent at 0, 0.5 and 1.5 s with rpc.DefaultRetransmit): a target that
	// answered the control call and then says nothing about a program for
	// two seconds is not going to.
	DefaultCallTimeout = 2 * time.Second
)

// MinProbeVersion is the smallest version drawn at random for the discovery
// calls. Programs number their versions from 1 up to a handful; a version
// drawn from [2^24, 2^32-1] is one no program serves, so the right program
// answers PROG_MISMATCH. It is random, as nmap's is, so that the calls carry
// no fixed mark for a filter to drop.
const MinProbeVersion = 1 << 24

// Program numbers that are never assigned: RFC 5531 §8.3 reserves
// 0x80000000 to 0xffffffff (and 0x60000000 to 0x7effffff, but leaves the
// block above that to future assignment, so the upper half is the safe
// choice). The control call of a discovery goes to one of them, drawn at
// random.
const (
	reservedProgLow  = 0x80000000
	reservedProgHigh = 0xffffffff
)

// States of a [Discovery].
const (
	// StateRPC: the control call drew PROG_UNAVAIL and every program was asked.
	StateRPC = "rpc"
	// StateSilent: no answer to the control call (or no TCP connection)
	// within CallTimeout: a firewall that drops, or nothing there.
	StateSilent = "silent"
	// StateRefused: nothing listens (ICMP port unreachable, TCP reset).
	StateRefused = "refused"
	// StateAnyProgram: the service answered the control call with
	// something other than PROG_UNAVAIL, so its answers cannot tell one
	// program from another; ControlStatus says what it answered.
	StateAnyProgram = "any-program"
	// StateError: the target could not be asked; Error says why.
	StateError = "error"
)

// Target is an address to run discovery on.
type Target struct {
	// Network is "udp" or "tcp".
	Network string `json:"network"`
	// Addr is "host:port" or "[ipv6]:port".
	Addr string `json:"target"`
}

// Found is a program that answered at a target.
type Found struct {
	Prog uint32 `json:"program"`
	// Name is the program's name in the names table; absent when it has none.
	Name string `json:"service,omitempty"`
	// Status is the reply to the impossible version: "PROG_MISMATCH" (Low
	// and High are the versions served), "SUCCESS" (the program takes any
	// version, so the range is unknown), or another status that still
	// differs from the PROG_UNAVAIL other programs draw.
	Status string `json:"status"`
	Low    uint32 `json:"low,omitempty"`
	High   uint32 `json:"high,omitempty"`
}

// Discovery is the result of discovery at one target.
type Discovery struct {
	Target
	// Addr is the address asked (ip:port).
	Addr string `json:"addr,omitempty"`
	// State is one of the State* values.
	State string `json:"state"`
	// Version is the impossible version of the calls; ControlProgram the
	// unassigned program of the control call, ControlStatus its reply.
	Version        uint32 `json:"probe_version"`
	ControlProgram uint32 `json:"control_program"`
	ControlStatus  string `json:"control_status,omitempty"`
	// Programs are the programs found, by number; empty, never null.
	Programs []Found `json:"programs"`
	// Asked counts the programs asked; Unanswered lists those that drew no
	// reply within CallTimeout.
	Asked      int      `json:"asked"`
	Unanswered []uint32 `json:"unanswered,omitempty"`
	// Error says why the target could not be asked, or what cut the scan
	// short.
	Error string `json:"error,omitempty"`
}

// DiscoverOptions tunes discovery; the zero value (or nil) gives the
// defaults noted on each field.
type DiscoverOptions struct {
	// Programs are the program numbers to look for; nil means every
	// program of Names.
	Programs []uint32
	// Names names the programs found and, without Programs, lists those
	// to look for; nil means portmap.DefaultNames().
	Names *portmap.Names
	// Version is the version asked for; 0 means one drawn at random from
	// [MinProbeVersion, 2^32-1] for each target.
	Version uint32
	// CallParallel bounds the calls in flight at one target; 0 means
	// DefaultCallParallel.
	CallParallel int
	// Rate bounds the calls started per second at one target, the control
	// call included; 0 means DefaultRate, a negative value no bound.
	Rate float64
	// CallTimeout bounds each call; 0 means DefaultCallTimeout.
	CallTimeout time.Duration
	// Retransmit is the first UDP retransmission interval; 0 means
	// rpc.DefaultRetransmit.
	Retransmit time.Duration
	// Timeout bounds the work on one target; 0 means no bound but ctx's
	// (each call is bounded by CallTimeout anyway).
	Timeout time.Duration
	// Parallel is how many targets Discover works on at once; 0 means
	// DefaultParallel.
	Parallel int
	// Progress, if set, is called by Discover with each result as it is
	// done, one call at a time.
	Progress func(Discovery)
}

// withDefaults returns a copy of o with every zero field defaulted.
func (o *DiscoverOptions) withDefaults() DiscoverOptions {
	var c DiscoverOptions
	if o != nil {
		c = *o
	}
	if c.Names == nil {
		c.Names = portmap.DefaultNames()
	}
	if c.CallParallel <= 0 {
		c.CallParallel = DefaultCallParallel
	}
	if c.Rate == 0 {
		c.Rate = DefaultRate
	}
	if c.CallTimeout <= 0 {
		c.CallTimeout = DefaultCallTimeout
	}
	if c.Parallel <= 0 {
		c.Parallel = DefaultParallel
	}
	return c
}

// programs returns the programs to ask, each once, in the order given.
func (o *DiscoverOptions) programs() []uint32 {
	var list []uint32
	if o.Programs != nil {
		list = o.Programs
	} else {
		for _, e := range o.Names.Entries() {
			list = append(list, e.Number)
		}
	}
	seen := make(map[uint32]bool, len(list))
	out := make([]uint32, 0, len(list))
	for _, p := range list {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// Discover runs discovery at every target, at most opts.Parallel at once, and
// returns the results in the order of targets.
func Discover(ctx context.Context, targets []Target, opts *DiscoverOptions) []Discovery {
	o := opts.withDefaults()
	out := make([]Discovery, len(targets))
	rep := reporter[Discovery]{fn: o.Progress}
	forEach(ctx, len(targets), o.Parallel, func(ctx context.Context, i int) {
		out[i] = discoverTarget(ctx, targets[i], &o)
		rep.report(out[i])
	})
	return out
}

// DiscoverTarget finds which programs answer at target without the port
// mapper: a control call to an unassigned program must draw PROG_UNAVAIL;
// then each program is asked for an impossible version, and every answer
// but PROG_UNAVAIL marks it found (PROG_MISMATCH with its range of versions).
// A target that stays silent reports nothing, after one CallTimeout.
func DiscoverTarget(ctx context.Context, target Target, opts *DiscoverOptions) Discovery {
	o := opts.withDefaults()
	return discoverTarget(ctx, target, &o)
}

func discoverTarget(ctx context.Context, t Target, o *DiscoverOptions) Discovery {
	d := Discovery{Target: t, Programs: []Found{}}
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	progs := o.programs()
	d.Version = o.Version
	if d.Version == 0 {
		d.Version = MinProbeVersion + rand.Uint32N(^uint32(0)-MinProbeVersion+1)
	}
	for d.ControlProgram == 0 || slices.Contains(progs, d.ControlProgram) {
		d.ControlProgram = reservedProgLow + rand.Uint32N(reservedProgHigh-reservedProgLow+1)
	}

	if t.Network != "udp" && t.Network != "tcp" {
		return d.fail(fmt.Errorf("audit: network %q: want udp or tcp", t.Network))
	}
	host, port, err := splitTarget(t.Addr, 0)
	if err == nil && port == 0 {
		err = fmt.Errorf("audit: target %q has no port", t.Addr)
	}
	var addr netip.Addr
	if err == nil {
		addr, err = resolve(ctx, host)
	}
	if err != nil {
		return d.fail(err)
	}
	dst := netip.AddrPortFrom(addr, uint16(port))
	d.Addr = dst.String()

	pace := newPacer(o.Rate)
	if err := pace.wait(ctx); err != nil {
		return d.fail(err)
	}
	dctx, cancel := context.WithTimeout(ctx, o.CallTimeout)
	c, err := rpc.Dial(dctx, t.Network, dst.String(), &rpc.Options{Retransmit: o.Retransmit})
	cancel()
	if err != nil {
		switch outcome, _ := callOutcome(err); outcome {
		case StatusSilent:
			d.State = StateSilent
		case StatusRefused:
			d.State = StateRefused
		default:
			return d.fail(err)
		}
		return d
	}
	defer c.Close()

	status, cerr := askProgram(ctx, c, d.ControlProgram, d.Version, o.CallTimeout)
	d.ControlStatus = status
	switch status {
	case rpc.AcceptProgUnavail.String():
		d.State = StateRPC
	case StatusSilent:
		d.State, d.ControlStatus = StateSilent, ""
		return d
	case StatusRefused:
		d.State, d.ControlStatus = StateRefused, ""
		return d
	case StatusError:
		d.ControlStatus = ""
		return d.fail(fmt.Errorf("audit: the control call failed: %w", cerr))
	default:
		d.State = StateAnyProgram
		return d
	}
	d.grind(ctx, c, progs, pace, o)
	return d
}

// grind asks every program for the impossible version, CallParallel at a
// time and paced, and records what answered.
func (d *Discovery) grind(ctx context.Context, c *rpc.Client, progs []uint32, pace *pacer, o *DiscoverOptions) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	var firstErr error
	sem := make(chan struct{}, o.CallParallel)
	for _, p := range progs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		if err := pace.wait(ctx); err != nil {
			<-sem
			break
		}
		d.Asked++
		wg.Go(func() {
			defer func() { <-sem }()
			status, e := askProgram(ctx, c, p, d.Version, o.CallTimeout)
			mu.Lock()
			defer mu.Unlock()
			switch status {
			case rpc.AcceptProgUnavail.String():
			case StatusSilent:
				d.Unanswered = append(d.Unanswered, p)
			case StatusError, StatusRefused:
				if firstErr == nil && e != nil {
					firstErr = e
				}
			default:
				f := Found{Prog: p, Status: status}
				f.Name, _ = o.Names.Name(p)
				if e != nil && e.Status == rpc.ProgVersMismatch {
					f.Low, f.High = e.Low, e.High
				}
				d.Programs = append(d.Programs, f)
			}
		})
	}
	wg.Wait()
	slices.SortFunc(d.Programs, func(a, b Found) int { return cmpUint32(a.Prog, b.Prog) })
	slices.Sort(d.Unanswered)
	switch {
	case ctx.Err() != nil:
		d.Error = fmt.Sprintf("audit: stopped after %d of %d programs: %v", d.Asked, len(progs), ctx.Err())
	case firstErr != nil:
		d.Error = firstErr.Error()
	}
}

func cmpUint32(a, b uint32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// fail records why the target could not be asked.
func (d *Discovery) fail(err error) Discovery {
	d.State = StateError
	d.Error = err.Error()
	return *d
}

// askProgram calls NULL of (prog, vers) within timeout and returns the
// reply's status, as RFC 5531 §9 names it, or StatusSilent, StatusRefused or
// StatusError, with the call's error.
func askProgram(ctx context.Context, c *rpc.Client, prog, vers uint32, timeout time.Duration) (string, *rpc.Error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err := c.Call(ctx, prog, vers, portmap.ProcNull, nil)
	return callOutcome(err)
}

// callOutcome names the result of a call or a dial: the status of the reply,
// or StatusSilent (it timed out), StatusRefused (nothing listens) or
// StatusError (any other local failure).
func callOutcome(err error) (string, *rpc.Error) {
	if err == nil {
		return rpc.AcceptSuccess.String(), nil
	}
	var e *rpc.Error
	if !errors.As(err, &e) {
		return StatusError, &rpc.Error{Status: rpc.Failed, Err: err}
	}
	if errors.Is(e.Err, syscall.ECONNREFUSED) {
		return StatusRefused, e
	}
	switch e.Status {
	case rpc.TimedOut:
		return StatusSilent, e
	case rpc.ProgUnavail:
		return rpc.AcceptProgUnavail.String(), e
	case rpc.ProgVersMismatch:
		return rpc.AcceptProgMismatch.String(), e
	case rpc.ProcUnavail:
		return rpc.AcceptProcUnavail.String(), e
	case rpc.CantDecodeArgs:
		return rpc.AcceptGarbageArgs.String(), e
	case rpc.AuthError:
		return rpc.RejectAuthError.String(), e
	case rpc.VersMismatch:
		return rpc.RejectRPCMismatch.String(), e
	case rpc.SystemError:
		var ne net.Error
		switch {
		case e.Err == nil: // a SYSTEM_ERR reply, not a failed connect
			return rpc.AcceptSystemErr.String(), e
		case errors.As(e.Err, &ne) && ne.Timeout():
			// A connect that timed out: rpc reports it as TimedOut only
			// when the context's own timer has fired first.
			return StatusSilent, e
		}
	case rpc.Failed:
		if e.Err == nil { // an accept_stat rpc does not know
			return "accept_stat(unknown)", e
		}
	}
	return StatusError, e
}
