package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/portmap-toolkit/pmap/internal/regfile"
	"github.com/portmap-toolkit/pmap/internal/testsupport"
)

func TestMain(m *testing.M) { os.Exit(testsupport.Main(m)) }

// pmapregPath is the C helper that registers through libtirpc's pmap_set
// and rpcb_set, as RPC services do (portmapd's interop tests use it too).
const pmapregPath = "../portmapd/testdata/pmapreg.c"

// register runs the helper with ops (see pmapreg.c), as nobody when asked,
// and fails the test if any of them fails.
func register(t *testing.T, asNobody bool, ops ...string) {
	t.Helper()
	src, err := os.ReadFile(pmapregPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(testsupport.BuildC(t, "pmapreg", string(src)), ops...)
	if asNobody {
		testsupport.AsUser(cmd, testsupport.Nobody, testsupport.Nobody)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pmapreg %v: %v\n%s", ops, err, out)
	}
}

// seedOps turns testdata/seed-registrations.txt into pmap_set operations.
func seedOps(t *testing.T) []string {
	t.Helper()
	var ops []string
	for _, line := range strings.Split(strings.TrimSpace(seed(t)), "\n") {
		ops = append(ops, "pmap_set")
		ops = append(ops, strings.Fields(line)...)
	}
	return ops
}

// v3Ops are rpcbind registrations beyond the seed's v2 ones: IPv6, a local
// socket, a specific host.
var v3Ops = []string{
	"rpcb_set", "100003", "4", "tcp6", "::.8.1",
	"rpcb_set", "100003", "4", "udp6", "::.8.1",
	"rpcb_set", "100099", "3", "local", "/run/pmaptest.sock",
	"rpcb_set", "100098", "1", "tcp", "127.0.0.1.4.1",
	"rpcb_set", "100227", "3", "tcp", "0.0.0.0.8.1",
}

// command runs a program and returns its standard output, failing the test
// when it fails.
func command(t *testing.T, name string, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(context.Background(), name, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, errb.String())
	}
	return out.String()
}

// listings are what Debian's rpcinfo -p and -s print, the owner column of
// -s left out (the port mapper decides owners).
func listings(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(command(t, "rpcinfo", "-p"))
	for _, row := range strings.SplitAfter(command(t, "rpcinfo", "-s"), "\n") {
		if i := strings.LastIndexByte(strings.TrimRight(row, "\n"), ' '); i > 0 {
			row = strings.TrimRight(row[:i], " ") + "\n"
		}
		b.WriteString(row)
	}
	return b.String()
}

// portMapper starts one kind of port mapper on port 111 and
// /run/rpcbind.sock, and returns its stop function.
type portMapper struct {
	name  string
	start func(t *testing.T) func()
}

func mappers(t *testing.T) (rpcbind, portmapd portMapper) {
	bins := testsupport.BuildGo(t, "./cmd/portmapd", "./cmd/pmapdump")
	rpcbind = portMapper{"rpcbind", func(t *testing.T) func() {
		return testsupport.StartRpcbind(t).Stop
	}}
	portmapd = portMapper{"portmapd", func(t *testing.T) func() {
		p := testsupport.Start(t, filepath.Join(bins, "portmapd"), "--log-level", "warn")
		p.WaitPort(t, "unix", testsupport.RpcbindSocket)
		p.WaitPort(t, "tcp", "127.0.0.1:111")
		p.WaitPort(t, "udp", "127.0.0.1:111")
		return p.Stop
	}}
	return rpcbind, portmapd
}

// pmapdumpBin returns the path of the built pmapdump.
func pmapdumpBin(t *testing.T) string {
	return filepath.Join(testsupport.BuildGo(t, "./cmd/portmapd", "./cmd/pmapdump"), "pmapdump")
}

// TestRoundTrip saves the registrations of one port mapper with pmapdump,
// restores them into the other with pmapset, and compares what Debian's
// rpcinfo -p and -s show of both; in both directions between Debian's
// rpcbind and portmapd.
func TestRoundTrip(t *testing.T) {
	if !testsupport.Isolate(t) {
		return
	}
	testsupport.Require(t, "rpcbind", "rpcinfo")
	rpcbind, portmapd := mappers(t)
	for _, pair := range [][2]portMapper{{rpcbind, portmapd}, {portmapd, rpcbind}} {
		from, to := pair[0], pair[1]
		t.Run(from.name+"_to_"+to.name, func(t *testing.T) {
			stop := from.start(t)
			register(t, false, seedOps(t)...)
			register(t, false, v3Ops...)
			register(t, true, "pmap_set", "300001", "1", "tcp", "30002") // owned by nobody's uid
			want := listings(t)
			dump := command(t, pmapdumpBin(t), "-o", "extended")
			stop()

			stop = to.start(t)
			defer stop()
			got := pmapset(t, strings.NewReader(dump))
			wantErr := "pmapset: owner not restored for 1 entry (line 39): recorded \"65534\", the port mapper gave \"superuser\"\n" +
				"pmapset: the port mapper decides owners: \"superuser\" needs root over its local socket\n"
			if got.code != exitOK || got.stdout != "" || got.stderr != wantErr {
				t.Errorf("pmapset = %+v\nwant stderr %q\ninput:\n%s", got, wantErr, dump)
			}
			if now := listings(t); now != want {
				t.Errorf("after the round trip rpcinfo shows\n%s\nbefore it showed\n%s", now, want)
			}
		})
	}
}

// TestMalformedAgainstRpcbind feeds malformed files to pmapset against
// Debian's rpcbind: nothing is registered, and the error says where.
func TestMalformedAgainstRpcbind(t *testing.T) {
	if !testsupport.Isolate(t) {
		return
	}
	testsupport.StartRpcbind(t)
	register(t, false, seedOps(t)...)
	before := listings(t)
	good := "300000 1 tcp 3000\n300000 1 udp 3000\n"
	tests := []struct {
		name string
		in   func() io.Reader
		want string
	}{
		{"bad number", func() io.Reader { return bytes.NewReader([]byte(good + "300000 1x tcp 3001\n")) },
			`pmapset: stdin: malformed line 3: bad version number "1x": "300000 1x tcp 3001"`},
		{"unknown protocol", func() io.Reader { return bytes.NewReader([]byte(good + "300001 1 sctp 3001\n")) },
			`pmapset: stdin: malformed line 3: unknown protocol "sctp" (want tcp, udp or a number)`},
		{"too few fields", func() io.Reader { return bytes.NewReader([]byte("300001 1 tcp\n" + good)) },
			`pmapset: stdin: malformed line 1: too few fields`},
		{"binary garbage", func() io.Reader { return bytes.NewReader([]byte(good + "\x00\x01\x02\xff\n" + good)) },
			`pmapset: stdin: malformed line 3: binary data (byte 0x00 at column 1)`},
		{"100 MB line", func() io.Reader {
			return io.MultiReader(strings.NewReader(good), &repeatReader{b: '9', n: 100 << 20}, strings.NewReader("\n"+good))
		}, `pmapset: stdin: malformed line 3: line longer than 32768 bytes: "999999`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, mode := range [][]string{nil, {"--sync"}} {
				got := pmapset(t, tt.in(), mode...)
				if got.code != exitFail || got.stdout != "" || !strings.Contains(got.stderr, tt.want) ||
					!strings.HasSuffix(got.stderr, "pmapset: nothing registered: stdin is malformed\n") {
					t.Errorf("pmapset %v = %+v\nwant exit 1 and stderr holding %q", mode, got, tt.want)
				}
				if now := listings(t); now != before {
					t.Errorf("the registry changed:\n%s", now)
				}
			}
		})
	}
}

// TestSyncAgainstRpcbind synchronises Debian's rpcbind with a file that
// differs from it both ways, after a dry run that changes nothing.
func TestSyncAgainstRpcbind(t *testing.T) {
	if !testsupport.Isolate(t) {
		return
	}
	testsupport.StartRpcbind(t)
	register(t, false, seedOps(t)...)
	register(t, false, v3Ops...)
	file := "" +
		"100003 2 udp 2049 nfs\n" + // kept (in the registry)
		"100003 3 tcp 2049 nfs\n" + // kept
		"100003 4 tcp6 ::.8.1 superuser nfs\n" + // kept
		"100024 1 udp 32771 status\n" + // moved: removed, then added
		"100099 3 local /run/pmaptest.sock superuser\n" + // kept
		"100000 2 tcp 9999 portmapper\n" + // never touched
		"300000 1 udp 0.0.0.0.117.48 superuser\n" + // added
		"300001 1 tcp 30002\n" // added
	before := listings(t)
	dump := func() []regfile.Entry {
		es, err := regfile.Parse(strings.NewReader(command(t, pmapdumpBin(t), "-o", "extended")))
		if err != nil {
			t.Fatal(err)
		}
		return es
	}
	current := dump()

	plan := pmapset(t, strings.NewReader(file), "--sync", "--dry-run")
	if now := listings(t); now != before {
		t.Errorf("--dry-run changed the registry:\n%s", now)
	}
	got := pmapset(t, strings.NewReader(file), "--sync")
	if got.code != exitOK || got.stderr != "" {
		t.Fatalf("pmapset --sync = %+v", got)
	}
	// The dry run foresaw exactly what --sync did.
	var foreseen []string
	for _, l := range strings.Split(strings.TrimSuffix(plan.stdout, "\n"), "\n") {
		if strings.HasPrefix(l, "would ") {
			foreseen = append(foreseen, strings.TrimPrefix(strings.Replace(l, "would remove: ", "removed: ", 1), "would "))
		}
	}
	foreseen = fixAdded(foreseen)
	if did := strings.Split(strings.TrimSuffix(got.stdout, "\n"), "\n"); !reflect.DeepEqual(did, foreseen) {
		t.Errorf("--sync printed\n%s\n--dry-run foresaw\n%s", got.stdout, plan.stdout)
	}
	if !strings.HasSuffix(plan.stdout, "dry run: 3 to add, 21 to remove, 4 already registered, 0 not registered, 1 skipped (program 100000)\n") {
		t.Errorf("--dry-run summary: %s", plan.stdout)
	}

	// Removed: every registration of the old registry that the file does not
	// hold, program 100000's aside; added: what the file has in addition.
	var removed, added []string
	fileEntries := entries(t, file)
	for _, c := range current {
		if c.Prog == 100000 {
			continue
		}
		held := false
		for _, f := range fileEntries {
			held = held || holds(c, f)
		}
		if !held {
			removed = append(removed, "removed: "+line(c))
		}
	}
	for _, f := range fileEntries[3:] {
		if f.Prog != 100000 && f.Prog != 100099 {
			added = append(added, "added: "+line(f))
		}
	}
	if did := strings.Split(strings.TrimSuffix(got.stdout, "\n"), "\n"); !reflect.DeepEqual(did, append(removed, added...)) {
		t.Errorf("--sync printed\n%s\nwant\n%s", got.stdout, strings.Join(append(removed, added...), "\n"))
	}

	// The mapper now holds exactly the file's entries, and its own.
	var have, want []string
	for _, c := range dump() {
		if c.Prog != 100000 {
			have = append(have, fmt.Sprintf("%d %d %s %s", c.Prog, c.Vers, c.Netid, c.Addr))
		}
	}
	for _, f := range fileEntries {
		if f.Prog != 100000 {
			r := f.RPCB()
			want = append(want, fmt.Sprintf("%d %d %s %s", r.Prog, r.Vers, r.Netid, r.Addr))
		}
	}
	sort.Strings(have)
	sort.Strings(want)
	if !reflect.DeepEqual(have, want) {
		t.Errorf("after --sync the mapper holds\n%s\nwant\n%s", strings.Join(have, "\n"), strings.Join(want, "\n"))
	}
	// A second run finds nothing to do.
	if again := pmapset(t, strings.NewReader(file), "--sync"); again.code != exitOK || again.stdout != "" || again.stderr != "" {
		t.Errorf("second --sync = %+v", again)
	}
}

// fixAdded turns the dry run's "add: LINE" into --sync's "added: LINE".
func fixAdded(l []string) []string {
	for i, s := range l {
		if rest, ok := strings.CutPrefix(s, "add: "); ok {
			l[i] = "added: " + rest
		}
	}
	return l
}
