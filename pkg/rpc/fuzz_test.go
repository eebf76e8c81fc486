package rpc

import (
	"bufio"
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
		// The same stream through a small bufio.Reader, whose fragment
		// headers are read in place: the same records and errors.
		br := bufio.NewReaderSize(bytes.NewReader(in), 16)
		for {
			rec, err := ReadRecord(r, nil, max)
			brec, berr := ReadRecord(br, nil, max)
			if !bytes.Equal(rec, brec) || (err == nil) != (berr == nil) || (err != nil && err.Error() != berr.Error()) {
				t.Fatalf("from a bufio.Reader: %q, %v; from the stream: %q, %v", brec, berr, rec, err)
			}
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

// FuzzAuthSys: any credential body either parses as AUTH_SYS within its
// limits or is refused; one that parses encodes within MaxAuthBytes and parses
// back to the same values.
func FuzzAuthSys(f *testing.F) {
	for _, c := range vectors.All() {
		var h CallHeader
		h.Decode(xdr.NewDecoder(c.Call))
		if h.Cred.Flavor == AuthSys {
			f.Add(h.Cred.Body)
		}
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := ParseAuthSys(OpaqueAuth{Flavor: AuthSys, Body: body})
		if err != nil {
			return
		}
		if len(p.MachineName) > MaxMachineName || len(p.GIDs) > MaxGIDs {
			t.Fatalf("parsed past the limits: %d-byte name, %d gids", len(p.MachineName), len(p.GIDs))
		}
		a, err := p.Auth()
		if err != nil {
			t.Fatalf("re-encoding %+v: %v", p, err)
		}
		back, err := ParseAuthSys(a)
		if err != nil || fmt.Sprintf("%+v", back) != fmt.Sprintf("%+v", p) {
			t.Fatalf("round trip: %+v -> %+v, %v", p, back, err)
		}
	})
}
