package testsupport

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// rpcinfoP is what Debian's rpcinfo -p prints for an rpcbind that holds only
// its own registrations.
const rpcinfoP = `   program vers proto   port  service
    100000    4   tcp    111  portmapper
    100000    3   tcp    111  portmapper
    100000    2   tcp    111  portmapper
    100000    4   udp    111  portmapper
    100000    3   udp    111  portmapper
    100000    2   udp    111  portmapper
`

func TestStartRpcbind(t *testing.T) {
	t.Parallel()
	if !Isolate(t) {
		return
	}
	Require(t, "rpcinfo")
	p := StartRpcbind(t)
	for _, args := range [][]string{
		{"-p"},              // the local socket
		{"-p", "127.0.0.1"}, // TCP
	} {
		out, err := exec.Command("rpcinfo", args...).CombinedOutput()
		if err != nil || string(out) != rpcinfoP {
			t.Errorf("rpcinfo %s: %v\n%s\nwant:\n%s", strings.Join(args, " "), err, out, rpcinfoP)
		}
	}
	if _, err := exec.Command("rpcinfo", "-u", "127.0.0.1", "portmapper", "2").Output(); err != nil {
		t.Errorf("rpcinfo -u 127.0.0.1 portmapper 2: %v", err)
	}

	p.Stop()
	select {
	case <-p.Done():
		if err := p.Err(); err != nil {
			t.Errorf("rpcbind ended with %v; it exits 0 on SIGTERM", err)
		}
	default:
		t.Errorf("Stop returned while rpcbind still ran")
	}
	if out, err := exec.Command("rpcinfo", "-p").CombinedOutput(); err == nil {
		t.Errorf("rpcinfo -p still answered after Stop:\n%s", out)
	}
}

// TestNonRootRegistration compiles a libtirpc helper, runs it as nobody, and
// sees rpcbind record nobody as the owner of what it registered.
func TestNonRootRegistration(t *testing.T) {
	t.Parallel()
	if !Isolate(t) {
		return
	}
	Require(t, "rpcinfo")
	source, err := os.ReadFile("testdata/pmapset.c")
	if err != nil {
		t.Fatal(err)
	}
	pmapset := BuildC(t, "pmapset", string(source))
	StartRpcbind(t)
	if out, err := AsUser(exec.Command(pmapset, "300001", "1", "udp", "4001"), Nobody, Nobody).CombinedOutput(); err != nil {
		t.Fatalf("pmapset as nobody: %v\n%s", err, out)
	}
	out, err := exec.Command("rpcinfo").CombinedOutput()
	if err != nil {
		t.Fatalf("rpcinfo: %v\n%s", err, out)
	}
	// 4001 = 15*256 + 161
	want := []string{"300001", "1", "udp", "0.0.0.0.15.161", "-", "65534"}
	found := false
	for _, line := range strings.Split(string(out), "\n") {
		found = found || slices.Equal(strings.Fields(line), want)
	}
	if !found {
		t.Errorf("rpcinfo lacks the row %q:\n%s", want, out)
	}
}
