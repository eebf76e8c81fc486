package xdr

import (
	"bytes"
	"testing"
)

// decodeAll reads a little program of items described by the input's own bytes
// and re-encodes what it read; it exercises every decoder on arbitrary input.
func decodeAll(data []byte) ([]byte, error) {
	d := NewDecoder(data)
	var out []byte
	for d.Remaining() > 0 && d.Err() == nil {
		switch kind := d.Uint32() % 6; kind {
		case 0:
			out = AppendUint32(AppendUint32(out, 0), d.Uint32())
		case 1:
			out = AppendUint64(AppendUint32(out, 1), d.Uint64())
		case 2:
			out = AppendBool(AppendUint32(out, 2), d.Bool())
		case 3:
			out = AppendString(AppendUint32(out, 3), d.String(1024))
		case 4:
			out = AppendOpaque(AppendUint32(out, 4), d.Opaque(1024))
		case 5:
			out = AppendUint32(out, 5)
			var l []uint32
			for d.ListNext(len(l), 64) {
				l = append(l, d.Uint32())
			}
			for _, v := range l {
				out = AppendUint32(AppendBool(out, true), v)
			}
			out = AppendBool(out, false)
		}
	}
	return out, d.Err()
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte{0, 0, 0, 3, 0, 0, 0, 3, 't', 'c', 'p', 0})
	f.Add([]byte{0, 0, 0, 5, 0, 0, 0, 1, 0, 0, 0, 7, 0, 0, 0, 0})
	f.Add([]byte{0, 0, 0, 4, 0xff, 0xff, 0xff, 0xff})
	f.Add(AppendUint64(AppendUint32(nil, 1), 1<<63))
	f.Fuzz(func(t *testing.T, data []byte) {
		enc, err := decodeAll(data)
		if err != nil {
			return
		}
		again, err := decodeAll(enc)
		if err != nil {
			t.Fatalf("re-decoding our own encoding failed: %v", err)
		}
		if !bytes.Equal(enc, again) {
			t.Fatalf("decode->encode->decode unstable:\n% x\n% x", enc, again)
		}
	})
}
