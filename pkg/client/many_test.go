package client

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/pkg/rpc"
)

func TestParseTargets(t *testing.T) {
	addr := netip.MustParseAddr
	named := func(h string) Target { return Target{Host: h} }
	lit := func(h string) Target { return Target{Host: h, Addr: addr(h)} }
	ranged := func(h string) Target { return Target{Host: h, Addr: addr(h), Ranged: true} }
	tests := []struct {
		name    string
		args    []string
		want    []Target
		wantErr string
	}{
		{"names and literals", []string{"nfs1", "192.0.2.7", "[::1]", "::ffff:192.0.2.8"},
			[]Target{named("nfs1"), lit("192.0.2.7"), lit("::1"), lit("192.0.2.8")}, ""},
		{"a list", []string{"a,b,192.0.2.1"}, []Target{named("a"), named("b"), lit("192.0.2.1")}, ""},
		{"a range, masked, every address", []string{"192.0.2.5/30"},
			[]Target{ranged("192.0.2.4"), ranged("192.0.2.5"), ranged("192.0.2.6"), ranged("192.0.2.7")}, ""},
		{"a /32", []string{"192.0.2.9/32"}, []Target{ranged("192.0.2.9")}, ""},
		{"IPv6 range", []string{"fd00::/127"}, []Target{ranged("fd00::"), ranged("fd00::1")}, ""},
		{"repeats kept once at their first place", []string{"192.0.2.2", "192.0.2.0/30,b", "b"},
			[]Target{lit("192.0.2.2"), ranged("192.0.2.0"), ranged("192.0.2.1"), ranged("192.0.2.3"), named("b")}, ""},
		{"empty list element", []string{"a,,b"}, nil, "empty host"},
		{"bad range", []string{"192.0.2.0/33"}, nil, "bad range"},
		{"range too wide", []string{"10.0.0.0/19"}, nil, "wider than 4096"},
		{"IPv6 range too wide", []string{"fd00::/64"}, nil, "wider than 4096"},
		{"too many hosts", []string{"127.0.0.0/20", "127.0.16.0/20", "127.0.32.0/20", "127.0.48.0/20", "127.0.64.0/20",
			"127.0.80.0/20", "127.0.96.0/20", "127.0.112.0/20", "127.0.128.0/20", "127.0.144.0/20", "127.0.160.0/20",
			"127.0.176.0/20", "127.0.192.0/20", "127.0.208.0/20", "127.0.224.0/20", "127.0.240.0/20", "one-more"}, nil, "more than 65536"},
	}
	for _, tt := range tests {
		got, err := ParseTargets(tt.args)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "client: ") {
				t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: ParseTargets(%q) = %v, %v\nwant %v", tt.name, tt.args, got, err, tt.want)
		}
	}
	if got, err := ParseTargets([]string{"127.0.0.0/20"}); err != nil || len(got) != MaxRangeAddrs {
		t.Errorf("a range of MaxRangeAddrs: %d targets, %v", len(got), err)
	}
	for _, tt := range []struct {
		arg  string
		many bool
	}{{"host", false}, {"::1", false}, {"a,b", true}, {"192.0.2.0/24", true}, {"fd00::/120", true}, {"127.0.0.2.5", false},
		{"/run/rpcbind.sock", false}, {"10.0.0.0/33", false}} {
		if IsMany(tt.arg) != tt.many {
			t.Errorf("IsMany(%q) = %v", tt.arg, !tt.many)
		}
	}
}

func TestForEach(t *testing.T) {
	const n, parallel = 50, 4
	var running, most atomic.Int32
	var order []int
	ForEach(context.Background(), n, parallel, func(_ context.Context, i int) int {
		r := running.Add(1)
		for {
			m := most.Load()
			if r <= m || most.CompareAndSwap(m, r) {
				break
			}
		}
		// Later items finish first, so results arrive out of order.
		time.Sleep(time.Duration((n-i)%7) * time.Millisecond)
		running.Add(-1)
		return i * i
	}, func(i, r int) {
		if r != i*i {
			t.Errorf("result %d is %d", i, r)
		}
		order = append(order, i)
	})
	if len(order) != n {
		t.Fatalf("%d results emitted, want %d", len(order), n)
	}
	for i, v := range order {
		if v != i {
			t.Fatalf("emitted in order %v", order)
		}
	}
	if m := most.Load(); m > parallel || m < 2 {
		t.Errorf("at most %d ran at once, want 2 to %d", m, parallel)
	}

	// An ended context still gives every result.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var errs int
	ForEach(ctx, 10, 0, func(ctx context.Context, i int) error { return ctx.Err() }, func(_ int, err error) {
		if err != nil {
			errs++
		}
	})
	if errs != 10 {
		t.Errorf("%d of 10 results carry the ended context", errs)
	}
}

// serveNullAt answers NULL of fakeProg version 1 over UDP at ap until the
// test ends.
func serveNullAt(t *testing.T, ap string) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp4", ap)
	if err != nil {
		t.Fatal(err)
	}
	srv := &rpc.Server{Handler: versionsMux(1), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	go srv.ServePacket(pc)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return pc.LocalAddr().(*net.UDPAddr).AddrPort()
}

// TestSweep sweeps 1,024 loopback addresses of which three serve the
// program: it finds those three, and takes the sweep's time once, not once
// per address. Nothing listens at the others, so they answer with ICMP port
// unreachable, which a sweep must ignore.
func TestSweep(t *testing.T) {
	first := serveNullAt(t, "127.0.0.1:0")
	port := first.Port()
	var live []netip.Addr
	live = append(live, first.Addr())
	for _, a := range []string{"127.0.0.2", "127.0.3.77"} {
		ap := serveNullAt(t, netip.AddrPortFrom(netip.MustParseAddr(a), port).String())
		live = append(live, ap.Addr())
	}
	targets, err := ParseTargets([]string{"127.0.0.0/22"})
	if err != nil {
		t.Fatal(err)
	}
	addrs := make([]netip.Addr, len(targets))
	for i, tg := range targets {
		addrs[i] = tg.Addr
	}
	const wait = time.Second
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	var mu sync.Mutex
	var found []netip.Addr
	start := time.Now()
	err = Sweep(ctx, addrs, int(port), fakeProg, 1, nil, func(a netip.Addr) {
		mu.Lock()
		defer mu.Unlock()
		found = append(found, a)
	})
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != len(live) {
		t.Errorf("found %v, want %v", found, live)
	}
	for _, a := range live {
		if !contains(found, a) {
			t.Errorf("%s not found", a)
		}
	}
	if took < wait-50*time.Millisecond || took > 2*wait {
		t.Errorf("sweep took %v, want about %v", took, wait)
	}

	// When every address answers, the sweep ends at once.
	start = time.Now()
	found = nil
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	if err := Sweep(ctx2, live, int(port), fakeProg, 2, nil, func(a netip.Addr) { found = append(found, a) }); err != nil {
		t.Fatal(err)
	}
	if len(found) != len(live) || time.Since(start) > 2*time.Second {
		t.Errorf("sweep of live addresses found %v in %v (a PROG_MISMATCH reply counts)", found, time.Since(start))
	}
}

func contains(list []netip.Addr, a netip.Addr) bool {
	for _, x := range list {
		if x == a {
			return true
		}
	}
	return false
}
