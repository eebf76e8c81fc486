package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

// MulticastAddr is the IPv6 link-local multicast group of rpcbind
// (RPCB_MULTICAST_ADDR, ff02::202): IPv6 has no broadcast, so a broadcast
// over udp6 goes to this group on each interface.
var MulticastAddr = netip.MustParseAddr("ff02::202")

// BroadcastOptions tune [BroadcastCall]. The zero value (or nil) sends to port
// 111 on every interface that is up, with AUTH_NONE and the default
// retransmission schedule.
type BroadcastOptions struct {
	// Port is the port mapper's port on the responders; 0 means 111.
	Port int
	// Interfaces, when not nil, limits the broadcast to the interfaces
	// of these names.
	Interfaces []string
	// RPC sets the credential and the retransmission interval of the
	// calls; nil means AUTH_NONE and rpc.DefaultRetransmit.
	RPC *rpc.Options
}

// Broadcast calls procedure 0 (NULL) of version vers of program prog on every
// host of the local networks, through their port mappers, and hands each
// answer to fn until ctx ends or fn returns false, as rpcinfo -b does. See
// [BroadcastCall].
func Broadcast(ctx context.Context, netid string, prog, vers uint32, fn func(from netip.AddrPort, res []byte) bool) error {
	return BroadcastCall(ctx, netid, prog, vers, 0, nil, nil, fn)
}

// BroadcastCall calls procedure proc of version vers of program prog, with the
// XDR-encoded args, on every host of the local networks through their port
// mappers' remote-call service, as libtirpc's rpc_broadcast does:
//
//   - netid "udp": to the broadcast address of each IPv4 interface that is up
//     and has one (with SO_BROADCAST), both as rpcbind version 3 CALLIT and as
//     portmap version 2 CALLIT;
//   - netid "udp6": to the multicast group ff02::202 ([MulticastAddr]) on
//     each IPv6 interface that is up and multicast-capable, as rpcbind
//     version 3 CALLIT;
//   - netid "": both.
//
// The calls are retransmitted, at growing intervals, until ctx ends. fn gets
// each successful answer, one at a time: the address of the program that
// answered (the responder's address with the port its mapper reported) and
// the procedure's encoded results. A host can answer more than once: to each
// retransmission, and to both versions of CALLIT. Failed and malformed
// answers are ignored; the port mappers stay silent on failure anyway, and
// Debian's rpcbind forwards only when started with -r.
//
// A nil fn ignores the answers: the calls are sent until ctx ends.
// BroadcastCall returns nil when ctx ends or fn returns false. It returns an
// *rpc.Error with Status UnknownProto for an unknown netid or when no
// interface can be broadcast on, and CantSend when nothing could be sent.
func BroadcastCall(ctx context.Context, netid string, prog, vers, proc uint32, args []byte, opts *BroadcastOptions,
	fn func(from netip.AddrPort, res []byte) bool) error {
	var o BroadcastOptions
	if opts != nil {
		o = *opts
	}
	if o.Port <= 0 {
		o.Port = portmap.Port
	}
	var ro rpc.Options
	if o.RPC != nil {
		ro = *o.RPC
	}
	var v4, v6 bool
	switch netid {
	case portmap.NetidUDP:
		v4 = true
	case portmap.NetidUDP6:
		v6 = true
	case "":
		v4, v6 = true, true
	default:
		return &rpc.Error{Status: rpc.UnknownProto, Network: netid, Addr: "broadcast", Prog: prog, Vers: vers, Proc: proc,
			Err: fmt.Errorf("client: cannot broadcast over netid %q; want udp, udp6 or \"\"", netid)}
	}
	dests4, dests6, err := broadcastDests(v4, v6, o.Port, o.Interfaces)
	if err != nil {
		return &rpc.Error{Status: rpc.CantSend, Network: netid, Addr: "broadcast", Prog: prog, Vers: vers, Proc: proc, Err: err}
	}

	rmt := portmap.RmtCallArgs{Prog: prog, Vers: vers, Proc: proc, Args: args}.Append(nil)
	var legs []bcastLeg
	if len(dests4) > 0 {
		pm := portmap.CallArgs{Prog: prog, Vers: vers, Proc: proc, Args: args}.Append(nil)
		legs = append(legs,
			bcastLeg{network: "udp4", dests: dests4, vers: portmap.V3, args: rmt},
			bcastLeg{network: "udp4", dests: dests4, vers: portmap.V2, args: pm})
	}
	if len(dests6) > 0 {
		legs = append(legs, bcastLeg{network: "udp6", dests: dests6, vers: portmap.V3, args: rmt})
	}
	if len(legs) == 0 {
		return &rpc.Error{Status: rpc.UnknownProto, Network: netid, Addr: "broadcast", Prog: prog, Vers: vers, Proc: proc,
			Err: errors.New("client: no interface to broadcast on")}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex // serialises fn
	stopped := false
	deliver := func(from netip.AddrPort, res []byte) bool {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return false
		}
		if fn != nil && !fn(from, res) {
			stopped = true
			cancel()
			return false
		}
		return true
	}

	errs := make([]error, len(legs))
	var wg sync.WaitGroup
	for i, leg := range legs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = leg.run(ctx, &ro, deliver)
		}()
	}
	wg.Wait()
	failed := 0
	for _, err := range errs {
		if err != nil {
			failed++
		}
	}
	if failed == len(legs) {
		return withCall(errs[0], endpoint{netid, "broadcast"}, prog, vers, proc)
	}
	return nil
}

// bcastLeg is one call of a broadcast: one version of CALLIT to a set of
// destinations of one address family.
type bcastLeg struct {
	network string     // "udp4" or "udp6"
	dests   []net.Addr // broadcast or multicast addresses
	vers    uint32     // portmap.V2 or portmap.V3
	args    []byte     // call_args or rpcb_rmtcallargs
}

// run makes the leg's call from a socket of its own until ctx ends or deliver
// returns false.
func (l bcastLeg) run(ctx context.Context, opts *rpc.Options, deliver func(netip.AddrPort, []byte) bool) error {
	conn, err := net.ListenUDP(l.network, nil)
	if err != nil {
		return &rpc.Error{Status: rpc.CantSend, Err: err}
	}
	defer conn.Close()
	return rpc.Broadcast(ctx, conn, l.dests, portmap.Program, l.vers, portmap.PmapCallit, l.args, opts,
		func(from net.Addr, res []byte, err error) bool {
			if err != nil {
				return true
			}
			ap, results, ok := l.decode(addrPort(from), res)
			if !ok {
				return true
			}
			return deliver(ap, results)
		})
}

// decode reads an answer of the leg's version, sent from sender (its zone
// kept), and returns the address of the program that answered and its results.
func (l bcastLeg) decode(sender netip.AddrPort, res []byte) (netip.AddrPort, []byte, bool) {
	d := xdr.NewDecoder(res)
	if l.vers == portmap.V2 {
		var r portmap.CallResult
		r.Decode(d)
		if d.Err() != nil || r.Port > 0xffff {
			return netip.AddrPort{}, nil, false
		}
		return netip.AddrPortFrom(sender.Addr(), uint16(r.Port)), r.Res, true
	}
	var r portmap.RmtCallRes
	r.Decode(d)
	if d.Err() != nil {
		return netip.AddrPort{}, nil, false
	}
	ap, err := portmap.ParseUaddr("", r.Addr)
	if err != nil {
		return netip.AddrPort{}, nil, false
	}
	// A wildcard, a loopback address or one of the other family says nothing
	// about where the responder is: take the sender's address.
	a := ap.Addr()
	if a.IsUnspecified() || a.IsLoopback() && !sender.Addr().IsLoopback() || a.Unmap().Is4() != sender.Addr().Is4() {
		ap = netip.AddrPortFrom(sender.Addr(), ap.Port())
	}
	return ap, r.Results, true
}

// broadcastDests lists the IPv4 broadcast addresses and the IPv6 multicast
// destinations of the interfaces that are up (of the given names, when names
// is not nil).
func broadcastDests(v4, v6 bool, port int, names []string) (dests4, dests6 []net.Addr, err error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, nil, fmt.Errorf("client: listing interfaces: %w", err)
	}
	seen := make(map[netip.Addr]bool)
	for _, ifi := range ifs {
		if ifi.Flags&net.FlagUp == 0 || names != nil && !slices.Contains(names, ifi.Name) {
			continue
		}
		addrs, err := ifi.Addrs()
		if err != nil {
			continue
		}
		has6 := false
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(ipn.IP)
			if !ok {
				continue
			}
			ip = ip.Unmap()
			if !ip.Is4() {
				has6 = true
				continue
			}
			if !v4 || ifi.Flags&net.FlagBroadcast == 0 || len(ipn.Mask) != net.IPv4len && len(ipn.Mask) != net.IPv6len {
				continue
			}
			mask := ipn.Mask[len(ipn.Mask)-net.IPv4len:]
			b := ip.As4()
			for i := range b {
				b[i] |= ^mask[i]
			}
			bcast := netip.AddrFrom4(b)
			if !seen[bcast] {
				seen[bcast] = true
				dests4 = append(dests4, net.UDPAddrFromAddrPort(netip.AddrPortFrom(bcast, uint16(port))))
			}
		}
		if v6 && has6 && ifi.Flags&net.FlagMulticast != 0 && ifi.Flags&net.FlagLoopback == 0 {
			dests6 = append(dests6, &net.UDPAddr{IP: MulticastAddr.AsSlice(), Port: port, Zone: ifi.Name})
		}
	}
	return dests4, dests6, nil
}
