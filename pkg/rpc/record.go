package rpc

import (
	"bufio"
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

	// MaxEmptyFragments bounds the empty non-final fragments of one record.
	// RFC 5531 §11 allows them but no implementation sends more than one or
	// two; without a bound a peer could hold a reader with endless 4-byte
	// headers that never add to the record's size.
	MaxEmptyFragments = 64

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
// allocated for it, and so is a record of more than [MaxEmptyFragments] empty
// fragments, which would otherwise hold a reader forever. Memory grows only as bytes arrive: a record longer than
// one read chunk is gathered in chunks and joined once at the end, so a large
// record costs about twice its size at the peak, never the repeated copies of
// a growing slice. A clean end of stream before the record starts is io.EOF;
// within it, io.ErrUnexpectedEOF. On error the result is buf as it was passed.
func ReadRecord(r io.Reader, buf []byte, max int) ([]byte, error) {
	if max <= 0 {
		max = DefaultMaxRecord
	}
	start := len(buf)
	var (
		have   int      // record bytes read so far
		empty  int      // empty fragments read so far
		begun  bool     // a fragment header has been read
		chunks [][]byte // the record past its first chunk, joined at the end
		spill  int      // bytes in chunks
	)
	fail := func(err error) ([]byte, error) {
		if err == io.EOF && begun {
			err = io.ErrUnexpectedEOF
		}
		return buf[:start], err
	}
	for {
		h, err := readFragmentHeader(r)
		if err != nil {
			return fail(err)
		}
		begun = true
		n := int(h &^ lastFragment)
		if n > max-have {
			return buf[:start], fmt.Errorf("%w: fragment of %d bytes after %d exceeds %d", ErrRecordTooLong, n, have, max)
		}
		if n == 0 && h&lastFragment == 0 {
			if empty++; empty > MaxEmptyFragments {
				return buf[:start], fmt.Errorf("%w: more than %d empty fragments", ErrRecordTooLong, MaxEmptyFragments)
			}
		}
		for n > 0 {
			c := min(n, readChunk)
			// The first chunk goes straight into buf; the rest aside.
			direct := chunks == nil && len(buf)-start+c <= readChunk
			var dst []byte
			if direct {
				buf = slices.Grow(buf, c)
				dst = buf[len(buf) : len(buf)+c]
			} else {
				dst = make([]byte, c)
			}
			m, err := io.ReadFull(r, dst)
			have += m
			if err != nil {
				return fail(err)
			}
			if direct {
				buf = buf[:len(buf)+m]
			} else {
				chunks = append(chunks, dst)
				spill += m
			}
			n -= c
		}
		if h&lastFragment != 0 {
			if chunks != nil {
				buf = slices.Grow(buf, spill)
				for _, c := range chunks {
					buf = append(buf, c...)
				}
			}
			return buf, nil
		}
	}
}

// readFragmentHeader reads a fragment header, as io.ReadFull would. From a
// bufio.Reader (a server's connections) it is read in place: a [4]byte handed
// to io.ReadFull through the io.Reader interface is an allocation a record.
func readFragmentHeader(r io.Reader) (uint32, error) {
	if br, ok := r.(*bufio.Reader); ok {
		b, err := br.Peek(4)
		if err != nil {
			if len(b) > 0 && err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		br.Discard(4)
		return binary.BigEndian.Uint32(b), nil
	}
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint32(hdr[:]), nil
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
