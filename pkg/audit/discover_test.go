package audit

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
)

// Programs of the discovery tests: two from the names table, one from the
// range RFC 5531 §8.3 leaves to local use, which no table names.
const (
	mountdProg  = 100005
	nfsACLProg  = 100227
	unknownProg = 0x20001234
)

// versionMux serves NULL of each program for versions low to high.
func versionMux(progs map[uint32][2]uint32) *rpc.Mux {
	m := &rpc.Mux{}
	for p, r := range progs {
		for v := r[0]; v <= r[1]; v++ {
			m.HandleFunc(p, v, 0, func(_ context.Context, _ *rpc.Request, res []byte) ([]byte, error) { return res, nil })
		}
	}
	return m
}

// called records the calls a handler sees, then passes them on.
type called struct {
	next rpc.Handler
	mu   sync.Mutex
	seen []rpc.CallHeader
}

func (c *called) ServeRPC(ctx context.Context, req *rpc.Request, res []byte) ([]byte, error) {
	c.mu.Lock()
	h := req.Header
	h.Cred, h.Verf = rpc.OpaqueAuth{}, rpc.OpaqueAuth{}
	c.seen = append(c.seen, h)
	c.mu.Unlock()
	return c.next.ServeRPC(ctx, req, res)
}

func TestDiscoverTarget(t *testing.T) {
	t.Parallel()
	names := portmap.BuiltinNames()
	mixed := versionMux(map[uint32][2]uint32{mountdProg: {1, 3}, nfsACLProg: {3, 3}, unknownProg: {2, 5}})
	// odd answers: an AUTH_ERROR for mountd, silence for nfs, PROG_UNAVAIL otherwise.
	odd := rpc.HandlerFunc(func(_ context.Context, req *rpc.Request, _ []byte) ([]byte, error) {
		switch req.Header.Prog {
		case mountdProg:
			return nil, rpc.AuthErrorReply(rpc.AuthTooWeak)
		case 100003:
			return nil, rpc.ErrNoReply
		}
		return nil, rpc.ErrProgUnavail
	})
	anything := rpc.HandlerFunc(func(_ context.Context, _ *rpc.Request, res []byte) ([]byte, error) { return res, nil })
	mountd, _ := names.Name(mountdProg)
	nfsACL, _ := names.Name(nfsACLProg)

	tests := []struct {
		name       string
		handler    rpc.Handler // nil: a closed port
		programs   []uint32
		state      string
		found      []Found
		unanswered []uint32
		control    string
	}{
		{
			name: "known programs from the names table", handler: mixed, state: StateRPC, control: "PROG_UNAVAIL",
			found: []Found{
				{Prog: mountdProg, Name: mountd, Status: "PROG_MISMATCH", Low: 1, High: 3},
				{Prog: nfsACLProg, Name: nfsACL, Status: "PROG_MISMATCH", Low: 3, High: 3},
			},
		},
		{
			name: "an unknown program from a given list", handler: mixed, programs: []uint32{100003, unknownProg, 100021},
			state: StateRPC, control: "PROG_UNAVAIL",
			found: []Found{{Prog: unknownProg, Status: "PROG_MISMATCH", Low: 2, High: 5}},
		},
		{
			name: "other answers than PROG_MISMATCH; silence is not a finding", handler: odd, programs: []uint32{100003, mountdProg, 100021},
			state: StateRPC, control: "PROG_UNAVAIL",
			found:      []Found{{Prog: mountdProg, Name: mountd, Status: "AUTH_ERROR"}},
			unanswered: []uint32{100003},
		},
		{
			name: "a service that answers any program", handler: anything, state: StateAnyProgram, control: "SUCCESS",
		},
		{
			name: "a closed port", state: StateRefused,
		},
	}
	for _, tt := range tests {
		for _, network := range []string{"udp", "tcp"} {
			t.Run(tt.name+"/"+network, func(t *testing.T) {
				t.Parallel()
				var addr netip.AddrPort
				if tt.handler != nil {
					addr = serveRPC(t, tt.handler)
				} else {
					addr = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), closedUDPPort(t))
				}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				target := Target{Network: network, Addr: addr.String()}
				d := DiscoverTarget(ctx, target, &DiscoverOptions{Programs: tt.programs, Names: names, CallTimeout: time.Second, Rate: -1})
				if d.State != tt.state || d.ControlStatus != tt.control || d.Error != "" {
					t.Errorf("state %q control %q error %q; want %q, %q, none", d.State, d.ControlStatus, d.Error, tt.state, tt.control)
				}
				if d.Target != target || d.Addr != addr.String() {
					t.Errorf("target %+v addr %q", d.Target, d.Addr)
				}
				found := tt.found
				if found == nil {
					found = []Found{}
				}
				if !slices.Equal(d.Programs, found) || !slices.Equal(d.Unanswered, tt.unanswered) {
					t.Errorf("found %+v unanswered %v;\nwant %+v, %v", d.Programs, d.Unanswered, found, tt.unanswered)
				}
				wantAsked := 0
				if tt.state == StateRPC {
					wantAsked = len(tt.programs)
					if tt.programs == nil {
						wantAsked = names.Len()
					}
				}
				if d.Asked != wantAsked {
					t.Errorf("asked %d programs, want %d", d.Asked, wantAsked)
				}
			})
		}
	}
}

func TestDiscoverCalls(t *testing.T) {
	t.Parallel()
	progs := []uint32{100003, mountdProg, 100003, unknownProg}
	for _, version := range []uint32{0, 0xffffffff} {
		t.Run(fmt.Sprint("version ", version), func(t *testing.T) {
			t.Parallel()
			rec := &called{next: versionMux(map[uint32][2]uint32{mountdProg: {1, 3}})}
			addr := serveRPC(t, rec)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			d := DiscoverTarget(ctx, Target{Network: "udp", Addr: addr.String()}, &DiscoverOptions{Programs: progs, Version: version})
			if version != 0 && d.Version != version {
				t.Errorf("probe version %d, want the given %d", d.Version, version)
			}
			if d.Version < MinProbeVersion {
				t.Errorf("probe version %d is below %d", d.Version, MinProbeVersion)
			}
			if d.ControlProgram < reservedProgLow || slices.Contains(progs, d.ControlProgram) {
				t.Errorf("control program %#x is not a reserved number outside the list", d.ControlProgram)
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			var asked []uint32
			for i, h := range rec.seen {
				if h.Vers != d.Version || h.Proc != 0 || h.RPCVers != rpc.RPCVersion {
					t.Errorf("call %d: %+v, want NULL of version %d", i, h, d.Version)
				}
				asked = append(asked, h.Prog)
			}
			if len(asked) == 0 || asked[0] != d.ControlProgram {
				t.Fatalf("calls to %v: the control call did not come first", asked)
			}
			asked = asked[1:]
			slices.Sort(asked)
			if want := []uint32{100003, mountdProg, unknownProg}; !slices.Equal(asked, want) || d.Asked != len(want) {
				t.Errorf("asked %v (%d), want each of %v once", asked, d.Asked, want)
			}
		})
	}
}

func TestDiscoverBounds(t *testing.T) {
	t.Parallel()
	const delay = 40 * time.Millisecond
	type stats struct {
		mu     sync.Mutex
		starts []time.Time
		now    int
		peak   int
	}
	slow := func(s *stats) rpc.Handler {
		return rpc.HandlerFunc(func(_ context.Context, _ *rpc.Request, _ []byte) ([]byte, error) {
			s.mu.Lock()
			s.starts = append(s.starts, time.Now())
			s.now++
			s.peak = max(s.peak, s.now)
			s.mu.Unlock()
			time.Sleep(delay)
			s.mu.Lock()
			s.now--
			s.mu.Unlock()
			return nil, rpc.ErrProgUnavail
		})
	}
	progs := make([]uint32, 16)
	for i := range progs {
		progs[i] = 0x20000100 + uint32(i)
	}
	tests := []struct {
		name     string
		parallel int
		rate     float64
	}{
		{"parallel 3, no rate bound", 3, -1},
		{"rate 50 a second", 8, 50},
	}
	for _, tt := range tests {
		for _, network := range []string{"udp", "tcp"} {
			t.Run(tt.name+"/"+network, func(t *testing.T) {
				t.Parallel()
				var s stats
				addr := serveRPC(t, slow(&s))
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				d := DiscoverTarget(ctx, Target{Network: network, Addr: addr.String()},
					&DiscoverOptions{Programs: progs, CallParallel: tt.parallel, Rate: tt.rate})
				if d.State != StateRPC || d.Asked != len(progs) || len(d.Programs) != 0 {
					t.Fatalf("state %q, asked %d, found %v", d.State, d.Asked, d.Programs)
				}
				s.mu.Lock()
				defer s.mu.Unlock()
				if s.peak > tt.parallel {
					t.Errorf("%d calls in flight at once, bound %d", s.peak, tt.parallel)
				}
				if tt.rate < 0 && s.peak < 2 {
					t.Errorf("never more than %d call in flight: no parallelism", s.peak)
				}
				if tt.rate > 0 {
					// Calls leave the client at least 1/rate apart; the
					// server sees them with at most scheduling jitter.
					span := s.starts[len(s.starts)-1].Sub(s.starts[0])
					min := time.Duration(float64(len(s.starts)-1) / tt.rate * float64(time.Second) * 0.9)
					if span < min {
						t.Errorf("%d calls within %v; at %v a second they take at least %v", len(s.starts), span, tt.rate, min)
					}
				}
			})
		}
	}
}

func TestDiscoverManyTargets(t *testing.T) {
	t.Parallel()
	a := serveRPC(t, versionMux(map[uint32][2]uint32{mountdProg: {1, 3}}))
	b := serveRPC(t, versionMux(map[uint32][2]uint32{unknownProg: {7, 7}}))
	closed := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), closedUDPPort(t))
	targets := []Target{
		{Network: "udp", Addr: a.String()},
		{Network: "tcp", Addr: b.String()},
		{Network: "udp", Addr: closed.String()},
		{Network: "sctp", Addr: a.String()},
		{Network: "udp", Addr: "127.0.0.1"},
	}
	want := []struct {
		state string
		found []uint32
	}{{StateRPC, []uint32{mountdProg}}, {StateRPC, []uint32{unknownProg}}, {StateRefused, nil}, {StateError, nil}, {StateError, nil}}
	var n atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res := Discover(ctx, targets, &DiscoverOptions{Programs: []uint32{mountdProg, unknownProg, 100003}, Parallel: 2,
		Progress: func(Discovery) { n.Add(1) }})
	if len(res) != len(targets) || int(n.Load()) != len(targets) {
		t.Fatalf("%d results, %d progress calls, for %d targets", len(res), n.Load(), len(targets))
	}
	for i, d := range res {
		var found []uint32
		for _, f := range d.Programs {
			found = append(found, f.Prog)
		}
		if d.Target != targets[i] || d.State != want[i].state || !slices.Equal(found, want[i].found) {
			t.Errorf("result %d: %+v; want %v with %v", i, d, want[i].state, want[i].found)
		}
	}
}

func TestPacer(t *testing.T) {
	t.Parallel()
	p := newPacer(100)
	ctx := context.Background()
	start := time.Now()
	var wg sync.WaitGroup
	for range 11 {
		wg.Go(func() { p.wait(ctx) })
	}
	wg.Wait()
	if d := time.Since(start); d < 95*time.Millisecond {
		t.Errorf("11 waits at 100 a second took %v, want at least 100 ms", d)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := newPacer(0.001).wait(cctx); err == nil {
		t.Errorf("a wait with an ended context returned nil")
	}
	if err := newPacer(-1).wait(ctx); err != nil {
		t.Errorf("an unbounded pacer: %v", err)
	}
}
