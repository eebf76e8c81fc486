// Package server is the port mapper service: ONC RPC program 100000, portmap
// version 2 and rpcbind versions 3 and 4 (RFC 1833), answering as Debian's
// rpcbind 1.2.6 answers, so that rpcinfo, libtirpc, nmap and Wireshark cannot
// tell the two apart. cmd/portmapd runs it; Go programs and tests embed it.
//
// A [Server] is shaped like net/http's: create it with [New], set its fields,
// then call [Server.ListenAndServe], which opens UDP and TCP on port 111 of
// every IPv4 and IPv6 address and the unix socket /run/rpcbind.sock, or hand
// it listeners of your own with [Server.Serve] (TCP, unix) and
// [Server.ServePacket] (UDP). [Server.Shutdown] stops it. The server
// registers its own program 100000 entries for exactly the listeners it has.
//
// The [Registry] keeps the registrations in the order they were made, with
// hash indexes so that a lookup by (program, version, netid) costs the same
// however many there are. [Policy] says who may change it and how callers
// are held, safe by default: only callers on the local socket or on a
// loopback address may change it; CALLIT, BCAST and INDIRECT are not
// forwarded (Policy.Forward forwards them as rpcbind -r does); no UDP reply
// to a source off the loopback is larger than its call, and each such source
// is rate limited; access lists may refuse callers. Server.StateFile keeps
// the registrations on disk, every change written before it is acknowledged;
// Server.WarmStartDir loads the warm-start files of Debian's rpcbind -w;
// [ActivationFiles] and Server.Inherited take the sockets of systemd's socket
// activation.
//
// docs/server.md describes the behaviour procedure by procedure and lists
// where the server departs from rpcbind, and why; docs/security.md says what
// the defaults protect against and what the state file survives.
package server
