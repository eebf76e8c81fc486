package xdr

import "testing"

func BenchmarkDecodeFixed(b *testing.B) {
	buf := AppendUint64(AppendUint32(AppendUint32(nil, 100003), 3), 42)
	var d Decoder
	b.ReportAllocs()
	for b.Loop() {
		d.Reset(buf, 0)
		d.Uint32()
		d.Uint32()
		d.Uint64()
	}
}

func BenchmarkAppendString(b *testing.B) {
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendString(buf[:0], "0.0.0.0.8.1")
	}
}
