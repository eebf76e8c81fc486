package regfile

import (
	"strconv"
	"unicode/utf8"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

// Column widths of the extended form: the longest IPv4 universal address
// ("255.255.255.255.255.255") is 23 bytes, and rpcbind's owners ("superuser",
// "unknown", a uid) fit in 10. A longer field is written whole and pushes the
// rest of the line along, as printf does.
const (
	extAddrWidth  = 23
	extOwnerWidth = 10
)

// ExtendedHeader is the comment line pmapdump writes before the extended form:
// the column names, aligned with AppendExtended's columns. Readers skip it as
// they skip every comment.
const ExtendedHeader = "#  program vers netid address                 owner      service\n"

// AppendClassic appends m as pmap_dump prints it, "%10u %4u %5s %6u  %s\n":
// program, version, protocol ("tcp", "udp" or the number), port and the
// service name, which is empty when unknown (the line then ends in two
// blanks, as pmap_dump's does).
func AppendClassic(b []byte, m portmap.Mapping, name string) []byte {
	b = appendUintRight(b, m.Prog, 10)
	b = append(b, ' ')
	b = appendUintRight(b, m.Vers, 4)
	b = append(b, ' ')
	b = appendRight(b, portmap.ProtName(m.Prot), 5)
	b = append(b, ' ')
	b = appendUintRight(b, m.Port, 6)
	b = append(b, ' ', ' ')
	b = appendName(b, name)
	return append(b, '\n')
}

// AppendExtended appends r as a line of the extended form:
// "%10u %4u %5s %-23s %-10s %s\n" with program, version, netid, universal
// address, owner and service name, trailing blanks removed. A netid, address
// or owner that cannot be written bare (see docs/pmapdump.md) is written as a
// quoted string; so is an address made only of digits, which a reader would
// take for a classic line's port.
func AppendExtended(b []byte, r portmap.RPCB, name string) []byte {
	b = appendUintRight(b, r.Prog, 10)
	b = append(b, ' ')
	b = appendUintRight(b, r.Vers, 4)
	b = append(b, ' ')
	b = appendRight(b, string(AppendField(nil, r.Netid)), 5)
	b = append(b, ' ')
	start := len(b)
	if isDigits(r.Addr) {
		b = appendQuoted(b, r.Addr)
	} else {
		b = AppendField(b, r.Addr)
	}
	b = pad(b, start, extAddrWidth)
	b = append(b, ' ')
	start = len(b)
	b = AppendField(b, r.Owner)
	b = pad(b, start, extOwnerWidth)
	b = append(b, ' ')
	b = appendName(b, name)
	for len(b) > 0 && b[len(b)-1] == ' ' {
		b = b[:len(b)-1]
	}
	return append(b, '\n')
}

// AppendField appends s as a field of the extended form: bare when it is a
// non-empty run of printable ASCII without '"' and '\', quoted otherwise, with
// the escapes \\, \", \t, \n, \r and \xHH for any other byte outside printable
// ASCII. ParseField reads it back.
func AppendField(b []byte, s string) []byte {
	if isBare(s) {
		return append(b, s...)
	}
	return appendQuoted(b, s)
}

func appendQuoted(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\t':
			b = append(b, '\\', 't')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c < 0x20 || c >= 0x7f:
			b = append(b, '\\', 'x', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// isBare reports whether s can be written as a bare field.
func isBare(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// isDigits reports whether s is a non-empty run of ASCII digits.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// appendName appends a service name. Readers keep the rest of a line, trimmed,
// as the name; a name that would not read back the same (one with control
// bytes, invalid UTF-8, or blanks at either end) is written as a Go quoted
// string instead, which does.
func appendName(b []byte, name string) []byte {
	if cleanName(name) {
		return append(b, name...)
	}
	return strconv.AppendQuoteToASCII(b, name)
}

// cleanName reports whether name reads back unchanged as the rest of a line.
func cleanName(name string) bool {
	if name == "" {
		return true
	}
	if isBlank(name[0]) || isBlank(name[len(name)-1]) || len(name) > MaxNameLen || !utf8.ValidString(name) {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// appendUintRight appends v in decimal, right-aligned in width columns.
func appendUintRight(b []byte, v uint32, width int) []byte {
	var tmp [10]byte
	return appendRight(b, string(strconv.AppendUint(tmp[:0], uint64(v), 10)), width)
}

// appendRight appends s right-aligned in width columns, or whole if longer.
func appendRight(b []byte, s string, width int) []byte {
	for n := len(s); n < width; n++ {
		b = append(b, ' ')
	}
	return append(b, s...)
}

// pad left-aligns what was appended since start in width columns.
func pad(b []byte, start, width int) []byte {
	for n := len(b) - start; n < width; n++ {
		b = append(b, ' ')
	}
	return b
}
