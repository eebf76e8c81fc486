package rpc

import (
	"bytes"
	"net"
	"testing"

	"golang.org/x/sys/unix"
)

// TestPktinfo holds the control messages parsePktinfo reads and
// appendPktinfo writes to those golang.org/x/sys/unix builds.
func TestPktinfo(t *testing.T) {
	v4 := net.IPv4(192, 0, 2, 7).To4()
	v6 := net.ParseIP("2001:db8::7")
	ll := net.ParseIP("fe80::7")
	mapped := net.ParseIP("::ffff:192.0.2.7")
	for _, tt := range []struct {
		name      string
		oob       []byte
		ip        net.IP
		ifIndex   int
		ok        bool
		wantWrite []byte // what appendPktinfo(ip, ifIndex) must give
	}{
		{"IP_PKTINFO", unix.PktInfo4(&unix.Inet4Pktinfo{Ifindex: 3, Addr: [4]byte(v4)}), v4, 3, true,
			unix.PktInfo4(&unix.Inet4Pktinfo{Spec_dst: [4]byte(v4)})},
		{"IPV6_PKTINFO", unix.PktInfo6(&unix.Inet6Pktinfo{Ifindex: 4, Addr: [16]byte(v6)}), v6, 4, true,
			unix.PktInfo6(&unix.Inet6Pktinfo{Addr: [16]byte(v6)})},
		{"link-local keeps its interface", unix.PktInfo6(&unix.Inet6Pktinfo{Ifindex: 5, Addr: [16]byte(ll)}), ll, 5, true,
			unix.PktInfo6(&unix.Inet6Pktinfo{Ifindex: 5, Addr: [16]byte(ll)})},
		{"mapped: IPv4 on a dual-stack socket", unix.PktInfo6(&unix.Inet6Pktinfo{Ifindex: 1, Addr: [16]byte(mapped)}), mapped, 1, true,
			unix.PktInfo4(&unix.Inet4Pktinfo{Spec_dst: [4]byte(v4)})},
		{"after another message", append(unix.UnixRights(9), unix.PktInfo4(&unix.Inet4Pktinfo{Ifindex: 2, Addr: [4]byte(v4)})...), v4, 2, true, nil},
		{"none", nil, nil, 0, false, nil},
		{"cut short", unix.PktInfo4(&unix.Inet4Pktinfo{Addr: [4]byte(v4)})[:10], nil, 0, false, nil},
		{"length beyond the buffer", func() []byte {
			b := unix.PktInfo4(&unix.Inet4Pktinfo{Addr: [4]byte(v4)})
			b[0] = 200
			return b
		}(), nil, 0, false, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ip, ifIndex, ok := parsePktinfo(tt.oob)
			if ok != tt.ok || !ip.Equal(tt.ip) || (ok && ifIndex != tt.ifIndex) {
				t.Errorf("parsePktinfo = %v, %d, %v; want %v, %d, %v", ip, ifIndex, ok, tt.ip, tt.ifIndex, tt.ok)
			}
			if tt.wantWrite != nil {
				var room pktinfoBuf
				if got := appendPktinfo(room.bytes(), tt.ip, tt.ifIndex); !bytes.Equal(got, tt.wantWrite) {
					t.Errorf("appendPktinfo = %x, want %x", got, tt.wantWrite)
				}
			}
		})
	}
}
