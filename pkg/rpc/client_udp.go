package rpc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"
)

// dgramTransport carries calls in datagrams over a connected socket (RFC 5531
// §10 leaves reliability to the caller): one reader goroutine matches replies
// to calls by xid, and each call retransmits on its own schedule.
type dgramTransport struct {
	conn       net.Conn
	maxReply   int
	retransmit time.Duration
	pend       pendingCalls
	done       chan struct{} // closed when the reader exits
}

func newDgramTransport(conn net.Conn, maxReply int, retransmit time.Duration) *dgramTransport {
	t := &dgramTransport{conn: conn, maxReply: maxReply, retransmit: retransmit, done: make(chan struct{})}
	go t.read()
	return t
}

// read receives replies until the socket is closed. The error an ICMP message
// leaves on a connected socket (port unreachable: ECONNREFUSED) fails the
// calls waiting at that moment, at once, as libtirpc's clnt_dg does; the
// socket stays usable for later calls.
func (t *dgramTransport) read() {
	defer close(t.done)
	buf := make([]byte, t.maxReply+1) // one more byte tells an over-cap datagram
	udp, _ := t.conn.(*net.UDPConn)
	for {
		var n, flags int
		var err error
		if udp != nil {
			n, _, flags, _, err = udp.ReadMsgUDP(buf, nil)
		} else {
			n, err = t.conn.Read(buf)
		}
		if err != nil {
			e := &Error{Status: CantRecv, Err: err}
			if isICMPError(err) {
				t.pend.failAll(e, false)
				continue
			}
			t.pend.failAll(e, true)
			t.conn.Close()
			return
		}
		if n > t.maxReply || flags&syscall.MSG_TRUNC != 0 {
			if n >= 4 {
				xid := uint32(buf[0])<<24 | uint32(buf[1])<<16 | uint32(buf[2])<<8 | uint32(buf[3])
				t.pend.deliver(xid, &reply{err: &Error{Status: CantDecodeRes,
					Err: fmt.Errorf("%w: datagram over %d bytes", ErrRecordTooLong, t.maxReply)}})
			}
			continue
		}
		h, res, err := decodeReply(buf[:n])
		if err != nil {
			continue // garbled: ignored, the call retransmits
		}
		t.pend.deliver(h.XID, &reply{hdr: h, res: bytes.Clone(res)})
	}
}

// isICMPError reports whether err is one an ICMP message leaves on a
// connected datagram socket, which says nothing about the socket itself.
func isICMPError(err error) bool {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return false
	}
	switch errno {
	case syscall.ECONNREFUSED, syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.EHOSTDOWN,
		syscall.ENETDOWN, syscall.EMSGSIZE, syscall.EPROTO:
		return true
	}
	return false
}

// call sends msg and retransmits it, DefaultRetransmit (or Options.Retransmit)
// after the first send and twice as long after each retransmission up to
// MaxRetransmit, until a reply arrives or ctx ends.
func (t *dgramTransport) call(ctx context.Context, xid uint32, msg []byte) (*reply, error) {
	ch, err := t.pend.add(xid)
	if err != nil {
		return nil, err
	}
	defer t.pend.remove(xid)
	pkt := msg[4:]
	if err := t.send(pkt); err != nil {
		return nil, err
	}
	wait := t.retransmit
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case r := <-ch:
			return r, nil
		case <-ctx.Done():
			return nil, &Error{Status: TimedOut, Err: ctx.Err()}
		case <-timer.C:
			if err := t.send(pkt); err != nil {
				return nil, err
			}
			wait = min(2*wait, MaxRetransmit)
			timer.Reset(wait)
		}
	}
}

// send writes one datagram. An ICMP error met here belongs to an earlier
// datagram to the same peer, so it reads as a failure to receive.
func (t *dgramTransport) send(pkt []byte) error {
	if _, err := t.conn.Write(pkt); err != nil {
		if isICMPError(err) {
			return &Error{Status: CantRecv, Err: err}
		}
		return &Error{Status: CantSend, Err: err}
	}
	return nil
}

func (t *dgramTransport) close() error {
	t.pend.failAll(&Error{Status: CantRecv, Err: errClientClosed}, true)
	err := t.conn.Close()
	<-t.done
	return err
}

func (t *dgramTransport) localAddr() net.Addr  { return t.conn.LocalAddr() }
func (t *dgramTransport) remoteAddr() net.Addr { return t.conn.RemoteAddr() }
