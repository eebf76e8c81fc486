package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/portmap-toolkit/pmap/internal/testsupport"
)

var transcript = flag.String("transcript", "", "write the commands and output of TestWalkthrough to this file (for docs/debugging.md)")

// firewall drops tcp and udp packets to port in h with a table of its own,
// which lift removes: the walkthrough opens the port again half-way.
func firewall(t *testing.T, h *testsupport.Host, port int) (lift func()) {
	t.Helper()
	nft := func(stdin string, args ...string) {
		cmd := h.Command("nft", args...)
		cmd.Stdin = strings.NewReader(stdin)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("nft %q: %v: %s", args, err, out)
		}
	}
	nft(fmt.Sprintf("table inet walkthrough {\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n"+
		"\t\tmeta l4proto { tcp, udp } th dport %d drop\n\t}\n}\n", port), "-f", "-")
	lifted := false
	lift = func() {
		if !lifted {
			lifted = true
			nft("", "delete", "table", "inet", "walkthrough")
		}
	}
	t.Cleanup(lift)
	return lift
}

// TestWalkthrough is the session of docs/debugging.md: an NFS server whose
// mounts hang (a stale mountd registration, a firewalled lock manager), found
// on the subnet by a scan, diagnosed with --nfs and --verify, and checked
// again once fixed. With -transcript FILE it writes what each command
// printed, which is what the document shows.
func TestWalkthrough(t *testing.T) {
	if !testsupport.Isolate(t) {
		return
	}
	testsupport.Require(t, "nft")
	nfs1 := testsupport.Peer(t, "nfs1")
	nfs1.StartRpcbind(t)
	m := newPeerMapper(t, nfs1)
	nfsServer(t, nfs1, m)
	lift := firewall(t, nfs1, portNlockmgr)
	backup := testsupport.Peer(t, "backup")
	startPortmapd(t, backup)

	var out strings.Builder
	run := func(wantRC int, args ...string) result {
		t.Helper()
		res := runOurs(t, nil, args...)
		fmt.Fprintf(&out, "$ rpcinfo %s\n%s%s", strings.Join(args, " "), res.out, res.err)
		if res.rc != 0 {
			fmt.Fprintf(&out, "[exit status %d]\n", res.rc)
		}
		out.WriteString("\n")
		if res.rc != wantRC {
			t.Errorf("rpcinfo %q: exit %d, want %d\n%v", args, res.rc, wantRC, res)
		}
		return res
	}
	a1, a2 := nfs1.Addr.String(), backup.Addr.String()

	res := run(0, "-s", "192.0.2.0/24")
	if !strings.Contains(res.out, a1+":\n") || !strings.Contains(res.out, a2+":\n") || !strings.Contains(res.out, "mountd") {
		t.Errorf("the scan did not find both mappers")
	}
	run(1, "--nfs", "--timeout", "2s", a1)
	run(1, "--verify", "--timeout", "2s", a1)
	res = run(1, "-u", a1, "mountd", "3")
	if !strings.Contains(res.err, "Connection refused") {
		t.Errorf("-u mountd 3: %v", res)
	}

	// The fix: rpc.mountd restarted (it registers udp at its port again),
	// the firewall opened for the lock manager.
	for v := uint32(1); v <= 3; v++ {
		m.unset(100005, v)
		m.set(100005, v, portMountd, "udp", "tcp")
	}
	lift()
	res = run(0, "--nfs", a1)
	if !strings.HasSuffix(res.out, ": 1 step with warnings\n") || strings.Contains(res.out, "failed") {
		t.Errorf("after the fix: %v", res)
	}
	run(0, "-o", "table", "--nfs", a1)
	res = run(0, "-o", "json", "-s", a1+","+a2)
	if docs := decodeLines(t, res.out); len(docs) != 2 {
		t.Errorf("JSON lines: %v", res)
	}

	if *transcript != "" {
		if err := os.WriteFile(*transcript, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
