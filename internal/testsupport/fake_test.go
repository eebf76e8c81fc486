package testsupport

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestServeFake pings fake programs with Debian's rpcinfo, whose version
// discovery (version 0, then each version of the PROG_MISMATCH range) must
// find exactly the versions served. Debian's rpcinfo asks the port mapper for
// the program's address even when -n gives the port, so the fakes are
// registered (with libtirpc's pmap_set) with an rpcbind beside them.
func TestServeFake(t *testing.T) {
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
	register := func(command func(string, ...string) *exec.Cmd, f *FakeService) {
		for v := f.Low; v <= f.High; v++ {
			for proto, port := range map[string]uint16{"udp": f.UDP.Port(), "tcp": f.TCP.Port()} {
				out, err := command(pmapset, fmt.Sprint(f.Prog), fmt.Sprint(v), proto, fmt.Sprint(port)).CombinedOutput()
				if err != nil {
					t.Fatalf("registering %d v%d %s: %v\n%s", f.Prog, v, proto, err, out)
				}
			}
		}
	}
	StartRpcbind(t)
	local := ServeFake(t, 300100, 2, 4)
	register(exec.Command, local)
	peer := Peer(t, "f")
	peer.StartRpcbind(t)
	remote := peer.ServeFake(t, 300101, 1, 1)
	register(peer.Command, remote)
	tests := []struct {
		fake   *FakeService
		flag   string
		port   uint16
		versus []uint32
	}{
		{local, "-u", local.UDP.Port(), []uint32{2, 3, 4}},
		{local, "-t", local.TCP.Port(), []uint32{2, 3, 4}},
		{remote, "-u", remote.UDP.Port(), []uint32{1}},
		{remote, "-t", remote.TCP.Port(), []uint32{1}},
	}
	for _, tc := range tests {
		host := tc.fake.UDP.Addr().String()
		args := []string{"-n", fmt.Sprint(tc.port), tc.flag, host, fmt.Sprint(tc.fake.Prog)}
		var want strings.Builder
		for _, v := range tc.versus {
			fmt.Fprintf(&want, "program %d version %d ready and waiting\n", tc.fake.Prog, v)
		}
		before := tc.fake.Calls()
		out, err := exec.Command("rpcinfo", args...).CombinedOutput()
		if err != nil || string(out) != want.String() {
			t.Errorf("rpcinfo %s: %v\n%s\nwant:\n%s", strings.Join(args, " "), err, out, want.String())
		}
		if got := tc.fake.Calls() - before; got != int64(len(tc.versus)) {
			t.Errorf("rpcinfo %s: the fake counted %d NULL calls, want %d", strings.Join(args, " "), got, len(tc.versus))
		}
	}
}
