package portmap

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"strconv"
	"strings"
)

// A netbuf (RFC 1833 §2.1) carries a struct sockaddr exactly as the server's
// kernel lays it out. RFC 1833 leaves the layout to the implementation; Debian's
// rpcbind on x86 Linux sends the address family in host byte order (little
// endian) and the port and address in network order (see the vectors
// v3_uaddr2taddr and v3_taddr2uaddr). This package encodes that layout and
// decodes the family in either byte order, so a big-endian server's netbuf
// reads too. The family numbers are Linux's.
const (
	afLocal = 1  // AF_LOCAL / AF_UNIX
	afInet  = 2  // AF_INET
	afInet6 = 10 // AF_INET6 on Linux

	sockaddrInLen  = 16  // sizeof(struct sockaddr_in): family, port, address, 8 bytes of zero
	sockaddrIn6Len = 28  // sizeof(struct sockaddr_in6): family, port, flowinfo, address, scope id
	sockaddrUnLen  = 110 // sizeof(struct sockaddr_un): family and a 108-byte path

	sunPathLen = sockaddrUnLen - 2 // room for a socket path and its terminating NUL
)

// NetbufFromAddrPort returns the netbuf of ap as Linux lays out the sockaddr: a
// 16-byte sockaddr_in for an IPv4 address, a 28-byte sockaddr_in6 for any other
// (an IPv4-mapped address stays IPv6, as on an AF_INET6 socket); MaxLen equals
// the length. A numeric zone becomes the scope id; a named zone is dropped, as
// resolving it would need the host's interfaces. The zero AddrPort gives an
// empty Netbuf.
func NetbufFromAddrPort(ap netip.AddrPort) Netbuf {
	a := ap.Addr()
	switch {
	case !a.IsValid():
		return Netbuf{}
	case a.Is4():
		buf := make([]byte, sockaddrInLen)
		binary.LittleEndian.PutUint16(buf[0:], afInet)
		binary.BigEndian.PutUint16(buf[2:], ap.Port())
		ip := a.As4()
		copy(buf[4:8], ip[:])
		return Netbuf{MaxLen: sockaddrInLen, Buf: buf}
	}
	buf := make([]byte, sockaddrIn6Len)
	binary.LittleEndian.PutUint16(buf[0:], afInet6)
	binary.BigEndian.PutUint16(buf[2:], ap.Port())
	ip := a.As16()
	copy(buf[8:24], ip[:])
	if scope, err := strconv.ParseUint(a.Zone(), 10, 32); err == nil {
		binary.LittleEndian.PutUint32(buf[24:], uint32(scope))
	}
	return Netbuf{MaxLen: sockaddrIn6Len, Buf: buf}
}

// NetbufFromPath returns the netbuf of a local socket path: a 110-byte
// sockaddr_un holding the path and a terminating NUL, as libtirpc's
// UADDR2TADDR builds it. The path must be 1 to 107 bytes without NUL.
func NetbufFromPath(path string) (Netbuf, error) {
	switch {
	case path == "":
		return Netbuf{}, &UaddrError{Netid: NetidLocal, Uaddr: path, Reason: "empty socket path"}
	case len(path) >= sunPathLen:
		return Netbuf{}, &UaddrError{Netid: NetidLocal, Uaddr: path, Reason: "socket path longer than " + strconv.Itoa(sunPathLen-1) + " bytes"}
	case strings.IndexByte(path, 0) >= 0:
		return Netbuf{}, &UaddrError{Netid: NetidLocal, Uaddr: path, Reason: "socket path holds a NUL byte"}
	}
	buf := make([]byte, sockaddrUnLen)
	binary.LittleEndian.PutUint16(buf, afLocal)
	copy(buf[2:], path)
	return Netbuf{MaxLen: sockaddrUnLen, Buf: buf}, nil
}

// NetbufFromUaddr converts a universal address of netid to a netbuf, what
// rpcbind's UADDR2TADDR does.
func NetbufFromUaddr(netid, uaddr string) (Netbuf, error) {
	if n, ok := LookupNetid(netid); ok && n.IsLocal() {
		return NetbufFromPath(uaddr)
	}
	ap, err := ParseUaddr(netid, uaddr)
	if err != nil {
		return Netbuf{}, err
	}
	return NetbufFromAddrPort(ap), nil
}

// NetbufError reports a netbuf whose buffer is not a sockaddr this package
// knows. Reach it with errors.As.
type NetbufError struct {
	Buf    []byte // the buffer as given
	Reason string // what is wrong with it
}

// Error describes the buffer and what is wrong with it.
func (e *NetbufError) Error() string {
	return "portmap: bad netbuf of " + strconv.Itoa(len(e.Buf)) + " bytes: " + e.Reason
}

// family returns the address family of a sockaddr, read in whichever byte
// order gives a known family (little endian first), or 0.
func (n Netbuf) family() uint16 {
	if len(n.Buf) < 2 {
		return 0
	}
	for _, f := range [2]uint16{binary.LittleEndian.Uint16(n.Buf), binary.BigEndian.Uint16(n.Buf)} {
		switch f {
		case afLocal, afInet, afInet6:
			return f
		}
	}
	return 0
}

// AddrPort returns the IP address and port of an AF_INET or AF_INET6 netbuf.
// A sockaddr_in needs at least its first 8 bytes and a sockaddr_in6 its first
// 24; the trailing padding and scope id may be absent. A nonzero scope id
// becomes a numeric zone.
func (n Netbuf) AddrPort() (netip.AddrPort, error) {
	b := n.Buf
	switch n.family() {
	case afInet:
		if len(b) < 8 {
			return netip.AddrPort{}, &NetbufError{Buf: b, Reason: "AF_INET address shorter than 8 bytes"}
		}
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[4:8])), binary.BigEndian.Uint16(b[2:])), nil
	case afInet6:
		if len(b) < 24 {
			return netip.AddrPort{}, &NetbufError{Buf: b, Reason: "AF_INET6 address shorter than 24 bytes"}
		}
		a := netip.AddrFrom16([16]byte(b[8:24]))
		if len(b) >= 28 {
			// The scope id is in host order, like the family.
			var scope uint32
			if binary.LittleEndian.Uint16(b) == afInet6 {
				scope = binary.LittleEndian.Uint32(b[24:])
			} else {
				scope = binary.BigEndian.Uint32(b[24:])
			}
			if scope != 0 {
				a = a.WithZone(strconv.FormatUint(uint64(scope), 10))
			}
		}
		return netip.AddrPortFrom(a, binary.BigEndian.Uint16(b[2:])), nil
	case afLocal:
		return netip.AddrPort{}, &NetbufError{Buf: b, Reason: "AF_LOCAL address has a path, not an IP address"}
	}
	return netip.AddrPort{}, &NetbufError{Buf: b, Reason: "unknown address family"}
}

// Path returns the socket path of an AF_LOCAL netbuf: the bytes after the
// family up to the first NUL.
func (n Netbuf) Path() (string, error) {
	if n.family() != afLocal {
		return "", &NetbufError{Buf: n.Buf, Reason: "not an AF_LOCAL address"}
	}
	p := n.Buf[2:]
	if i := bytes.IndexByte(p, 0); i >= 0 {
		p = p[:i]
	}
	if len(p) == 0 {
		return "", &NetbufError{Buf: n.Buf, Reason: "AF_LOCAL address with an empty path"}
	}
	return string(p), nil
}

// Uaddr returns the universal address of the netbuf's sockaddr, what rpcbind's
// TADDR2UADDR does: the IPv4 or IPv6 form for AF_INET and AF_INET6, the path
// for AF_LOCAL.
func (n Netbuf) Uaddr() (string, error) {
	if n.family() == afLocal {
		return n.Path()
	}
	ap, err := n.AddrPort()
	if err != nil {
		return "", err
	}
	return FormatUaddr(ap), nil
}
