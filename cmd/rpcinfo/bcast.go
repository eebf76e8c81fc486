package main

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/portmap-toolkit/pmap/internal/render"
	"github.com/portmap-toolkit/pmap/pkg/client"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
)

// The schedule of libtirpc's rpc_broadcast, which rpcinfo -b uses: it sends,
// waits 4 seconds, sends again and waits 8 more (the wait doubles up to 8
// seconds), then gives up; a reply prints as it comes and does not end it.
const (
	broadcastResend = 4 * time.Second
	broadcastWait   = 12 * time.Second
)

// nameLookupTimeout bounds the reverse lookup of one responder's name, as
// the resolver's own timeout bounds getnameinfo's.
const nameLookupTimeout = 5 * time.Second

// broadcast is rpcinfo -b [-T netid] prognum versnum: a call to procedure 0
// of the program on every host of the local networks, through their port
// mappers, and a line for every answer: the program's universal address,
// a tab, the responder's host name. Debian's rpcinfo ignores -T and
// broadcasts over udp and udp6; this one keeps to -T's transport, as the
// manual says.
func (r *runner) broadcast(ctx context.Context) error {
	args := r.req.args
	if len(args) != 2 {
		return r.usage()
	}
	prog, err := progNumber(args[0], r.names)
	if err != nil {
		return r.fail("%s", err)
	}
	vers, err := versNumber(args[1])
	if err != nil {
		return r.fail("%s", err)
	}
	netid := ""
	if r.req.hasNetid {
		netid = r.req.netid
	}
	if r.cfg.timeout == 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, broadcastWait)
		defer cancel()
	}
	opts := &client.BroadcastOptions{Port: r.cfg.port, RPC: &rpc.Options{Retransmit: broadcastResend}}
	var werr error
	err = client.BroadcastCall(ctx, netid, uint32(prog), uint32(vers), 0, nil, opts, func(from netip.AddrPort, _ []byte) bool {
		ua := portmap.FormatUaddr(netip.AddrPortFrom(from.Addr().WithZone(""), from.Port()))
		werr = r.out.Reply(render.Reply{Addr: ua, Host: hostName(ctx, from.Addr())})
		return werr == nil
	})
	if err != nil && status(err) != rpc.TimedOut {
		return r.fail("rpcinfo: broadcast failed: %s", status(err))
	}
	if werr != nil {
		return werr
	}
	return r.out.FlushReplies()
}

// hostName names a responder as getnameinfo(3) without flags does: its
// name, its address in numbers when it has no name, or "unknown" when the
// lookup itself failed (no name server answered, say).
func hostName(ctx context.Context, a netip.Addr) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), nameLookupTimeout)
	defer cancel()
	names, err := net.DefaultResolver.LookupAddr(ctx, a.String())
	if err == nil && len(names) > 0 {
		return strings.TrimSuffix(names[0], ".")
	}
	var de *net.DNSError
	if err == nil || errors.As(err, &de) && de.IsNotFound {
		return a.String()
	}
	return "unknown"
}
