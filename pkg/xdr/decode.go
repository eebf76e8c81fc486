package xdr

import "encoding/binary"

// Decoder reads XDR items from a byte slice, starting at an offset. Its error is
// sticky: after the first failure every read returns a zero value, and [Decoder.Err]
// reports the first failure. The zero Decoder reads an empty input.
//
// Byte slices returned by [Decoder.Opaque], [Decoder.FixedOpaque] and
// [Decoder.StringBytes] alias the input; copy them to keep them past the input's life.
type Decoder struct {
	buf []byte
	off int
	err error
}

// NewDecoder returns a Decoder reading b from offset 0.
func NewDecoder(b []byte) *Decoder { return &Decoder{buf: b} }

// Reset makes d read b from offset off, clearing any error.
func (d *Decoder) Reset(b []byte, off int) { d.buf, d.off, d.err = b, off, nil }

// Offset returns the offset of the next item to be read.
func (d *Decoder) Offset() int { return d.off }

// Remaining returns how many input bytes have not been read.
func (d *Decoder) Remaining() int { return len(d.buf) - d.off }

// Rest returns the unread input (aliasing it) and moves the offset to the end.
func (d *Decoder) Rest() []byte {
	if d.err != nil {
		return nil
	}
	r := d.buf[d.off:]
	d.off = len(d.buf)
	return r
}

// Err returns the first error met, or nil.
func (d *Decoder) Err() error { return d.err }

// Fail records err as the decoder's error (if none is recorded yet), wrapped in an
// [Error] naming op and the current offset. Protocol decoders use it to report a
// semantic problem, such as an unknown union arm, in the same form.
func (d *Decoder) Fail(op string, err error) {
	if d.err == nil {
		d.err = &Error{Op: op, Offset: d.off, Err: err}
	}
}

func (d *Decoder) short(op string, need int) {
	if d.err == nil {
		d.err = &Error{Op: op, Offset: d.off, Len: uint64(need), Max: uint64(d.Remaining()), Err: ErrShort}
	}
}

func (d *Decoder) tooLong(op string, n, max uint64) {
	if d.err == nil {
		d.err = &Error{Op: op, Offset: d.off, Len: n, Max: max, Err: ErrTooLong}
	}
}

// take returns the next n bytes, or nil and an error if fewer remain.
func (d *Decoder) take(op string, n int) []byte {
	if d.err != nil {
		return nil
	}
	if n > len(d.buf)-d.off {
		d.short(op, n)
		return nil
	}
	b := d.buf[d.off : d.off+n]
	d.off += n
	return b
}

// Uint32 reads an unsigned integer (RFC 4506 §4.2).
func (d *Decoder) Uint32() uint32 {
	b := d.take("uint32", 4)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}

// Int32 reads a signed integer or enum (RFC 4506 §4.1, §4.3).
func (d *Decoder) Int32() int32 {
	b := d.take("int32", 4)
	if b == nil {
		return 0
	}
	return int32(binary.BigEndian.Uint32(b))
}

// Uint64 reads an unsigned hyper integer (RFC 4506 §4.5).
func (d *Decoder) Uint64() uint64 {
	b := d.take("uint64", 8)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

// Int64 reads a hyper integer (RFC 4506 §4.5).
func (d *Decoder) Int64() int64 { return int64(d.Uint64()) }

// Bool reads a boolean (RFC 4506 §4.4); a value other than 0 or 1 is an error.
func (d *Decoder) Bool() bool {
	off := d.off
	b := d.take("bool", 4)
	if b == nil {
		return false
	}
	switch binary.BigEndian.Uint32(b) {
	case 0:
		return false
	case 1:
		return true
	}
	if d.err == nil {
		d.err = &Error{Op: "bool", Offset: off, Err: ErrBadBool}
	}
	return false
}

// FixedOpaque reads n bytes of fixed-length opaque data and skips its padding
// (RFC 4506 §4.9). The result aliases the input.
func (d *Decoder) FixedOpaque(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 {
		d.tooLong("fixed opaque", uint64(n), 0)
		return nil
	}
	total := n + Pad(n)
	if total > len(d.buf)-d.off {
		d.short("fixed opaque", total)
		return nil
	}
	b := d.buf[d.off : d.off+n : d.off+n]
	d.off += total
	return b
}

// length reads a length or count and checks it against max and, with unit bytes
// per element, against the input that remains. Nothing is allocated.
func (d *Decoder) length(op string, max, unit int) int {
	off := d.off
	n := d.Uint32()
	if d.err != nil {
		return 0
	}
	if max >= 0 && uint64(n) > uint64(max) {
		d.off = off
		d.tooLong(op, uint64(n), uint64(max))
		return 0
	}
	need := uint64(n) * uint64(unit)
	if rem := uint64(len(d.buf) - d.off); unit > 0 && need > rem {
		d.off = off
		d.err = &Error{Op: op, Offset: off, Len: need, Max: rem, Err: ErrShort}
		return 0
	}
	return int(n)
}

// Opaque reads variable-length opaque data of at most max bytes (RFC 4506 §4.10).
// A negative max means no limit but the input's length. The result aliases the input.
func (d *Decoder) Opaque(max int) []byte {
	n := d.length("opaque length", max, 1)
	if d.err != nil {
		return nil
	}
	return d.FixedOpaque(n)
}

// StringBytes reads a string of at most max bytes (RFC 4506 §4.11) without
// copying it: the result aliases the input.
func (d *Decoder) StringBytes(max int) []byte {
	n := d.length("string length", max, 1)
	if d.err != nil {
		return nil
	}
	return d.FixedOpaque(n)
}

// String reads a string of at most max bytes (RFC 4506 §4.11). A negative max
// means no limit but the input's length.
func (d *Decoder) String(max int) string {
	return string(d.StringBytes(max))
}

// ArrayLen reads the count of a variable-length array (RFC 4506 §4.13), checking
// it against max elements and, given the smallest encoded size of one element in
// minSize bytes, against the input that remains, before the caller allocates or
// loops.
func (d *Decoder) ArrayLen(max, minSize int) int {
	return d.length("array count", max, minSize)
}

// ListNext reads the "value follows" boolean of an optional-data list (RFC 4506
// §4.19), the encoding of every *list of the port mapper. seen is the number of
// elements read so far; a list longer than max elements is an error. It returns
// false at the end of the list or on error.
func (d *Decoder) ListNext(seen, max int) bool {
	off := d.off
	more := d.Bool()
	if more && seen >= max {
		d.off = off
		d.tooLong("list length", uint64(seen)+1, uint64(max))
		return false
	}
	return more && d.err == nil
}
