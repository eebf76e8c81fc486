package regfile

import (
	"strconv"
	"strings"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

// Entry is one registration of a file: a portmap v2 mapping (a classic line,
// RFC 1833 §3.1 struct mapping) when Netid is empty, an rpcbind registration
// (an extended line, RFC 1833 §2.1 struct rpcb) otherwise.
type Entry struct {
	Prog, Vers uint32

	// Prot and Port are the mapping's IP protocol (portmap.IPProtoTCP,
	// portmap.IPProtoUDP or any other number) and port. Unused when Netid is
	// set.
	Prot, Port uint32

	// Netid, Addr and Owner are the rpcbind registration's netid, universal
	// address and owner. A non-empty Netid makes the entry an rpcbind one.
	Netid, Addr, Owner string

	// Name is the service name written with the entry, for people: the
	// readers ignore it beyond keeping it, as pmap_set did.
	Name string

	// Line is the 1-based line the entry was read from (for JSON, the line
	// where the entry's object starts); 0 for an entry not read from a file.
	Line int
}

// MappingEntry returns the entry of a portmap v2 mapping, with a service name
// ("" when unknown).
func MappingEntry(m portmap.Mapping, name string) Entry {
	return Entry{Prog: m.Prog, Vers: m.Vers, Prot: m.Prot, Port: m.Port, Name: name}
}

// RPCBEntry returns the entry of an rpcbind registration, with a service name
// ("" when unknown).
func RPCBEntry(r portmap.RPCB, name string) Entry {
	return Entry{Prog: r.Prog, Vers: r.Vers, Netid: r.Netid, Addr: r.Addr, Owner: r.Owner, Name: name}
}

// IsMapping reports whether e is a portmap v2 mapping rather than an rpcbind
// registration.
func (e Entry) IsMapping() bool { return e.Netid == "" }

// Mapping returns e as a portmap v2 mapping, the argument of v2 SET and UNSET.
// It is meaningful only when e.IsMapping().
func (e Entry) Mapping() portmap.Mapping {
	return portmap.Mapping{Prog: e.Prog, Vers: e.Vers, Prot: e.Prot, Port: e.Port}
}

// RPCB returns e as an rpcbind registration, the argument of rpcbind SET and
// UNSET. A mapping becomes what rpcbind stores for a v2 SET: netid "tcp" or
// "udp" and the address 0.0.0.0.p1.p2; a mapping of another protocol has no
// rpcbind form and gets an empty netid.
func (e Entry) RPCB() portmap.RPCB {
	if !e.IsMapping() {
		return portmap.RPCB{Prog: e.Prog, Vers: e.Vers, Netid: e.Netid, Addr: e.Addr, Owner: e.Owner}
	}
	netid, _ := portmap.NetidForProt(e.Prot)
	return portmap.RPCB{Prog: e.Prog, Vers: e.Vers, Netid: netid, Addr: V2Addr(e.Port)}
}

// V2Addr returns the universal address rpcbind stores for a portmap v2 SET of
// port: the IPv4 wildcard address with that port, "0.0.0.0.p1.p2".
func V2Addr(port uint32) string {
	b := make([]byte, 0, len("0.0.0.0.255.255"))
	b = append(b, "0.0.0.0."...)
	b = strconv.AppendUint(b, uint64(port>>8&0xff), 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, uint64(port&0xff), 10)
	return string(b)
}

// Key identifies the registration slot an entry fills. A port mapper holds at
// most one address per (program, version, netid), comparing netids without
// regard to case (PROTOCOL.md: a SET of an existing slot succeeds only with the
// same address).
type Key struct {
	Prog, Vers uint32
	Netid      string // lower case; for a mapping of a protocol other than tcp and udp, "prot:" and its number
}

// Key returns the slot e fills: a mapping fills the slot of its protocol's
// netid.
func (e Entry) Key() Key {
	if e.IsMapping() {
		if netid, ok := portmap.NetidForProt(e.Prot); ok {
			return Key{e.Prog, e.Vers, netid}
		}
		return Key{e.Prog, e.Vers, "prot:" + strconv.FormatUint(uint64(e.Prot), 10)}
	}
	return Key{e.Prog, e.Vers, strings.ToLower(e.Netid)}
}

// String returns e as a line of its form (classic for a mapping, extended for
// an rpcbind registration), without the line end or trailing blanks.
func (e Entry) String() string {
	return strings.TrimRight(string(e.AppendLine(nil)), " \n")
}

// AppendLine appends e as a line of its form, ending in a newline: a mapping
// as AppendClassic writes it, an rpcbind registration as AppendExtended does.
func (e Entry) AppendLine(b []byte) []byte {
	if e.IsMapping() {
		return AppendClassic(b, e.Mapping(), e.Name)
	}
	return AppendExtended(b, e.RPCB(), e.Name)
}
