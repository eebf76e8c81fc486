package client

import (
	"context"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

// Null calls procedure 0, NULL, of version vers of the port mapper: a ping
// that proves the version is served (RFC 1833 §2.2, §3.2). Any version may be
// asked; one the mapper does not serve fails with rpc.ProgVersMismatch and
// the range it does serve.
func (c *Client) Null(ctx context.Context, vers uint32) error {
	return c.call(ctx, c.home(), vers, portmap.ProcNull, nil, nil)
}

// PmapSet registers m with portmap version 2 SET (RFC 1833 §3.2) and reports
// the mapper's answer: false when (prog, vers, prot) is already registered at
// another port. rpcbind accepts SET only from the loopback or its unix socket.
func (c *Client) PmapSet(ctx context.Context, m portmap.Mapping) (bool, error) {
	return c.boolCall(ctx, portmap.V2, portmap.PmapSet, m.Append(nil))
}

// PmapUnset removes the registrations of (m.Prog, m.Vers) with portmap
// version 2 UNSET (RFC 1833 §3.2); m.Prot and m.Port are ignored by the
// mapper, which removes both the TCP and the UDP mapping.
func (c *Client) PmapUnset(ctx context.Context, m portmap.Mapping) (bool, error) {
	return c.boolCall(ctx, portmap.V2, portmap.PmapUnset, m.Append(nil))
}

// PmapGetport asks for the port of (m.Prog, m.Vers, m.Prot) with portmap
// version 2 GETPORT (RFC 1833 §3.2); m.Port is ignored. Port 0 means not
// registered. rpcbind answers with another version's port when the version
// asked for is not registered.
func (c *Client) PmapGetport(ctx context.Context, m portmap.Mapping) (uint32, error) {
	var port uint32
	err := c.call(ctx, c.home(), portmap.V2, portmap.PmapGetport, m.Append(nil), func(d *xdr.Decoder) {
		port = d.Uint32()
	})
	if err != nil {
		return 0, err
	}
	return port, nil
}

// PmapDump lists the portmap version 2 registrations with DUMP (RFC 1833
// §3.2): the IPv4 TCP and UDP ones, in the order they were made. rpcbind
// stays silent when the list does not fit a datagram, so over UDP a long
// registry times out; [Client.Dump] with version 2 moves to TCP instead.
func (c *Client) PmapDump(ctx context.Context) ([]portmap.Mapping, error) {
	return c.pmapDump(ctx, c.home())
}

func (c *Client) pmapDump(ctx context.Context, ep endpoint) ([]portmap.Mapping, error) {
	var l []portmap.Mapping
	err := c.call(ctx, ep, portmap.V2, portmap.PmapDump, nil, func(d *xdr.Decoder) {
		l = portmap.DecodeMappingList(d, nil, c.maxEntries)
	})
	if err != nil {
		return nil, err
	}
	return l, nil
}

// PmapCallit asks the mapper to call a.Prog's procedure a.Proc with a.Args
// and relay the answer, with portmap version 2 CALLIT (RFC 1833 §3.2). The
// result holds the port of the program called and its encoded results.
// rpcbind forwards only when started with -r and only over UDP; otherwise,
// and when the call fails, it stays silent and the call times out.
func (c *Client) PmapCallit(ctx context.Context, a portmap.CallArgs) (portmap.CallResult, error) {
	var r portmap.CallResult
	err := c.call(ctx, c.home(), portmap.V2, portmap.PmapCallit, a.Append(nil), r.Decode)
	if err != nil {
		return portmap.CallResult{}, err
	}
	return r, nil
}

// boolCall makes a call of the client's own transport whose result is a bool.
func (c *Client) boolCall(ctx context.Context, vers, proc uint32, args []byte) (bool, error) {
	var ok bool
	err := c.call(ctx, c.home(), vers, proc, args, func(d *xdr.Decoder) { ok = d.Bool() })
	if err != nil {
		return false, err
	}
	return ok, nil
}
