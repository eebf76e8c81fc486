// Package audit checks what an ONC RPC port mapper gives away: whether it can
// be used as a UDP reflector, whether it forwards remote calls, and, where the
// port mapper is firewalled, which RPC program hides behind a port.
//
// # Reflection audit
//
// [AuditHost] and [Audit] send each probe of [AllProbes] (DUMP of portmap v2
// and rpcbind v3 and v4, and rpcbind v4 GETSTAT) as one UDP datagram from an
// unconnected socket of its own, then count every datagram that comes back
// from the host during a window. The amplification factor of a probe is the
// bytes received over the bytes sent, both counted as IP payload (the 8-byte
// UDP header plus the RPC message; see [UDPHeaderLen]), every datagram and
// every retransmission included. A factor above [MaxSafeFactor] makes the host
// a reflector.
//
// Forwarding is tested with a program the mapper would really forward to: one
// registered over UDP that answers NULL when called directly. The audit asks
// the mapper to call that program's NULL procedure through portmap v2 CALLIT
// and rpcbind v4 INDIRECT, and reads a SUCCESS carrying the program's result
// as forwarding. A silence counts as a refusal only when the program is known
// to answer. See [Forwarding] for every rule.
//
// The audit is read-only: it never registers or removes anything. Its calls
// do show in the mapper's statistics (GETSTAT counts them), as any lookup does.
//
// # Program discovery
//
// [DiscoverTarget] and [Discover] find the programs served at a known
// address without asking the port mapper, as nmap's rpc-grind does: a NULL
// call with a version no program uses draws PROG_MISMATCH, with the range of
// versions served, from the right program and PROG_UNAVAIL from any other.
// A first call to an unassigned program number checks that the service
// answers PROG_UNAVAIL at all; a port that stays silent reports nothing and
// costs one call timeout. Calls run with bounded concurrency and a bounded
// rate ([DefaultCallParallel], [DefaultRate]).
//
// # Many targets
//
// [Audit] and [Discover] take a list of targets and work on a bounded number
// at once ([DefaultParallel]), each under a deadline of its own, returning
// their results in the order given and, if asked, reporting each as it is
// done. The results are plain structs with JSON tags; docs/security.md
// documents the schema.
package audit
