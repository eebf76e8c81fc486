package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

// Defaults of [Server]'s limits.
const (
	// DefaultServerMaxRecord caps a call's record (or datagram): 64 KiB. The
	// calls of the port mapper are well under 1 KiB (the largest, CALLIT,
	// carries arguments meant for one datagram), and the cap times
	// DefaultMaxConns bounds what idle callers can make the server hold.
	DefaultServerMaxRecord = 64 << 10

	// DefaultMaxConns caps the stream connections served at once: 512. Beyond
	// it a new connection is closed at once rather than left to exhaust
	// descriptors (CVE-2021-46828 did that to libtirpc).
	DefaultMaxConns = 512

	// DefaultIdleTimeout closes a stream connection that has no call in
	// progress and completes no record for 2 minutes, long enough for a
	// client that reuses its connection between calls of one job.
	DefaultIdleTimeout = 2 * time.Minute

	// DefaultMaxInFlight bounds the calls being handled at once, and so the
	// goroutines and buffers they hold: 64 lets a slow handler not stall
	// the others on a small machine while keeping memory bounded.
	DefaultMaxInFlight = 64

	// replyReserve is the room kept in front of a handler's results: a
	// record mark and the header of an accepted SUCCESS reply with an
	// AUTH_NONE verifier (xid, msg_type, reply_stat, flavor, length,
	// accept_stat).
	replyReserve = 4 + 24

	// replyBufSize is the initial capacity of a pooled reply buffer.
	replyBufSize = 4 << 10
)

// ErrServerClosed is returned by [Server.Serve] and [Server.ServePacket]
// after [Server.Shutdown].
var ErrServerClosed = errors.New("rpc: server closed")

// Server answers calls over UDP ([Server.ServePacket]) and over TCP or unix
// sockets ([Server.Serve]) with its Handler. Its fields must be set before it
// first serves. A zero limit means the default noted on the field.
type Server struct {
	// Handler answers the calls, typically a *Mux.
	Handler Handler

	// MaxRecord caps the size of a call (a record, or a datagram); a larger
	// record closes its connection, a larger datagram is dropped.
	// Default DefaultServerMaxRecord.
	MaxRecord int

	// MaxConns caps the stream connections served at once; extra ones are
	// closed as they are accepted. Default DefaultMaxConns.
	MaxConns int

	// IdleTimeout closes a stream connection with no call in progress once
	// it has not completed a record for this long. It also bounds each
	// write of a reply. Default DefaultIdleTimeout.
	IdleTimeout time.Duration

	// MaxInFlight bounds the calls handled at once across all transports;
	// readers wait for a free slot. Default DefaultMaxInFlight.
	MaxInFlight int

	// ConcurrentStreamCalls lets the calls of one TCP or unix connection be
	// handled at once, each in its own goroutine, so their replies may leave
	// in any order. By default a connection's calls are handled one after
	// the other in the order they arrived, as rpcbind does: a client that
	// pipelines SETs on one connection (pmapset) then sees them applied in
	// the order it sent them. Calls on different connections and datagrams
	// are always handled concurrently.
	ConcurrentStreamCalls bool

	// InlineDatagram, when set, names the datagram calls that the goroutine
	// reading the socket answers itself rather than handing to a worker
	// goroutine: calls whose handler never blocks (a lookup in memory). That
	// saves a goroutine switch a call, about 5% of a port mapper lookup's
	// CPU; but while such a handler runs no other datagram of the socket is
	// read, so a handler that may wait (on a disk, on another server) must
	// not be named. It sees the call's program, version and procedure only.
	InlineDatagram func(prog, vers, proc uint32) bool

	// SilentOnRPCMismatch drops calls whose rpcvers is not 2, as rpcbind
	// does; by default they are answered MSG_DENIED RPC_MISMATCH low 2
	// high 2 (RFC 5531 §9).
	SilentOnRPCMismatch bool

	// Logger receives handler errors, recovered panics and dropped
	// connections; nil means slog.Default().
	Logger *slog.Logger

	initOnce sync.Once
	slots    chan struct{}      // MaxInFlight tokens
	ctx      context.Context    // handlers' context, cancelled on a forced stop
	cancel   context.CancelFunc // cancels ctx
	closing  chan struct{}      // closed by Shutdown
	shutting atomic.Bool        // set by Shutdown
	wg       sync.WaitGroup     // serving loops, connections and handlers
	mu       sync.Mutex         // guards the sets below
	lns      map[net.Listener]struct{}
	pconns   map[net.PacketConn]struct{}
	conns    map[*serverConn]struct{}
	bufs     sync.Pool // *[]byte reply buffers
}

func (s *Server) init() {
	s.initOnce.Do(func() {
		n := s.MaxInFlight
		if n <= 0 {
			n = DefaultMaxInFlight
		}
		s.slots = make(chan struct{}, n)
		s.ctx, s.cancel = context.WithCancel(context.Background())
		s.closing = make(chan struct{})
		s.lns = make(map[net.Listener]struct{})
		s.pconns = make(map[net.PacketConn]struct{})
		s.conns = make(map[*serverConn]struct{})
	})
}

func (s *Server) maxRecord() int {
	if s.MaxRecord > 0 {
		return s.MaxRecord
	}
	return DefaultServerMaxRecord
}

func (s *Server) maxConns() int {
	if s.MaxConns > 0 {
		return s.MaxConns
	}
	return DefaultMaxConns
}

func (s *Server) idleTimeout() time.Duration {
	if s.IdleTimeout > 0 {
		return s.IdleTimeout
	}
	return DefaultIdleTimeout
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// start registers a serving loop; it fails once Shutdown has begun.
func (s *Server) start(register func()) error {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutting.Load() {
		return ErrServerClosed
	}
	register()
	s.wg.Add(1)
	return nil
}

// acquire takes a handler slot, or reports false once Shutdown has begun.
func (s *Server) acquire() bool {
	select {
	case s.slots <- struct{}{}:
	case <-s.closing:
		return false
	}
	if s.shutting.Load() {
		s.release()
		return false
	}
	return true
}

// release frees a handler slot.
func (s *Server) release() { <-s.slots }

// Shutdown stops the server gracefully: it closes the listeners, stops
// reading new calls, waits for the calls in progress to be answered, and
// closes every connection and packet socket. If ctx ends first, it closes
// everything at once, cancels the handlers' context and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	s.mu.Lock()
	if !s.shutting.Swap(true) {
		close(s.closing)
	}
	for l := range s.lns {
		l.Close()
	}
	past := time.Unix(1, 0)
	for pc := range s.pconns {
		pc.SetReadDeadline(past)
	}
	for c := range s.conns {
		c.stopReading()
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	s.cancel()
	s.mu.Lock()
	for pc := range s.pconns {
		pc.Close()
	}
	for c := range s.conns {
		c.conn.Close()
	}
	s.mu.Unlock()
	return ctx.Err()
}

// getBuf returns a pooled buffer of at least replyReserve bytes of capacity.
func (s *Server) getBuf() *[]byte {
	if b, ok := s.bufs.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, replyBufSize)
	return &b
}

// maxPooledBuf bounds the buffers the pool keeps: those of calls and
// replies of the usual sizes (a port mapper's are under 10 KiB but for
// DUMP), not the larger ones a long listing or a large datagram grew, which
// would otherwise stay resident for as long as the pool keeps them.
const maxPooledBuf = 16 << 10

// putBuf returns a buffer to the pool unless it grew larger than
// maxPooledBuf.
func (s *Server) putBuf(b *[]byte) {
	if cap(*b) <= maxPooledBuf {
		*b = (*b)[:0]
		s.bufs.Put(b)
	}
}

// dispatch answers one call message. It returns the reply with 4 bytes
// reserved in front for a record mark (nil: send nothing), and ok == false
// when the message is not a decodable call (the caller drops it or closes the
// connection). out is scratch space of capacity >= replyReserve; req carries
// the transport's part of the request.
func (s *Server) dispatch(req *Request, msg, out []byte) (reply []byte, ok bool) {
	d := xdr.NewDecoder(msg)
	req.Header.Decode(d)
	if d.Err() != nil {
		return nil, false
	}
	h := &req.Header
	rh := ReplyHeader{XID: h.XID}
	switch {
	case h.RPCVers != RPCVersion:
		if s.SilentOnRPCMismatch {
			return nil, true
		}
		rh.Stat, rh.Reject, rh.Low, rh.High = MsgDenied, RejectRPCMismatch, RPCVersion, RPCVersion
		return rh.Append(out[:4]), true
	case h.Cred.Flavor == AuthNone:
	case h.Cred.Flavor == AuthSys:
		p, err := ParseAuthSys(h.Cred)
		if err != nil {
			rh.Stat, rh.Reject, rh.Auth = MsgDenied, RejectAuthError, AuthBadCred
			return rh.Append(out[:4]), true
		}
		req.AuthSys = &p
	default:
		rh.Stat, rh.Reject, rh.Auth = MsgDenied, RejectAuthError, AuthRejectedCred
		return rh.Append(out[:4]), true
	}
	req.Args = d.Rest()

	res, err := s.serve(req, out[replyReserve:replyReserve])
	if err == nil {
		hdr := rh.Append(out[:4]) // SUCCESS: exactly replyReserve bytes
		if len(res) > 0 && cap(out) > replyReserve && &res[0] == &out[:replyReserve+1][replyReserve] {
			return out[:replyReserve+len(res)], true // results written in place
		}
		return append(hdr, res...), true
	}
	if errors.Is(err, ErrNoReply) {
		return nil, true
	}
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Status: Failed}
	}
	switch e.Status {
	case ProgUnavail:
		rh.Accept = AcceptProgUnavail
	case ProgVersMismatch:
		rh.Accept, rh.Low, rh.High = AcceptProgMismatch, e.Low, e.High
	case ProcUnavail:
		rh.Accept = AcceptProcUnavail
	case CantDecodeArgs:
		rh.Accept = AcceptGarbageArgs
	case SystemError:
		rh.Accept = AcceptSystemErr
	case AuthError:
		rh.Stat, rh.Reject, rh.Auth = MsgDenied, RejectAuthError, e.Why
	default:
		rh.Accept = AcceptSystemErr
		s.logger().Error("rpc: handler failed", "network", req.Network, "remote", req.Remote,
			"prog", h.Prog, "vers", h.Vers, "proc", h.Proc, "err", err)
	}
	return rh.Append(out[:4]), true
}

// serve runs the handler, turning a panic into an error.
func (s *Server) serve(req *Request, res []byte) (out []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, fmt.Errorf("rpc: handler panic: %v", p)
		}
	}()
	if s.Handler == nil {
		return nil, ErrProgUnavail
	}
	return s.Handler.ServeRPC(s.ctx, req, res)
}
