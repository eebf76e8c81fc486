package main

import (
	"math"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

// Debian's rpcinfo reads numbers with C's strtol and keeps them in C types
// of different widths; the functions here reproduce what it accepts, what it
// refuses and the values it ends up with, including where those differ from
// what a careful parser would give (a version is cut to a C int, then widened
// again with its sign).

// isSpace, isDigit and isAlpha are C's <ctype.h> tests in the "C" locale.
func isSpace(c byte) bool { return c == ' ' || (c >= '\t' && c <= '\r') }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool { return (c|0x20) >= 'a' && (c|0x20) <= 'z' }

// strtol is C's strtol(s, &end, 10) for a 64-bit long: leading white space,
// an optional sign, then digits; a value out of range is clamped to the
// long's limits. ok is false when no digit was read (end == s in C) or when
// something follows the digits (*end != '\0'), the two tests rpcinfo makes.
func strtol(s string) (v int64, ok bool) {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	start := i
	var acc uint64
	overflow := false
	for ; i < len(s) && isDigit(s[i]); i++ {
		d := uint64(s[i] - '0')
		if acc > (math.MaxUint64-d)/10 {
			overflow = true
		} else {
			acc = acc*10 + d
		}
	}
	if i == start {
		return 0, false
	}
	switch {
	case neg && (overflow || acc > 1<<63):
		v = math.MinInt64
	case neg:
		v = -int64(acc)
	case overflow || acc > math.MaxInt64:
		v = math.MaxInt64
	default:
		v = int64(acc)
	}
	return v, i == len(s)
}

// numberError is a bad program, version or port number, printed as rpcinfo
// prints it ("rpcinfo: x is illegal version number").
type numberError struct{ msg string }

// Error returns rpcinfo's message.
func (e *numberError) Error() string { return e.msg }

// progNumber reads a program as rpcinfo's getprognum does and returns the C
// unsigned long it gets: a name (or alias) from the rpc database unless the
// word is all digits, in which case strtol reads it. The wire carries the low
// 32 bits. The test is rpcinfo's own: the word is a name if a character
// follows its leading digits and the one after it, or if the first
// non-digit is the last character and a letter.
func progNumber(s string, names *portmap.Names) (uint64, error) {
	p := 0
	for p < len(s) {
		c := s[p]
		p++
		if !isDigit(c) {
			break
		}
	}
	if p < len(s) || (p > 0 && isAlpha(s[p-1])) {
		n, ok := names.Number(s)
		if !ok {
			return 0, &numberError{"rpcinfo: " + s + " is unknown service"}
		}
		return uint64(n), nil
	}
	v, ok := strtol(s)
	if !ok {
		return 0, &numberError{"rpcinfo: " + s + " is illegal program number"}
	}
	return uint64(v), nil
}

// versNumber reads a version as rpcinfo's getvers does: strtol, cut to a C
// int, then widened with its sign to an unsigned long, so 4294967295 and -1
// both become 18446744073709551615. The wire carries the low 32 bits.
func versNumber(s string) (uint64, error) {
	v, ok := strtol(s)
	if !ok {
		return 0, &numberError{"rpcinfo: " + s + " is illegal version number"}
	}
	return uint64(int64(int32(v))), nil
}

// portNumber reads -n's argument as rpcinfo does: strtol cut to an unsigned
// short, so 65647 is port 111 and -1 is 65535.
func portNumber(s string) (uint16, error) {
	v, ok := strtol(s)
	if !ok {
		return 0, &numberError{"rpcinfo: " + s + " is illegal port number"}
	}
	return uint16(v), nil
}
