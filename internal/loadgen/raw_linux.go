//go:build linux

package loadgen

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// defaultEngine is the raw engine where it exists.
const defaultEngine = EngineRaw

const (
	// maxEvents is how many ready sockets one epoll_wait returns.
	maxEvents = 256

	// minScan and maxScan bound how often a loop looks for calls that timed
	// out: a tenth of the timeout, between 1 ms (epoll_wait's resolution)
	// and 100 ms.
	minScan = time.Millisecond
	maxScan = 100 * time.Millisecond
)

// slot is one call in flight.
type slot struct {
	xid  uint32
	sent time.Duration // since the start of the run
	busy bool
}

// rawClient is one client: a non-blocking socket, its pre-encoded call and
// the calls it has in flight.
type rawClient struct {
	fd       int
	msg      []byte // the call message (record-marked over TCP)
	xidOff   int
	xid      uint32
	slots    []slot
	inflight int
	paused   time.Duration // no new call before this (after a failed send)
	rr       recordReader  // TCP only
	dead     bool
}

// loop runs some of the clients from one thread over epoll.
type loop struct {
	t       *target
	stream  bool
	ep      int
	clients []*rawClient
	left    int64 // calls this loop may still start
	open    int   // calls in flight
	alive   int   // clients still connected
	start   time.Time
	st      stats
	buf     []byte // UDP receive buffer
	why     string
	elapsed time.Duration
}

// rawDial connects a non-blocking socket of network to ap.
func rawDial(network string, ap netip.AddrPort) (int, error) {
	typ := unix.SOCK_DGRAM
	if network == "tcp" {
		typ = unix.SOCK_STREAM
	}
	var sa unix.Sockaddr
	family := unix.AF_INET
	if ap.Addr().Is4() {
		sa = &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	} else {
		family = unix.AF_INET6
		sa = &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
	}
	fd, err := unix.Socket(family, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("loadgen: socket: %w", err)
	}
	// A blocking connect: on the loopback it is done at once, and a refused
	// TCP connection fails here rather than at the first call.
	if err := unix.Connect(fd, sa); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("loadgen: connect %s %s: %w", network, ap, err)
	}
	if typ == unix.SOCK_STREAM {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("loadgen: TCP_NODELAY: %w", err)
		}
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("loadgen: non-blocking: %w", err)
	}
	return fd, nil
}

// runRaw runs t's clients from event loops, one thread each.
func runRaw(ctx context.Context, t *target) (*Result, error) {
	nloops := t.Loops
	if nloops == 0 {
		nloops = runtime.GOMAXPROCS(0)
	}
	nloops = min(nloops, t.Clients)
	msg, xidOff := t.message()
	loops := make([]*loop, nloops)
	defer func() {
		for _, l := range loops {
			if l != nil {
				l.close()
			}
		}
	}()
	for i := range loops {
		ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			return nil, fmt.Errorf("loadgen: epoll: %w", err)
		}
		loops[i] = &loop{t: t, stream: t.Network == "tcp", ep: ep, buf: make([]byte, 1<<16)}
	}
	// Clients go round-robin to the loops, and so do the calls: the first
	// count%Clients clients get one call more.
	per, extra := t.count/int64(t.Clients), t.count%int64(t.Clients)
	for i := range t.Clients {
		l := loops[i%nloops]
		c := &rawClient{
			msg:    append([]byte(nil), msg...),
			xidOff: xidOff,
			xid:    uint32(i) << 24, // a capture tells the clients apart by xid
			slots:  make([]slot, t.Window),
		}
		if err := l.connect(c); err != nil {
			return nil, err
		}
		l.clients = append(l.clients, c)
		l.alive++
		l.left += per
		if int64(i) < extra {
			l.left++
		}
	}

	start, cpu0 := time.Now(), cpuTime()
	var wg sync.WaitGroup
	for _, l := range loops {
		l.start = start
		wg.Go(func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			l.run(ctx)
		})
	}
	wg.Wait()
	cpu := cpuTime() - cpu0

	var total stats
	why, elapsed := StopCount, time.Duration(0)
	for _, l := range loops {
		total.merge(&l.st)
		elapsed = max(elapsed, l.elapsed)
		if l.why != StopCount {
			why = l.why
		}
	}
	return t.result(&total, elapsed, cpu, why, nloops), nil
}

// connect dials c's socket and adds it to the loop's epoll set.
func (l *loop) connect(c *rawClient) error {
	fd, err := rawDial(l.t.Network, l.t.addr)
	if err != nil {
		return err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(len(l.clients))}
	for i, x := range l.clients {
		if x == c {
			ev.Fd = int32(i)
		}
	}
	if err := unix.EpollCtl(l.ep, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		unix.Close(fd)
		return fmt.Errorf("loadgen: epoll_ctl: %w", err)
	}
	c.fd = fd
	return nil
}

// close closes the loop's sockets and epoll descriptor.
func (l *loop) close() {
	for _, c := range l.clients {
		if !c.dead {
			unix.Close(c.fd)
			c.dead = true
		}
	}
	unix.Close(l.ep)
}

func (l *loop) now() time.Duration { return time.Since(l.start) }

// run is the event loop: it ends at the run's deadline, when its calls are
// done, when ctx ends, or when every client is gone.
func (l *loop) run(ctx context.Context) {
	t := l.t
	scan := min(max(t.Timeout/10, minScan), maxScan)
	events := make([]unix.EpollEvent, maxEvents)
	now := l.now()
	for _, c := range l.clients {
		l.refill(c, now)
	}
	nextScan := now + scan
	for {
		now = l.now()
		switch {
		case now >= t.limit:
			l.why = StopDuration
		case l.left <= 0 && l.open == 0:
			l.why = StopCount
		case l.alive == 0:
			l.why = StopFailed
		case ctx.Err() != nil:
			l.why = StopContext
		}
		if l.why != "" {
			l.st.unfinished += int64(l.open)
			l.elapsed = now
			return
		}
		if now >= nextScan {
			l.expire(now)
			nextScan = now + scan
		}
		wait := min(nextScan, t.limit) - now
		ms := int((wait + time.Millisecond - 1) / time.Millisecond)
		if t.Spin {
			ms = 0
		}
		n, err := unix.EpollWait(l.ep, events, ms)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			l.st.fail(fmt.Errorf("loadgen: epoll_wait: %w", err))
			l.why, l.elapsed = StopFailed, l.now()
			l.st.unfinished += int64(l.open)
			return
		}
		for _, ev := range events[:n] {
			c := l.clients[ev.Fd]
			if c.dead {
				continue
			}
			if l.stream {
				l.readStream(c)
			} else {
				l.readDgram(c)
			}
			if !c.dead {
				l.refill(c, l.now())
			}
		}
	}
}

// refill starts calls on c until its window is full, its share of the
// calls is used up, or the run's time is.
func (l *loop) refill(c *rawClient, now time.Duration) {
	for c.inflight < len(c.slots) && l.left > 0 && now < l.t.limit && now >= c.paused && !c.dead {
		l.left--
		l.send(c, now)
	}
}

// send sends one call on c.
func (l *loop) send(c *rawClient, now time.Duration) {
	c.xid++
	binary.BigEndian.PutUint32(c.msg[c.xidOff:], c.xid)
	n, err := unix.Write(c.fd, c.msg)
	if err == nil && n != len(c.msg) {
		err = fmt.Errorf("short write of %d bytes of %d", n, len(c.msg))
	}
	if err != nil {
		// The call never left: a failure. A datagram socket pauses until the
		// next scan rather than spin on an error; a stream that cannot take a
		// small record at once is stuck, and is made anew.
		l.st.fail(fmt.Errorf("loadgen: send: %w", err))
		if l.stream {
			l.broken(c)
		} else {
			c.paused = now + minScan
		}
		return
	}
	for i := range c.slots {
		if s := &c.slots[i]; !s.busy {
			*s = slot{xid: c.xid, sent: now, busy: true}
			break
		}
	}
	c.inflight++
	l.open++
}

// readDgram reads the datagrams waiting on c, until none is or no call of
// c's is in flight. The epoll set is level-triggered, so a datagram left
// unread is reported again: with one call in flight (the default window) a
// reply is one read, not a read and a failed one.
func (l *loop) readDgram(c *rawClient) {
	for {
		n, err := unix.Read(c.fd, l.buf)
		switch {
		case err == nil:
			l.reply(c, l.buf[:n])
			if c.inflight == 0 {
				return
			}
		case errors.Is(err, unix.EAGAIN):
			return
		case errors.Is(err, unix.EINTR):
		default:
			// An ICMP error (port unreachable: no mapper) fails the oldest
			// call in flight, as a connected libtirpc client fails.
			l.failOldest(c, fmt.Errorf("loadgen: receive: %w", err))
			c.paused = l.now() + minScan
		}
	}
}

// readStream reads what c's connection has and handles every complete
// record; a closed or failed connection is made anew. As readDgram, it stops
// without a failed read once no call is in flight or a read came short of
// the room it had (the rest, if any, is reported again).
func (l *loop) readStream(c *rawClient) {
	for {
		space := c.rr.space()
		n, err := unix.Read(c.fd, space)
		switch {
		case err == nil && n == 0:
			l.st.note(errors.New("loadgen: connection closed by the port mapper"))
			l.broken(c)
			return
		case err == nil:
			c.rr.filled(n)
			for {
				rec, ok, err := c.rr.next()
				if err != nil {
					l.st.note(err)
					l.broken(c)
					return
				}
				if !ok {
					break
				}
				l.reply(c, rec)
			}
			if c.inflight == 0 || n < len(space) {
				return
			}
		case errors.Is(err, unix.EAGAIN):
			return
		case errors.Is(err, unix.EINTR):
		default:
			l.st.note(fmt.Errorf("loadgen: receive: %w", err))
			l.broken(c)
			return
		}
	}
}

// reply matches a reply to its call in flight and counts it.
func (l *loop) reply(c *rawClient, msg []byte) {
	now := l.now()
	xid, err := replyXID(msg)
	var s *slot
	if err == nil {
		for i := range c.slots {
			if c.slots[i].busy && c.slots[i].xid == xid {
				s = &c.slots[i]
				break
			}
		}
	}
	if s == nil {
		l.st.stray++
		return
	}
	s.busy = false
	c.inflight--
	l.open--
	res, err := checkReply(msg)
	if err != nil {
		l.st.fail(err)
		return
	}
	l.st.ok++
	l.st.hist.add(now - s.sent)
	l.st.replyBytes += int64(len(msg))
	if l.t.isEmpty(res) {
		l.st.empty++
	}
	if l.st.answer == "" {
		l.st.answer = l.t.answer(res)
	}
}

// failOldest fails c's oldest call in flight with err.
func (l *loop) failOldest(c *rawClient, err error) {
	var old *slot
	for i := range c.slots {
		if s := &c.slots[i]; s.busy && (old == nil || s.sent < old.sent) {
			old = s
		}
	}
	if old == nil {
		l.st.note(err)
		return
	}
	l.st.fail(err)
	old.busy = false
	c.inflight--
	l.open--
}

// expire counts the calls in flight longer than the timeout as timeouts and
// frees their slots; a late reply to one of them counts as stray.
func (l *loop) expire(now time.Duration) {
	for _, c := range l.clients {
		for i := range c.slots {
			if s := &c.slots[i]; s.busy && now-s.sent >= l.t.Timeout {
				s.busy = false
				c.inflight--
				l.open--
				l.st.timeouts++
			}
		}
		l.refill(c, now)
	}
}

// broken fails every call in flight on c's connection and connects again;
// a client that cannot reconnect is gone for the rest of the run.
func (l *loop) broken(c *rawClient) {
	for i := range c.slots {
		if s := &c.slots[i]; s.busy {
			s.busy = false
			l.open--
			l.st.errs++
		}
	}
	c.inflight = 0
	unix.Close(c.fd)
	c.rr.reset()
	if err := l.connect(c); err != nil {
		l.st.note(err)
		c.dead = true
		l.alive--
		return
	}
	l.st.reconnects++
}
