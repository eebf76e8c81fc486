package server

import (
	"encoding/binary"
	"net/netip"
	"strings"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

// Sizes of the sockaddr structures libtirpc reads and writes for the
// UADDR2TADDR and TADDR2UADDR procedures (Linux layouts).
const (
	sockaddrInLen  = 16  // struct sockaddr_in
	sockaddrIn6Len = 28  // struct sockaddr_in6
	sockaddrUnLen  = 110 // struct sockaddr_un
	sunPathMax     = 107 // sun_path less its terminating NUL
	afLocal        = 1   // AF_LOCAL, written in host (little-endian) order
)

// uaddrToNetbuf converts a universal address to the struct sockaddr of the
// transport the call arrived on, as rpcbind's UADDR2TADDR does (RFC 1833
// §2.2.7): an IPv4 address over udp and tcp, an IPv6 address over udp6 and
// tcp6, a socket path over the local socket. An address that does not parse
// gives an empty netbuf.
func uaddrToNetbuf(netid, uaddr string) portmap.Netbuf {
	if netid == portmap.NetidLocal {
		// libtirpc copies at most sun_path's length and sends the path
		// without its NUL: SUN_LEN bytes of a sockaddr_un.
		path := uaddr
		if i := strings.IndexByte(path, 0); i >= 0 {
			path = path[:i]
		}
		if len(path) > sunPathMax {
			path = path[:sunPathMax]
		}
		buf := make([]byte, 2, 2+len(path))
		binary.LittleEndian.PutUint16(buf, afLocal)
		return portmap.Netbuf{MaxLen: sockaddrUnLen, Buf: append(buf, path...)}
	}
	ap, err := portmap.ParseUaddr(netid, uaddr)
	if err != nil {
		return portmap.Netbuf{}
	}
	return portmap.NetbufFromAddrPort(ap)
}

// netbufToUaddr converts a struct sockaddr to a universal address as
// rpcbind's TADDR2UADDR does (RFC 1833 §2.2.8): read with the layout of the
// arriving transport's family, whatever family the buffer names, and ""
// when it is too short for that layout.
func netbufToUaddr(netid string, buf []byte) string {
	switch netid {
	case portmap.NetidUDP, portmap.NetidTCP:
		if len(buf) < sockaddrInLen {
			return ""
		}
		return portmap.FormatUaddr(netip.AddrPortFrom(netip.AddrFrom4([4]byte(buf[4:8])), binary.BigEndian.Uint16(buf[2:])))
	case portmap.NetidUDP6, portmap.NetidTCP6:
		if len(buf) < sockaddrIn6Len {
			return ""
		}
		return portmap.FormatUaddr(netip.AddrPortFrom(netip.AddrFrom16([16]byte(buf[8:24])), binary.BigEndian.Uint16(buf[2:])))
	case portmap.NetidLocal:
		if len(buf) <= 2 {
			return ""
		}
		path := buf[2:min(len(buf), 2+sunPathMax)]
		if i := strings.IndexByte(string(path), 0); i >= 0 {
			path = path[:i]
		}
		return string(path)
	}
	return ""
}
