package rpc

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

const (
	// DefaultRetransmit is the first UDP retransmission interval. A server on
	// the loopback or the local network answers in well under a millisecond,
	// so half a second recovers a lost datagram quickly without doubling the
	// load of a server that is merely slow.
	DefaultRetransmit = 500 * time.Millisecond

	// MaxRetransmit caps the doubling of the UDP retransmission interval
	// (0.5, 1, 2, 4, 8, 8, ... seconds), so a long deadline still sees a
	// retry every few seconds rather than one near its end.
	MaxRetransmit = 8 * time.Second

	// maxDatagram is the largest UDP payload there is (65,535 bytes less the
	// UDP header, rounded up): the receive buffer of a UDP client.
	maxDatagram = 1 << 16
)

// Options tunes a [Client] or a [Broadcast]. The zero value (or nil) gives
// AUTH_NONE and the defaults noted on each field. A client copies its options;
// changing them afterwards has no effect.
type Options struct {
	// LocalAddr is the local address to send from, e.g. a privileged source
	// port for a root caller (&net.UDPAddr{Port: 1000}); nil lets the system
	// choose. It overrides Dialer.LocalAddr.
	LocalAddr net.Addr

	// Cred and Verf authenticate each call; the zero values are AUTH_NONE.
	// Bodies over MaxAuthBytes make every call fail with CantEncodeArgs.
	Cred, Verf OpaqueAuth

	// Retransmit is the first UDP retransmission interval, doubled after each
	// retransmission up to MaxRetransmit; zero means DefaultRetransmit. Calls
	// give up when their context ends: give them a deadline.
	Retransmit time.Duration

	// MaxReply caps the size of a reply message (a datagram or a record); a
	// larger one is refused before it is read into memory. Zero means
	// DefaultMaxRecord (for UDP, also at most the largest datagram).
	MaxReply int

	// Dialer dials the connection of Dial; nil means a zero net.Dialer.
	Dialer *net.Dialer
}

// Client calls the procedures of one server over one transport. It is safe for
// concurrent use: over UDP calls share one connected socket, over TCP and unix
// sockets one connection, and replies are matched to calls by xid.
type Client struct {
	network string
	addr    string
	opts    Options
	optErr  error // a credential or verifier over the limits
	xid     atomic.Uint32
	t       transport
}

// transport carries one call: msg has 4 bytes reserved in front for a record
// mark, then the call message.
type transport interface {
	call(ctx context.Context, xid uint32, msg []byte) (*reply, error)
	close() error
	localAddr() net.Addr
	remoteAddr() net.Addr
}

// reply is a decoded reply handed from a transport's reader to its caller.
type reply struct {
	hdr ReplyHeader
	res []byte // results; owned by the caller
	err error  // a transport failure instead of a reply
}

// Dial returns a client for the server at address, over network "udp",
// "udp4", "udp6", "tcp", "tcp4", "tcp6" or "unix" (a socket path, record
// marked like TCP). A stream transport is connected at once, so a refused
// connection is an [*Error] with Status SystemError ("RPC: Remote system error
// - Connection refused"), as libtirpc reports it; UDP uses a connected socket.
func Dial(ctx context.Context, network, address string, opts *Options) (*Client, error) {
	c := newClient(network, address, opts)
	fail := func(err error) (*Client, error) {
		e := dialError(ctx, err)
		e.Network, e.Addr = network, address
		return nil, e
	}
	switch network {
	case "udp", "udp4", "udp6":
		conn, err := c.dial(ctx)
		if err != nil {
			return fail(err)
		}
		c.t = newDgramTransport(conn, c.maxReply(maxDatagram), c.opts.Retransmit)
	case "tcp", "tcp4", "tcp6", "unix":
		st := &streamTransport{dial: c.dial, maxReply: c.maxReply(0)}
		if _, err := st.get(ctx); err != nil {
			return fail(err)
		}
		c.t = st
	default:
		return nil, &Error{Status: UnknownProto, Network: network, Addr: address}
	}
	return c, nil
}

// NewClient returns a client over conn, which it owns from then on: a UDP
// connection carries one call per datagram, any other connection records
// (RFC 5531 §11). The client does not redial: once conn fails, calls fail.
func NewClient(conn net.Conn, opts *Options) *Client {
	c := newClient(conn.RemoteAddr().Network(), conn.RemoteAddr().String(), opts)
	if isDatagram(conn) {
		c.t = newDgramTransport(conn, c.maxReply(maxDatagram), c.opts.Retransmit)
	} else {
		st := &streamTransport{maxReply: c.maxReply(0)}
		st.cur = newStreamConn(conn, st.maxReply)
		c.t = st
	}
	return c
}

// isDatagram reports whether conn carries datagrams rather than a stream.
func isDatagram(conn net.Conn) bool {
	if _, ok := conn.(*net.UDPConn); ok {
		return true
	}
	switch conn.RemoteAddr().Network() {
	case "udp", "udp4", "udp6", "unixgram":
		return true
	}
	return false
}

func newClient(network, address string, opts *Options) *Client {
	c := &Client{network: network, addr: address}
	if opts != nil {
		c.opts = *opts
	}
	if c.opts.Retransmit <= 0 {
		c.opts.Retransmit = DefaultRetransmit
	}
	if err := c.opts.Cred.Check(); err != nil {
		c.optErr = err
	} else if err := c.opts.Verf.Check(); err != nil {
		c.optErr = err
	}
	c.xid.Store(rand.Uint32())
	return c
}

// maxReply returns the reply cap, at most limit when limit > 0.
func (c *Client) maxReply(limit int) int {
	m := c.opts.MaxReply
	if m <= 0 {
		m = DefaultMaxRecord
	}
	if limit > 0 && m > limit {
		m = limit
	}
	return m
}

// dial connects to the client's address with its options.
func (c *Client) dial(ctx context.Context) (net.Conn, error) {
	var d net.Dialer
	if c.opts.Dialer != nil {
		d = *c.opts.Dialer
	}
	if c.opts.LocalAddr != nil {
		d.LocalAddr = c.opts.LocalAddr
	}
	return d.DialContext(ctx, c.network, c.addr)
}

// dialError classifies a failed dial as libtirpc does: a name that does not
// resolve is UnknownHost, a context that ended is TimedOut, anything else (a
// refused connection, a missing socket file) SystemError.
func dialError(ctx context.Context, err error) *Error {
	var dns *net.DNSError
	var done *Error
	switch {
	case errors.As(err, &done): // already classified by the transport
		return done
	case errors.As(err, &dns):
		return &Error{Status: UnknownHost, Err: err}
	case ctx.Err() != nil:
		return &Error{Status: TimedOut, Err: ctx.Err()}
	case errors.Is(err, os.ErrDeadlineExceeded):
		// The dialer's deadline is the context's, but its timer may fire
		// before the context's own: the same timeout, seen first.
		return &Error{Status: TimedOut, Err: context.DeadlineExceeded}
	}
	return &Error{Status: SystemError, Err: err}
}

// Call calls procedure proc of version vers of program prog with args, the
// XDR-encoded arguments, and returns the results of a SUCCESS reply, which the
// caller owns. Every failure is an [*Error] naming the transport, the address
// and the procedure; a reply other than SUCCESS gives its status (ProgUnavail,
// ProgVersMismatch with Low and High, AuthError with Why, ...), and the end of
// ctx gives TimedOut.
func (c *Client) Call(ctx context.Context, prog, vers, proc uint32, args []byte) ([]byte, error) {
	res, err := c.call(ctx, prog, vers, proc, args)
	if err != nil {
		e, ok := err.(*Error)
		if !ok {
			e = &Error{Status: Failed, Err: err}
		} else {
			cp := *e
			e = &cp
		}
		e.Network, e.Addr, e.Prog, e.Vers, e.Proc = c.network, c.addr, prog, vers, proc
		return nil, e
	}
	return res, nil
}

func (c *Client) call(ctx context.Context, prog, vers, proc uint32, args []byte) ([]byte, error) {
	if c.optErr != nil {
		return nil, &Error{Status: CantEncodeArgs, Err: c.optErr}
	}
	if err := ctx.Err(); err != nil {
		return nil, &Error{Status: TimedOut, Err: err}
	}
	xid := c.xid.Add(1)
	h := CallHeader{XID: xid, RPCVers: RPCVersion, Prog: prog, Vers: vers, Proc: proc, Cred: c.opts.Cred, Verf: c.opts.Verf}
	msg := make([]byte, 4, 4+40+len(h.Cred.Body)+len(h.Verf.Body)+len(args))
	msg = h.Append(msg)
	msg = append(msg, args...)
	r, err := c.t.call(ctx, xid, msg)
	if err != nil {
		return nil, err
	}
	if r.err != nil {
		return nil, r.err
	}
	if err := r.hdr.Err(); err != nil {
		return nil, err
	}
	return r.res, nil
}

// Close closes the client's connection; calls in progress fail at once.
func (c *Client) Close() error { return c.t.close() }

// RemoteAddr returns the server's address as connected, or nil while a
// stream client has no connection.
func (c *Client) RemoteAddr() net.Addr { return c.t.remoteAddr() }

// LocalAddr returns the local address of the connection, or nil while a
// stream client has no connection.
func (c *Client) LocalAddr() net.Addr { return c.t.localAddr() }

// pendingCalls is a transport's table of calls waiting for their reply.
type pendingCalls struct {
	mu   sync.Mutex
	m    map[uint32]chan *reply
	dead error // set once the transport can carry no more calls
}

// add registers xid; it fails if the transport is dead or xid is in use.
func (p *pendingCalls) add(xid uint32) (chan *reply, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dead != nil {
		return nil, p.dead
	}
	if p.m == nil {
		p.m = make(map[uint32]chan *reply)
	}
	if _, busy := p.m[xid]; busy {
		return nil, &Error{Status: CantEncodeArgs, Err: errors.New("rpc: xid in use")}
	}
	ch := make(chan *reply, 1)
	p.m[xid] = ch
	return ch, nil
}

func (p *pendingCalls) remove(xid uint32) {
	p.mu.Lock()
	delete(p.m, xid)
	p.mu.Unlock()
}

// deliver hands r to the call waiting for xid, if any, and reports whether
// there was one. A reply for an unknown xid (stray, duplicate, late) is dropped.
func (p *pendingCalls) deliver(xid uint32, r *reply) bool {
	p.mu.Lock()
	ch, ok := p.m[xid]
	delete(p.m, xid)
	p.mu.Unlock()
	if ok {
		ch <- r
	}
	return ok
}

// failAll fails every waiting call with err; if final, later calls fail too.
func (p *pendingCalls) failAll(err *Error, final bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if final && p.dead == nil {
		p.dead = err
	}
	for xid, ch := range p.m {
		ch <- &reply{err: err}
		delete(p.m, xid)
	}
}

// decodeReply decodes a reply message; res aliases msg.
func decodeReply(msg []byte) (ReplyHeader, []byte, error) {
	var h ReplyHeader
	d := xdr.NewDecoder(msg)
	h.Decode(d)
	res := d.Rest()
	return h, res, d.Err()
}
