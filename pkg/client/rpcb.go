package client

import (
	"context"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

// The methods of rpcbind versions 3 and 4 (RFC 1833 §2.2). Those shared by
// both take the version, 3 or 4; any other fails with rpc.CantEncodeArgs
// before anything is sent.

// checkV34 returns the error of a shared method given a version other than 3 or 4.
func (c *Client) checkV34(vers, proc uint32) error {
	if vers != portmap.V3 && vers != portmap.V4 {
		return badVersion(c.home(), vers, proc, "3 or 4")
	}
	return nil
}

// RpcbSet registers r with rpcbind SET (RFC 1833 §2.2) and reports the
// answer: false when (prog, vers, netid) is already registered at another
// address. The mapper ignores r.Owner and records its own idea of the caller:
// "superuser" for root over the unix socket or from a privileged loopback
// port, the caller's uid over the unix socket, "unknown" otherwise.
func (c *Client) RpcbSet(ctx context.Context, vers uint32, r portmap.RPCB) (bool, error) {
	if err := c.checkV34(vers, portmap.RpcbSet); err != nil {
		return false, err
	}
	return c.boolCall(ctx, vers, portmap.RpcbSet, r.Append(nil))
}

// RpcbUnset removes the registration of (r.Prog, r.Vers, r.Netid), or of
// every netid when r.Netid is "", with rpcbind UNSET (RFC 1833 §2.2). rpcbind
// removes only what the caller owns, unless the caller is the superuser, and
// answers true when nothing was registered.
func (c *Client) RpcbUnset(ctx context.Context, vers uint32, r portmap.RPCB) (bool, error) {
	if err := c.checkV34(vers, portmap.RpcbUnset); err != nil {
		return false, err
	}
	return c.boolCall(ctx, vers, portmap.RpcbUnset, r.Append(nil))
}

// RpcbGetaddr asks for the universal address of (r.Prog, r.Vers) with rpcbind
// GETADDR (RFC 1833 §2.2); "" means not registered. rpcbind answers for the
// transport the call arrives on, whatever r.Netid says, and for another
// version of the program when r.Vers is not registered; r.Addr may hint at
// the mapper's address the caller used. The answer is returned as the mapper
// sent it; [Client.Lookup] is the careful way to find an address.
func (c *Client) RpcbGetaddr(ctx context.Context, vers uint32, r portmap.RPCB) (string, error) {
	if err := c.checkV34(vers, portmap.RpcbGetaddr); err != nil {
		return "", err
	}
	return c.stringCall(ctx, c.home(), vers, portmap.RpcbGetaddr, r.Append(nil))
}

// RpcbDump lists the registrations with rpcbind DUMP (RFC 1833 §2.2), in the
// order they were made, with their addresses as registered. Over UDP a list
// that does not fit a datagram makes rpcbind answer SYSTEM_ERR;
// [Client.Dump] moves to TCP instead.
func (c *Client) RpcbDump(ctx context.Context, vers uint32) ([]portmap.RPCB, error) {
	if err := c.checkV34(vers, portmap.RpcbDump); err != nil {
		return nil, err
	}
	return c.rpcbDump(ctx, c.home(), vers)
}

func (c *Client) rpcbDump(ctx context.Context, ep endpoint, vers uint32) ([]portmap.RPCB, error) {
	var l []portmap.RPCB
	err := c.call(ctx, ep, vers, portmap.RpcbDump, nil, func(d *xdr.Decoder) {
		l = portmap.DecodeRPCBList(d, nil, c.maxEntries)
	})
	if err != nil {
		return nil, err
	}
	return l, nil
}

// RpcbCallit asks the mapper to call a.Prog's procedure a.Proc with a.Args
// and relay the answer: CALLIT in version 3, BCAST in version 4 (RFC 1833
// §2.2). rpcbind forwards only when started with -r and only over datagram
// transports; otherwise, and when the call fails, it stays silent and the
// call times out.
func (c *Client) RpcbCallit(ctx context.Context, vers uint32, a portmap.RmtCallArgs) (portmap.RmtCallRes, error) {
	if err := c.checkV34(vers, portmap.RpcbCallit); err != nil {
		return portmap.RmtCallRes{}, err
	}
	return c.rmtCall(ctx, vers, portmap.RpcbCallit, a)
}

// Gettime returns the mapper's clock, in seconds since the epoch, with
// rpcbind GETTIME (RFC 1833 §2.2).
func (c *Client) Gettime(ctx context.Context, vers uint32) (uint32, error) {
	if err := c.checkV34(vers, portmap.RpcbGettime); err != nil {
		return 0, err
	}
	var t uint32
	err := c.call(ctx, c.home(), vers, portmap.RpcbGettime, nil, func(d *xdr.Decoder) { t = d.Uint32() })
	if err != nil {
		return 0, err
	}
	return t, nil
}

// Uaddr2taddr converts a universal address to the struct sockaddr the
// mapper's system uses, with rpcbind UADDR2TADDR (RFC 1833 §2.2). rpcbind
// reads uaddr as an address of the transport the call arrives on and answers
// an empty netbuf when it cannot.
func (c *Client) Uaddr2taddr(ctx context.Context, vers uint32, uaddr string) (portmap.Netbuf, error) {
	if err := c.checkV34(vers, portmap.RpcbUaddr2taddr); err != nil {
		return portmap.Netbuf{}, err
	}
	var nb portmap.Netbuf
	err := c.call(ctx, c.home(), vers, portmap.RpcbUaddr2taddr, xdr.AppendString(nil, uaddr), nb.Decode)
	if err != nil {
		return portmap.Netbuf{}, err
	}
	return nb, nil
}

// Taddr2uaddr converts a struct sockaddr (see portmap.NetbufFromAddrPort) to
// a universal address with rpcbind TADDR2UADDR (RFC 1833 §2.2); rpcbind
// answers "" for one it cannot convert.
func (c *Client) Taddr2uaddr(ctx context.Context, vers uint32, nb portmap.Netbuf) (string, error) {
	if err := c.checkV34(vers, portmap.RpcbTaddr2uaddr); err != nil {
		return "", err
	}
	return c.stringCall(ctx, c.home(), vers, portmap.RpcbTaddr2uaddr, nb.Append(nil))
}

// Getversaddr asks for the universal address of exactly (r.Prog, r.Vers) with
// rpcbind version 4 GETVERSADDR (RFC 1833 §2.2): unlike GETADDR it does not
// answer for another version. Like GETADDR it answers for the transport the
// call arrives on; "" means not registered.
func (c *Client) Getversaddr(ctx context.Context, r portmap.RPCB) (string, error) {
	return c.stringCall(ctx, c.home(), portmap.V4, portmap.RpcbGetversaddr, r.Append(nil))
}

// Indirect asks the mapper to call a.Prog's procedure a.Proc and relay the
// answer, with rpcbind version 4 INDIRECT (RFC 1833 §2.2). Unlike CALLIT it
// reports failures: PROG_UNAVAIL for an unregistered program, SYSTEM_ERR
// when rpcbind does not forward.
func (c *Client) Indirect(ctx context.Context, a portmap.RmtCallArgs) (portmap.RmtCallRes, error) {
	return c.rmtCall(ctx, portmap.V4, portmap.RpcbIndirect, a)
}

// Getaddrlist returns every address of (r.Prog, r.Vers) whose protocol
// family is that of the transport the call arrives on, with rpcbind version 4
// GETADDRLIST (RFC 1833 §2.2). An empty list means not registered.
func (c *Client) Getaddrlist(ctx context.Context, r portmap.RPCB) ([]portmap.Entry, error) {
	var l []portmap.Entry
	err := c.call(ctx, c.home(), portmap.V4, portmap.RpcbGetaddrlist, r.Append(nil), func(d *xdr.Decoder) {
		l = portmap.DecodeEntryList(d, nil, c.maxEntries)
	})
	if err != nil {
		return nil, err
	}
	return l, nil
}

// Getstat returns the mapper's statistics for versions 2, 3 and 4 with
// rpcbind version 4 GETSTAT (RFC 1833 §2.2).
func (c *Client) Getstat(ctx context.Context) (portmap.StatByVers, error) {
	var s portmap.StatByVers
	err := c.call(ctx, c.home(), portmap.V4, portmap.RpcbGetstat, nil, s.Decode)
	if err != nil {
		return portmap.StatByVers{}, err
	}
	return s, nil
}

// rmtCall makes a CALLIT, BCAST or INDIRECT call.
func (c *Client) rmtCall(ctx context.Context, vers, proc uint32, a portmap.RmtCallArgs) (portmap.RmtCallRes, error) {
	var r portmap.RmtCallRes
	err := c.call(ctx, c.home(), vers, proc, a.Append(nil), r.Decode)
	if err != nil {
		return portmap.RmtCallRes{}, err
	}
	return r, nil
}

// stringCall makes a call whose result is a universal address.
func (c *Client) stringCall(ctx context.Context, ep endpoint, vers, proc uint32, args []byte) (string, error) {
	var s string
	err := c.call(ctx, ep, vers, proc, args, func(d *xdr.Decoder) { s = d.String(portmap.MaxUaddrLen) })
	if err != nil {
		return "", err
	}
	return s, nil
}
