package render

import (
	"strconv"
	"strings"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

// The classic form follows rpcinfo.c of rpcbind 1.2.6: each function here
// names the printf formats it reproduces. C pads by bytes, not by runes, and
// stops a string at its first NUL; the helpers below do the same.

// noPrograms is what rpcinfo prints for an empty DUMP or GETADDRLIST.
const noPrograms = "No remote programs registered.\n"

// classicMappings: "%10ld%5ld", then "%6s" for udp/tcp or "%6ld", "%7ld" and
// "  %s" with the program's name.
func (p *Printer) classicMappings(b []byte, list []portmap.Mapping) []byte {
	if len(list) == 0 {
		return append(b, noPrograms...)
	}
	b = append(b, "   program vers proto   port  service\n"...)
	for _, m := range list {
		b = padUint(b, uint64(m.Prog), 10)
		b = padUint(b, uint64(m.Vers), 5)
		switch m.Prot {
		case portmap.IPProtoUDP:
			b = padLeft(b, "udp", 6)
		case portmap.IPProtoTCP:
			b = padLeft(b, "tcp", 6)
		default:
			b = padUint(b, uint64(m.Prot), 6)
		}
		b = padUint(b, uint64(m.Port), 7)
		if name, ok := p.name(m.Prog); ok {
			b = append(b, "  "...)
			b = append(b, cstr(name)...)
		}
		b = append(b, '\n')
	}
	return b
}

// classicRegistrations: "%10u%5u    ", "%-9s ", "%-22s", " %-10s" (name or
// "-"), " %s".
func (p *Printer) classicRegistrations(b []byte, list []portmap.RPCB) []byte {
	if len(list) == 0 {
		return append(b, noPrograms...)
	}
	b = append(b, "   program version netid     address                service    owner\n"...)
	for _, r := range list {
		b = padUint(b, uint64(r.Prog), 10)
		b = padUint(b, uint64(r.Vers), 5)
		b = append(b, "    "...)
		b = padRight(b, cstr(r.Netid), 9)
		b = append(b, ' ')
		b = padRight(b, cstr(r.Addr), 22)
		b = append(b, ' ')
		b = padRight(b, p.nameOr(r.Prog, "-"), 10)
		b = append(b, ' ')
		b = append(b, cstr(r.Owner)...)
		b = append(b, '\n')
	}
	return b
}

// Sizes of rpcinfo's buffers: -s joins a program's netids into char
// buf[256] and -l formats "family/proto/semantics " into char buf[128]. A
// longer string from a hostile mapper is cut to fit, with room for the NUL.
const (
	netidBufLen = 256
	classBufLen = 128
)

// classicSummary: "%10ld  ", the versions with "%d" and commas padded to ten
// columns, the netids in "%-32s", " %-11s" (name or "-"), " %s" with the owner
// of the program's first registration.
func (p *Printer) classicSummary(b []byte, list []portmap.RPCB) []byte {
	if len(list) == 0 {
		return append(b, noPrograms...)
	}
	b = append(b, "   program version(s) netid(s)                         service     owner\n"...)
	for _, s := range summarize(list, true) {
		b = padUint(b, uint64(s.Prog), 10)
		b = append(b, "  "...)
		start := len(b)
		for i, v := range s.Versions {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, int64(int32(v)), 10) // printf("%d", int)
		}
		// Padded to ten columns; a longer list runs straight into the netids,
		// as in rpcbind 1.2.6 (later versions add a space).
		b = spaces(b, 10-(len(b)-start))
		b = padRight(b, netidField(s.Netids), 32)
		b = append(b, ' ')
		b = padRight(b, p.nameOr(s.Prog, "-"), 11)
		b = append(b, ' ')
		b = append(b, cstr(s.Owner)...)
		b = append(b, '\n')
	}
	return b
}

// netidField joins netids with commas as rpcinfo -s does into its 256-byte
// buffer. rpcbind 1.2.6 overflows that buffer when a hostile mapper sends
// longer netids; like rpcbind's later fix, this cuts the list at 255 bytes,
// possibly in the middle of a netid and without its comma.
func netidField(netids []string) string {
	var buf []byte
	budget := netidBufLen - 1
	for i, n := range netids {
		n = cstr(n)
		buf = append(buf, n[:min(len(n), budget)]...)
		if len(n) >= budget {
			break
		}
		budget -= len(n)
		if i+1 < len(netids) && budget > 1 {
			buf = append(buf, ',')
			budget--
		}
	}
	return string(buf)
}

// classicAddresses: "%10u%3u    ", "%-24s" with "family/proto/semantics " cut
// to 127 bytes, "%-24s" with the address, " %-13s" (name or "-").
func (p *Printer) classicAddresses(b []byte, prog, vers uint32, list []portmap.Entry) []byte {
	if len(list) == 0 {
		return append(b, noPrograms...)
	}
	b = append(b, "   program vers  tp_family/name/class    address\t\t  service\n"...)
	for _, e := range list {
		b = padUint(b, uint64(prog), 10)
		b = padUint(b, uint64(vers), 3)
		b = append(b, "    "...)
		class := cstr(e.Protofmly) + "/" + cstr(e.Proto) + "/" + classicSemantics(e.Semantics) + " "
		// rpcbind 1.2.6 sprintfs this into char buf[128] and overflows it on a
		// hostile mapper's long names; like its later fix, cut at 127 bytes.
		if len(class) > classBufLen-1 {
			class = class[:classBufLen-1]
		}
		b = padRight(b, class, 24)
		b = padRight(b, cstr(e.Maddr), 24)
		b = append(b, ' ')
		b = padRight(b, p.nameOr(prog, "-"), 13)
		b = append(b, '\n')
	}
	return b
}

// classicSemantics names a semantics value as rpcinfo -l does: anything that
// is neither connectionless nor plain connection-oriented reads "cots_ord".
func classicSemantics(s uint32) string {
	switch s {
	case portmap.SemanticsCLTS:
		return "clts"
	case portmap.SemanticsCOTS:
		return "cots"
	}
	return "cots_ord"
}

// classicPing: "program %lu version %lu ready and waiting" or "... is not
// available".
func classicPing(b []byte, r Ping) []byte {
	b = append(b, "program "...)
	b = strconv.AppendUint(b, r.Prog, 10)
	b = append(b, " version "...)
	b = strconv.AppendUint(b, r.Vers, 10)
	if r.OK() {
		return append(b, " ready and waiting\n"...)
	}
	return append(b, " is not available\n"...)
}

// classicReply: "%s\t%s".
func classicReply(b []byte, r Reply) []byte {
	b = append(b, cstr(r.Addr)...)
	b = append(b, '\t')
	b = append(b, cstr(r.Host)...)
	return append(b, '\n')
}

// nameOr returns the program's name, or def when it has none.
func (p *Printer) nameOr(prog uint32, def string) string {
	if name, ok := p.name(prog); ok {
		return cstr(name)
	}
	return def
}

// cstr returns s up to its first NUL byte, as C's printf would print it.
func cstr(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return s[:i]
	}
	return s
}

// padUint appends v right-aligned in w columns, like printf("%*lu").
func padUint(b []byte, v uint64, w int) []byte {
	var tmp [20]byte
	return padLeft(b, string(strconv.AppendUint(tmp[:0], v, 10)), w)
}

// padIntRight appends v left-aligned in w columns, like printf("%-*d").
func padIntRight(b []byte, v int32, w int) []byte {
	var tmp [20]byte
	return padRight(b, string(strconv.AppendInt(tmp[:0], int64(v), 10)), w)
}

// padLeft appends s right-aligned in w bytes; a longer s is appended whole.
func padLeft(b []byte, s string, w int) []byte {
	b = spaces(b, w-len(s))
	return append(b, s...)
}

// padRight appends s left-aligned in w bytes; a longer s is appended whole.
func padRight(b []byte, s string, w int) []byte {
	b = append(b, s...)
	return spaces(b, w-len(s))
}

// spaces appends n spaces; nothing when n <= 0.
func spaces(b []byte, n int) []byte {
	for ; n > 0; n-- {
		b = append(b, ' ')
	}
	return b
}
