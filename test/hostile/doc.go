// Package hostile holds the attack suites of the port mapper toolkit, and
// nothing else: it has no code of its own outside its tests.
//
// TestHostileClients attacks portmapd, built and run as a separate process
// in a test namespace, with truncated and garbage datagrams, every length
// field of a call at 0, at its limit and at 2^32-1, records claiming 2 GiB,
// endless non-final fragments, a slowloris, thousands of idle connections, a
// bounded UDP flood and the rpcbomb request (CVE-2017-8779). While each runs,
// a well-behaved client must be answered within 2 seconds, portmapd's peak
// resident memory (VmHWM) must stay under 64 MiB, and portmapd must not
// crash.
//
// TestHostileServers plays port mappers that never end a list, claim 4 GiB
// strings or 2 GiB fragments, answer with wrong xids forever, answer calls
// never made, drip bytes, close in the middle of a record or send garbage,
// against pkg/client and against every mode of rpcinfo, pmapdump and pmapset
// run as processes. Each must fail with exit status 1 and a clear message
// within its --timeout and 2 seconds, with a peak resident memory under
// 64 MiB, and never panic.
//
// docs/security.md gives the figures of these suites and the commands that
// produced them.
package hostile
