package loadgen

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

// Limits and defaults of a run. Every run is bounded in time and in calls.
const (
	// DefaultClients is the number of concurrent clients: 16, the figure
	// the comparisons with rpcbind are made at (issue #10).
	DefaultClients = 16

	// MaxClients caps the clients, each of which holds a socket: 1,024 keeps
	// a run within the descriptors a process has by default and within
	// rpcbind's own connection table.
	MaxClients = 1024

	// DefaultWindow is the calls each client keeps in flight: 1, a closed
	// loop in which every client waits for its reply, as libtirpc callers do.
	DefaultWindow = 1

	// MaxWindow caps the calls in flight per client: 64 is far more than a
	// port mapper's callers ever pipeline, and keeps a TCP client's
	// unanswered calls (64 small records) well inside a socket's send buffer.
	MaxWindow = 64

	// DefaultDuration is how long a run lasts when neither a duration nor a
	// count is given: 5 seconds gives hundreds of thousands of calls on the
	// loopback, enough for stable percentiles.
	DefaultDuration = 5 * time.Second

	// MaxDuration caps a run: 10 minutes, more than any comparison needs, so
	// a forgotten run ends by itself.
	MaxDuration = 10 * time.Minute

	// DefaultCount is the calls a run makes at most when no count is given:
	// 10 million, which the default duration ends long before (at 100,000
	// calls/s it would take 100 s).
	DefaultCount = 10_000_000

	// MaxCount caps the calls of a run: 10^9 is more than MaxDuration allows
	// at any rate one machine can answer.
	MaxCount = 1_000_000_000

	// DefaultTimeout is how long a call waits for its reply: a port mapper
	// on the loopback answers in microseconds, so a second is a lost call.
	DefaultTimeout = time.Second

	// MaxTimeout caps the wait for one reply: 60 seconds.
	MaxTimeout = time.Minute

	// MaxReply caps a reply (a datagram, or a TCP record): 16 MiB holds a
	// DUMP of the largest registry pkg/portmap decodes
	// (portmap.MaxListEntries rpcbind entries of about 60 bytes).
	MaxReply = 16 << 20
)

// Proc is the procedure of program 100000 a run calls.
type Proc int

// The procedures a run can call (RFC 1833).
const (
	// ProcNull is NULL, procedure 0 of every version: the cost of the RPC
	// layer alone.
	ProcNull Proc = iota
	// ProcGetport is portmap v2 GETPORT(mapping) (RFC 1833 §3.2).
	ProcGetport
	// ProcGetaddr is rpcbind v3 or v4 GETADDR(rpcb) (RFC 1833 §2.2.1).
	ProcGetaddr
	// ProcDump is DUMP of version 2, 3 or 4 (RFC 1833 §2.2.1, §3.2).
	ProcDump
)

var procNames = [...]string{"null", "getport", "getaddr", "dump"}

// String returns the procedure's name as ParseProc reads it.
func (p Proc) String() string {
	if p >= 0 && int(p) < len(procNames) {
		return procNames[p]
	}
	return "proc(" + strconv.Itoa(int(p)) + ")"
}

// ParseProc reads a procedure name: null, getport, getaddr or dump (any case).
func ParseProc(s string) (Proc, error) {
	for i, n := range procNames {
		if strings.EqualFold(s, n) {
			return Proc(i), nil
		}
	}
	return 0, fmt.Errorf("loadgen: unknown procedure %q (want null, getport, getaddr or dump)", s)
}

// number returns the procedure's number in version v of program 100000.
func (p Proc) number() uint32 {
	switch p {
	case ProcGetport:
		return portmap.PmapGetport
	case ProcGetaddr:
		return portmap.RpcbGetaddr
	case ProcDump:
		return portmap.PmapDump
	}
	return portmap.ProcNull
}

// Engine is the machinery that carries the calls.
type Engine int

const (
	// EngineAuto is EngineRaw where it exists (Linux), EngineRPC elsewhere.
	EngineAuto Engine = iota
	// EngineRaw drives non-blocking sockets from epoll event loops.
	EngineRaw
	// EngineRPC calls through pkg/rpc's Client.
	EngineRPC
)

var engineNames = [...]string{"auto", "raw", "rpc"}

// String returns the engine's name as ParseEngine reads it.
func (e Engine) String() string {
	if e >= 0 && int(e) < len(engineNames) {
		return engineNames[e]
	}
	return "engine(" + strconv.Itoa(int(e)) + ")"
}

// ParseEngine reads an engine name: auto, raw or rpc.
func ParseEngine(s string) (Engine, error) {
	for i, n := range engineNames {
		if strings.EqualFold(s, n) {
			return Engine(i), nil
		}
	}
	return 0, fmt.Errorf("loadgen: unknown engine %q (want auto, raw or rpc)", s)
}

// Config describes a run. The zero value of a field means its default.
type Config struct {
	// Target is the port mapper's address: an IP address, with or without
	// a port ("127.0.0.1", "127.0.0.1:111", "[::1]:111", "localhost");
	// the port defaults to 111. See CheckTarget for the addresses allowed.
	Target string

	// Network is the transport: "udp" (the default) or "tcp".
	Network string

	// Proc is the procedure called (default ProcNull).
	Proc Proc

	// Vers is the version of program 100000 called: 2 for GETPORT, 3 or 4
	// for GETADDR, any of them for NULL and DUMP. Zero means 2, or 3 for
	// GETADDR.
	Vers uint32

	// Prog and ProgVers are the key of GETPORT and GETADDR: the program and
	// version looked up. Zero means NFS version 3 (100003, 3), which the
	// seed registry holds.
	Prog, ProgVers uint32

	// Netid is the key's netid: "udp" or "tcp" for GETPORT, which sends its
	// protocol number, any netid for GETADDR (which rpcbind ignores,
	// answering for the transport the call came in on). Empty means Network.
	Netid string

	// Clients is the number of concurrent clients, each with a socket of
	// its own (default DefaultClients, at most MaxClients).
	Clients int

	// Window is the calls each client keeps in flight (default
	// DefaultWindow, at most MaxWindow).
	Window int

	// Duration ends the run (default DefaultDuration when Count is zero,
	// MaxDuration otherwise; at most MaxDuration). Calls in flight then are
	// counted as unfinished.
	Duration time.Duration

	// Count ends the run once that many calls have been answered or have
	// timed out (default DefaultCount, at most MaxCount).
	Count int64

	// Timeout is how long a call waits for its reply before it counts as a
	// timeout (default DefaultTimeout, at most MaxTimeout).
	Timeout time.Duration

	// Engine carries the calls (default EngineAuto).
	Engine Engine

	// Loops is the raw engine's number of event loops, each a thread
	// (default: GOMAXPROCS, at most Clients).
	Loops int

	// Spin makes the raw engine's event loops poll without ever sleeping:
	// no wake-up latency and no scheduler round trip per reply, at the price
	// of a busy CPU per loop. Use it when the generator has CPUs of its own
	// (taskset), to measure a server rather than the scheduler.
	Spin bool
}

// target is a checked configuration, ready to run.
type target struct {
	Config
	addr  netip.AddrPort
	prot  uint32 // GETPORT's protocol number
	count int64
	limit time.Duration
}

// check validates c, fills in its defaults and checks the target.
func (c Config) check() (*target, error) {
	t := &target{Config: c}
	var err error
	if t.addr, err = CheckTarget(c.Target); err != nil {
		return nil, err
	}
	switch t.Network {
	case "":
		t.Network = "udp"
	case "udp", "tcp":
	default:
		return nil, fmt.Errorf("loadgen: network %q: want udp or tcp", c.Network)
	}
	if t.Vers == 0 {
		t.Vers = portmap.V2
		if t.Proc == ProcGetaddr {
			t.Vers = portmap.V3
		}
	}
	switch {
	case t.Proc < ProcNull || t.Proc > ProcDump:
		return nil, fmt.Errorf("loadgen: unknown procedure %d", int(t.Proc))
	case t.Vers < portmap.V2 || t.Vers > portmap.V4:
		return nil, fmt.Errorf("loadgen: version %d of program 100000: want 2, 3 or 4", t.Vers)
	case t.Proc == ProcGetport && t.Vers != portmap.V2:
		return nil, fmt.Errorf("loadgen: getport is a version 2 procedure, not version %d (use getaddr)", t.Vers)
	case t.Proc == ProcGetaddr && t.Vers == portmap.V2:
		return nil, errors.New("loadgen: getaddr is a version 3 and 4 procedure (use getport for version 2)")
	}
	if t.Prog == 0 && t.ProgVers == 0 {
		t.Prog, t.ProgVers = 100003, 3
	}
	if t.Netid == "" {
		t.Netid = t.Network
	}
	if len(t.Netid) > portmap.MaxNetidLen {
		return nil, fmt.Errorf("loadgen: netid of %d bytes, over %d", len(t.Netid), portmap.MaxNetidLen)
	}
	if t.Proc == ProcGetport {
		p, ok := portmap.ProtForNetid(t.Netid)
		if !ok {
			return nil, fmt.Errorf("loadgen: getport takes netid udp or tcp, not %q", t.Netid)
		}
		t.prot = p
	}
	if err := bound("clients", &t.Clients, DefaultClients, MaxClients); err != nil {
		return nil, err
	}
	if err := bound("window", &t.Window, DefaultWindow, MaxWindow); err != nil {
		return nil, err
	}
	if t.Loops < 0 {
		return nil, fmt.Errorf("loadgen: %d loops", t.Loops)
	}
	switch {
	case t.Count < 0 || t.Count > MaxCount:
		return nil, fmt.Errorf("loadgen: count %d: want 1 to %d", t.Count, int64(MaxCount))
	case t.Duration < 0 || t.Duration > MaxDuration:
		return nil, fmt.Errorf("loadgen: duration %v: want at most %v", t.Duration, MaxDuration)
	case t.Timeout < 0 || t.Timeout > MaxTimeout:
		return nil, fmt.Errorf("loadgen: timeout %v: want at most %v", t.Timeout, MaxTimeout)
	}
	t.count, t.limit = t.Count, t.Duration
	if t.count == 0 {
		t.count = DefaultCount
	}
	if t.limit == 0 {
		t.limit = MaxDuration
		if t.Count == 0 {
			t.limit = DefaultDuration
		}
	}
	if t.Timeout == 0 {
		t.Timeout = DefaultTimeout
	}
	if t.Engine == EngineAuto {
		t.Engine = defaultEngine
	}
	if t.Engine != EngineRaw && t.Engine != EngineRPC {
		return nil, fmt.Errorf("loadgen: unknown engine %d", int(t.Engine))
	}
	return t, nil
}

// bound applies a default of def to a zero *v and checks 1 <= *v <= max.
func bound(what string, v *int, def, max int) error {
	if *v == 0 {
		*v = def
	}
	if *v < 1 || *v > max {
		return fmt.Errorf("loadgen: %s %d: want 1 to %d", what, *v, max)
	}
	return nil
}

// The networks a run may target.
var allowed = []netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"),  // IPv4 loopback (RFC 1122 §3.2.1.3)
	netip.MustParsePrefix("::1/128"),      // IPv6 loopback (RFC 4291 §2.5.3)
	netip.MustParsePrefix("192.0.2.0/24"), // TEST-NET-1 (RFC 5737): the test namespaces
}

// ErrTarget is the error (wrapped) for a target outside the allowed networks.
var ErrTarget = errors.New("loadgen: target outside 127.0.0.0/8, ::1 and 192.0.2.0/24")

// CheckTarget parses s, an IP address with an optional port (111 by
// default), and returns it if it lies in 127.0.0.0/8, ::1 or 192.0.2.0/24;
// any other address is an error wrapping ErrTarget. Names are not resolved,
// but "localhost" is 127.0.0.1. An IPv4-mapped IPv6 address counts as its
// IPv4 address; a zone is refused.
func CheckTarget(s string) (netip.AddrPort, error) {
	host, port := s, uint16(portmap.Port)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		host, port = ap.Addr().String(), ap.Port()
	} else if i := strings.LastIndexByte(s, ':'); i >= 0 && strings.Count(s, ":") == 1 {
		p, err := strconv.ParseUint(s[i+1:], 10, 16)
		if err != nil || p == 0 {
			return netip.AddrPort{}, fmt.Errorf("loadgen: target %q: bad port", s)
		}
		host, port = s[:i], uint16(p)
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if host == "" || strings.EqualFold(host, "localhost") {
		host = "127.0.0.1"
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("loadgen: target %q: not an IP address (names other than localhost are not resolved)", s)
	}
	if a.Zone() != "" {
		return netip.AddrPort{}, fmt.Errorf("%w: %q has a zone", ErrTarget, s)
	}
	a = a.Unmap()
	for _, p := range allowed {
		if p.Contains(a) {
			if port == 0 {
				return netip.AddrPort{}, fmt.Errorf("loadgen: target %q: port 0", s)
			}
			return netip.AddrPortFrom(a, port), nil
		}
	}
	return netip.AddrPort{}, fmt.Errorf("%w: %s", ErrTarget, a)
}
