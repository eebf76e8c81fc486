// Package client calls the ONC RPC port mapper, program 100000: portmap
// version 2 (RFC 1833 §3) and rpcbind versions 3 and 4 (RFC 1833 §2).
//
// A [Client] talks to the port mapper of one host, over UDP, TCP or the local
// mapper's unix socket ([Local]), and has a method for every procedure of the
// three versions: Pmap* for version 2, Rpcb* and the version 4 extras for
// versions 3 and 4. On top of those it offers what tools need:
//
//   - [Client.Lookup] finds a program's address for a netid the way libtirpc's
//     rpcb_getaddr does: it asks over that netid's own transport (rpcbind
//     answers GETADDR for the transport the call arrived on, not for the netid
//     in the arguments), falls back from version 4 to 3 to 2, and replaces a
//     wildcard host with the address it reached;
//   - [Client.Dump] lists the registrations, moving from UDP to TCP when the
//     list does not fit a datagram;
//   - [Ping] and [PingVersions] call procedure 0 of any program at an
//     address, the latter discovering its versions as rpcinfo does;
//   - [Broadcast] sends CALLIT to every port mapper on the local networks
//     and collects the answers;
//   - for many hosts at once, [ParseTargets] reads host lists and CIDR
//     ranges, [Sweep] finds which addresses of a range answer with one
//     socket and one timeout, and [ForEach] asks hosts with bounded
//     concurrency, handing back the results in order.
//
// Every call takes a context whose deadline is the call's timeout; over UDP
// the call is retransmitted until then. Every failure is an [*rpc.Error]
// (reach it with errors.As) naming the transport, the address, the program,
// version and procedure, with the status libtirpc would report; its Text
// method gives libtirpc's words.
//
// A broken or hostile server costs a caller at most the call's deadline and a
// bounded amount of memory: replies are capped in size ([DefaultMaxReply]),
// lists in length ([portmap.MaxListEntries]) and strings by the limits of
// package portmap, each checked before anything is allocated for it.
package client
