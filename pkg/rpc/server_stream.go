package rpc

import (
	"bufio"
	"errors"
	"net"
	"sync"
	"syscall"
	"time"
)

// acceptBackoffMax caps the pause after a failed accept (out of descriptors,
// say), so the server neither spins nor stays deaf for long.
const acceptBackoffMax = time.Second

// Serve answers calls on the stream connections l accepts (TCP, or a unix
// socket, whose callers' PeerCred handlers see), one record per call (RFC
// 5531 §11), until [Server.Shutdown], after which it returns ErrServerClosed.
// Calls on one connection are handled in the order they arrive (concurrently
// with ConcurrentStreamCalls). A connection is closed when it sends a record
// over MaxRecord or a message that is not a decodable call, and when it idles
// past IdleTimeout. When MaxConns connections are open, a new one takes the
// place of the one idle longest (no call in progress), so idle or slow
// connections cannot lock out new callers; it is refused only when every
// open connection has a call in progress.
func (s *Server) Serve(l net.Listener) error {
	if err := s.start(func() { s.lns[l] = struct{}{} }); err != nil {
		return err
	}
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.lns, l)
		s.mu.Unlock()
		l.Close()
	}()
	var backoff time.Duration
	for {
		conn, err := l.Accept()
		if err != nil {
			if s.shutting.Load() {
				return ErrServerClosed
			}
			if !isTemporaryAccept(err) {
				return err
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), acceptBackoffMax)
			s.logger().Warn("rpc: accept failed; retrying", "err", err, "delay", backoff)
			select {
			case <-time.After(backoff):
			case <-s.closing:
			}
			continue
		}
		backoff = 0
		c := &serverConn{s: s, conn: conn, idleSince: time.Now()}
		s.mu.Lock()
		switch {
		case s.shutting.Load():
			s.mu.Unlock()
			conn.Close()
			return ErrServerClosed
		case len(s.conns) >= s.maxConns():
			victim := s.idlestConn()
			if victim == nil {
				s.mu.Unlock()
				conn.Close()
				s.logger().Debug("rpc: connection refused: too many open, all busy", "remote", conn.RemoteAddr(), "max", s.maxConns())
				continue
			}
			delete(s.conns, victim)
			victim.conn.Close()
			s.logger().Debug("rpc: closed the longest idle connection for a new one", "closed", victim.conn.RemoteAddr(), "max", s.maxConns())
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go c.serve()
	}
}

// isTemporaryAccept reports whether a failed accept may succeed later.
func isTemporaryAccept(err error) bool {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return false
	}
	switch errno {
	case syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED, syscall.EINTR:
		return true
	}
	return false
}

// serverConn is one stream connection being served.
type serverConn struct {
	s    *Server
	conn net.Conn

	mu        sync.Mutex // guards active, idleSince and the read deadline's setting
	active    int        // calls being handled
	idleSince time.Time  // when the last call ended, or the connection opened

	wmu      sync.Mutex     // one reply written at a time
	handlers sync.WaitGroup // calls being handled
}

func (c *serverConn) serve() {
	s := c.s
	defer s.wg.Done()
	defer func() {
		c.handlers.Wait()
		c.conn.Close()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	tmpl := Request{Network: c.conn.LocalAddr().Network(), Remote: c.conn.RemoteAddr(), Local: c.conn.LocalAddr()}
	if uc, ok := c.conn.(*net.UnixConn); ok {
		tmpl.Cred = peerCred(uc)
	}
	br := bufio.NewReaderSize(c.conn, streamReadBuffer)
	for {
		if !c.armRead() {
			return
		}
		msg, err := ReadRecord(br, nil, s.maxRecord())
		if err != nil {
			if errors.Is(err, ErrRecordTooLong) {
				s.logger().Warn("rpc: closing connection", "remote", tmpl.Remote, "err", err)
			}
			return
		}
		if !s.acquire() {
			return
		}
		c.begin()
		if s.ConcurrentStreamCalls {
			go c.handle(tmpl, msg)
		} else {
			c.handle(tmpl, msg)
		}
	}
}

// armRead sets the deadline of the next record: IdleTimeout from now while no
// call is in progress, none while one is (its end re-arms it). It reports
// false once Shutdown has begun.
func (c *serverConn) armRead() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.s.shutting.Load() {
		return false
	}
	var dl time.Time
	if c.active == 0 {
		dl = time.Now().Add(c.s.idleTimeout())
	}
	c.conn.SetReadDeadline(dl)
	return true
}

// stopReading wakes the reader for Shutdown.
func (c *serverConn) stopReading() {
	c.mu.Lock()
	c.conn.SetReadDeadline(time.Unix(1, 0))
	c.mu.Unlock()
}

func (c *serverConn) begin() {
	c.mu.Lock()
	c.active++
	c.mu.Unlock()
	c.handlers.Add(1)
}

func (c *serverConn) end() {
	c.mu.Lock()
	c.active--
	if c.active == 0 {
		c.idleSince = time.Now()
	}
	if c.active == 0 && !c.s.shutting.Load() {
		c.conn.SetReadDeadline(time.Now().Add(c.s.idleTimeout()))
	}
	c.mu.Unlock()
	c.handlers.Done()
}

func (c *serverConn) handle(tmpl Request, msg []byte) {
	s := c.s
	defer c.end()
	defer s.release()
	bp := s.getBuf()
	defer s.putBuf(bp)
	req := tmpl
	reply, ok := s.dispatch(&req, msg, (*bp)[:0])
	if !ok {
		s.logger().Debug("rpc: closing connection: undecodable call", "remote", req.Remote)
		c.conn.Close()
		return
	}
	if reply == nil {
		return
	}
	putMark(reply)
	c.wmu.Lock()
	c.conn.SetWriteDeadline(time.Now().Add(s.idleTimeout()))
	_, err := c.conn.Write(reply)
	c.wmu.Unlock()
	if err != nil {
		s.logger().Debug("rpc: closing connection: reply not sent", "remote", req.Remote, "err", err)
		c.conn.Close()
	}
}

// idlestConn returns the open connection with no call in progress that has
// been idle longest, or nil when every one is busy. s.mu is held.
func (s *Server) idlestConn() *serverConn {
	var victim *serverConn
	var since time.Time
	for c := range s.conns {
		c.mu.Lock()
		idle, t := c.active == 0, c.idleSince
		c.mu.Unlock()
		if idle && (victim == nil || t.Before(since)) {
			victim, since = c, t
		}
	}
	return victim
}
