package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

// dumpUDPWait bounds how long [Client.Dump] waits for a DUMP over UDP before
// moving to TCP. A port mapper answers within milliseconds; two seconds let
// the UDP client retransmit twice (after 0.5 and 1.5 seconds) to get over a
// lost datagram before concluding that the answer will not come, which is
// what rpcbind's version 2 does with a list too long for a datagram.
const dumpUDPWait = 2 * time.Second

// Lookup returns the universal address of version vers of program prog for
// the transport netid ("udp", "tcp", "udp6", "tcp6", "local"), as libtirpc's
// rpcb_getaddr finds it:
//
//   - it asks over netid's own transport (UDP over IPv4 for "udp", and so
//     on; the unix socket for "local"), since rpcbind answers GETADDR for
//     the transport the call arrives on, not for the netid it names;
//   - it asks rpcbind version 4 GETADDR, then version 3 when the mapper does
//     not serve version 4, then for "udp" and "tcp" portmap version 2
//     GETPORT, over the same transport;
//   - a wildcard host part (0.0.0.0, ::) is replaced by the address of the
//     mapper the call reached, as libtirpc's __rpc_fixup_addr does.
//
// Like GETADDR, it finds another version of the program when vers is not
// registered. Failures are *rpc.Error: ProgNotRegistered (naming prog and
// vers) when the mapper knows no address, N2AXlateFailure when it answers
// something that is not an address of netid, PMapFailure (wrapping the
// cause) when the version 2 call fails, and the status of the failed call
// otherwise.
func (c *Client) Lookup(ctx context.Context, prog, vers uint32, netid string) (string, error) {
	n, ok := portmap.LookupNetid(netid)
	if !ok {
		return "", &rpc.Error{Status: rpc.UnknownProto, Network: netid, Addr: c.home().address, Prog: prog, Vers: vers,
			Err: fmt.Errorf("client: unknown netid %q", netid)}
	}
	ep := c.netidEndpoint(n)
	rc, err := c.conn(ctx, ep)
	if err != nil {
		return "", withCall(err, ep, portmap.Program, portmap.V4, portmap.RpcbGetaddr)
	}
	remote := addrPort(rc.RemoteAddr())

	// Like libtirpc, tell the mapper which of its addresses was used: it
	// picks the interface whose address replaces a wildcard.
	r := portmap.RPCB{Prog: prog, Vers: vers, Netid: n.Name}
	if remote.IsValid() {
		r.Addr = portmap.FormatUaddr(remote)
	}
	args := r.Append(nil)
	for v := uint32(portmap.V4); v >= portmap.V3; v-- {
		ua, err := c.stringCall(ctx, ep, v, portmap.RpcbGetaddr, args)
		if err == nil {
			if ua == "" {
				return "", notRegistered(ep, prog, vers)
			}
			return c.checkedUaddr(ep, n, ua, remote, prog, vers)
		}
		var e *rpc.Error
		if !errors.As(err, &e) {
			return "", err
		}
		switch {
		case e.Status == rpc.ProgVersMismatch && e.Low > portmap.V4:
			return "", err // a newer protocol than this client speaks
		case e.Status != rpc.ProgVersMismatch && e.Status != rpc.ProgUnavail:
			return "", err
		}
	}
	if n.Family != portmap.FamilyInet {
		return "", notRegistered(ep, prog, vers)
	}

	// Portmap version 2 knows only IPv4 TCP and UDP, by protocol number.
	var port uint32
	m := portmap.Mapping{Prog: prog, Vers: vers, Prot: n.IPProto}
	err = c.call(ctx, ep, portmap.V2, portmap.PmapGetport, m.Append(nil), func(d *xdr.Decoder) { port = d.Uint32() })
	if err != nil {
		e := withCall(err, ep, portmap.Program, portmap.V2, portmap.PmapGetport)
		return "", &rpc.Error{Status: rpc.PMapFailure, Err: e, Network: e.Network, Addr: e.Addr,
			Prog: e.Prog, Vers: e.Vers, Proc: e.Proc}
	}
	if port == 0 {
		return "", notRegistered(ep, prog, vers)
	}
	if port > 0xffff || !remote.IsValid() {
		return "", &rpc.Error{Status: rpc.N2AXlateFailure, Network: ep.network, Addr: ep.address,
			Prog: prog, Vers: vers, Err: fmt.Errorf("client: port mapper answered port %d", port)}
	}
	return portmap.FormatUaddr(netip.AddrPortFrom(remote.Addr(), uint16(port))), nil
}

// checkedUaddr checks that ua is an address of netid n and replaces a
// wildcard host part with the address of the mapper, remote.
func (c *Client) checkedUaddr(ep endpoint, n portmap.Netid, ua string, remote netip.AddrPort, prog, vers uint32) (string, error) {
	if err := portmap.CheckUaddr(n.Name, ua); err != nil {
		return "", &rpc.Error{Status: rpc.N2AXlateFailure, Network: ep.network, Addr: ep.address,
			Prog: prog, Vers: vers, Err: err}
	}
	if n.IsLocal() || !remote.IsValid() {
		return ua, nil
	}
	return portmap.ReplaceWildcard(ua, remote.Addr()), nil
}

// notRegistered is Lookup's error for a program the mapper has no address of.
func notRegistered(ep endpoint, prog, vers uint32) error {
	return &rpc.Error{Status: rpc.ProgNotRegistered, Network: ep.network, Addr: ep.address, Prog: prog, Vers: vers}
}

// addrPort returns the IP address and port of a UDP or TCP address, unmapped,
// or the zero AddrPort.
func addrPort(a net.Addr) netip.AddrPort {
	var ap netip.AddrPort
	switch a := a.(type) {
	case *net.UDPAddr:
		ap = a.AddrPort()
	case *net.TCPAddr:
		ap = a.AddrPort()
	default:
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// Dump lists the registrations with DUMP of version vers, as rpcinfo does:
// versions 3 and 4 return the rpcblist (RFC 1833 §2.2); version 2 returns the
// pmaplist (RFC 1833 §3.2) as rpcinfo shows it, each mapping as an RPCB with
// netid "udp" or "tcp" (the protocol number in decimal for any other), the
// address 0.0.0.0 with the mapping's port, and owner "unknown".
//
// Over UDP, a list too long for a datagram makes rpcbind answer SYSTEM_ERR
// (versions 3 and 4) or nothing at all (version 2). Dump then asks again over
// TCP: when the UDP call fails with SYSTEM_ERR, with a reply it cannot
// decode, or gets no answer within a couple of seconds (at most half of the
// time ctx leaves). Over TCP and the unix socket it makes one call.
func (c *Client) Dump(ctx context.Context, vers uint32) ([]portmap.RPCB, error) {
	ep := c.home()
	if vers < portmap.V2 || vers > portmap.V4 {
		return nil, badVersion(ep, vers, portmap.RpcbDump, "2, 3 or 4")
	}
	if !strings.HasPrefix(ep.network, "udp") {
		return c.dumpOn(ctx, ep, vers)
	}
	wait := dumpUDPWait
	if dl, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(dl)/2)
	}
	udpCtx, cancel := context.WithTimeout(ctx, wait)
	l, err := c.dumpOn(udpCtx, ep, vers)
	cancel()
	if err == nil {
		return l, nil
	}
	var e *rpc.Error
	if !errors.As(err, &e) || ctx.Err() != nil {
		return nil, err
	}
	switch e.Status {
	case rpc.SystemError, rpc.CantDecodeRes, rpc.TimedOut:
	default:
		return nil, err
	}
	tcp := endpoint{"tcp" + strings.TrimPrefix(ep.network, "udp"), ep.address}
	return c.dumpOn(ctx, tcp, vers)
}

// dumpOn makes Dump's call at ep.
func (c *Client) dumpOn(ctx context.Context, ep endpoint, vers uint32) ([]portmap.RPCB, error) {
	if vers != portmap.V2 {
		return c.rpcbDump(ctx, ep, vers)
	}
	ms, err := c.pmapDump(ctx, ep)
	if err != nil {
		return nil, err
	}
	l := make([]portmap.RPCB, len(ms))
	for i, m := range ms {
		l[i] = RPCBFromMapping(m)
	}
	return l, nil
}

// RPCBFromMapping returns a portmap version 2 mapping as rpcinfo shows it in
// an rpcbind listing: netid "udp" or "tcp" (the protocol number in decimal
// for another protocol), the address 0.0.0.0 with the mapping's port (its low
// 16 bits), owner "unknown".
func RPCBFromMapping(m portmap.Mapping) portmap.RPCB {
	return portmap.RPCB{
		Prog:  m.Prog,
		Vers:  m.Vers,
		Netid: portmap.ProtName(m.Prot),
		Addr:  portmap.FormatUaddr(netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(m.Port))),
		Owner: "unknown",
	}
}
