package rpc

import (
	"context"
	"net"
)

// PeerCred is the identity of the process at the other end of a unix socket,
// as the kernel reports it (SO_PEERCRED on Linux).
type PeerCred struct {
	PID      int32
	UID, GID uint32
}

// Request is one call as a [Handler] sees it. It is valid only until the
// handler returns: the server reuses it, and the addresses its Remote and
// Local point to, for later calls (a connection's calls handled in order,
// a socket's datagrams), so that a lookup allocates nothing. A handler
// copies what it keeps.
type Request struct {
	// Header is the call's header; the bodies of its authenticators, like
	// Args, are valid only during the call.
	Header CallHeader
	// AuthSys is the caller's AUTH_SYS credential, parsed; nil for AUTH_NONE.
	AuthSys *AuthSysParams
	// Args are the raw XDR-encoded arguments; valid only during the call.
	Args []byte
	// Network is the transport: "udp", "tcp" or "unix". The address family
	// shows in Remote and Local.
	Network string
	// Remote is the caller's address. An IPv4 caller reaching a dual-stack
	// socket appears with a 4-byte IPv4 address.
	Remote net.Addr
	// Local is the address the caller reached: for UDP on a wildcard socket,
	// the destination of the datagram (from IP_PKTINFO or IPV6_PKTINFO), which
	// is also the source of the reply.
	Local net.Addr
	// Cred is the peer's identity on a unix socket; nil otherwise.
	Cred *PeerCred

	// For Proceed: the connection whose calls are handled in order (nil
	// when there is none), whether Proceed handed the connection on, and
	// the reply-order links it made (see serverConn.lastWrite).
	conn       *serverConn
	handedOff  bool
	prev, mine chan struct{}
}

// Proceed tells the server that what is left of this call need not hold back
// the next call of its connection. On a TCP or unix connection whose calls
// are handled one after the other (the default; see
// Server.ConcurrentStreamCalls), the server then starts reading and handling
// the connection's next call while this one finishes, and still sends the
// replies in the order of the calls. A handler calls it from its own
// goroutine once the call's effect is visible to later calls and only its
// completion remains: a change applied in memory, waiting to be written to
// disk, so that the changes of calls pipelined on one connection share a
// write. It does nothing for datagrams, with ConcurrentStreamCalls, when
// called again, and when MaxProceeding calls of the connection are already
// finishing this way (the handler then simply holds the connection back).
func (r *Request) Proceed() {
	c := r.conn
	if c == nil || r.handedOff {
		return
	}
	if !c.proceed(r) {
		return
	}
	r.handedOff = true
	go c.readLoop()
}

// Handler answers calls. ServeRPC appends the XDR-encoded results to res and
// returns it, or returns an error to make the server answer otherwise:
//
//   - ErrProgUnavail, ErrProcUnavail, ErrGarbageArgs, ErrSystemErr: that
//     accept_stat (PROG_UNAVAIL, PROC_UNAVAIL, GARBAGE_ARGS, SYSTEM_ERR);
//   - an *Error with Status ProgVersMismatch: PROG_MISMATCH with its Low and High;
//   - AuthErrorReply(why): MSG_DENIED AUTH_ERROR why;
//   - ErrNoReply: no reply at all;
//   - any other error: SYSTEM_ERR, and the error is logged.
//
// A panic in a handler is recovered, logged and answered with SYSTEM_ERR.
// Handlers run concurrently. ctx ends when the server is forced to stop.
type Handler interface {
	ServeRPC(ctx context.Context, req *Request, res []byte) ([]byte, error)
}

// HandlerFunc adapts a function to a [Handler].
type HandlerFunc func(ctx context.Context, req *Request, res []byte) ([]byte, error)

// ServeRPC calls f.
func (f HandlerFunc) ServeRPC(ctx context.Context, req *Request, res []byte) ([]byte, error) {
	return f(ctx, req, res)
}
