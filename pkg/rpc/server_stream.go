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

// MaxProceeding bounds the calls of one connection that may be finishing
// after [Request.Proceed] while the connection's later calls are handled:
// each holds a goroutine and its MaxInFlight slot until its reply is sent.
// 16, a quarter of DefaultMaxInFlight, leaves most slots to other callers
// while letting a client that pipelines changes (pmapset) have them written
// 16 or so at a time.
const MaxProceeding = 16

// serverConn is one stream connection being served.
type serverConn struct {
	s    *Server
	conn net.Conn
	tmpl Request       // the connection's part of every request
	br   *bufio.Reader // read by one goroutine at a time: the reader

	// Reply order after Proceed. lastWrite is closed once the reply of the
	// latest call that proceeded has been sent (nil when none is pending);
	// each such call waits for the one before it, so replies leave in call
	// order. proceeding counts those calls.
	pmu        sync.Mutex
	lastWrite  chan struct{}
	proceeding int

	mu        sync.Mutex // guards active, idleSince and the read deadline's setting
	active    int        // calls being handled
	idleSince time.Time  // when the last call ended, or the connection opened

	wmu      sync.Mutex     // one reply written at a time
	handlers sync.WaitGroup // calls being handled
}

func (c *serverConn) serve() {
	c.tmpl = Request{Network: c.conn.LocalAddr().Network(), Remote: c.conn.RemoteAddr(), Local: c.conn.LocalAddr()}
	if uc, ok := c.conn.(*net.UnixConn); ok {
		c.tmpl.Cred = peerCred(uc)
	}
	c.br = bufio.NewReaderSize(c.conn, streamReadBuffer)
	c.readLoop()
}

// readLoop reads and handles the connection's calls until it ends, then
// closes it, unless a call handed the reading on to a new readLoop
// (Request.Proceed), in which case it returns at once.
func (c *serverConn) readLoop() {
	s := c.s
	handedOff := false
	defer func() {
		if !handedOff {
			c.close()
		}
	}()
	// The calls handled in order, one after the other, share a Request and
	// a record buffer (up to reuseRecord bytes): this loop's own, since a
	// call that proceeds hands the reading to another.
	var (
		req *Request
		buf []byte
	)
	for {
		if !c.armRead() {
			return
		}
		msg, err := ReadRecord(c.br, buf[:0], s.maxRecord())
		if err != nil {
			if errors.Is(err, ErrRecordTooLong) {
				s.logger().Warn("rpc: closing connection", "remote", c.tmpl.Remote, "err", err)
			}
			return
		}
		if !s.acquire() {
			return
		}
		c.begin()
		if s.ConcurrentStreamCalls {
			go c.handle(msg, new(Request), false)
			continue
		}
		if req == nil {
			req = new(Request)
		}
		if handedOff = c.handle(msg, req, true); handedOff {
			return
		}
		if cap(msg) <= reuseRecord {
			buf = msg
		}
	}
}

// reuseRecord is the largest record buffer a connection keeps between calls:
// a lookup's call is under 100 bytes, and an idle connection should not
// hold the room of the largest record it ever sent.
const reuseRecord = 4 << 10

// close ends the connection once its calls have been answered.
func (c *serverConn) close() {
	s := c.s
	c.handlers.Wait()
	c.conn.Close()
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}

// proceed records that r's call finishes after the connection's later calls
// have begun, linking its reply after those of earlier such calls; false
// when MaxProceeding calls are already finishing.
func (c *serverConn) proceed(r *Request) bool {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	if c.proceeding >= MaxProceeding {
		return false
	}
	c.proceeding++
	r.prev, r.mine = c.lastWrite, make(chan struct{})
	c.lastWrite = r.mine
	return true
}

// proceeded records that the reply of a call that proceeded has been sent.
func (c *serverConn) proceeded(mine chan struct{}) {
	c.pmu.Lock()
	c.proceeding--
	if c.lastWrite == mine {
		c.lastWrite = nil
	}
	c.pmu.Unlock()
	close(mine)
}

// pendingReplies returns what a call handled in order must wait for before
// sending its reply: the reply of the latest call that proceeded.
func (c *serverConn) pendingReplies() chan struct{} {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	return c.lastWrite
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

// handle answers one call, in req. With inOrder, the call is one of those
// the connection handles one after the other: its reply waits for those of
// the earlier calls that proceeded, and the result reports whether the call
// proceeded, handing the reading of the connection to a new goroutine.
func (c *serverConn) handle(msg []byte, req *Request, inOrder bool) (handedOff bool) {
	s := c.s
	defer c.end()
	defer s.release()
	bp := s.getBuf()
	defer s.putBuf(bp)
	*req = c.tmpl
	if inOrder {
		req.conn = c
	}
	reply, ok := s.dispatch(req, msg, (*bp)[:0])
	prev := req.prev
	if req.handedOff {
		defer func() {
			if prev != nil {
				<-prev // in order, even when this call sends nothing
			}
			c.proceeded(req.mine)
		}()
	} else if inOrder {
		prev = c.pendingReplies()
	}
	if !ok {
		s.logger().Debug("rpc: closing connection: undecodable call", "remote", req.Remote)
		c.conn.Close()
		return req.handedOff
	}
	if reply == nil {
		return req.handedOff
	}
	if prev != nil {
		<-prev
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
	return req.handedOff
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
