package portmap

import (
	"strconv"
	"strings"
)

// Transport semantics of an rpcb_entry (RFC 1833 §2.1; the NC_TPI_* values of
// netconfig(5)).
const (
	SemanticsCLTS    = 1 // connectionless: udp, udp6
	SemanticsCOTS    = 2 // connection-oriented
	SemanticsCOTSOrd = 3 // connection-oriented with orderly release: tcp, tcp6, local
	SemanticsRaw     = 4 // raw protocol access: rawip
)

// SemanticsName returns the name rpcinfo -l prints for a semantics value:
// "clts", "cots", "cots_ord", "raw", or "unknown" for any other.
func SemanticsName(s uint32) string {
	switch s {
	case SemanticsCLTS:
		return "clts"
	case SemanticsCOTS:
		return "cots"
	case SemanticsCOTSOrd:
		return "cots_ord"
	case SemanticsRaw:
		return "raw"
	}
	return "unknown"
}

// Netids known to this package, as in Debian's /etc/netconfig. "unix" is an
// alias of "local".
const (
	NetidUDP   = "udp"
	NetidTCP   = "tcp"
	NetidUDP6  = "udp6"
	NetidTCP6  = "tcp6"
	NetidLocal = "local"
	NetidUnix  = "unix"
)

// Protocol families of a netid, as an rpcb_entry's protofmly and rpcinfo -l
// print them (netconfig(5) NC_INET, NC_INET6, NC_LOOPBACK).
const (
	FamilyInet     = "inet"
	FamilyInet6    = "inet6"
	FamilyLoopback = "loopback"
)

// Netid describes a transport named by a netid (netconfig(5), RFC 5665 §5).
type Netid struct {
	Name      string // the netid itself: "udp", "tcp", "udp6", "tcp6", "local" or "unix"
	Network   string // the Go network for net.Dial and net.Listen: "udp4", "tcp4", "udp6", "tcp6", "unix"
	Family    string // FamilyInet, FamilyInet6 or FamilyLoopback
	Semantics uint32 // SemanticsCLTS or SemanticsCOTSOrd
	Proto     string // "udp", "tcp", or "-" for a local transport
	IPProto   uint32 // IPProtoUDP, IPProtoTCP, or 0 for a local transport
}

// IsLocal reports whether n is a local (AF_LOCAL/AF_UNIX) transport, whose
// universal address is a socket path.
func (n Netid) IsLocal() bool { return n.Family == FamilyLoopback }

// IsIPv6 reports whether n is an IPv6 transport.
func (n Netid) IsIPv6() bool { return n.Family == FamilyInet6 }

// netids is the table behind LookupNetid, in the order of /etc/netconfig.
var netids = [...]Netid{
	{NetidUDP, "udp4", FamilyInet, SemanticsCLTS, "udp", IPProtoUDP},
	{NetidTCP, "tcp4", FamilyInet, SemanticsCOTSOrd, "tcp", IPProtoTCP},
	{NetidUDP6, "udp6", FamilyInet6, SemanticsCLTS, "udp", IPProtoUDP},
	{NetidTCP6, "tcp6", FamilyInet6, SemanticsCOTSOrd, "tcp", IPProtoTCP},
	{NetidLocal, "unix", FamilyLoopback, SemanticsCOTSOrd, "-", 0},
	{NetidUnix, "unix", FamilyLoopback, SemanticsCOTSOrd, "-", 0},
}

// LookupNetid returns the description of a netid, ignoring case as rpcbind
// does when it compares netids. The Name of the result is the canonical,
// lower-case spelling.
func LookupNetid(name string) (Netid, bool) {
	for _, n := range netids {
		if strings.EqualFold(n.Name, name) {
			return n, true
		}
	}
	return Netid{}, false
}

// Netids returns the known netids in the order of /etc/netconfig, aliases
// included.
func Netids() []Netid {
	out := make([]Netid, len(netids))
	copy(out, netids[:])
	return out
}

// NetidForProt returns the netid of a portmap v2 prot: "tcp" for IPProtoTCP and
// "udp" for IPProtoUDP. A v2 mapping is always IPv4.
func NetidForProt(prot uint32) (string, bool) {
	switch prot {
	case IPProtoTCP:
		return NetidTCP, true
	case IPProtoUDP:
		return NetidUDP, true
	}
	return "", false
}

// ProtForNetid returns the portmap v2 prot of a netid: IPProtoTCP for "tcp",
// IPProtoUDP for "udp" (case ignored). Other netids, IPv6 ones included, have
// no v2 form: the v2 registry holds only IPv4 entries.
func ProtForNetid(netid string) (uint32, bool) {
	switch {
	case strings.EqualFold(netid, NetidTCP):
		return IPProtoTCP, true
	case strings.EqualFold(netid, NetidUDP):
		return IPProtoUDP, true
	}
	return 0, false
}

// ProtName returns the protocol name rpcinfo -p and pmap_dump print for a v2
// prot: "tcp", "udp", or the number in decimal for any other value.
func ProtName(prot uint32) string {
	switch prot {
	case IPProtoTCP:
		return "tcp"
	case IPProtoUDP:
		return "udp"
	}
	return strconv.FormatUint(uint64(prot), 10)
}

// ParseProt reads a v2 protocol as pmap_set accepts it: "tcp" or "udp" (case
// ignored) or a decimal number.
func ParseProt(s string) (uint32, bool) {
	switch {
	case strings.EqualFold(s, "tcp"):
		return IPProtoTCP, true
	case strings.EqualFold(s, "udp"):
		return IPProtoUDP, true
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, false
	}
	return uint32(n), true
}
