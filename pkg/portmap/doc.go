// Package portmap is the vocabulary of ONC RPC program 100000, the port mapper:
// portmap version 2 (RFC 1833 §3) and rpcbind versions 3 and 4 (RFC 1833 §2).
//
// It holds the wire types of every argument and result with their XDR encoders
// (Append, appending to a caller's buffer) and decoders (Decode, reading from
// an [xdr.Decoder] with every string, opaque and list bounded by a named limit),
// universal addresses (RFC 5665) for IPv4, IPv6 and local sockets, the netids
// and what they mean, the struct sockaddr carried in a netbuf, and the program
// name database in the /etc/rpc format with a built-in fallback table.
//
// The client (pkg/client) and the server (pkg/server) both build on it; it
// imports only pkg/xdr and the standard library, and it does no I/O except
// reading an /etc/rpc file when asked.
package portmap
