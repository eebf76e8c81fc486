package loadgen

import (
	"encoding/binary"
	"fmt"
)

const (
	// readChunk is the least free room a stream read is given: replies of
	// the lookups are under 100 bytes, so 16 KiB reads many at once.
	readChunk = 16 << 10

	// lastFragment is the flag of a record mark (RFC 5531 §11).
	lastFragment = 1 << 31
)

// recordReader splits the bytes read from a stream into records (RFC 5531
// §11), reassembling records of several fragments, without copying the
// common single-fragment record. Its buffer grows to hold the largest
// fragment seen, up to MaxReply.
type recordReader struct {
	buf  []byte // bytes received; buf[off:n] is not parsed yet
	off  int
	n    int
	need int    // bytes from off needed to complete the fragment there
	frag []byte // the fragments of a record read so far
}

// space returns the free tail of the buffer to read into, compacting and
// growing the buffer first as needed.
func (r *recordReader) space() []byte {
	if r.off == r.n {
		r.off, r.n = 0, 0
	}
	if r.off > 0 && (len(r.buf)-r.n < readChunk || r.off+r.need > len(r.buf)) {
		r.n = copy(r.buf, r.buf[r.off:r.n])
		r.off = 0
	}
	if want := max(r.n+readChunk, r.off+r.need); want > len(r.buf) {
		nb := make([]byte, max(want, 2*len(r.buf)))
		copy(nb, r.buf[r.off:r.n])
		r.buf, r.n, r.off = nb, r.n-r.off, 0
	}
	return r.buf[r.n:]
}

// filled records n bytes read into the slice space returned.
func (r *recordReader) filled(n int) { r.n += n }

// next returns the next complete record, valid until the next call of next
// or space, or ok false when more bytes are needed. A record over MaxReply
// is an error: the stream cannot be trusted past it.
func (r *recordReader) next() (rec []byte, ok bool, err error) {
	for {
		if r.n-r.off < 4 {
			r.need = 4
			return nil, false, nil
		}
		mark := binary.BigEndian.Uint32(r.buf[r.off:])
		size := int(mark &^ lastFragment)
		if len(r.frag)+size > MaxReply {
			return nil, false, fmt.Errorf("loadgen: reply record over %d bytes", MaxReply)
		}
		if r.n-r.off-4 < size {
			r.need = 4 + size
			return nil, false, nil
		}
		body := r.buf[r.off+4 : r.off+4+size]
		r.off += 4 + size
		r.need = 0
		switch {
		case mark&lastFragment == 0:
			r.frag = append(r.frag, body...)
		case len(r.frag) == 0:
			return body, true, nil
		default:
			rec = append(r.frag, body...)
			r.frag = rec[:0]
			return rec, true, nil
		}
	}
}

// reset forgets everything read, for a new connection.
func (r *recordReader) reset() {
	r.off, r.n, r.need = 0, 0, 0
	r.frag = r.frag[:0]
}
