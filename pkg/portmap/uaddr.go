package portmap

import (
	"net/netip"
	"strconv"
	"strings"
)

// Universal addresses (RFC 5665 §5.2.3.3, §5.2.3.4) name a transport endpoint
// as text: an IPv4 endpoint is "h1.h2.h3.h4.p1.p2", an IPv6 endpoint is the
// textual IPv6 address followed by ".p1.p2", where the port is p1*256+p2
// ("0.0.0.0.8.1" is port 2049, "::.0.111" the port mapper on every IPv6
// address). A local transport's universal address is its socket path.
//
// IPv4-mapped IPv6 addresses keep the form they arrive in: a netip.AddrPort
// holding ::ffff:127.0.0.1 formats as "::ffff:127.0.0.1.0.111" (what libtirpc
// writes for an AF_INET6 socket), and that text parses back to the mapped
// address, not to 127.0.0.1. Callers that want the IPv4 address call Unmap.
// A zone is written after the address as netip does ("fe80::1%eth0.0.111");
// RFC 5665 defines none, so a peer may not understand it.

// UaddrError reports a universal address that cannot be used. It is returned by
// the parsing functions of this package; reach it with errors.As.
type UaddrError struct {
	Netid  string // the netid the address was read for; "" when inferred
	Uaddr  string // the address as given
	Reason string // what is wrong with it
}

// Error quotes the address, names the netid and says what is wrong.
func (e *UaddrError) Error() string {
	if e.Netid == "" {
		return "portmap: bad universal address " + strconv.Quote(e.Uaddr) + ": " + e.Reason
	}
	return "portmap: bad universal address " + strconv.Quote(e.Uaddr) + " for netid " + e.Netid + ": " + e.Reason
}

// ParseUaddr reads the universal address s of an IP netid ("udp" or "tcp" for
// the IPv4 form, "udp6" or "tcp6" for the IPv6 form, case ignored). An empty
// netid accepts either form, telling them apart by a ':' in s. A local netid
// has no IP address; use [DialAddress] or [CheckUaddr] for those.
//
// Every part must be a decimal number in canonical form (no sign, no leading
// zero, no space): each IPv4 octet and each of p1 and p2 is 0 to 255. An
// IPv4-mapped address in the IPv6 form ("::ffff:127.0.0.1.8.1") stays mapped,
// so that it formats back to the same text; call Unmap for the IPv4 address.
func ParseUaddr(netid, s string) (netip.AddrPort, error) {
	want6, err := uaddrFamily(netid, s)
	if err != nil {
		return netip.AddrPort{}, err
	}
	ap, reason := parseUaddr(s, want6)
	if reason != "" {
		return netip.AddrPort{}, &UaddrError{Netid: netid, Uaddr: s, Reason: reason}
	}
	return ap, nil
}

// uaddrFamily says which form netid calls for: true for IPv6.
func uaddrFamily(netid, s string) (bool, error) {
	if netid == "" {
		return strings.IndexByte(s, ':') >= 0, nil
	}
	n, ok := LookupNetid(netid)
	switch {
	case !ok:
		return false, &UaddrError{Netid: netid, Uaddr: s, Reason: "unknown netid"}
	case n.IsLocal():
		return false, &UaddrError{Netid: netid, Uaddr: s, Reason: "a local netid's address is a path, not an IP address and port"}
	}
	return n.IsIPv6(), nil
}

// parseUaddr parses s in the IPv4 or IPv6 form; on failure it returns the
// reason.
func parseUaddr(s string, want6 bool) (netip.AddrPort, string) {
	if s == "" {
		return netip.AddrPort{}, "empty address"
	}
	host, p1s, p2s, reason := splitPorts(s, want6)
	if reason != "" {
		return netip.AddrPort{}, reason
	}
	var addr netip.Addr
	if want6 {
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() {
			return netip.AddrPort{}, "host part " + strconv.Quote(host) + " is not an IPv6 address"
		}
		addr = a
	} else {
		var oct [4]byte
		rest := host
		for i := range oct { // splitPorts left exactly four parts
			var part string
			part, rest, _ = strings.Cut(rest, ".")
			v, reason := parsePart(part)
			if reason != "" {
				return netip.AddrPort{}, "octet " + strconv.Itoa(i+1) + " " + reason
			}
			oct[i] = v
		}
		addr = netip.AddrFrom4(oct)
	}
	p1, reason := parsePart(p1s)
	if reason != "" {
		return netip.AddrPort{}, "port part p1 " + reason
	}
	p2, reason := parsePart(p2s)
	if reason != "" {
		return netip.AddrPort{}, "port part p2 " + reason
	}
	return netip.AddrPortFrom(addr, uint16(p1)<<8|uint16(p2)), ""
}

// splitPorts cuts the two port parts off the end of s. The IPv4 form must have
// exactly six dot-separated parts, so that a missing port part is named as such
// rather than misread as an octet.
func splitPorts(s string, want6 bool) (host, p1, p2, reason string) {
	if !want6 {
		switch parts := strings.Count(s, ".") + 1; parts {
		case 6:
		case 4:
			return "", "", "", "missing port parts: want h1.h2.h3.h4.p1.p2, have four parts"
		case 5:
			return "", "", "", "missing a port part: want h1.h2.h3.h4.p1.p2, have five parts"
		default:
			return "", "", "", "want six dot-separated parts h1.h2.h3.h4.p1.p2, have " + strconv.Itoa(parts)
		}
	} else {
		tail := s[strings.LastIndexByte(s, ':')+1:]
		switch strings.Count(tail, ".") {
		case 0:
			return "", "", "", "missing port parts: want <IPv6 address>.p1.p2"
		case 1:
			return "", "", "", "missing a port part: want <IPv6 address>.p1.p2"
		}
	}
	i := strings.LastIndexByte(s, '.')
	host, p2 = s[:i], s[i+1:]
	i = strings.LastIndexByte(host, '.')
	host, p1 = host[:i], host[i+1:]
	return host, p1, p2, ""
}

// parsePart reads one decimal part, 0 to 255, in canonical form. On failure it
// returns the reason, to follow the part's name.
func parsePart(s string) (byte, string) {
	switch {
	case s == "":
		return 0, "is empty"
	case len(s) > 3:
		if strings.Trim(s, "0123456789") == "" {
			return 0, "is " + s + ", above 255"
		}
		return 0, strconv.Quote(s) + " is not a decimal number"
	case len(s) > 1 && s[0] == '0':
		return 0, strconv.Quote(s) + " has a leading zero"
	}
	v := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, strconv.Quote(s) + " is not a decimal number"
		}
		v = v*10 + int(c-'0')
	}
	if v > 255 {
		return 0, "is " + s + ", above 255"
	}
	return byte(v), ""
}

// FormatUaddr returns the universal address of ap: the IPv4 form for an IPv4
// address, the IPv6 form otherwise (an IPv4-mapped IPv6 address included). It
// returns "" for the zero AddrPort.
func FormatUaddr(ap netip.AddrPort) string {
	if !ap.Addr().IsValid() {
		return ""
	}
	return string(AppendUaddr(make([]byte, 0, 64), ap))
}

// AppendUaddr appends the universal address of ap to b, as [FormatUaddr]
// returns it.
func AppendUaddr(b []byte, ap netip.AddrPort) []byte {
	if !ap.Addr().IsValid() {
		return b
	}
	b = ap.Addr().AppendTo(b)
	b = append(b, '.')
	b = strconv.AppendUint(b, uint64(ap.Port()>>8), 10)
	b = append(b, '.')
	return strconv.AppendUint(b, uint64(ap.Port()&0xff), 10)
}

// CheckUaddr reports whether uaddr is a usable universal address for netid: a
// well-formed IP address of the netid's family, or for a local netid a
// non-empty socket path without NUL bytes, at most MaxUaddrLen bytes long.
func CheckUaddr(netid, uaddr string) error {
	_, _, err := DialAddress(netid, uaddr)
	return err
}

// DialAddress turns a netid and one of its universal addresses into the network
// and address net.Dial takes: ("tcp4", "127.0.0.1:2049") for netid "tcp" and
// "127.0.0.1.8.1", ("unix", "/run/rpcbind.sock") for netid "local" and that
// path, which passes through unchanged.
func DialAddress(netid, uaddr string) (network, address string, err error) {
	n, ok := LookupNetid(netid)
	if !ok {
		return "", "", &UaddrError{Netid: netid, Uaddr: uaddr, Reason: "unknown netid"}
	}
	if n.IsLocal() {
		switch {
		case uaddr == "":
			return "", "", &UaddrError{Netid: netid, Uaddr: uaddr, Reason: "empty socket path"}
		case len(uaddr) > MaxUaddrLen:
			return "", "", &UaddrError{Netid: netid, Uaddr: uaddr, Reason: "socket path longer than " + strconv.Itoa(MaxUaddrLen) + " bytes"}
		case strings.IndexByte(uaddr, 0) >= 0:
			return "", "", &UaddrError{Netid: netid, Uaddr: uaddr, Reason: "socket path holds a NUL byte"}
		}
		return n.Network, uaddr, nil
	}
	ap, err := ParseUaddr(netid, uaddr)
	if err != nil {
		return "", "", err
	}
	return n.Network, ap.String(), nil
}

// IsWildcardUaddr reports whether uaddr is an IP universal address whose host
// part is the unspecified address (0.0.0.0 or ::), as a service listening on
// every address registers itself.
func IsWildcardUaddr(uaddr string) bool {
	ap, err := ParseUaddr("", uaddr)
	return err == nil && ap.Addr().IsUnspecified()
}

// ReplaceWildcard returns uaddr with a wildcard host part (0.0.0.0 or ::)
// replaced by local, the address a caller reached, keeping the port: rpcbind
// answers GETADDR for "0.0.0.0.8.1" with "127.0.0.1.8.1" to a caller that came
// in on 127.0.0.1. The family must match: an IPv4 uaddr takes an IPv4 (or
// IPv4-mapped) local address, an IPv6 uaddr an IPv6 one; local's zone is
// dropped. Any other uaddr (a specific host, a local path, text that does not
// parse, a family mismatch, an invalid local) is returned unchanged.
func ReplaceWildcard(uaddr string, local netip.Addr) string {
	ap, ok := replacedWildcard(uaddr, local)
	if !ok {
		return uaddr
	}
	return FormatUaddr(ap)
}

// AppendReplaceWildcard appends ReplaceWildcard(uaddr, local) to b.
func AppendReplaceWildcard(b []byte, uaddr string, local netip.Addr) []byte {
	ap, ok := replacedWildcard(uaddr, local)
	if !ok {
		return append(b, uaddr...)
	}
	return AppendUaddr(b, ap)
}

// replacedWildcard returns the address ReplaceWildcard formats, or false
// when it returns uaddr unchanged.
func replacedWildcard(uaddr string, local netip.Addr) (netip.AddrPort, bool) {
	ap, err := ParseUaddr("", uaddr)
	if err != nil || !ap.Addr().IsUnspecified() || !local.IsValid() {
		return netip.AddrPort{}, false
	}
	local = local.WithZone("")
	switch {
	case ap.Addr().Is4():
		local = local.Unmap()
		if !local.Is4() {
			return netip.AddrPort{}, false
		}
	case local.Is4():
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(local, ap.Port()), true
}
