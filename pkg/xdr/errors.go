package xdr

import (
	"errors"
	"fmt"
)

// Sentinel causes wrapped by [Error]; test for them with errors.Is.
var (
	// ErrShort means the input ended before the item being read was complete.
	ErrShort = errors.New("short input")
	// ErrTooLong means a declared length or count exceeds the caller's maximum.
	ErrTooLong = errors.New("length exceeds limit")
	// ErrBadBool means a boolean held a value other than 0 or 1 (RFC 4506 §4.4).
	ErrBadBool = errors.New("boolean is neither 0 nor 1")
)

// Error is the one error type of this package: what was being read, where, and why.
// Use errors.As to reach it and errors.Is with ErrShort, ErrTooLong or ErrBadBool
// to tell the causes apart.
type Error struct {
	Op     string // what was being read, e.g. "uint32", "string length"
	Offset int    // byte offset in the input where the item starts
	Len    uint64 // for ErrTooLong: the declared length or count; for ErrShort: bytes needed
	Max    uint64 // for ErrTooLong: the limit; for ErrShort: bytes that remained
	Err    error  // ErrShort, ErrTooLong, ErrBadBool or a caller's cause
}

func (e *Error) Error() string {
	switch e.Err {
	case ErrTooLong:
		return fmt.Sprintf("xdr: %s at offset %d: length %d exceeds limit %d", e.Op, e.Offset, e.Len, e.Max)
	case ErrShort:
		return fmt.Sprintf("xdr: %s at offset %d: short input: need %d bytes, %d remain", e.Op, e.Offset, e.Len, e.Max)
	}
	return fmt.Sprintf("xdr: %s at offset %d: %v", e.Op, e.Offset, e.Err)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }
