package portmap_test

import (
	"fmt"
	"testing"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

// dumpSizes are the v2 DUMP results benchmarked: the recorded reply (26 rows
// rpcinfo -p printed, plus the one v2_set added) and a registry of 10,000.
func dumpSizes(b *testing.B) []struct {
	name string
	wire []byte
	n    int
} {
	rec := results(b, "v2_dump")
	var l []portmap.Mapping
	l = portmap.DecodeMappingList(xdr.NewDecoder(rec), l, portmap.MaxListEntries)
	return []struct {
		name string
		wire []byte
		n    int
	}{
		{fmt.Sprintf("vector-%d", len(l)), rec, len(l)},
		{"synthetic-10000", portmap.AppendMappingList(nil, syntheticMappings(10_000)), 10_000},
	}
}

func BenchmarkDecodeMappingList(b *testing.B) {
	for _, s := range dumpSizes(b) {
		b.Run(s.name, func(b *testing.B) {
			dst := make([]portmap.Mapping, 0, s.n)
			var d xdr.Decoder
			b.SetBytes(int64(len(s.wire)))
			b.ReportAllocs()
			for b.Loop() {
				d.Reset(s.wire, 0)
				dst = portmap.DecodeMappingList(&d, dst[:0], portmap.MaxListEntries)
			}
			if d.Err() != nil || len(dst) != s.n {
				b.Fatalf("%d entries, %v", len(dst), d.Err())
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(s.n), "ns/entry")
		})
	}
}

func BenchmarkAppendMappingList(b *testing.B) {
	for _, s := range dumpSizes(b) {
		b.Run(s.name, func(b *testing.B) {
			l := portmap.DecodeMappingList(xdr.NewDecoder(s.wire), nil, portmap.MaxListEntries)
			buf := make([]byte, 0, len(s.wire))
			b.SetBytes(int64(len(s.wire)))
			b.ReportAllocs()
			for b.Loop() {
				buf = portmap.AppendMappingList(buf[:0], l)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(s.n), "ns/entry")
		})
	}
}

func BenchmarkDecodeRPCBList(b *testing.B) {
	wire := results(b, "v3_dump")
	var dst []portmap.RPCB
	var d xdr.Decoder
	b.SetBytes(int64(len(wire)))
	b.ReportAllocs()
	for b.Loop() {
		d.Reset(wire, 0)
		dst = portmap.DecodeRPCBList(&d, dst[:0], portmap.MaxListEntries)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(dst)), "ns/entry")
}

func BenchmarkParseUaddr(b *testing.B) {
	for _, s := range []string{"127.0.0.1.8.1", "::1.0.111"} {
		b.Run(s, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := portmap.ParseUaddr("", s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
