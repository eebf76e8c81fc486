package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
	}{
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, tc := range tests {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
	if !math.IsNaN(median(nil)) {
		t.Error("median of nothing is not NaN")
	}
}

func TestVerdict(t *testing.T) {
	seed := &row{Ours: []float64{100, 100, 100}}
	tests := []struct {
		name string
		r    row
		want string
	}{
		{"ratio met", row{Ref: []float64{10, 10, 10}, Ref2: []float64{10, 10, 10}, Ours: []float64{25, 20, 30}, Target: "x", MinRatio: 2}, "met"},
		{"ratio missed", row{Ref: []float64{10, 10, 10}, Ref2: []float64{10, 10, 10}, Ours: []float64{15, 15, 15}, Target: "x", MinRatio: 2}, "missed by 25%"},
		{"pending", row{Ref: []float64{10}, Pending: "not built", Target: "x", MinRatio: 2}, "pending"},
		{"failed", row{Failed: "boom", Target: "x"}, "failed"},
		{"within noise", row{Ref: []float64{10, 10}, Ref2: []float64{11, 11}, Ours: []float64{11, 11}, Target: "x", MaxRatio: 1, WithinNoise: true}, "met"},
		{"noise does not stretch a plain bound", row{Ref: []float64{10, 10}, Ref2: []float64{5, 5}, Ours: []float64{9.6, 9.6}, Target: "x", MaxRatio: 0.5}, "missed by 156%"},
		{"beyond noise", row{Ref: []float64{10, 10}, Ref2: []float64{10, 10}, Ours: []float64{12, 12}, Target: "x", MaxRatio: 1}, "missed by 20%"},
		{"limit", row{Ours: []float64{13}, Ref: []float64{5}, Target: "x", Limit: 12}, "missed by 8%"},
		{"seed kept", row{Ref: []float64{10}, Ours: []float64{95}, Target: "x", MinRatio: 4, seed: seed}, "met"},
		{"seed lost", row{Ref: []float64{10}, Ours: []float64{50}, Target: "x", MinRatio: 4, seed: seed}, "ratio met; keeps 50% of the seed figure, not 90%"},
		// Measured side by side, the per-round figures win over the seed row's.
		{"kept per round", row{Ref: []float64{10, 10, 10}, Ours: []float64{50, 60, 40}, OursSeed: []float64{52, 61, 45}, Target: "x", MinRatio: 4, seed: seed}, "met"},
		{"lost per round", row{Ref: []float64{10, 10, 10}, Ours: []float64{95, 96, 97}, OursSeed: []float64{120, 110, 150}, Target: "x", MinRatio: 4, seed: seed}, "ratio met; keeps 79% of the seed figure, not 90%"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.r.verdict(); got != tc.want {
				t.Errorf("verdict %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRegistries(t *testing.T) {
	seed, err := readSeed(filepath.Join("..", "..", "testdata", "seed-registrations.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(seed) < 10 {
		t.Fatalf("%d seed entries", len(seed))
	}
	s := seedRegistry(seed)
	if !hasKey(s, portmap.IPProtoUDP) || !hasKey(s, portmap.IPProtoTCP) {
		t.Errorf("the seed lacks its key %d %d over udp and tcp", s.keyProg, s.keyVers)
	}
	big := bigRegistry(seed)
	if len(big.entries) != bigSize {
		t.Errorf("%d entries, want %d", len(big.entries), bigSize)
	}
	if n := big.keyEntries(); n != 2 {
		t.Errorf("the key is the last %d entries, want 2 (udp and tcp)", n)
	}
	last := big.entries[len(big.entries)-2:]
	if last[0].Prot != portmap.IPProtoUDP || last[1].Prot != portmap.IPProtoTCP || last[0].Prog != big.keyProg {
		t.Errorf("last entries %+v, key %d", last, big.keyProg)
	}
	seen := map[portmap.Mapping]bool{}
	for _, m := range big.entries {
		k := portmap.Mapping{Prog: m.Prog, Vers: m.Vers, Prot: m.Prot}
		if seen[k] {
			t.Fatalf("%+v registered twice", k)
		}
		seen[k] = true
	}

	path := filepath.Join(t.TempDir(), "big.txt")
	if err := big.writeFile(path); err != nil {
		t.Fatal(err)
	}
	back, err := readSeed(path)
	if err != nil || len(back) != bigSize || back[bigSize-1] != big.entries[bigSize-1] {
		t.Errorf("read back %d entries (%v)", len(back), err)
	}
	data, _ := os.ReadFile(path)
	if first, _, _ := strings.Cut(string(data), "\n"); first != "    100003    2   udp   2049  " {
		t.Errorf("first line %q is not in pmap_dump form", first)
	}
}

func hasKey(r *registry, prot uint32) bool {
	for _, m := range r.entries {
		if m.Prog == r.keyProg && m.Vers == r.keyVers && m.Prot == prot {
			return true
		}
	}
	return false
}

func TestStatFields(t *testing.T) {
	f := statFields([]byte("42 (a (weird) name) S 1 42 42 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0"))
	if len(f) < 13 || f[0] != "S" || f[11] != "7" || f[12] != "3" {
		t.Errorf("fields %q", f)
	}
}
