package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portmap-toolkit/pmap/internal/testsupport"
	"github.com/portmap-toolkit/pmap/pkg/server"
)

// TestHostOption runs Debian's rpcbind and then portmapd with the same
// options, as /etc/default/rpcbind suggests them (-w -h ADDRESS -l, after
// the unit's -f), on a host whose second address is 192.0.2.1: rpcinfo must
// list the same own entries (UDP on the -h address and ::1, TCP on every
// address), and a peer must reach both over UDP and TCP at 192.0.2.1.
func TestHostOption(t *testing.T) {
	if !testsupport.Isolate(t) {
		return
	}
	testsupport.Require(t, "rpcbind", "rpcinfo")
	bin := filepath.Join(testsupport.BuildGo(t, "./cmd/portmapd"), "portmapd")
	peer := testsupport.Peer(t, "remote")
	args := []string{"-w", "-h", "192.0.2.1", "-l"}
	listing := func(who string) string {
		t.Helper()
		out, err := exec.Command("rpcinfo").CombinedOutput()
		if err != nil {
			t.Fatalf("%s: rpcinfo: %v\n%s", who, err, out)
		}
		for _, target := range [][]string{{"-u", "192.0.2.1", "100000", "2"}, {"-t", "192.0.2.1", "100000", "4"}} {
			ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
			cmd := peer.Command("rpcinfo", target...)
			out, err := exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...).CombinedOutput()
			cancel()
			if err != nil || !strings.Contains(string(out), "ready and waiting") {
				t.Errorf("%s: rpcinfo %v from the peer: %v\n%s", who, target, err, out)
			}
		}
		return string(out)
	}

	rb := testsupport.StartRpcbind(t, args...)
	want := listing("rpcbind")
	rb.Stop()
	os.Remove(server.DefaultSocketPath)

	pm := testsupport.Start(t, bin, append([]string{"-f"}, args...)...)
	pm.WaitPort(t, "unix", server.DefaultSocketPath)
	pm.WaitPort(t, "tcp", "127.0.0.1:111")
	pm.WaitPort(t, "udp", "127.0.0.1:111")
	got := listing("portmapd")
	pm.Stop()
	if err := pm.Err(); err != nil {
		t.Errorf("portmapd exited with %v", err)
	}
	if got != want {
		t.Errorf("rpcinfo lists, for rpcbind %v:\n%s\nand for portmapd:\n%s", args, want, got)
	}
	if !strings.Contains(pm.Output(), `msg="server: call"`) {
		t.Errorf("-l logged no call:\n%s", pm.Output())
	}
}
