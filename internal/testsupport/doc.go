// Package testsupport is the harness the interop tests of every package share:
// it runs a test inside its own network, mount and pid namespace, starts
// Debian's rpcbind and other processes there, builds the project's commands and
// small C helpers against libtirpc, joins a second namespace host by a veth
// pair, silences ports with nftables, and runs children under another uid.
//
// The namespace is the safety net. Inside it port 111 and /run/rpcbind.sock
// are free even where the machine runs its own rpcbind, the only addresses are
// loopback and 192.0.2.0/24 (TEST-NET-1, RFC 5737), and every process a test
// starts dies with the namespace when the test process exits. The functions
// that change the network or /run refuse to run outside it.
//
// A test begins with
//
//	func TestSomething(t *testing.T) {
//		if !testsupport.Isolate(t) {
//			return // the test ran, in a namespace, in a child process
//		}
//		rpcbind := testsupport.StartRpcbind(t)
//		...
//	}
//
// Everything a test starts is stopped by t.Cleanup. Where root or a needed
// program is missing, the test is skipped with a message saying what is
// missing; when the environment variable CI is set it fails instead, so a CI
// run can never pass by skipping.
//
// The package imports "testing" and is meant for tests only.
package testsupport
