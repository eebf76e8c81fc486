package server

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

// memRegistrations is the registry size of issue #10's memory target.
const memRegistrations = 10_000

// maxBytesPerRegistration bounds the heap one registration holds: its entry
// (144 bytes), its address string and its share of the three index maps and
// their chains, about 300 bytes when this was written. The bound leaves room
// for the maps' load factor, which varies with the count, and no room for an
// index or a per-entry allocation added by mistake (the registry held 450
// bytes a registration before it was made compact).
const maxBytesPerRegistration = 340

// fillRegistry registers n entries the way the bench's large registry does:
// programs 0x20000000 on, version 1, udp and tcp, owner "unknown".
func fillRegistry(n int) *Registry {
	r := NewRegistry(0)
	for i := 0; i < n; i++ {
		netid, port := portmap.NetidUDP, 10000+i/2
		if i%2 == 1 {
			netid = portmap.NetidTCP
		}
		r.Set(portmap.RPCB{Prog: 0x20000000 + uint32(i/2), Vers: 1, Netid: netid,
			Addr: fmt.Sprintf("0.0.0.0.%d.%d", port>>8, port&0xff), Owner: OwnerUnknown})
	}
	return r
}

// registryBytes returns the heap that a registry of n entries holds, per
// registration: the smallest of a few measurements, since anything else the
// process allocates meanwhile can only add to one.
func registryBytes(n int) float64 {
	best := -1.0
	for try := 0; try < 3; try++ {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		r := fillRegistry(n)
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(r)
		b := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)
		if best < 0 || b < best {
			best = b
		}
	}
	return best
}

// TestRegistryMemory checks that a registration costs the heap no more than
// maxBytesPerRegistration, the largest part of portmapd's memory with 10,000
// registrations (docs/performance.md).
func TestRegistryMemory(t *testing.T) {
	if got := registryBytes(memRegistrations); got > maxBytesPerRegistration {
		t.Errorf("a registration holds %.0f bytes of heap, want at most %d", got, maxBytesPerRegistration)
	}
	r := fillRegistry(memRegistrations)
	if n := r.Len(); n != memRegistrations {
		t.Fatalf("filled %d registrations, want %d", n, memRegistrations)
	}
}

// BenchmarkRegistryMemory reports the heap a registration holds in a
// registry of 10,000 (B/registration).
func BenchmarkRegistryMemory(b *testing.B) {
	var bytes float64
	for b.Loop() {
		bytes = registryBytes(memRegistrations)
	}
	b.ReportMetric(bytes, "B/registration")
}
