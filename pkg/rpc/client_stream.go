package rpc

import (
	"bufio"
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// streamReadBuffer sizes the buffered reader of a stream connection: big
// enough to take a small reply and the next record mark in one read.
const streamReadBuffer = 4096

// errClientClosed is the cause of calls made on, or cut off by, a closed client.
var errClientClosed = errors.New("rpc: client closed")

// streamTransport carries calls as records (RFC 5531 §11) over one connection
// at a time, redialling on the next call after the connection dies when it
// knows how to dial.
type streamTransport struct {
	dial     func(context.Context) (net.Conn, error) // nil: never redial
	maxReply int

	mu      sync.Mutex
	cur     *streamConn
	dialing chan struct{} // closed when the dial in progress ends
	closed  bool
}

// get returns a live connection, dialling one if needed; concurrent callers
// share one dial.
func (t *streamTransport) get(ctx context.Context) (*streamConn, error) {
	for {
		t.mu.Lock()
		if t.closed {
			t.mu.Unlock()
			return nil, &Error{Status: CantSend, Err: errClientClosed}
		}
		if sc := t.cur; sc != nil && (!sc.dead.Load() || t.dial == nil) {
			t.mu.Unlock()
			return sc, nil
		}
		if ch := t.dialing; ch != nil {
			t.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return nil, &Error{Status: TimedOut, Err: ctx.Err()}
			}
		}
		ch := make(chan struct{})
		t.dialing = ch
		t.mu.Unlock()

		conn, err := t.dial(ctx)

		t.mu.Lock()
		t.dialing = nil
		close(ch)
		if err == nil && t.closed {
			conn.Close()
			err = errClientClosed
		}
		if err == nil {
			t.cur = newStreamConn(conn, t.maxReply)
		}
		sc := t.cur
		t.mu.Unlock()
		if err != nil {
			return nil, dialError(ctx, err)
		}
		return sc, nil
	}
}

func (t *streamTransport) call(ctx context.Context, xid uint32, msg []byte) (*reply, error) {
	sc, err := t.get(ctx)
	if err != nil {
		return nil, err
	}
	ch, err := sc.pend.add(xid)
	if err != nil && t.dial != nil && sc.dead.Load() { // died since get: redial once
		if sc, err = t.get(ctx); err != nil {
			return nil, err
		}
		ch, err = sc.pend.add(xid)
	}
	if err != nil {
		return nil, err
	}
	defer sc.pend.remove(xid)
	putMark(msg)
	if err := sc.write(ctx, msg); err != nil {
		return nil, err
	}
	select {
	case r := <-ch:
		return r, nil
	case <-ctx.Done():
		return nil, &Error{Status: TimedOut, Err: ctx.Err()}
	}
}

func (t *streamTransport) close() error {
	t.mu.Lock()
	already := t.closed
	t.closed = true
	sc := t.cur
	t.mu.Unlock()
	if sc == nil || already {
		return nil
	}
	err := sc.conn.Close()
	sc.kill(&Error{Status: CantRecv, Err: errClientClosed})
	<-sc.done
	return err
}

func (t *streamTransport) conn() net.Conn {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cur == nil {
		return nil
	}
	return t.cur.conn
}

func (t *streamTransport) localAddr() net.Addr {
	if c := t.conn(); c != nil {
		return c.LocalAddr()
	}
	return nil
}

func (t *streamTransport) remoteAddr() net.Addr {
	if c := t.conn(); c != nil {
		return c.RemoteAddr()
	}
	return nil
}

// streamConn is one connection: a reader goroutine hands each reply to the
// call with its xid; writers take turns. When the connection fails every
// waiting call fails at once.
type streamConn struct {
	conn     net.Conn
	maxReply int
	pend     pendingCalls
	dead     atomic.Bool
	done     chan struct{} // closed when the reader exits

	wmu sync.Mutex // one record written at a time

	cmu     sync.Mutex // guards the two fields below, for cancelling a write
	wgen    uint64     // counts writes
	writing bool       // a write of generation wgen is in progress
}

func newStreamConn(conn net.Conn, maxReply int) *streamConn {
	sc := &streamConn{conn: conn, maxReply: maxReply, done: make(chan struct{})}
	go sc.read()
	return sc
}

// kill marks the connection dead, closes it and fails every waiting call with e.
func (sc *streamConn) kill(e *Error) {
	sc.dead.Store(true)
	sc.pend.failAll(e, true)
	sc.conn.Close()
}

func (sc *streamConn) read() {
	defer close(sc.done)
	br := bufio.NewReaderSize(sc.conn, streamReadBuffer)
	for {
		rec, err := ReadRecord(br, nil, sc.maxReply)
		if err != nil {
			st := CantRecv
			if errors.Is(err, ErrRecordTooLong) {
				st = CantDecodeRes
			}
			sc.kill(&Error{Status: st, Err: err})
			return
		}
		h, res, err := decodeReply(rec)
		if err != nil {
			if len(rec) >= 4 { // the xid is readable: that call cannot be answered
				var d [4]byte
				copy(d[:], rec)
				xid := uint32(d[0])<<24 | uint32(d[1])<<16 | uint32(d[2])<<8 | uint32(d[3])
				sc.pend.deliver(xid, &reply{err: &Error{Status: CantDecodeRes, Err: err}})
			}
			continue
		}
		sc.pend.deliver(h.XID, &reply{hdr: h, res: res})
	}
}

// write sends one record. It gives up when ctx ends; a record cut short leaves
// the stream unusable, so any failure kills the connection.
func (sc *streamConn) write(ctx context.Context, msg []byte) error {
	sc.wmu.Lock()
	defer sc.wmu.Unlock()
	dl, _ := ctx.Deadline()
	sc.conn.SetWriteDeadline(dl)
	sc.cmu.Lock()
	sc.wgen++
	gen := sc.wgen
	sc.writing = true
	sc.cmu.Unlock()
	stop := context.AfterFunc(ctx, func() {
		sc.cmu.Lock()
		if sc.writing && sc.wgen == gen {
			sc.conn.SetWriteDeadline(time.Unix(1, 0))
		}
		sc.cmu.Unlock()
	})
	_, err := sc.conn.Write(msg)
	stop()
	sc.cmu.Lock()
	sc.writing = false
	sc.cmu.Unlock()
	if err == nil {
		return nil
	}
	e := &Error{Status: CantSend, Err: err}
	sc.kill(e)
	if ctx.Err() != nil {
		return &Error{Status: TimedOut, Err: ctx.Err()}
	}
	return e
}
