package server

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

func rec(prog, vers uint32, netid, addr, owner string) portmap.RPCB {
	return portmap.RPCB{Prog: prog, Vers: vers, Netid: netid, Addr: addr, Owner: owner}
}

func TestRegistrySetUnset(t *testing.T) {
	r := NewRegistry(0)
	su, u := OwnerSuperuser, "1000"
	steps := []struct {
		name  string
		op    func() bool
		want  bool
		after []portmap.RPCB // DUMP afterwards, when non-nil
	}{
		{"set", func() bool { return r.Set(rec(1, 1, "udp", "0.0.0.0.0.1", su)) }, true, nil},
		{"set same address", func() bool { return r.Set(rec(1, 1, "UDP", "0.0.0.0.0.1", u)) }, true, nil},
		{"set other address", func() bool { return r.Set(rec(1, 1, "udp", "0.0.0.0.0.2", su)) }, false, nil},
		{"set tcp", func() bool { return r.Set(rec(1, 1, "tcp", "0.0.0.0.0.3", u)) }, true, nil},
		{"set v2", func() bool { return r.Set(rec(1, 2, "tcp", "0.0.0.0.0.4", u)) }, true,
			[]portmap.RPCB{rec(1, 1, "udp", "0.0.0.0.0.1", su), rec(1, 1, "tcp", "0.0.0.0.0.3", u), rec(1, 2, "tcp", "0.0.0.0.0.4", u)}},
		// Every netid: the user's tcp entry comes after the superuser's udp
		// one, so nothing can be removed.
		{"user unsets every netid", func() bool { return r.Unset(1, 1, "", u) }, false, nil},
		{"user unsets tcp", func() bool { return r.Unset(1, 1, "TCP", u) }, true,
			[]portmap.RPCB{rec(1, 1, "udp", "0.0.0.0.0.1", su), rec(1, 2, "tcp", "0.0.0.0.0.4", u)}},
		{"unset missing", func() bool { return r.Unset(9, 9, "", u) }, true, nil},
		{"superuser unsets every netid", func() bool { return r.Unset(1, 1, "", su) }, true,
			[]portmap.RPCB{rec(1, 2, "tcp", "0.0.0.0.0.4", u)}},
	}
	for _, s := range steps {
		if got := s.op(); got != s.want {
			t.Errorf("%s: %v, want %v", s.name, got, s.want)
		}
		if s.after != nil {
			if got := r.Dump(); !reflect.DeepEqual(got, s.after) {
				t.Errorf("%s: DUMP\n got %v\nwant %v", s.name, got, s.after)
			}
		}
	}
}

// TestRegistryPartialUnset checks rpcbind's UNSET of every netid that meets
// another owner's registration: what comes before it is removed.
func TestRegistryPartialUnset(t *testing.T) {
	r := NewRegistry(0)
	r.Set(rec(1, 1, "udp", "a.0.1", "1000"))
	r.Set(rec(1, 1, "tcp", "a.0.2", "2000"))
	r.Set(rec(1, 1, "udp6", "a.0.3", "1000"))
	if r.Unset(1, 1, "", "1000") {
		t.Error("UNSET by 1000 of 2000's registration succeeded")
	}
	want := []portmap.RPCB{rec(1, 1, "tcp", "a.0.2", "2000"), rec(1, 1, "udp6", "a.0.3", "1000")}
	if got := r.Dump(); !reflect.DeepEqual(got, want) {
		t.Errorf("DUMP %v, want %v", got, want)
	}
}

func TestRegistryLookups(t *testing.T) {
	r := NewRegistry(0)
	for _, x := range []portmap.RPCB{
		rec(7, 3, "udp", "0.0.0.0.0.3", ""),
		rec(7, 1, "udp", "0.0.0.0.0.1", ""),
		rec(7, 2, "TCP", "0.0.0.0.0.2", ""),
		rec(7, 4, "tcp", "0.0.0.0.1.4", ""),
		rec(7, 5, "tcp", "nonsense", ""),
		rec(8, 1, "local", "/run/x", ""),
	} {
		r.Set(x)
	}
	tests := []struct {
		prog, vers uint32
		netid      string
		any        bool
		want       string // "" for not found
	}{
		{7, 3, "udp", false, "0.0.0.0.0.3"},
		{7, 3, "UDP", false, "0.0.0.0.0.3"},
		{7, 9, "udp", true, "0.0.0.0.0.1"}, // the last made, not the highest
		{7, 9, "udp", false, ""},
		{7, 2, "tcp", false, "0.0.0.0.0.2"},
		{7, 9, "tcp", true, "nonsense"},
		{7, 1, "udp6", true, ""},
		{8, 1, "LOCAL", false, "/run/x"},
	}
	for _, tt := range tests {
		got, ok := r.Lookup(tt.prog, tt.vers, tt.netid, tt.any)
		if ok != (tt.want != "") || got.Addr != tt.want {
			t.Errorf("Lookup(%d, %d, %q, %v) = %q %v, want %q", tt.prog, tt.vers, tt.netid, tt.any, got.Addr, ok, tt.want)
		}
	}
	ports := []struct {
		prog, vers, prot uint32
		want             uint32
		ok               bool
	}{
		{7, 3, portmap.IPProtoUDP, 3, true},
		{7, 9, portmap.IPProtoUDP, 1, true},
		{7, 2, portmap.IPProtoTCP, 260, true}, // "TCP" is not in the v2 view: fallback to v4
		{7, 9, portmap.IPProtoTCP, 260, true}, // "nonsense" has no port parts
		{8, 1, portmap.IPProtoTCP, 0, false},
	}
	for _, tt := range ports {
		if got, ok := r.GetPort(tt.prog, tt.vers, tt.prot); got != tt.want || ok != tt.ok {
			t.Errorf("GetPort(%d, %d, %d) = %d %v, want %d %v", tt.prog, tt.vers, tt.prot, got, ok, tt.want, tt.ok)
		}
	}
	if low, high, ok := r.Versions(7, "tcp"); low != 2 || high != 5 || !ok {
		t.Errorf("Versions(7, tcp) = %d %d %v", low, high, ok)
	}
	if got := len(r.Program(7, 1)); got != 1 {
		t.Errorf("Program(7, 1) has %d entries", got)
	}
	wantV2 := []portmap.Mapping{{Prog: 7, Vers: 3, Prot: 17, Port: 3}, {Prog: 7, Vers: 1, Prot: 17, Port: 1}, {Prog: 7, Vers: 4, Prot: 6, Port: 260}}
	if got := r.DumpV2(); !reflect.DeepEqual(got, wantV2) {
		t.Errorf("DumpV2 %v, want %v", got, wantV2)
	}
}

func TestUaddrPort(t *testing.T) {
	tests := []struct {
		uaddr string
		port  uint32
		ok    bool
	}{
		{"0.0.0.0.8.1", 2049, true},
		{"::.0.111", 111, true},
		{"0.0.0.0.300.1", 76801, true}, // rpcbind does not check the parts
		{"host.x.y", 0, true},
		{"0.0.0.0.-1.0", uint32(0xffffff00), true},
		{"8.1", 0, false},
		{"/run/x", 0, false},
	}
	for _, tt := range tests {
		if p, ok := uaddrPort(tt.uaddr); p != tt.port || ok != tt.ok {
			t.Errorf("uaddrPort(%q) = %d %v, want %d %v", tt.uaddr, p, ok, tt.port, tt.ok)
		}
	}
}

func TestRegistryFull(t *testing.T) {
	r := NewRegistry(2)
	if !r.Set(rec(1, 1, "udp", "a", "")) || !r.Set(rec(1, 2, "udp", "a", "")) {
		t.Fatal("SET refused below the cap")
	}
	if r.Set(rec(1, 3, "udp", "a", "")) {
		t.Error("SET beyond the cap accepted")
	}
	if !r.Set(rec(1, 2, "udp", "a", "")) {
		t.Error("SET of an existing registration refused at the cap")
	}
}

// TestOwnEntriesStayFirst checks that the mapper's own entries go to the
// front in their rank order whenever they are registered.
func TestOwnEntriesStayFirst(t *testing.T) {
	r := NewRegistry(0)
	r.Set(rec(5, 1, "udp", "u", ""))
	r.setOwn(rec(portmap.Program, 3, "udp", "x", OwnerSuperuser), 10)
	r.setOwn(rec(portmap.Program, 4, "tcp6", "y", OwnerSuperuser), 0)
	r.setOwn(rec(portmap.Program, 4, "udp", "x", OwnerSuperuser), 9)
	var got []string
	for _, e := range r.Dump() {
		got = append(got, fmt.Sprintf("%d/%d/%s", e.Prog, e.Vers, e.Netid))
	}
	want := []string{"100000/4/tcp6", "100000/4/udp", "100000/3/udp", "5/1/udp"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DUMP %v, want %v", got, want)
	}
	if l, _ := r.Lookup(portmap.Program, 9, "udp", true); l.Vers != 3 {
		t.Errorf("fallback picked version %d, want 3 (last in list order)", l.Vers)
	}
}

// BenchmarkLookup measures lookups in registries of growing size: the time
// per lookup must not grow with it.
func BenchmarkLookup(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		r := NewRegistry(0)
		for i := 0; i < n; i++ {
			r.Set(rec(uint32(200000+i/4), uint32(1+i%4), []string{"udp", "tcp"}[i%2], "0.0.0.0.8.1", OwnerSuperuser))
		}
		last := uint32(200000 + (n-1)/4)
		b.Run(fmt.Sprintf("exact/%d", n), func(b *testing.B) {
			for b.Loop() {
				if _, ok := r.Lookup(last, 1, "udp", false); !ok {
					b.Fatal("not found")
				}
			}
		})
		b.Run(fmt.Sprintf("fallback/%d", n), func(b *testing.B) {
			for b.Loop() {
				if _, ok := r.Lookup(last, 99, "tcp", true); !ok {
					b.Fatal("not found")
				}
			}
		})
		b.Run(fmt.Sprintf("getport/%d", n), func(b *testing.B) {
			for b.Loop() {
				r.GetPort(last, 99, portmap.IPProtoUDP)
			}
		})
		b.Run(fmt.Sprintf("set-unset/%d", n), func(b *testing.B) {
			for b.Loop() {
				r.Set(rec(1, 1, "udp", "0.0.0.0.0.1", OwnerSuperuser))
				r.Unset(1, 1, "udp", OwnerSuperuser)
			}
		})
	}
}

// registryView is everything a caller can observe of a registry, for
// comparing two states.
func registryView(r *Registry) string {
	var b []byte
	b = fmt.Appendf(b, "dump %v\nv2 %v\n", r.Dump(), r.DumpV2())
	for prog := uint32(500000); prog < 500006; prog++ {
		for _, netid := range []string{"tcp", "udp", "tcp6", "local"} {
			lo, hi, ok := r.Versions(prog, netid)
			b = fmt.Appendf(b, "versions %d %s %d %d %v\n", prog, netid, lo, hi, ok)
			for vers := uint32(0); vers < 4; vers++ {
				l, ok := r.Lookup(prog, vers, netid, true)
				b = fmt.Appendf(b, "lookup %d %d %s %v %v\n", prog, vers, netid, l, ok)
			}
		}
		for vers := uint32(0); vers < 4; vers++ {
			pt, okt := r.GetPort(prog, vers, portmap.IPProtoTCP)
			pu, oku := r.GetPort(prog, vers, portmap.IPProtoUDP)
			b = fmt.Appendf(b, "getport %d %d %d %v %d %v program %v\n", prog, vers, pt, okt, pu, oku, r.Program(prog, vers))
		}
	}
	return string(b)
}

// TestUndoRestoresEverything applies random changes to a registry while
// recording them, undoes them, and checks that every lookup, list and
// fallback answers as before: what a failed state file write relies on.
func TestUndoRestoresEverything(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	netids := []string{"tcp", "udp", "tcp6", "TCP", "local"}
	random := func() portmap.RPCB {
		prog := 500000 + rng.Uint32N(6)
		vers := rng.Uint32N(4)
		netid := netids[rng.IntN(len(netids))]
		owner := []string{OwnerSuperuser, "1000", OwnerUnknown}[rng.IntN(3)]
		return rec(prog, vers, netid, fmt.Sprintf("0.0.0.0.%d.%d", rng.IntN(4), rng.IntN(256)), owner)
	}
	for round := range 200 {
		r := NewRegistry(40)
		r.setOwn(rec(portmap.Program, 4, "tcp", "0.0.0.0.0.111", OwnerSuperuser), 1)
		r.setOwn(rec(portmap.Program, 2, "udp", "0.0.0.0.0.111", OwnerSuperuser), 2)
		for range 25 {
			r.set(random(), false, 0)
		}
		before := registryView(r)
		r.mu.Lock()
		r.recording = true
		for range 1 + rng.IntN(30) {
			x := random()
			switch rng.IntN(4) {
			case 0, 1:
				r.set(x, false, 0)
			case 2:
				r.unset(x.Prog, x.Vers, x.Netid, x.Owner)
			case 3:
				r.unset(x.Prog, x.Vers, "", OwnerSuperuser)
			}
		}
		r.recording = false
		changed := len(r.undo) > 0
		r.undoLocked()
		r.mu.Unlock()
		if after := registryView(r); after != before {
			t.Fatalf("round %d (changed: %v): after undo\n%s\nwant\n%s", round, changed, after, before)
		}
		if len(r.undo) != 0 {
			t.Fatalf("round %d: %d changes left to undo", round, len(r.undo))
		}
	}
}
