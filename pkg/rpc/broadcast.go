package rpc

import (
	"context"
	"errors"
	"net"
	"os"
	"syscall"
	"time"
)

// Broadcast sends one call to each of dests from conn, an unconnected UDP
// socket (SO_BROADCAST is set on it when it is a *net.UDPConn, so dests may
// be broadcast addresses), and hands every reply that carries the call's xid
// to fn: the sender, the results of a SUCCESS reply (owned by fn), or the
// reply's *Error. It retransmits on the schedule of a UDP [Client] and returns
// nil when ctx ends or fn returns false, and an *Error when no destination
// could be sent to. Garbled and stray datagrams are ignored. rpcinfo -b uses it.
func Broadcast(ctx context.Context, conn net.PacketConn, dests []net.Addr, prog, vers, proc uint32, args []byte,
	opts *Options, fn func(from net.Addr, res []byte, err error) bool) error {
	c := newClient("udp", "broadcast", opts)
	fail := func(e *Error) error {
		e.Network, e.Addr, e.Prog, e.Vers, e.Proc = "udp", "broadcast", prog, vers, proc
		return e
	}
	if c.optErr != nil {
		return fail(&Error{Status: CantEncodeArgs, Err: c.optErr})
	}
	if err := setBroadcast(conn); err != nil {
		return fail(&Error{Status: CantSend, Err: err})
	}
	xid := c.xid.Add(1)
	h := CallHeader{XID: xid, RPCVers: RPCVersion, Prog: prog, Vers: vers, Proc: proc, Cred: c.opts.Cred, Verf: c.opts.Verf}
	pkt := append(h.Append(nil), args...)
	send := func() error {
		var last error
		sent := false
		for _, d := range dests {
			if _, err := conn.WriteTo(pkt, d); err != nil {
				last = err
				continue
			}
			sent = true
		}
		if !sent && last != nil {
			return fail(&Error{Status: CantSend, Err: last})
		}
		return nil
	}
	if err := send(); err != nil {
		return err
	}

	// A read blocks until the next retransmission or the end of ctx.
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	defer conn.SetReadDeadline(time.Time{})
	buf := make([]byte, c.maxReply(maxDatagram))
	wait := c.opts.Retransmit
	next := time.Now().Add(wait)
	for {
		if ctx.Err() != nil {
			return nil
		}
		conn.SetReadDeadline(next)
		if ctx.Err() != nil { // ended between the check and the deadline
			return nil
		}
		n, from, err := conn.ReadFrom(buf)
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			if ctx.Err() != nil {
				return nil
			}
			if err := send(); err != nil {
				return err
			}
			wait = min(2*wait, MaxRetransmit)
			next = time.Now().Add(wait)
			continue
		case isICMPError(err):
			continue // an unreachable destination among many
		case err != nil:
			return fail(&Error{Status: CantRecv, Err: err})
		}
		rh, res, err := decodeReply(buf[:n])
		if err != nil || rh.XID != xid {
			continue
		}
		var out []byte
		rerr := rh.Err()
		if rerr == nil {
			out = append([]byte{}, res...)
		} else {
			e := rerr.(*Error)
			e.Network, e.Addr, e.Prog, e.Vers, e.Proc = "udp", from.String(), prog, vers, proc
		}
		if !fn(from, out, rerr) {
			return nil
		}
	}
}

// setBroadcast sets SO_BROADCAST on conn when it has a file descriptor.
func setBroadcast(conn net.PacketConn) error {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_BROADCAST, 1)
	}); err != nil {
		return err
	}
	return serr
}
