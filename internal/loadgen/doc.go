// Package loadgen drives a port mapper (program 100000: portmap v2, rpcbind
// v3 and v4, RFC 1833) with concurrent clients and measures how fast it
// answers: calls per second, latency percentiles, errors and timeouts. It is
// the library of cmd/pmapload and of the side-by-side comparisons in bench/.
//
// # Clients
//
// Each client has a socket of its own (a connected UDP socket, or one TCP
// connection) and keeps Window calls in flight: closed-loop, the next call
// leaves when a reply (or a timeout) ends the previous one. Every call is the
// same pre-encoded message with its xid patched in, so nothing is encoded per
// call.
//
// Two engines carry the calls. [EngineRaw] (Linux; the default there) runs
// the clients from a few event loops over epoll on non-blocking sockets,
// about one sendto and one recvfrom per call, so that the generator outruns
// a single-threaded rpcbind on one core. [EngineRPC] runs each client as
// goroutines calling pkg/rpc's [rpc.Client.Call]: slower per call, and useful
// to check the raw engine's figures against the project's own client.
//
// # Bounds
//
// A run always ends by itself: after [Config.Duration] (default
// [DefaultDuration], at most [MaxDuration]) or [Config.Count] calls
// (default [DefaultCount], at most [MaxCount]), whichever comes first, or
// when its context ends. Clients are at most [MaxClients], the window at most
// [MaxWindow]. A call unanswered within [Config.Timeout] counts as a timeout
// and is not retransmitted.
//
// # Targets
//
// [CheckTarget] refuses every address but the loopback (127.0.0.0/8 and
// ::1) and TEST-NET-1 (192.0.2.0/24, RFC 5737, the addresses of the
// project's test namespaces): a load generator is a flood tool, and this one
// cannot be pointed at anybody else's host. Host names are not resolved,
// "localhost" aside.
package loadgen
