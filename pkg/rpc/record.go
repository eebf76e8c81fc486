package rpc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
)

// Record marking (RFC 5531 §11): on a stream transport each message is a record
// sent as one or more fragments, each preceded by a 4-byte header whose top bit
// marks the last fragment and whose low 31 bits give the fragment's length.

const (
	// DefaultMaxRecord is the record size a reader accepts when none is given:
	// 4 MiB. The largest messages of the port mapper are DUMP replies; a v3
	// rpcb entry takes about 80 bytes on the wire, so 4 MiB holds some 50,000
	// registrations, far more than any real host has, while a peer that claims
	// a huge record is refused before anything is allocated.
	DefaultMaxRecord = 4 << 20

	lastFragment = 1 << 31

	// MaxFragment is the largest fragment a 31-bit length can describe.
	MaxFragment = lastFragment - 1

	// readChunk bounds how much a reader allocates ahead of the bytes that
	// have actually arrived: a fragment header that promises 2 GiB and then
	// stalls costs at most 64 KiB.
	readChunk = 64 << 10
)

// ErrRecordTooLong is wrapped by the error [ReadRecord] returns for a record
// over its cap.
var ErrRecordTooLong = errors.New("rpc: record exceeds size limit")

// ReadRecord reads one record from r, reassembling its fragments, and appends
// it to buf. A record whose fragments add up to more than max bytes (max <= 0
// means [DefaultMaxRecord]) is refused with an error wrapping
// [ErrRecordTooLong] as soon as a fragment header says so, before anything is
// allocated for it; buffers grow only as bytes arrive. A clean end of stream
// before the record starts is io.EOF; within it, io.ErrUnexpectedEOF. On error
// the result is buf as it was passed.
func ReadRecord(r io.Reader, buf []byte, max int) ([]byte, error) {
	if max <= 0 {
		max = DefaultMaxRecord
	}
	start := len(buf)
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if err == io.EOF && len(buf) > start {
				err = io.ErrUnexpectedEOF
			}
			return buf[:start], err
		}
		h := binary.BigEndian.Uint32(hdr[:])
		n := int(h &^ lastFragment)
		if have := len(buf) - start; n > max-have {
			return buf[:start], fmt.Errorf("%w: fragment of %d bytes after %d exceeds %d", ErrRecordTooLong, n, have, max)
		}
		for n > 0 {
			c := min(n, readChunk)
			buf = slices.Grow(buf, c)
			m, err := io.ReadFull(r, buf[len(buf):len(buf)+c])
			buf = buf[:len(buf)+m]
			if err != nil {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return buf[:start], err
			}
			n -= c
		}
		if h&lastFragment != 0 {
			return buf, nil
		}
	}
}

// WriteRecord writes rec to w as one record, in fragments of at most fragSize
// bytes (fragSize <= 0 means one fragment, as large as [MaxFragment] allows),
// with a single Write call.
func WriteRecord(w io.Writer, rec []byte, fragSize int) error {
	if fragSize <= 0 || fragSize > MaxFragment {
		fragSize = MaxFragment
	}
	nfrag := max(1, (len(rec)+fragSize-1)/fragSize)
	out := make([]byte, 0, len(rec)+4*nfrag)
	out = appendFragments(out, rec, fragSize)
	_, err := w.Write(out)
	return err
}

// appendFragments appends rec to b as a record of fragments of at most
// fragSize bytes.
func appendFragments(b, rec []byte, fragSize int) []byte {
	for {
		n := min(len(rec), fragSize)
		h := uint32(n)
		if n == len(rec) {
			h |= lastFragment
		}
		b = binary.BigEndian.AppendUint32(b, h)
		b = append(b, rec[:n]...)
		rec = rec[n:]
		if len(rec) == 0 {
			return b
		}
	}
}

// putMark writes the header of a one-fragment record into the 4 bytes that msg
// reserves for it in front of the message.
func putMark(msg []byte) {
	binary.BigEndian.PutUint32(msg, uint32(len(msg)-4)|lastFragment)
}
