package portmap_test

import (
	"encoding/hex"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

func unhex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

func TestNetbufAddrPort(t *testing.T) {
	tests := []struct {
		ap  string
		buf string // as x86 Linux lays the sockaddr out
	}{
		{"127.0.0.1:2049", "0200 0801 7f000001 0000000000000000"},
		{"0.0.0.0:111", "0200 006f 00000000 0000000000000000"},
		{"[::1]:111", "0a00 006f 00000000 00000000000000000000000000000001 00000000"},
		{"[::ffff:127.0.0.1]:2049", "0a00 0801 00000000 00000000000000000000ffff7f000001 00000000"},
		{"[fe80::1%3]:111", "0a00 006f 00000000 fe800000000000000000000000000001 03000000"},
	}
	for _, tt := range tests {
		ap := netip.MustParseAddrPort(tt.ap)
		want := unhex(tt.buf)
		nb := portmap.NetbufFromAddrPort(ap)
		if string(nb.Buf) != string(want) || nb.MaxLen != uint32(len(want)) {
			t.Errorf("NetbufFromAddrPort(%v) = %d %x, want %d %x", ap, nb.MaxLen, nb.Buf, len(want), want)
		}
		if back, err := nb.AddrPort(); err != nil || back != ap {
			t.Errorf("AddrPort of %x = %v, %v; want %v", nb.Buf, back, err, ap)
		}
		// A big-endian server sends the family (and scope id) the other way round.
		be := append([]byte(nil), want...)
		be[0], be[1] = be[1], be[0]
		if len(be) == 28 {
			be[24], be[25], be[26], be[27] = be[27], be[26], be[25], be[24]
		}
		if back, err := (portmap.Netbuf{MaxLen: 128, Buf: be}).AddrPort(); err != nil || back != ap {
			t.Errorf("AddrPort of big-endian %x = %v, %v; want %v", be, back, err, ap)
		}
	}
	if nb := portmap.NetbufFromAddrPort(netip.AddrPort{}); nb.MaxLen != 0 || nb.Buf != nil {
		t.Errorf("zero AddrPort gave %+v", nb)
	}
	// A named zone cannot become a scope id without the host's interfaces.
	nb := portmap.NetbufFromAddrPort(netip.MustParseAddrPort("[fe80::1%eth0]:1"))
	if ap, _ := nb.AddrPort(); ap.Addr().Zone() != "" {
		t.Errorf("named zone came back as %v", ap)
	}
}

func TestNetbufLocal(t *testing.T) {
	nb, err := portmap.NetbufFromPath("/run/rpcbind.sock")
	if err != nil || nb.MaxLen != 110 || len(nb.Buf) != 110 || nb.Buf[0] != 1 || nb.Buf[1] != 0 {
		t.Fatalf("NetbufFromPath = %+v, %v", nb, err)
	}
	if p, err := nb.Path(); err != nil || p != "/run/rpcbind.sock" {
		t.Errorf("Path = %q, %v", p, err)
	}
	if u, err := nb.Uaddr(); err != nil || u != "/run/rpcbind.sock" {
		t.Errorf("Uaddr = %q, %v", u, err)
	}
	if _, err := nb.AddrPort(); err == nil {
		t.Error("AddrPort of an AF_LOCAL netbuf succeeded")
	}
	viaUaddr, err := portmap.NetbufFromUaddr("unix", "/run/rpcbind.sock")
	if err != nil || string(viaUaddr.Buf) != string(nb.Buf) {
		t.Errorf("NetbufFromUaddr(unix) = %x, %v", viaUaddr.Buf, err)
	}
	for _, bad := range []string{"", strings.Repeat("p", 108), "a\x00b"} {
		if _, err := portmap.NetbufFromPath(bad); err == nil {
			t.Errorf("NetbufFromPath(%.10q...) accepted", bad)
		}
	}
	if _, err := portmap.NetbufFromPath(strings.Repeat("p", 107)); err != nil {
		t.Errorf("107-byte path refused: %v", err)
	}
}

func TestNetbufErrors(t *testing.T) {
	tests := []struct {
		name, buf string
	}{
		{"empty", ""},
		{"one byte", "02"},
		{"unknown family", "0300 0801 7f000001"},
		{"short inet", "0200 0801 7f00"},
		{"short inet6", "0a00 006f 00000000 0000000000000000"},
		{"local without path", "0100 00"},
	}
	for _, tt := range tests {
		nb := portmap.Netbuf{Buf: unhex(tt.buf)}
		_, err := nb.Uaddr()
		var ne *portmap.NetbufError
		if !errors.As(err, &ne) || !strings.HasPrefix(err.Error(), "portmap: bad netbuf") {
			t.Errorf("%s: Uaddr error %v, want a *NetbufError", tt.name, err)
		}
	}
	if _, err := (portmap.Netbuf{Buf: unhex("0200 0801 7f000001")}).Path(); err == nil {
		t.Error("Path of an AF_INET netbuf succeeded")
	}
	if _, err := portmap.NetbufFromUaddr("tcp", "127.0.0.1.8"); err == nil {
		t.Error("NetbufFromUaddr accepted a bad uaddr")
	}
	// sockaddr_in without its zero padding still reads.
	if ap, err := (portmap.Netbuf{Buf: unhex("0200 0801 7f000001")}).AddrPort(); err != nil || ap != netip.MustParseAddrPort("127.0.0.1:2049") {
		t.Errorf("8-byte sockaddr_in: %v, %v", ap, err)
	}
}
