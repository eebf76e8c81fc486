package rpc

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/portmap-toolkit/pmap/internal/vectors"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

// FuzzCallHeader: decoding arbitrary bytes never panics, and decode -> encode
// -> decode gives the same header and the same bytes.
func FuzzCallHeader(f *testing.F) {
	for _, c := range vectors.All() {
		f.Add(c.Call)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var h1 CallHeader
		d := xdr.NewDecoder(in)
		h1.Decode(d)
		if d.Err() != nil {
			return
		}
		enc := h1.Append(nil)
		if len(enc) != d.Offset() {
			t.Fatalf("re-encoded %d bytes, decoded %d", len(enc), d.Offset())
		}
		var h2 CallHeader
		d2 := xdr.NewDecoder(enc)
		h2.Decode(d2)
		if d2.Err() != nil || d2.Remaining() != 0 {
			t.Fatalf("re-decode: %v, %d left", d2.Err(), d2.Remaining())
		}
		if fmt.Sprint(h1) != fmt.Sprint(h2) {
			t.Fatalf("header changed: %+v -> %+v", h1, h2)
		}
		if !bytes.Equal(h2.Append(nil), enc) {
			t.Fatal("encoding not stable")
		}
	})
}

// FuzzReplyHeader: as FuzzCallHeader, for replies; Err never panics.
func FuzzReplyHeader(f *testing.F) {
	for _, c := range vectors.All() {
		if c.Reply != nil {
			f.Add(c.Reply)
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var h1 ReplyHeader
		d := xdr.NewDecoder(in)
		h1.Decode(d)
		if d.Err() != nil {
			return
		}
		_ = h1.Err()
		enc := h1.Append(nil)
		if len(enc) != d.Offset() {
			t.Fatalf("re-encoded %d bytes, decoded %d", len(enc), d.Offset())
		}
		var h2 ReplyHeader
		d2 := xdr.NewDecoder(enc)
		h2.Decode(d2)
		if d2.Err() != nil || d2.Remaining() != 0 {
			t.Fatalf("re-decode: %v, %d left", d2.Err(), d2.Remaining())
		}
		if fmt.Sprint(h1) != fmt.Sprint(h2) {
			t.Fatalf("header changed: %+v -> %+v", h1, h2)
		}
	})
}

// FuzzReadRecord: reading arbitrary bytes as records never panics nor returns
// more than the cap; a record read back from WriteRecord is the same.
func FuzzReadRecord(f *testing.F) {
	for _, c := range vectors.All() {
		f.Add(fragments(c.Call, 7, 0), uint16(64))
		if c.Reply != nil {
			f.Add(fragments(c.Reply, len(c.Reply)), uint16(0))
		}
	}
	f.Add([]byte{0x7f, 0xff, 0xff, 0xff}, uint16(1))
	f.Fuzz(func(t *testing.T, in []byte, frag uint16) {
		const max = 4096
		r := bytes.NewReader(in)
		for {
			rec, err := ReadRecord(r, nil, max)
			if err != nil {
				return
			}
			if len(rec) > max {
				t.Fatalf("record of %d bytes over the cap", len(rec))
			}
			var w bytes.Buffer
			if err := WriteRecord(&w, rec, int(frag)); err != nil {
				t.Fatal(err)
			}
			back, err := ReadRecord(&w, nil, max)
			if err != nil || !bytes.Equal(back, rec) {
				t.Fatalf("round trip: %v", err)
			}
		}
	})
}
