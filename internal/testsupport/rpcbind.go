package testsupport

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
)

// RpcbindSocket is where rpcbind listens for local clients: in the test
// namespace's private /run.
const RpcbindSocket = "/run/rpcbind.sock"

// rpcbindUser is the account Debian's rpcbind package creates; its state
// directory /run/rpcbind belongs to it.
const rpcbindUser = "_rpc"

// StartRpcbind starts Debian's rpcbind in the foreground (-f) with args (for
// example "-r" to forward CALLIT, "-w" for a warm start) in the test
// namespace, waits until it answers on RpcbindSocket, on TCP 127.0.0.1:111
// and on UDP port 111, and stops it when the test ends. It must run inside
// Isolate.
func StartRpcbind(t testing.TB, args ...string) *Proc {
	t.Helper()
	mustBeInside(t, "StartRpcbind")
	return startRpcbind(t, nil, "/run", args)
}

// startRpcbind starts rpcbind in host's namespace (nil: the test namespace)
// with run as the /run it sees.
func startRpcbind(t testing.TB, host *Host, run string, args []string) *Proc {
	t.Helper()
	Require(t, "rpcbind")
	// rpcbind keeps its warm-start files in /run/rpcbind.
	state := filepath.Join(run, "rpcbind")
	if err := os.MkdirAll(state, 0o755); err != nil {
		t.Fatalf("testsupport: %v", err)
	}
	if u, err := user.Lookup(rpcbindUser); err == nil {
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(state, uid, gid); err != nil {
			t.Fatalf("testsupport: %v", err)
		}
	}
	p := host.StartCmd(t, host.command("rpcbind", append([]string{"-f"}, args...)...))
	p.WaitPort(t, "unix", filepath.Join(run, "rpcbind.sock"))
	p.WaitPort(t, "tcp", "127.0.0.1:111")
	p.WaitPort(t, "udp", "127.0.0.1:111")
	return p
}
