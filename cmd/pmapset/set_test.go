package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/internal/cliutil"
	"github.com/portmap-toolkit/pmap/internal/regfile"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

var update = flag.Bool("update", false, "rewrite pmapset.8 from the command's definition")

// localOwner is the owner a port mapper gives what this process registers
// over its unix socket.
func localOwner() string {
	if os.Geteuid() == 0 {
		return "superuser"
	}
	return strconv.Itoa(os.Geteuid())
}

// seedRPCB is what the seed table looks like in the registry once
// registered with v2 SET by a caller the mapper calls owner.
func seedRPCB(t *testing.T, owner string) []portmap.RPCB {
	t.Helper()
	es, err := regfile.Parse(strings.NewReader(seed(t)))
	if err != nil {
		t.Fatal(err)
	}
	var l []portmap.RPCB
	for _, e := range es {
		r := e.RPCB()
		r.Owner = owner
		l = append(l, r)
	}
	return l
}

// extendedLines are rpcbind entries of every netid, and one of program
// 100000 that pmapset must leave alone.
const extendedLines = "" +
	"    100003    4  tcp6 ::.8.1                  superuser  nfs\n" +
	"    100005    3 local /run/mountd.sock        superuser  mountd\n" +
	"    200000    1   udp 127.0.0.1.3.4           unknown\n" +
	"    100000    4   tcp 0.0.0.0.0.111           superuser  portmapper\n"

func TestRegister(t *testing.T) {
	for _, via := range []string{"tcp", "unix"} {
		t.Run(via, func(t *testing.T) {
			tm := startMapper(t)
			args, owner := tm.TCPArgs(), "unknown"
			if via == "unix" {
				args, owner = tm.UnixArgs(), localOwner()
			}
			in := seed(t) + "# rpcbind entries\n" + extendedLines
			got := pmapset(t, strings.NewReader(in), args...)
			if got.code != exitOK || got.stdout != "" {
				t.Fatalf("pmapset = %+v, want exit 0 and no output", got)
			}
			want := append(seedRPCB(t, owner),
				rb(100003, 4, "tcp6", "::.8.1", owner),
				rb(100005, 3, "local", "/run/mountd.sock", owner),
				rb(200000, 1, "udp", "127.0.0.1.3.4", owner))
			if others := tm.Others(); !reflect.DeepEqual(others, want) {
				t.Fatalf("registry =\n%v\nwant, in file order,\n%v", others, want)
			}
			// The owners the mapper did not keep are named, by line.
			var wantErr string
			switch owner {
			case "superuser":
				wantErr = `pmapset: owner not restored for 1 entry (line 24): recorded "unknown", the port mapper gave "superuser"` + "\n"
			case "unknown":
				wantErr = `pmapset: owner not restored for 2 entries (lines 22-23): recorded "superuser", the port mapper gave "unknown"` + "\n"
			default:
				wantErr = fmt.Sprintf("pmapset: owner not restored for 2 entries (lines 22-23): recorded \"superuser\", the port mapper gave %q\n"+
					"pmapset: owner not restored for 1 entry (line 24): recorded \"unknown\", the port mapper gave %[1]q\n", owner)
			}
			wantErr += "pmapset: the port mapper decides owners: \"superuser\" needs root over its local socket\n"
			if got.stderr != wantErr {
				t.Errorf("stderr =\n%s\nwant\n%s", got.stderr, wantErr)
			}

			// Running the same file again is harmless.
			before := tm.Srv.Registry().Dump()
			again := pmapset(t, strings.NewReader(in), args...)
			if again.code != exitOK || again.stdout != "" {
				t.Errorf("second run = %+v, want exit 0 and no output", again)
			}
			if after := tm.Srv.Registry().Dump(); !reflect.DeepEqual(after, before) {
				t.Errorf("second run changed the registry:\n%v\n%v", before, after)
			}
		})
	}
}

func TestRegisterFromFileAndJSON(t *testing.T) {
	tm := startMapper(t)
	path := t.TempDir() + "/dump.json"
	doc := `{"schema": "pmap.pmapdump/v1", "kind": "registrations", "host": "", "registrations": [
  {"program": 100003, "version": 3, "netid": "tcp", "address": "0.0.0.0.8.1", "service": "nfs", "owner": "unknown"},
  {"program": 100003, "version": 3, "netid": "udp", "address": "0.0.0.0.8.1", "service": "nfs", "owner": "unknown"}
]}`
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	got := pmapset(t, nil, append([]string{"--file", path}, tm.TCPArgs()...)...)
	if got.code != exitOK || got.stdout != "" || got.stderr != "" {
		t.Fatalf("pmapset = %+v", got)
	}
	want := []portmap.RPCB{v2(100003, 3, "tcp", 2049, "unknown"), v2(100003, 3, "udp", 2049, "unknown")}
	if others := tm.Others(); !reflect.DeepEqual(others, want) {
		t.Errorf("registry = %v, want %v", others, want)
	}
	missing := pmapset(t, nil, append([]string{"-f", path + ".missing"}, tm.TCPArgs()...)...)
	if missing.code != exitFail || !strings.Contains(missing.stderr, "no such file or directory") {
		t.Errorf("missing file: %+v", missing)
	}
}

// TestRefusedEntries checks that an entry the mapper refuses is reported
// with the line and the reason, and that the others are registered.
func TestRefusedEntries(t *testing.T) {
	tm := startMapper(t)
	tm.Set(t, v2(100003, 3, "tcp", 2050, "superuser"))
	got := pmapset(t, strings.NewReader(seed(t)), tm.TCPArgs()...)
	wantErr := `pmapset: not registered: 100003    3   tcp   2049 (line 5: the port mapper holds program 100003 version 3 on tcp at 0.0.0.0.8.2, owned by "superuser")` + "\n"
	if got.code != exitFail || got.stdout != "" || got.stderr != wantErr {
		t.Fatalf("pmapset = %+v\nwant stderr %q", got, wantErr)
	}
	want := seedRPCB(t, "unknown")
	want = append(want[:4], want[5:]...)
	want = append([]portmap.RPCB{v2(100003, 3, "tcp", 2050, "superuser")}, want...)
	if others := tm.Others(); !reflect.DeepEqual(others, want) {
		t.Errorf("registry =\n%v\nwant\n%v", others, want)
	}
}

// TestMalformedRegistersNothing feeds malformed inputs and checks that the
// mapper is not even asked, and that the error says where the problem is.
func TestMalformedRegistersNothing(t *testing.T) {
	good := "100003 3 tcp 2049\n100003 3 udp 2049\n"
	tests := []struct {
		name string
		in   io.Reader
		want []string // parts of stderr
	}{
		{"bad program number", strings.NewReader(good + "10000x 3 tcp 2049\n"),
			[]string{`pmapset: stdin: malformed line 3: bad program number "10000x": "10000x 3 tcp 2049"`}},
		{"version out of range", strings.NewReader(good + "100003 4294967296 tcp 2049\n"),
			[]string{`malformed line 3: bad version number "4294967296"`}},
		{"bad port", strings.NewReader("100003 3 tcp 99999\n" + good),
			[]string{`malformed line 1: bad port "99999" (want 0 to 65535)`}},
		{"unknown protocol", strings.NewReader(good + good[:18] + "100003 3 sctp 2049\n"),
			[]string{`malformed line 4: unknown protocol "sctp" (want tcp, udp or a number): "100003 3 sctp 2049"`}},
		{"too few fields", strings.NewReader(good + "100003 3 tcp\n"),
			[]string{`malformed line 3: too few fields`}},
		{"binary garbage", strings.NewReader(good + "\x7fELF\x02\x01\x01\x00\x00\x00\n"),
			[]string{`malformed line 3: binary data (byte 0x7f at column 1): "\x7fELF\x02\x01\x01\x00\x00\x00"`}},
		{"100 MB line", io.MultiReader(strings.NewReader(good), &repeatReader{b: '7', n: 100 << 20}, strings.NewReader("\n"+good)),
			[]string{`malformed line 3: line longer than 32768 bytes: "7777777`, "stdin: input longer than 67108864 bytes: stopped reading at line 3"}},
		{"bad JSON value", strings.NewReader(`{"schema": "pmap.pmapdump/v1", "kind": "mappings", "mappings": [` + "\n" +
			`{"program": 1, "version": -2, "protocol": "tcp", "port": 1}]}`),
			[]string{`malformed line 2: bad JSON value for "version": number -2 cannot be a uint32`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tm := startMapper(t)
			for _, mode := range [][]string{nil, {"--sync"}, {"--unset"}} {
				before := tm.Srv.Registry().Dump()
				in := tt.in
				if mode != nil { // the reader is spent: use a small bad input
					in = strings.NewReader("100003 3 tcp\n")
				}
				got := pmapset(t, in, append(mode, tm.TCPArgs()...)...)
				if got.code != exitFail || got.stdout != "" {
					t.Errorf("%v: pmapset = %+v, want exit 1 and no output", mode, got)
				}
				if mode == nil {
					for _, w := range tt.want {
						if !strings.Contains(got.stderr, w) {
							t.Errorf("stderr %q\nlacks %q", got.stderr, w)
						}
					}
				}
				if !strings.HasSuffix(got.stderr, "pmapset: nothing registered: stdin is malformed\n") {
					t.Errorf("stderr %q does not say that nothing was registered", got.stderr)
				}
				if after := tm.Srv.Registry().Dump(); !reflect.DeepEqual(after, before) {
					t.Errorf("%v: the registry changed:\n%v\n%v", mode, before, after)
				}
			}
		})
	}
}

// repeatReader yields n bytes b without holding them.
type repeatReader struct {
	b byte
	n int64
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	k := min(int64(len(p)), r.n)
	for i := range p[:k] {
		p[i] = r.b
	}
	r.n -= k
	return int(k), nil
}

func TestUnset(t *testing.T) {
	tm := startMapper(t)
	tm.Set(t, seedRPCB(t, "unknown")...)
	tm.Set(t, rb(100003, 4, "tcp6", "::.8.1", "superuser"), rb(300000, 1, "udp", "0.0.0.0.1.1", "unknown"))
	in := "" +
		"100003 2 udp 2049 nfs\n" + // held: removed
		"100003 4 tcp6 ::.8.1 superuser nfs\n" + // held, another owner: a non-superuser over TCP may not
		"100005 1 tcp 999\n" + // held at another port: not removed
		"400000 1 tcp 5\n" + // absent: nothing to do
		"100000 2 tcp 111\n" // the mapper's own: left alone
	got := pmapset(t, strings.NewReader(in), append([]string{"--unset"}, tm.TCPArgs()...)...)
	wantOut := "removed: 100003    2   udp 0.0.0.0.8.1             unknown    nfs\n"
	wantErr := "" +
		`pmapset: not removed: 100003    4  tcp6 ::.8.1                  superuser  nfs (the port mapper refused: the entry is owned by "superuser", and only its owner or the superuser may remove it)` + "\n" +
		`pmapset: not removed: 100005    1   tcp    999 (line 3: the port mapper holds program 100005 version 1 on tcp at 0.0.0.0.2.133, owned by "unknown")` + "\n"
	if got.code != exitFail || got.stdout != wantOut || got.stderr != wantErr {
		t.Fatalf("pmapset --unset = %+v\nwant stdout %q\nstderr %q", got, wantOut, wantErr)
	}
	if _, ok := tm.Srv.Registry().Lookup(100003, 2, "udp", false); ok {
		t.Error("100003 v2 udp is still registered")
	}
	if _, ok := tm.Srv.Registry().Lookup(100003, 2, "tcp", false); !ok {
		t.Error("unsetting udp removed 100003 v2 tcp too")
	}
	if r, ok := tm.Srv.Registry().Lookup(100000, 2, "tcp", false); !ok || r.Owner != "superuser" {
		t.Error("the mapper's own entry was touched")
	}

	// As the owner (over the unix socket as root) it works, and again is fine.
	if os.Geteuid() == 0 {
		in2 := "100003 4 tcp6 ::.8.1 superuser nfs\n400000 1 tcp 5\n"
		got = pmapset(t, strings.NewReader(in2), append([]string{"--unset"}, tm.UnixArgs()...)...)
		if got.code != exitOK || got.stdout != "removed: 100003    4  tcp6 ::.8.1                  superuser  nfs\n" || got.stderr != "" {
			t.Errorf("pmapset --unset as root = %+v", got)
		}
		got = pmapset(t, strings.NewReader(in2), append([]string{"--unset"}, tm.UnixArgs()...)...)
		if got.code != exitOK || got.stdout != "" || got.stderr != "" {
			t.Errorf("pmapset --unset again = %+v", got)
		}
	}
}

// syncSetup fills a mapper with registrations that differ from syncFile both
// ways.
func syncSetup(t *testing.T) *testMapper {
	tm := startMapper(t)
	tm.Set(t,
		v2(100003, 3, "tcp", 2049, "unknown"),           // in the file: kept
		v2(100021, 1, "udp", 32770, "unknown"),          // not in the file: removed
		rb(100005, 3, "tcp6", "::.2.133", "unknown"),    // at another address in the file: replaced
		v2(100003, 3, "udp", 2049, "unknown"),           // in the file: kept
		rb(100024, 1, "local", "/run/statd", "unknown"), // not in the file: removed
	)
	return tm
}

const syncFile = "" +
	"    100003    3   udp   2049  nfs\n" +
	"    100003    3   tcp   2049  nfs\n" +
	"    100005    3  tcp6 ::.2.134                unknown    mountd\n" +
	"    100000    2   tcp   9999  portmapper\n" +
	"    100227    3   tcp   2049  nfs_acl\n"

func TestSync(t *testing.T) {
	tm := syncSetup(t)
	own := tm.Srv.Registry().Dump()[:5]
	got := pmapset(t, strings.NewReader(syncFile), append([]string{"--sync"}, tm.TCPArgs()...)...)
	wantOut := "" +
		"removed: 100021    1   udp 0.0.0.0.128.2           unknown    nlockmgr\n" +
		"removed: 100005    3  tcp6 ::.2.133                unknown    mountd\n" +
		"removed: 100024    1 local /run/statd              unknown    status\n" +
		"added: 100005    3  tcp6 ::.2.134                unknown    mountd\n" +
		"added: 100227    3   tcp   2049  nfs_acl\n"
	if got.code != exitOK || got.stdout != wantOut || got.stderr != "" {
		t.Fatalf("pmapset --sync = %+v\nwant stdout\n%s", got, wantOut)
	}
	want := []portmap.RPCB{
		v2(100003, 3, "tcp", 2049, "unknown"),
		v2(100003, 3, "udp", 2049, "unknown"),
		rb(100005, 3, "tcp6", "::.2.134", "unknown"),
		v2(100227, 3, "tcp", 2049, "unknown"),
	}
	if others := tm.Others(); !reflect.DeepEqual(others, want) {
		t.Errorf("registry after --sync =\n%v\nwant\n%v", others, want)
	}
	if now := tm.Srv.Registry().Dump()[:5]; !reflect.DeepEqual(now, own) {
		t.Errorf("--sync touched program 100000: %v", now)
	}
	// Synchronised, a second --sync changes nothing.
	again := pmapset(t, strings.NewReader(syncFile), append([]string{"--sync"}, tm.TCPArgs()...)...)
	if again.code != exitOK || again.stdout != "" || again.stderr != "" {
		t.Errorf("second --sync = %+v", again)
	}
}

// TestSyncRefusesEmptyInput checks that an input without entries (the
// output of a pmapdump that failed, say) does not wipe the registry.
func TestSyncRefusesEmptyInput(t *testing.T) {
	tm := syncSetup(t)
	before := tm.Srv.Registry().Dump()
	for _, in := range []string{"", "# only a comment\n\n"} {
		got := pmapset(t, strings.NewReader(in), append([]string{"--sync"}, tm.TCPArgs()...)...)
		want := "pmapset: stdin holds no entries: --sync would remove every registration; nothing done\n"
		if got.code != exitFail || got.stdout != "" || got.stderr != want {
			t.Errorf("pmapset --sync < %q = %+v", in, got)
		}
	}
	if after := tm.Srv.Registry().Dump(); !reflect.DeepEqual(after, before) {
		t.Errorf("the registry changed:\n%v\n%v", before, after)
	}
	// Without --sync an empty input is nothing to do.
	if got := pmapset(t, strings.NewReader(""), tm.TCPArgs()...); got.code != exitOK || got.stdout != "" || got.stderr != "" {
		t.Errorf("pmapset < /dev/null = %+v", got)
	}
}

func TestDryRun(t *testing.T) {
	tests := []struct {
		name string
		args []string
		in   string
		code int
		want string
	}{
		{"sync", []string{"--sync", "--dry-run"}, syncFile, exitOK, "" +
			"would remove: 100021    1   udp 0.0.0.0.128.2           unknown    nlockmgr\n" +
			"would remove: 100005    3  tcp6 ::.2.133                unknown    mountd\n" +
			"would remove: 100024    1 local /run/statd              unknown    status\n" +
			"would add: 100005    3  tcp6 ::.2.134                unknown    mountd\n" +
			"would add: 100227    3   tcp   2049  nfs_acl\n" +
			"dry run: 2 to add, 3 to remove, 2 already registered, 0 not registered, 1 skipped (program 100000)\n"},
		{"set", []string{"-n"}, syncFile, exitFail, "" +
			"would not register: 100005    3  tcp6 ::.2.134                unknown    mountd (line 3: the port mapper holds program 100005 version 3 on tcp6 at ::.2.133, owned by \"unknown\")\n" +
			"would add: 100227    3   tcp   2049  nfs_acl\n" +
			"dry run: 1 to add, 0 to remove, 2 already registered, 0 not registered, 1 skipped (program 100000), 1 would fail\n"},
		{"unset", []string{"--unset", "--dry-run"}, syncFile, exitFail, "" +
			"would remove: 100003    3   udp 0.0.0.0.8.1             unknown    nfs\n" +
			"would remove: 100003    3   tcp 0.0.0.0.8.1             unknown    nfs\n" +
			"would not remove: 100005    3  tcp6 ::.2.134                unknown    mountd (line 3: the port mapper holds program 100005 version 3 on tcp6 at ::.2.133, owned by \"unknown\")\n" +
			"dry run: 0 to add, 2 to remove, 0 already registered, 1 not registered, 1 skipped (program 100000), 1 would fail\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tm := syncSetup(t)
			before := tm.Srv.Registry().Dump()
			got := pmapset(t, strings.NewReader(tt.in), append(tt.args, tm.TCPArgs()...)...)
			if got.code != tt.code || got.stdout != tt.want || got.stderr != "" {
				t.Errorf("pmapset %v = %+v\nwant exit %d, stdout\n%s", tt.args, got, tt.code, tt.want)
			}
			if after := tm.Srv.Registry().Dump(); !reflect.DeepEqual(after, before) {
				t.Errorf("a dry run changed the registry:\n%v\n%v", before, after)
			}
		})
	}
}

// TestPipelined restores many entries through a mapper that reads its
// calls in order and answers each after a delay, and checks that they went
// out in file order, many in flight, in far less time than one round trip
// after another would take.
func TestPipelined(t *testing.T) {
	const n, delay = 400, 20 * time.Millisecond
	sm := startSeqMapper(t, &seqMapper{delay: delay})
	var in strings.Builder
	for i := range n {
		if i%2 == 0 {
			fmt.Fprintf(&in, "%d 1 udp %d\n", 300000+i, 1000+i)
		} else {
			fmt.Fprintf(&in, "%d 1 tcp6 ::.3.%d superuser\n", 300000+i, i%256)
		}
	}
	start := time.Now()
	got := pmapset(t, strings.NewReader(in.String()), "--port", strconv.Itoa(sm.port), "127.0.0.1")
	elapsed := time.Since(start)
	if got.code != exitOK || got.stdout != "" || got.stderr != "" {
		t.Fatalf("pmapset = %+v", got)
	}
	calls, maxIn := sm.recorded()
	if len(calls) != n {
		t.Fatalf("the mapper saw %d calls, want %d", len(calls), n)
	}
	for i, c := range calls {
		prog := uint32(300000 + i)
		switch {
		case i%2 == 0 && (c.vers != portmap.V2 || c.proc != portmap.PmapSet || c.m != portmap.Mapping{Prog: prog, Vers: 1, Prot: portmap.IPProtoUDP, Port: uint32(1000 + i)}):
			t.Fatalf("call %d = %+v, want v2 SET of program %d", i, c, prog)
		case i%2 == 1 && (c.vers != portmap.V3 || c.proc != portmap.RpcbSet || c.r.Prog != prog || c.r.Netid != "tcp6" || c.r.Owner != "superuser"):
			t.Fatalf("call %d = %+v, want rpcbind v3 SET of program %d", i, c, prog)
		}
	}
	if maxIn < window/2 {
		t.Errorf("at most %d calls were in flight; want about %d", maxIn, window)
	}
	if maxIn > window {
		t.Errorf("%d calls were in flight; the window is %d", maxIn, window)
	}
	if sequential := n * delay; elapsed > sequential/4 {
		t.Errorf("took %v; one call after another takes %v", elapsed, sequential)
	}
}

// TestReportsReordering checks that pmapset says so when the mapper's
// listing does not keep the order in which it sent the registrations.
func TestReportsReordering(t *testing.T) {
	sm := startSeqMapper(t, &seqMapper{reversed: true})
	in := "300000 1 udp 1\n# gap\n300001 1 udp 2\n300002 1 udp 3\n"
	got := pmapset(t, strings.NewReader(in), "--port", strconv.Itoa(sm.port), "127.0.0.1")
	want := "pmapset: the port mapper lists line 3 before line 1: it did not apply the registrations in the order they were sent\n"
	if got.code != exitOK || got.stdout != "" || got.stderr != want {
		t.Errorf("pmapset = %+v\nwant stderr %q", got, want)
	}
}

// TestListingKeepsFileOrder restores a large file into pkg/server's mapper
// and checks that its listing is in the file's order.
func TestListingKeepsFileOrder(t *testing.T) {
	tm := startMapper(t)
	var in strings.Builder
	var want []portmap.RPCB
	for i := range 3000 {
		prog := uint32(400000 + i*7919%3000)
		if i%3 == 0 {
			fmt.Fprintf(&in, "%d 2 tcp %d\n", prog, 600+i%1000)
			want = append(want, v2(prog, 2, "tcp", uint32(600+i%1000), localOwner()))
		} else {
			fmt.Fprintf(&in, "%d 2 udp6 ::1.4.%d superuser\n", prog, i%256)
			want = append(want, rb(prog, 2, "udp6", fmt.Sprintf("::1.4.%d", i%256), localOwner()))
		}
	}
	got := pmapset(t, strings.NewReader(in.String()), tm.UnixArgs()...)
	if got.code != exitOK || got.stdout != "" {
		t.Fatalf("pmapset = %+v", got)
	}
	others := tm.Others()
	if len(others) != len(want) {
		t.Fatalf("%d registrations, want %d", len(others), len(want))
	}
	for i := range want {
		if others[i] != want[i] {
			t.Fatalf("registration %d = %+v, want %+v: the listing is not in file order", i, others[i], want[i])
		}
	}
}

// TestV2OnlyMapper checks the fallbacks for a mapper that speaks only
// portmap v2: classic lines go out as v2 SET, extended ones are refused
// before anything is sent, and --unset uses v2 UNSET.
func TestV2OnlyMapper(t *testing.T) {
	sm := startSeqMapper(t, &seqMapper{v2Only: true})
	in := "100003 3 tcp 2049\n100003 4 tcp6 ::.8.1 superuser\n"
	got := pmapset(t, strings.NewReader(in), "--port", strconv.Itoa(sm.port), "127.0.0.1")
	wantErr := "pmapset: not registered: 100003    4  tcp6 ::.8.1                  superuser (line 2: the port mapper speaks only portmap version 2, which has no netids)\n"
	if got.code != exitFail || got.stderr != wantErr {
		t.Fatalf("pmapset = %+v\nwant stderr %q", got, wantErr)
	}
	calls, _ := sm.recorded()
	if len(calls) != 1 || calls[0].vers != portmap.V2 || calls[0].proc != portmap.PmapSet {
		t.Errorf("calls = %+v, want one v2 SET", calls)
	}
}

// TestConnectionLost checks that a mapper that goes away in the middle is
// reported for the entries it did not confirm, without a hang.
func TestConnectionLost(t *testing.T) {
	sm := startSeqMapper(t, &seqMapper{dropAfter: 3})
	var in strings.Builder
	for i := range 10 {
		fmt.Fprintf(&in, "%d 1 udp %d\n", 300000+i, 1000+i)
	}
	got := pmapset(t, strings.NewReader(in.String()), "--port", strconv.Itoa(sm.port), "127.0.0.1")
	if got.code != exitFail || got.stdout != "" {
		t.Fatalf("pmapset = %+v", got)
	}
	n := strings.Count(got.stderr, "pmapset: not registered: ")
	if n < 7 || n > 10 || !strings.Contains(got.stderr, "(line 10: RPC: ") {
		t.Errorf("stderr %q: want the unconfirmed entries (at least 7, the last at line 10) reported", got.stderr)
	}
}

func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"closed port", []string{"--port", strconv.Itoa(port), "127.0.0.1"},
			fmt.Sprintf("pmapset: can't contact the port mapper at 127.0.0.1 port %d: RPC: Remote system error - Connection refused\n", port)},
		{"missing socket", []string{"--socket", "/nonexistent/rpcbind.sock"},
			"pmapset: can't contact the port mapper at /nonexistent/rpcbind.sock: RPC: Remote system error - No such file or directory\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := pmapset(t, strings.NewReader("100003 3 tcp 2049\n"), tt.args...)
			if got.code != exitFail || got.stdout != "" || got.stderr != tt.want {
				t.Errorf("pmapset = %+v\nwant stderr %q", got, tt.want)
			}
		})
	}
}

func TestUsage(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--unset", "--sync"}, "pmapset: --unset and --sync exclude each other\n"},
		{[]string{"host1", "host2"}, `pmapset: too many arguments: ["host1" "host2"] (options go before the host)` + "\n"},
		{[]string{"--port", "0"}, "pmapset: bad --port 0 (want 1 to 65535)\n"},
		{[]string{"--timeout", "-1s"}, "pmapset: bad --timeout -1s (want a positive duration such as 5s)\n"},
		{[]string{"--bogus"}, "pmapset: flag provided but not defined: -bogus\n"},
		{[]string{"--completion", "tcsh"}, "pmapset: invalid value \"tcsh\" for --completion: want bash, zsh or fish\n"},
	}
	for _, tt := range tests {
		got := pmapset(t, nil, tt.args...)
		if got.code != exitUsage || got.stdout != "" || !strings.HasPrefix(got.stderr, tt.want) || !strings.Contains(got.stderr, "Usage: pmapset ") {
			t.Errorf("pmapset %v = %+v\nwant exit 2 and stderr starting %q", tt.args, got, tt.want)
		}
	}
}

func TestVersion(t *testing.T) {
	got := pmapset(t, nil, "--version")
	if got.code != exitOK || got.stdout != "pmapset version "+cliutil.Version()+"\n" {
		t.Errorf("--version = %+v", got)
	}
}

// TestManPage checks that pmapset.8 is what the command's definition
// generates; go generate (or -update) rewrites it.
func TestManPage(t *testing.T) {
	got := pmapset(t, nil, "--generate-man")
	if got.code != exitOK || got.stderr != "" || got.stdout != manPage {
		t.Fatalf("--generate-man = %+v, not the embedded pmapset.8", got)
	}
	if !cliutil.CanGenerateMan {
		t.Skip("built with -tags urfave_cli_no_docs: no generator to compare pmapset.8 with")
	}
	page, err := cliutil.ManPage(newApp(nil, io.Discard, io.Discard, nil))
	if err != nil {
		t.Fatal(err)
	}
	cliutil.CheckManPage(t, "pmapset.8", page, *update,
		".TH pmapset 8", "--file", "--unset", "--sync", "--dry-run", "--port", "--timeout", "--socket", "--completion", "not registered", "Exit status")
}

func TestCompletion(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish"} {
		got := pmapset(t, nil, "--completion", sh)
		if got.code != exitOK || !strings.Contains(got.stdout, "pmapset") {
			t.Errorf("--completion %s = %+v", sh, got)
		}
	}
	all := "--file\n-f\n--unset\n--sync\n--dry-run\n-n\n--port\n--timeout\n--socket\n--completion\n--help\n-h\n--version\n-v\n"
	tests := []struct {
		words []string
		want  string
	}{
		{[]string{"--completion"}, "bash\nzsh\nfish\n"},
		{[]string{"-f"}, ""}, // the shell completes file names
		{[]string{"--sync"}, all},
		{nil, all},
	}
	for _, tt := range tests {
		got := pmapset(t, nil, append(tt.words, "--generate-bash-completion")...)
		if got.code != exitOK || got.stdout != tt.want {
			t.Errorf("completion after %q = %+v, want %q", tt.words, got, tt.want)
		}
	}
}
