// Package rpc speaks ONC RPC version 2 (RFC 5531): call and reply headers,
// AUTH_NONE and AUTH_SYS authenticators, record marking, a client that works
// over UDP, TCP and unix sockets, and the responding side, a [Server] with a
// [Mux] keyed by (program, version, procedure).
//
// # Messages
//
// [CallHeader] and [ReplyHeader] append to a caller's buffer and decode from an
// xdr.Decoder without allocating; the procedure's arguments or results follow
// them. Every limit of the RFC is enforced both when encoding and when
// decoding: an authenticator body of at most [MaxAuthBytes], an AUTH_SYS
// machine name of at most [MaxMachineName] bytes and at most [MaxGIDs] groups.
// [ReadRecord] reassembles a record from any number of fragments and refuses
// one over its cap before allocating; [WriteRecord] can fragment.
//
// # Errors
//
// Every failure of a call is an [*Error] whose [Status] is libtirpc's
// clnt_stat, so its [Error.Text] is exactly what rpcinfo and other libtirpc
// programs print ("RPC: Program not registered", "RPC: Unable to receive;
// errno = Connection refused", "RPC: Program/version mismatch; low version =
// 2, high version = 4"). Test for a status with errors.Is(err, ErrProgUnavail)
// and friends; reach the details (Low, High, Why, the OS error) with errors.As.
//
// # Client
//
// [Dial] returns a [Client] for one server over one transport; it is safe for
// concurrent use and honours each call's context. Over UDP it uses a connected
// socket, so an ICMP port unreachable fails the call at once; it retransmits
// on a doubling schedule and matches replies by xid, ignoring stray,
// duplicate and garbled ones. Over TCP and unix sockets calls share one
// connection, several in flight at once; when it dies every waiting call
// fails at once and the next call redials. [Broadcast] sends one call to many
// destinations and collects the replies.
//
// # Server
//
// A [Server] answers with a [Handler], usually a [Mux], over UDP
// ([Server.ServePacket]) and over TCP or unix sockets ([Server.Serve]).
// Handlers see the caller's address, the local address it reached (for UDP,
// from IP_PKTINFO), the transport and, on unix sockets, the peer's
// credentials, in a [Request] that is theirs only until they return (the
// server reuses it, so that a lookup allocates nothing). The server answers
// PROG_UNAVAIL, PROG_MISMATCH, PROC_UNAVAIL, GARBAGE_ARGS, SYSTEM_ERR and
// authentication errors, caps record size, connections, idle time and calls in
// flight, and [Server.Shutdown] waits for the calls in progress.
package rpc
