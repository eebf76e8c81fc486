package portmap_test

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

func ExampleFormatUaddr() {
	fmt.Println(portmap.FormatUaddr(netip.MustParseAddrPort("0.0.0.0:2049")))
	fmt.Println(portmap.FormatUaddr(netip.MustParseAddrPort("[::]:111")))
	fmt.Println(portmap.FormatUaddr(netip.MustParseAddrPort("[::ffff:127.0.0.1]:111")))
	// Output:
	// 0.0.0.0.8.1
	// ::.0.111
	// ::ffff:127.0.0.1.0.111
}

func ExampleParseUaddr() {
	ap, err := portmap.ParseUaddr("tcp", "127.0.0.1.8.1")
	fmt.Println(ap, err)
	ap, err = portmap.ParseUaddr("udp6", "::1.0.111")
	fmt.Println(ap, err)
	_, err = portmap.ParseUaddr("tcp", "300.0.0.1.8.1")
	fmt.Println(err)
	_, err = portmap.ParseUaddr("tcp", "127.0.0.1")
	fmt.Println(err)
	// Output:
	// 127.0.0.1:2049 <nil>
	// [::1]:111 <nil>
	// portmap: bad universal address "300.0.0.1.8.1" for netid tcp: octet 1 is 300, above 255
	// portmap: bad universal address "127.0.0.1" for netid tcp: missing port parts: want h1.h2.h3.h4.p1.p2, have four parts
}

func ExampleReplaceWildcard() {
	reached := netip.MustParseAddr("127.0.0.1")
	fmt.Println(portmap.ReplaceWildcard("0.0.0.0.8.1", reached))
	fmt.Println(portmap.ReplaceWildcard("192.0.2.1.8.1", reached))
	fmt.Println(portmap.ReplaceWildcard("/run/rpcbind.sock", reached))
	// Output:
	// 127.0.0.1.8.1
	// 192.0.2.1.8.1
	// /run/rpcbind.sock
}

func ExampleNames() {
	names := portmap.BuiltinNames()
	name, _ := names.Name(100003)
	prog, _ := names.Number("rpcbind")
	fmt.Println(name, prog)

	own, _ := portmap.ParseNames(strings.NewReader("# local programs\nmyprog\t400123\tmine\n"))
	prog, ok := own.Number("mine")
	fmt.Println(prog, ok)
	// Output:
	// nfs 100000
	// 400123 true
}

func ExampleLookupNetid() {
	n, _ := portmap.LookupNetid("TCP6")
	fmt.Println(n.Name, n.Network, n.Family, portmap.SemanticsName(n.Semantics), n.Proto)
	// Output: tcp6 tcp6 inet6 cots_ord tcp
}
