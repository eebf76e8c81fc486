package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/portmap-toolkit/pmap/internal/regfile"
	"github.com/portmap-toolkit/pmap/internal/testsupport"
)

func TestMain(m *testing.M) { os.Exit(testsupport.Main(m)) }

// pmapregPath is the C helper that registers through libtirpc's pmap_set
// and rpcb_set, as RPC services do (portmapd's interop tests use it too).
const pmapregPath = "../portmapd/testdata/pmapreg.c"

// register runs the helper with ops (see pmapreg.c) and fails the test if
// any of them fails.
func register(t *testing.T, ops ...string) {
	t.Helper()
	src, err := os.ReadFile(pmapregPath)
	if err != nil {
		t.Fatal(err)
	}
	helper := testsupport.BuildC(t, "pmapreg", string(src))
	out, err := exec.Command(helper, ops...).CombinedOutput()
	if err != nil {
		t.Fatalf("pmapreg %v: %v\n%s", ops, err, out)
	}
}

// seedOps turns testdata/seed-registrations.txt into pmap_set operations.
func seedOps(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("../../testdata/seed-registrations.txt")
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		ops = append(ops, "pmap_set")
		ops = append(ops, strings.Fields(line)...)
	}
	return ops
}

// rpcinfo runs Debian's rpcinfo and returns its standard output.
func rpcinfo(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(context.Background(), "rpcinfo", args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("rpcinfo %v: %v\n%s", args, err, errb.String())
	}
	return out.String()
}

// TestAgainstRpcbind checks pmapdump against Debian's rpcbind: its classic
// output is, line for line, pmap_dump's format applied to the fields
// rpcinfo -p shows, and its extended form lists what rpcinfo lists, over a
// registry with unknown programs and numbers at the ends of their ranges.
func TestAgainstRpcbind(t *testing.T) {
	if !testsupport.Isolate(t) {
		return
	}
	testsupport.StartRpcbind(t)
	register(t, seedOps(t)...)
	register(t,
		"pmap_set", "4294967295", "4294967295", "tcp", "65535",
		"pmap_set", "2147483648", "2147483647", "udp", "1",
		"pmap_set", "123456789", "0", "tcp", "256",
		"pmap_set", "400000", "1", "udp", "0",
		"rpcb_set", "100099", "2", "tcp6", "::.16.147",
		"rpcb_set", "100099", "3", "local", "/run/pmaptest.sock",
		"rpcb_set", "100098", "1", "tcp", "127.0.0.1.4.1",
		"rpcb_set", "4294967295", "1", "udp6", "::1.255.255")

	// Classic: what rpcinfo -p shows, in pmap_dump's columns.
	p := strings.Split(strings.TrimSuffix(rpcinfo(t, "-p"), "\n"), "\n")
	if len(p) < 2 || !strings.HasPrefix(p[0], "   program vers proto   port") {
		t.Fatalf("rpcinfo -p printed %q", p)
	}
	var want strings.Builder
	for _, row := range p[1:] {
		// "%10u%5u%6s%7u  %s": the program fills the first 10 columns (no
		// number is wider); a wide version may touch it, the rest are
		// apart.
		if len(row) < 10 {
			t.Fatalf("rpcinfo -p row %q", row)
		}
		f := append([]string{strings.TrimSpace(row[:10])}, strings.Fields(row[10:])...)
		if len(f) < 4 {
			t.Fatalf("rpcinfo -p row %q", row)
		}
		name := ""
		if len(f) > 4 {
			name = f[4]
		}
		fmt.Fprintf(&want, "%10s %4s %5s %6s  %s\n", f[0], f[1], f[2], f[3], name)
	}
	for _, args := range [][]string{nil, {"127.0.0.1"}, {"--socket", testsupport.RpcbindSocket, "-o", "classic"}} {
		got := pmapdump(t, args...)
		if got.code != exitOK || got.stderr != "" || got.stdout != want.String() {
			t.Errorf("pmapdump %v = %+v\nwant stdout\n%s", args, got, want.String())
		}
	}
	if !strings.Contains(want.String(), "4294967295 4294967295   tcp  65535  \n") || !strings.Contains(want.String(), "    400000    1   udp      0  \n") {
		t.Errorf("the registry lacks the extremes:\n%s", want.String())
	}

	// Extended: what rpcinfo lists (its service column aside), entry for entry.
	rows := strings.Split(strings.TrimSuffix(rpcinfo(t), "\n"), "\n")[1:]
	got := pmapdump(t, "-o", "extended")
	if got.code != exitOK || got.stderr != "" {
		t.Fatalf("pmapdump -o extended = %+v", got)
	}
	es, err := regfile.Parse(strings.NewReader(got.stdout))
	if err != nil {
		t.Fatalf("the extended form does not read back: %v", err)
	}
	if len(es) != len(rows) {
		t.Fatalf("pmapdump -o extended lists %d entries, rpcinfo %d:\n%s", len(es), len(rows), got.stdout)
	}
	for i, row := range rows {
		// "%10u%5u    %-9s %-22s %-10s %s": program version netid address service owner.
		f := append([]string{strings.TrimSpace(row[:min(10, len(row))])}, strings.Fields(row[min(10, len(row)):])...)
		e := es[i]
		if len(f) != 6 || f[0] != fmt.Sprint(e.Prog) || f[1] != fmt.Sprint(e.Vers) || f[2] != e.Netid || f[3] != e.Addr || f[5] != e.Owner {
			t.Errorf("entry %d = %+v, rpcinfo shows %q", i, e, row)
		}
	}
}
