package rpc

import (
	"net"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fastPktinfo says that this platform reads and writes IP_PKTINFO and
// IPV6_PKTINFO through the standard library's ReadMsgUDPAddrPort and
// WriteMsgUDPAddrPort, with the control messages parsed and built here,
// which allocates nothing; elsewhere golang.org/x/net's ipv4 and ipv6
// packet connections do it, at about twenty allocations a datagram.
const fastPktinfo = true

// pktinfoSpace is the room the control messages of a datagram need: one
// IPV6_PKTINFO, the larger of the two, with room to spare.
var pktinfoSpace = 2 * unix.CmsgSpace(unix.SizeofInet6Pktinfo)

// parsePktinfo returns the destination address and interface of a datagram
// from its control messages (cmsg(3)), ip pointing into oob: IP_PKTINFO's ipi_addr, the address
// in the IP header, or IPV6_PKTINFO's ipi6_addr (a mapped address for an
// IPv4 datagram on a dual-stack socket). ok is false when neither is there.
func parsePktinfo(oob []byte) (ip net.IP, ifIndex int, ok bool) {
	for len(oob) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		n := int(h.Len)
		if n < unix.SizeofCmsghdr || n > len(oob) {
			return nil, 0, false
		}
		data := oob[unix.CmsgLen(0):n]
		switch {
		case h.Level == unix.IPPROTO_IP && h.Type == unix.IP_PKTINFO && len(data) >= unix.SizeofInet4Pktinfo:
			pi := (*unix.Inet4Pktinfo)(unsafe.Pointer(&data[0]))
			return net.IP(pi.Addr[:]), int(pi.Ifindex), true
		case h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_PKTINFO && len(data) >= unix.SizeofInet6Pktinfo:
			pi := (*unix.Inet6Pktinfo)(unsafe.Pointer(&data[0]))
			return net.IP(pi.Addr[:]), int(pi.Ifindex), true
		}
		if space := unix.CmsgSpace(n - unix.CmsgLen(0)); space < len(oob) {
			oob = oob[space:]
		} else {
			break
		}
	}
	return nil, 0, false
}

// appendPktinfo appends to oob the control message that makes ip the source
// of a datagram: IP_PKTINFO's ipi_spec_dst for an IPv4 address (also on a
// dual-stack socket, whose IPV6_PKTINFO cannot carry one), IPV6_PKTINFO
// otherwise, with the interface pinned only for a link-local address. oob
// must be 8-byte aligned at its end (see pktinfoBuf).
func appendPktinfo(oob []byte, ip net.IP, ifIndex int) []byte {
	if ip4 := ip.To4(); ip4 != nil {
		oob, data := appendCmsg(oob, unix.IPPROTO_IP, unix.IP_PKTINFO, unix.SizeofInet4Pktinfo)
		copy((*unix.Inet4Pktinfo)(data).Spec_dst[:], ip4)
		return oob
	}
	oob, data := appendCmsg(oob, unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, unix.SizeofInet6Pktinfo)
	pi := (*unix.Inet6Pktinfo)(data)
	copy(pi.Addr[:], ip.To16())
	if ip.IsLinkLocalUnicast() {
		pi.Ifindex = uint32(ifIndex)
	}
	return oob
}

// appendCmsg extends oob, within its capacity, by a zeroed control message
// of level and typ with room for size bytes of data, and returns oob and
// where the data goes.
func appendCmsg(oob []byte, level, typ int32, size int) ([]byte, unsafe.Pointer) {
	at := len(oob)
	oob = oob[:at+unix.CmsgSpace(size)]
	clear(oob[at:])
	h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[at]))
	h.Level, h.Type = level, typ
	h.SetLen(unix.CmsgLen(size))
	return oob, unsafe.Pointer(&oob[at+unix.CmsgLen(0)])
}

// pktinfoBuf is room for the control messages of one datagram, 8-byte
// aligned as struct cmsghdr must be.
type pktinfoBuf [8]uint64

func (b *pktinfoBuf) bytes() []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(&b[0])), len(b)*8)[:0]
}
