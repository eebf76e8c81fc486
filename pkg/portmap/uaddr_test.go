package portmap_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

func TestParseUaddr(t *testing.T) {
	ap := netip.MustParseAddrPort
	tests := []struct {
		netid, s string
		want     netip.AddrPort
	}{
		{"tcp", "0.0.0.0.8.1", ap("0.0.0.0:2049")},
		{"udp", "127.0.0.1.0.111", ap("127.0.0.1:111")},
		{"UDP", "192.0.2.255.255.255", ap("192.0.2.255:65535")},
		{"tcp", "10.1.2.3.0.0", ap("10.1.2.3:0")},
		{"tcp6", "::.0.111", ap("[::]:111")},
		{"udp6", "::1.128.2", ap("[::1]:32770")},
		{"tcp6", "2001:db8::1.8.1", ap("[2001:db8::1]:2049")},
		{"tcp6", "fe80::1%eth0.0.111", ap("[fe80::1%eth0]:111")},
		{"tcp6", "::ffff:127.0.0.1.8.1", ap("[::ffff:127.0.0.1]:2049")}, // stays mapped
		{"", "0.0.0.0.8.1", ap("0.0.0.0:2049")},
		{"", "::.0.111", ap("[::]:111")},
	}
	for _, tt := range tests {
		got, err := portmap.ParseUaddr(tt.netid, tt.s)
		if err != nil || got != tt.want {
			t.Errorf("ParseUaddr(%q, %q) = %v, %v; want %v", tt.netid, tt.s, got, err, tt.want)
		}
	}
}

func TestParseUaddrErrors(t *testing.T) {
	tests := []struct {
		netid, s string
		reason   string // a fragment of the error
	}{
		{"tcp", "", "empty address"},
		{"tcp", "300.0.0.1.8.1", "octet 1 is 300, above 255"},
		{"tcp", "1.2.3.256.8.1", "octet 4 is 256, above 255"},
		{"tcp", "127.0.0.1", "missing port parts"},
		{"tcp", "127.0.0.1.8", "missing a port part"},
		{"tcp", "127.0.0.1.8.1.1", "want six dot-separated parts"},
		{"tcp", "127.0.0.1..1", "port part p1 is empty"},
		{"tcp", "127.0.0.1.8.", "port part p2 is empty"},
		{"tcp", "127.0.0.1.256.1", "port part p1 is 256, above 255"},
		{"tcp", "127.0.0.1.8.300", "port part p2 is 300, above 255"},
		{"tcp", "127.0.0.1.8.1000", "port part p2 is 1000, above 255"},
		{"tcp", "127.0.0.1.08.1", `port part p1 "08" has a leading zero`},
		{"tcp", "127.0.0.1.x.1", `port part p1 "x" is not a decimal number`},
		{"tcp", "127.0.0.1.-1.1", `port part p1 "-1" is not a decimal number`},
		{"tcp", " 127.0.0.1.8.1", `octet 1 " 127" is not a decimal number`},
		{"tcp", "junk", "want six dot-separated parts"},
		{"tcp", "a.b.c.d.e.f", `octet 1 "a" is not a decimal number`},
		{"tcp", "::.0.111", "want six dot-separated parts"},
		{"tcp6", "::", "missing port parts"},
		{"tcp6", "::.111", "missing a port part"},
		{"tcp6", "127.0.0.1.8.1", "is not an IPv6 address"},
		{"tcp6", "fe80:::1.0.111", "is not an IPv6 address"},
		{"tcp6", "::.0.256", "above 255"},
		{"local", "/run/rpcbind.sock", "a local netid's address is a path"},
		{"sctp", "127.0.0.1.8.1", "unknown netid"},
	}
	for _, tt := range tests {
		_, err := portmap.ParseUaddr(tt.netid, tt.s)
		var ue *portmap.UaddrError
		if !errors.As(err, &ue) {
			t.Errorf("ParseUaddr(%q, %q): %v, want a *UaddrError", tt.netid, tt.s, err)
			continue
		}
		if msg := err.Error(); !strings.HasPrefix(msg, "portmap: ") || !strings.Contains(msg, tt.reason) {
			t.Errorf("ParseUaddr(%q, %q): %q, want %q in it", tt.netid, tt.s, msg, tt.reason)
		}
		if ue.Uaddr != tt.s || ue.Netid != tt.netid {
			t.Errorf("error names %q/%q, want %q/%q", ue.Netid, ue.Uaddr, tt.netid, tt.s)
		}
	}
}

func TestFormatUaddr(t *testing.T) {
	tests := []struct {
		ap   netip.AddrPort
		want string
	}{
		{netip.MustParseAddrPort("0.0.0.0:2049"), "0.0.0.0.8.1"},
		{netip.MustParseAddrPort("127.0.0.1:111"), "127.0.0.1.0.111"},
		{netip.MustParseAddrPort("192.0.2.1:65535"), "192.0.2.1.255.255"},
		{netip.MustParseAddrPort("[::]:111"), "::.0.111"},
		{netip.MustParseAddrPort("[::1]:0"), "::1.0.0"},
		{netip.MustParseAddrPort("[::ffff:127.0.0.1]:2049"), "::ffff:127.0.0.1.8.1"},
		{netip.MustParseAddrPort("[fe80::1%eth0]:111"), "fe80::1%eth0.0.111"},
		{netip.AddrPort{}, ""},
	}
	for _, tt := range tests {
		if got := portmap.FormatUaddr(tt.ap); got != tt.want {
			t.Errorf("FormatUaddr(%v) = %q, want %q", tt.ap, got, tt.want)
		}
		if tt.want == "" {
			continue
		}
		if back, err := portmap.ParseUaddr("", tt.want); err != nil || back != tt.ap {
			t.Errorf("ParseUaddr(%q) = %v, %v; want %v back", tt.want, back, err, tt.ap)
		}
	}
}

func TestDialAddress(t *testing.T) {
	tests := []struct {
		netid, uaddr, network, address string
	}{
		{"tcp", "127.0.0.1.8.1", "tcp4", "127.0.0.1:2049"},
		{"udp", "0.0.0.0.0.111", "udp4", "0.0.0.0:111"},
		{"tcp6", "::1.0.111", "tcp6", "[::1]:111"},
		{"udp6", "fe80::1%2.0.111", "udp6", "[fe80::1%2]:111"},
		{"local", "/run/rpcbind.sock", "unix", "/run/rpcbind.sock"},
		{"unix", "/tmp/x y.sock", "unix", "/tmp/x y.sock"},
		{"LOCAL", "relative.sock", "unix", "relative.sock"},
	}
	for _, tt := range tests {
		network, address, err := portmap.DialAddress(tt.netid, tt.uaddr)
		if err != nil || network != tt.network || address != tt.address {
			t.Errorf("DialAddress(%q, %q) = %q, %q, %v; want %q, %q", tt.netid, tt.uaddr, network, address, err, tt.network, tt.address)
		}
		if err := portmap.CheckUaddr(tt.netid, tt.uaddr); err != nil {
			t.Errorf("CheckUaddr(%q, %q): %v", tt.netid, tt.uaddr, err)
		}
	}
	bad := []struct{ netid, uaddr string }{
		{"local", ""}, {"local", "a\x00b"}, {"local", strings.Repeat("a", portmap.MaxUaddrLen+1)},
		{"tcp", "/run/rpcbind.sock"}, {"tcp6", "0.0.0.0.0.111"}, {"rawip", "0.0.0.0.0.0"},
	}
	for _, b := range bad {
		if _, _, err := portmap.DialAddress(b.netid, b.uaddr); err == nil || !strings.HasPrefix(err.Error(), "portmap: ") {
			t.Errorf("DialAddress(%q, %.20q): %v, want a portmap error", b.netid, b.uaddr, err)
		}
	}
}

func TestReplaceWildcard(t *testing.T) {
	v4, v6 := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")
	tests := []struct {
		uaddr string
		local netip.Addr
		want  string
	}{
		{"0.0.0.0.8.1", v4, "127.0.0.1.8.1"},
		{"0.0.0.0.8.1", netip.MustParseAddr("::ffff:192.0.2.7"), "192.0.2.7.8.1"}, // mapped local, from a dual-stack socket
		{"::.0.111", v6, "::1.0.111"},
		{"::.0.111", netip.MustParseAddr("fe80::2%eth0"), "fe80::2.0.111"}, // zone dropped
		{"192.0.2.1.8.1", v4, "192.0.2.1.8.1"},                             // not a wildcard
		{"::1.0.111", netip.MustParseAddr("::2"), "::1.0.111"},
		{"0.0.0.0.8.1", v6, "0.0.0.0.8.1"}, // family mismatch
		{"::.0.111", v4, "::.0.111"},
		{"0.0.0.0.8.1", netip.Addr{}, "0.0.0.0.8.1"},
		{"/run/rpcbind.sock", v4, "/run/rpcbind.sock"}, // local paths pass through
		{"junk", v4, "junk"},
	}
	for _, tt := range tests {
		if got := portmap.ReplaceWildcard(tt.uaddr, tt.local); got != tt.want {
			t.Errorf("ReplaceWildcard(%q, %v) = %q, want %q", tt.uaddr, tt.local, got, tt.want)
		}
		if got := portmap.AppendReplaceWildcard([]byte("x"), tt.uaddr, tt.local); string(got) != "x"+tt.want {
			t.Errorf("AppendReplaceWildcard(\"x\", %q, %v) = %q, want %q", tt.uaddr, tt.local, got, "x"+tt.want)
		}
		if wild := portmap.IsWildcardUaddr(tt.uaddr); wild != (tt.uaddr == "0.0.0.0.8.1" || tt.uaddr == "::.0.111") {
			t.Errorf("IsWildcardUaddr(%q) = %v", tt.uaddr, wild)
		}
	}
}
