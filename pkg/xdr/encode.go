package xdr

import "encoding/binary"

// Pad returns the number of zero bytes that follow n bytes of opaque data or
// string to reach a multiple of four (RFC 4506 §4.9-4.11).
func Pad(n int) int { return (4 - n&3) & 3 }

// AppendUint32 appends an unsigned integer (RFC 4506 §4.2).
func AppendUint32(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }

// AppendInt32 appends a signed integer (RFC 4506 §4.1); enums are encoded this way (§4.3).
func AppendInt32(b []byte, v int32) []byte { return binary.BigEndian.AppendUint32(b, uint32(v)) }

// AppendUint64 appends an unsigned hyper integer (RFC 4506 §4.5).
func AppendUint64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }

// AppendInt64 appends a hyper integer (RFC 4506 §4.5).
func AppendInt64(b []byte, v int64) []byte { return binary.BigEndian.AppendUint64(b, uint64(v)) }

// AppendBool appends a boolean as 1 or 0 (RFC 4506 §4.4).
func AppendBool(b []byte, v bool) []byte {
	if v {
		return AppendUint32(b, 1)
	}
	return AppendUint32(b, 0)
}

// AppendFixedOpaque appends fixed-length opaque data and its padding (RFC 4506 §4.9).
func AppendFixedOpaque(b, data []byte) []byte {
	b = append(b, data...)
	return appendPad(b, len(data))
}

// AppendOpaque appends variable-length opaque data: length, bytes, padding (RFC 4506 §4.10).
func AppendOpaque(b, data []byte) []byte {
	b = AppendUint32(b, uint32(len(data)))
	return AppendFixedOpaque(b, data)
}

// AppendString appends a string: length, bytes, padding (RFC 4506 §4.11).
func AppendString(b []byte, s string) []byte {
	b = AppendUint32(b, uint32(len(s)))
	b = append(b, s...)
	return appendPad(b, len(s))
}

// AppendStringFunc appends a string or variable-length opaque (RFC 4506
// §4.10, §4.11) whose bytes fill appends to the slice it is given: the
// length, then those bytes, then the padding. The bytes are built in place,
// without a string or slice of their own.
func AppendStringFunc(b []byte, fill func([]byte) []byte) []byte {
	at := len(b)
	b = fill(append(b, 0, 0, 0, 0))
	n := len(b) - at - 4
	binary.BigEndian.PutUint32(b[at:], uint32(n))
	return appendPad(b, n)
}

// appendPad is the one place that writes XDR padding.
func appendPad(b []byte, n int) []byte {
	switch Pad(n) {
	case 1:
		return append(b, 0)
	case 2:
		return append(b, 0, 0)
	case 3:
		return append(b, 0, 0, 0)
	}
	return b
}
