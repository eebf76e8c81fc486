package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/internal/testsupport"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

// sampleRecs are registrations of every kind a state file holds.
var sampleRecs = []portmap.RPCB{
	{Prog: 100003, Vers: 3, Netid: "tcp", Addr: "0.0.0.0.8.1", Owner: OwnerSuperuser},
	{Prog: 100003, Vers: 4, Netid: "tcp6", Addr: "::.8.1", Owner: OwnerSuperuser},
	{Prog: 100099, Vers: 3, Netid: "local", Addr: "/run/x.sock", Owner: "1000"},
	{Prog: 300000, Vers: 1, Netid: "UDP", Addr: "192.0.2.5.117.48", Owner: OwnerUnknown},
	{Prog: 0xffffffff, Vers: 0, Netid: "", Addr: "", Owner: ""},
}

func TestStateRoundTrip(t *testing.T) {
	for _, recs := range [][]portmap.RPCB{nil, sampleRecs[:1], sampleRecs} {
		got, err := decodeState(encodeState(recs), DefaultMaxRegistrations)
		if err != nil || len(got) != len(recs) || (len(recs) > 0 && !reflect.DeepEqual(got, recs)) {
			t.Errorf("round trip of %d records: %v, %v", len(recs), got, err)
		}
	}
}

// TestDecodeStateCorrupt checks that every kind of damage is reported as
// corruption, never read as a shorter list.
func TestDecodeStateCorrupt(t *testing.T) {
	good := encodeState(sampleRecs)
	edit := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "shorter than the 16-byte header"},
		{"header only, cut", good[:10], "shorter than the 16-byte header"},
		{"other magic", edit(func(b []byte) []byte { b[0] = 'X'; return b }), "not a portmapd state file"},
		{"rpcbind's own file", portmap.AppendRPCBList(nil, sampleRecs), "not a portmapd state file"},
		{"other version", edit(func(b []byte) []byte { binary.BigEndian.PutUint32(b[4:], 3); return b }), "format version 3"},
		{"truncated", good[:len(good)-8], "header says"},
		{"version 1 with trailing bytes", edit(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[4:], stateVersionSnapshot)
			return append(b, 0, 0, 0, 0)
		}), "header says"},
		{"flipped bit", edit(func(b []byte) []byte { b[40] ^= 1; return b }), "checksum"},
		{"list cut, length and checksum made to match", func() []byte {
			body := portmap.AppendRPCBList(nil, sampleRecs)
			return encodeRaw(body[:len(body)-4])
		}(), "corrupt"},
		{"bytes after the list, length and checksum made to match", encodeRaw(append(portmap.AppendRPCBList(nil, sampleRecs), 1, 2, 3, 4)), "bytes after the list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := decodeState(tt.data, DefaultMaxRegistrations)
			if !errors.Is(err, errCorrupt) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("decodeState = %d records, %v; want an error about %q", len(recs), err, tt.want)
			}
		})
	}
}

// encodeRaw wraps body in a valid header, whatever body holds.
func encodeRaw(body []byte) []byte {
	b := encodeState(nil)[:stateHeaderLen]
	binary.BigEndian.PutUint32(b[8:], uint32(len(body)))
	binary.BigEndian.PutUint32(b[12:], crc32.Checksum(body, crcTable))
	return append(b, body...)
}

// TestLoadState checks loading: no file is an empty start; a good file
// loads; a corrupt one is renamed aside, with an error naming both paths,
// and its bytes kept; leftovers of interrupted writes are removed.
func TestLoadState(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state")
	now := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	if st, err := loadState(path, 10, now); st.recs != nil || st.version != 0 || err != nil {
		t.Fatalf("missing file: %+v, %v", st, err)
	}
	if _, err := rewriteState(path, sampleRecs); err != nil {
		t.Fatal(err)
	}
	leftover := path + tmpInfix + "123"
	os.WriteFile(leftover, []byte("half a write"), 0o600)
	st, err := loadState(path, 10, now)
	if err != nil || !reflect.DeepEqual(st.recs, sampleRecs) {
		t.Fatalf("loadState = %v, %v", st.recs, err)
	}
	if _, err := os.Stat(leftover); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the leftover temporary file is still there: %v", err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode: %v, %v", fi.Mode(), err)
	}

	garbage := []byte("PMST\x00\x00\x00\x01garbage garbage")
	os.WriteFile(path, garbage, 0o600)
	_, err = loadState(path, 10, now)
	var se *StateError
	if !errors.As(err, &se) || se.Path != path || se.Aside == "" {
		t.Fatalf("corrupt file: %v", err)
	}
	for _, want := range []string{path, se.Aside, "corrupt"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the corrupt file is still at %s", path)
	}
	if kept, err := os.ReadFile(se.Aside); err != nil || string(kept) != string(garbage) {
		t.Errorf("the file kept aside holds %q, %v", kept, err)
	}
	// The next start begins empty.
	if st, err := loadState(path, 10, now); st.recs != nil || err != nil {
		t.Errorf("after setting aside: %v, %v", st.recs, err)
	}
	// More registrations than the registry may hold: corrupt, not cut.
	rewriteState(path, sampleRecs)
	if _, err := loadState(path, 2, now.Add(time.Second)); !errors.As(err, &se) {
		t.Errorf("a file over the limit loaded: %v", err)
	}
}

// stateServer starts a server with a state file and returns it and the
// file's path.
func stateServer(t *testing.T, path string, setup func(*Server)) *testServer {
	t.Helper()
	return startServer(t, func(s *Server) {
		s.StateFile = path
		if setup != nil {
			setup(s)
		}
	})
}

// TestStateFileServer registers, unregisters and restarts a server with a
// state file: what was acknowledged is on disk at once and comes back at the
// next start, in order, the mapper's own entries not included.
func TestStateFileServer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "portmapd.state")
	ts := stateServer(t, path, nil)
	c := ts.dial(t, viaUnix, false)
	for i, r := range sampleRecs[:4] {
		if !c.call(3, 1, rpcbArgs(r.Prog, r.Vers, r.Netid, r.Addr, "")).bool(t) {
			t.Fatalf("SET %d refused", i)
		}
	}
	if !c.call(2, 1, mapArgs(100005, 1, 17, 20048)).bool(t) {
		t.Fatal("v2 SET refused")
	}
	if !c.call(2, 2, mapArgs(100003, 3, 6, 0)).bool(t) {
		t.Fatal("v2 UNSET refused")
	}
	onDisk := func() []portmap.RPCB {
		t.Helper()
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := decodeState(data, 100)
		if err != nil {
			t.Fatal(err)
		}
		return recs
	}
	want := userEntries(ts.dump(t))
	if got := onDisk(); !reflect.DeepEqual(got, want) {
		t.Fatalf("on disk:\n%v\nregistry:\n%v", got, want)
	}
	if len(want) != 4 {
		t.Fatalf("%d registrations, want 4: %v", len(want), want)
	}

	// A second server on the same file starts with them.
	ts2 := stateServer(t, path, nil)
	if got := userEntries(ts2.dump(t)); !reflect.DeepEqual(got, want) {
		t.Errorf("after a restart:\n%v\nwant\n%v", got, want)
	}
}

// TestGroupCommit holds the committer in its first write while changes pile
// up, then lets it go: however many changes wait, they share one write.
func TestGroupCommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	reg := NewRegistry(0)
	j := newJournal(path, reg, 0, discardLog())
	entered, release := holdFirstWrite(j)
	reg.j.Store(j)
	defer j.close()

	first := make(chan bool)
	go func() {
		first <- reg.Set(portmap.RPCB{Prog: 299999, Vers: 1, Netid: "udp", Addr: "0.0.0.0.1.1", Owner: OwnerSuperuser})
	}()
	<-entered
	const n = 50
	var wg sync.WaitGroup
	oks := make([]bool, n)
	for i := range n {
		wg.Go(func() {
			oks[i] = reg.Set(portmap.RPCB{Prog: 300000 + uint32(i), Vers: 1, Netid: "udp", Addr: "0.0.0.0.1.1", Owner: OwnerSuperuser})
		})
	}
	deadline := time.Now().Add(replyWait)
	for j.submitted.Load() < n+1 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d changes submitted", j.submitted.Load())
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if !<-first {
		t.Error("the first SET failed")
	}
	for i, ok := range oks {
		if !ok {
			t.Errorf("SET %d failed", i)
		}
	}
	// The first write creates the file (a rewrite); the 50 changes are
	// appended by the second.
	if w, rw := j.writes.Load(), j.rewrites.Load(); w != 2 || rw != 1 {
		t.Errorf("%d changes took %d writes (%d rewrites), want 2 (1)", n+1, w, rw)
	}
	data, _ := os.ReadFile(path)
	st, err := decodeStateLog(data, 100)
	if err != nil || len(st.recs) != n+1 || st.changes != n {
		t.Errorf("state file holds %d registrations from %d change records, %v; want %d from %d", len(st.recs), st.changes, err, n+1, n)
	}
}

// holdFirstWrite makes j's first write wait: entered is closed once it has
// begun, and it goes on once release is closed.
func holdFirstWrite(j *journal) (entered, release chan struct{}) {
	entered, release = make(chan struct{}), make(chan struct{})
	var held atomic.Bool
	j.beforeWrite = func() {
		if held.CompareAndSwap(false, true) {
			close(entered)
			<-release
		}
	}
	return entered, release
}

// TestJournalCompacts fills a registry and empties it again through a
// journal: the file always holds what the registry holds, change records
// are appended, and the file is rewritten whole only now and then.
func TestJournalCompacts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	reg := NewRegistry(0)
	j := newJournal(path, reg, 0, discardLog())
	reg.j.Store(j)
	defer j.close()
	check := func(when string) {
		t.Helper()
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := decodeState(data, DefaultMaxRegistrations)
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		if want := reg.userRecords(); !reflect.DeepEqual(recs, want) && (len(recs) != 0 || len(want) != 0) {
			t.Fatalf("%s: the file holds %d registrations, the registry %d", when, len(recs), len(want))
		}
	}
	const n = 3000
	for i := range n {
		netid := []string{"udp", "tcp", "UDP6"}[i%3]
		if !reg.Set(portmap.RPCB{Prog: 400000 + uint32(i/3), Vers: 1, Netid: netid, Addr: "0.0.0.0.1.1", Owner: OwnerUnknown}) {
			t.Fatalf("SET %d failed", i)
		}
	}
	check("after the SETs")
	for i := 0; i < n/3; i += 2 {
		if !reg.Unset(400000+uint32(i), 1, "", OwnerSuperuser) {
			t.Fatalf("UNSET %d failed", i)
		}
	}
	check("after the UNSETs")
	if w := j.writes.Load(); w != n+n/6 {
		t.Errorf("%d writes for %d changes, want one each", w, n+n/6)
	}
	// Each rewrite at least doubles what the records may take before the
	// next, beyond the first 64 KiB: a handful, not one per change.
	if rw := j.rewrites.Load(); rw < 2 || rw > 8 {
		t.Errorf("%d rewrites for %d changes, want 2 to 8", rw, n+n/6)
	}
	// A restart reads the same.
	reg2 := NewRegistry(0)
	st, err := loadState(path, DefaultMaxRegistrations, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	reg2.load(st.recs)
	if got, want := reg2.Dump(), reg.Dump(); !reflect.DeepEqual(got, want) {
		t.Errorf("reloaded registry differs: %d registrations, want %d", len(got), len(want))
	}
}

// TestStateChangeRecords checks reading change records: additions go last,
// removals take out the registration of the same key whatever the netid's
// case, and a record cut short or damaged ends the changes without losing
// those before it.
func TestStateChangeRecords(t *testing.T) {
	base := encodeState(sampleRecs[:3])
	add := portmap.RPCB{Prog: 390000, Vers: 2, Netid: "tcp", Addr: "0.0.0.0.3.3", Owner: OwnerUnknown}
	gone := sampleRecs[1]
	gone.Netid = strings.ToUpper(gone.Netid)
	var log []byte
	log = appendChange(log, opAdd, add)
	log = appendChange(log, opRemove, gone)
	log = appendChange(log, opAdd, sampleRecs[1])
	want := []portmap.RPCB{sampleRecs[0], sampleRecs[2], add, sampleRecs[1]}
	whole := append(append([]byte(nil), base...), log...)

	tests := []struct {
		name    string
		data    []byte
		want    []portmap.RPCB
		changes int
		dropped int
	}{
		{"snapshot only", base, sampleRecs[:3], 0, 0},
		{"three changes", whole, want, 3, 0},
		{"last record cut short", whole[:len(whole)-3], want[:3], 2, len(appendChange(nil, opAdd, sampleRecs[1])) - 3},
		{"a header alone", append(append([]byte(nil), whole...), 0, 0, 0, 9), want, 3, 4},
		{"damaged record", flip(whole, len(base)+12), sampleRecs[:3], 0, len(log)},
		{"absurd length", append(append([]byte(nil), base...), 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0), sampleRecs[:3], 0, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := decodeStateLog(tt.data, 100)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(st.recs, tt.want) || st.changes != tt.changes || st.dropped != tt.dropped {
				t.Errorf("got %v (%d changes, %d bytes dropped), want %v (%d, %d)", st.recs, st.changes, st.dropped, tt.want, tt.changes, tt.dropped)
			}
			if st.good+st.dropped != len(tt.data) {
				t.Errorf("good %d + dropped %d != %d bytes", st.good, st.dropped, len(tt.data))
			}
		})
	}
	// A version-1 file (a snapshot that must fill the file) still loads;
	// bytes after its snapshot are damage.
	v1 := append([]byte(nil), base...)
	binary.BigEndian.PutUint32(v1[4:], stateVersionSnapshot)
	if recs, err := decodeState(v1, 100); err != nil || !reflect.DeepEqual(recs, sampleRecs[:3]) {
		t.Errorf("version 1: %v, %v", recs, err)
	}
	if _, err := decodeState(append(v1, log...), 100); err == nil {
		t.Error("version 1 with records after the snapshot loaded")
	}
}

// flip returns a copy of b with the byte at i inverted.
func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 0xff
	return c
}

// TestPipelinedSetsShareWrites pipelines SETs on one connection to a server
// with a state file and holds its first write until rpc.MaxProceeding more
// SETs have been applied: that can only happen if the connection's later
// calls are handled while the first waits for its write
// (rpc.Request.Proceed). The replies come in call order, and the SETs that
// waited share a write.
func TestPipelinedSetsShareWrites(t *testing.T) {
	for _, network := range []string{viaUnix, viaTCP} {
		t.Run(network, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "portmapd.state")
			ts := stateServer(t, path, nil)
			entered, release := holdFirstWrite(ts.srv.journal)
			c := ts.dial(t, network, false)
			const n = 32
			var calls []byte
			for i := range n {
				msg := callMsg(0x7000+uint32(i), 3, portmap.RpcbSet, rpcbArgs(410000+uint32(i), 1, "tcp", "127.0.0.1.8.1", ""))
				var rec bytes.Buffer
				rpc.WriteRecord(&rec, msg, 0)
				calls = append(calls, rec.Bytes()...)
			}
			if _, err := c.conn.Write(calls); err != nil {
				t.Fatal(err)
			}
			<-entered
			deadline := time.Now().Add(replyWait)
			const waiting = rpc.MaxProceeding + 1 // the first, and those behind it
			for ts.srv.journal.submitted.Load() < waiting {
				if time.Now().After(deadline) {
					close(release)
					t.Fatalf("only %d of %d pipelined SETs applied while the first waits for its write", ts.srv.journal.submitted.Load(), waiting)
				}
				time.Sleep(time.Millisecond)
			}
			close(release)
			c.conn.SetReadDeadline(time.Now().Add(replyWait))
			for i := range n {
				m, err := rpc.ReadRecord(c.br, nil, 1<<16)
				if err != nil {
					t.Fatalf("reply %d: %v", i, err)
				}
				var h rpc.ReplyHeader
				d := xdr.NewDecoder(m)
				h.Decode(d)
				if ok := d.Bool(); h.XID != 0x7000+uint32(i) || h.Err() != nil || !ok {
					t.Fatalf("reply %d: xid %#x, %v, %v; want xid %#x, true", i, h.XID, h.Err(), ok, 0x7000+i)
				}
			}
			// At most one write each for the first and for those after
			// the ones that waited, which share one.
			if w := ts.srv.journal.writes.Load(); w > 1+1+(n-waiting) {
				t.Errorf("%d pipelined SETs took %d writes, want at most %d", n, w, 1+1+(n-waiting))
			}
			data, _ := os.ReadFile(path)
			if recs, err := decodeState(data, 100); err != nil || len(recs) != n {
				t.Errorf("state file holds %d registrations, %v", len(recs), err)
			}
		})
	}
}

// TestStateWriteFailure makes the state file's directory disappear under a
// running server: changes are then refused with SYSTEM_ERR and undone,
// lookups go on, and once the directory is back changes work again.
func TestStateWriteFailure(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "state")
	os.Mkdir(dir, 0o755)
	path := filepath.Join(dir, "portmapd.state")
	ts := stateServer(t, path, nil)
	c := ts.dial(t, viaUnix, false)
	if !c.call(3, 1, rpcbArgs(100003, 3, "udp", "0.0.0.0.8.1", "")).bool(t) {
		t.Fatal("SET refused")
	}
	before := ts.dump(t)
	if err := os.Rename(dir, filepath.Join(base, "gone")); err != nil {
		t.Fatal(err)
	}
	for _, call := range []struct {
		vers, proc uint32
		args       []byte
	}{
		{3, 1, rpcbArgs(100005, 1, "udp", "0.0.0.0.78.80", "")},
		{2, 1, mapArgs(100021, 4, 17, 4045)},
		{4, 2, rpcbArgs(100003, 3, "udp", "", "")},
		{2, 2, mapArgs(100003, 3, 17, 0)},
	} {
		if r := c.call(call.vers, call.proc, call.args); r.status() != rpc.SystemError {
			t.Errorf("v%d proc %d with the directory gone: %v, want SYSTEM_ERR", call.vers, call.proc, r.hdr.Err())
		}
	}
	if after := ts.dump(t); !reflect.DeepEqual(after, before) {
		t.Errorf("the registry changed though nothing could be stored:\n%v\nwas\n%v", after, before)
	}
	if port := ts.dial(t, viaUDP, false).call(2, 3, mapArgs(100003, 3, 17, 0)).uint(t); port != 2049 {
		t.Errorf("GETPORT = %d, want 2049", port)
	}
	// A SET that changes nothing needs no write and is answered.
	if !c.call(3, 1, rpcbArgs(100003, 3, "udp", "0.0.0.0.8.1", "")).bool(t) {
		t.Error("a SET of what is already registered was refused")
	}
	os.Rename(filepath.Join(base, "gone"), dir)
	if !c.call(3, 1, rpcbArgs(100005, 1, "udp", "0.0.0.0.78.80", "")).bool(t) {
		t.Fatal("SET refused with the directory back")
	}
	data, _ := os.ReadFile(path)
	if recs, err := decodeState(data, 100); err != nil || len(recs) != 2 {
		t.Errorf("state file: %v, %v", recs, err)
	}
	if ts.srv.journal.failures.Load() != 4 {
		t.Errorf("%d failed writes, want 4", ts.srv.journal.failures.Load())
	}
}

// TestRegistryAfterShutdown checks that a server with a state file refuses
// changes once shut down, rather than making changes it cannot store.
func TestRegistryAfterShutdown(t *testing.T) {
	srv := New()
	srv.StateFile = filepath.Join(t.TempDir(), "state")
	l, err := netListen(t)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	waitRegistered(t, srv, 3)
	if !srv.Registry().Set(sampleRecs[0]) {
		t.Fatal("Set refused while serving")
	}
	srv.Shutdown(context.Background())
	<-done
	if srv.Registry().Set(sampleRecs[1]) {
		t.Error("Set accepted after Shutdown")
	}
}

// wantWarm is what testdata/warmstart holds (see its README.md), without the
// port mapper's own entries.
var wantWarm = []portmap.RPCB{
	{Prog: 100003, Vers: 3, Netid: "tcp", Addr: "0.0.0.0.8.1", Owner: "superuser"},
	{Prog: 100005, Vers: 1, Netid: "udp", Addr: "0.0.0.0.78.80", Owner: "superuser"},
	{Prog: 100099, Vers: 2, Netid: "tcp6", Addr: "::.16.147", Owner: "superuser"},
	{Prog: 100099, Vers: 3, Netid: "local", Addr: "/run/x.sock", Owner: "superuser"},
	{Prog: 300000, Vers: 1, Netid: "udp", Addr: "0.0.0.0.117.48", Owner: "65534"},
}

// TestWarmStartFiles reads the warm-start files rpcbind wrote.
func TestWarmStartFiles(t *testing.T) {
	recs, files, err := readWarmStart("testdata/warmstart", 100, time.Now())
	if err != nil || len(files) != 2 {
		t.Fatalf("readWarmStart: %d files, %v", len(files), err)
	}
	if len(recs) != 12+len(wantWarm) || recs[0].Prog != portmap.Program {
		t.Fatalf("%d records: %v", len(recs), recs)
	}
	if got := recs[12:]; !reflect.DeepEqual(got, wantWarm) {
		t.Errorf("got\n%v\nwant\n%v", got, wantWarm)
	}
}

// TestWarmStartPortmapOnly reads a portmap.xdr without rpcbind.xdr: its
// mappings become v2 registrations owned by the superuser.
func TestWarmStartPortmapOnly(t *testing.T) {
	dir := t.TempDir()
	pm := portmap.AppendMappingList(nil, []portmap.Mapping{
		{Prog: 100003, Vers: 3, Prot: 6, Port: 2049}, {Prog: 100005, Vers: 1, Prot: 17, Port: 20048}, {Prog: 9, Vers: 1, Prot: 99, Port: 1},
	})
	os.WriteFile(filepath.Join(dir, PortmapWarmFile), pm, 0o600)
	recs, files, err := readWarmStart(dir, 100, time.Now())
	want := []portmap.RPCB{
		{Prog: 100003, Vers: 3, Netid: "tcp", Addr: "0.0.0.0.8.1", Owner: OwnerSuperuser},
		{Prog: 100005, Vers: 1, Netid: "udp", Addr: "0.0.0.0.78.80", Owner: OwnerSuperuser},
	}
	if err != nil || len(files) != 1 || !reflect.DeepEqual(recs, want) {
		t.Errorf("got %v, %v, %v", recs, files, err)
	}
}

// TestWarmStartServer starts a server with rpcbind's files and a state
// file: the registrations are loaded, written to the state file, and the
// files removed; a corrupt file stops the start and is kept aside.
func TestWarmStartServer(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{RpcbindWarmFile, PortmapWarmFile} {
		data, err := os.ReadFile(filepath.Join("testdata/warmstart", f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, f), data, 0o600)
	}
	path := filepath.Join(dir, "portmapd.state")
	os.WriteFile(path, encodeState(sampleRecs), 0o600) // older than rpcbind's files
	ts := stateServer(t, path, func(s *Server) { s.WarmStartDir = dir })
	if got := userEntries(ts.dump(t)); !reflect.DeepEqual(got, wantWarm) {
		t.Errorf("registry:\n%v\nwant\n%v", got, wantWarm)
	}
	for _, f := range []string{RpcbindWarmFile, PortmapWarmFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s was not removed: %v", f, err)
		}
	}
	data, _ := os.ReadFile(path)
	if recs, err := decodeState(data, 100); err != nil || !reflect.DeepEqual(recs, wantWarm) {
		t.Errorf("state file: %v, %v", recs, err)
	}

	os.WriteFile(filepath.Join(dir, RpcbindWarmFile), []byte{0, 0, 0, 1, 0, 1}, 0o600)
	srv := New()
	srv.StateFile, srv.WarmStartDir, srv.NoSocket, srv.Addrs = path, dir, true, nil
	err := srv.ListenAndServe(context.Background())
	var se *StateError
	if !errors.As(err, &se) || se.Aside == "" || !strings.Contains(err.Error(), RpcbindWarmFile) {
		t.Fatalf("ListenAndServe with a corrupt rpcbind.xdr: %v", err)
	}
}

// TestPrune registers a live service and two dead ones and lets pruning run:
// the dead ones go after two missed rounds, the live one and the
// registrations it cannot check stay.
func TestPrune(t *testing.T) {
	live := serveNull(t, 300001)
	dead := deadPort(t)
	path := filepath.Join(t.TempDir(), "state")
	ts := stateServer(t, path, func(s *Server) { s.PruneInterval = 100 * time.Millisecond })
	reg := ts.srv.Registry()
	keep := []portmap.RPCB{
		{Prog: 300001, Vers: 1, Netid: "udp", Addr: fmt.Sprintf("0.0.0.0.%d.%d", live>>8, live&0xff), Owner: OwnerSuperuser},
		{Prog: 300003, Vers: 1, Netid: "udp", Addr: "192.0.2.77.8.1", Owner: OwnerSuperuser}, // another host: not checked
		{Prog: 300004, Vers: 1, Netid: "bogus", Addr: "x", Owner: OwnerSuperuser},            // unknown netid: not checked
	}
	gone := []portmap.RPCB{
		{Prog: 300002, Vers: 1, Netid: "udp", Addr: fmt.Sprintf("127.0.0.1.%d.%d", dead>>8, dead&0xff), Owner: OwnerSuperuser},
		{Prog: 300005, Vers: 1, Netid: "local", Addr: filepath.Join(t.TempDir(), "none.sock"), Owner: "1000"},
	}
	for _, r := range append(append([]portmap.RPCB(nil), keep...), gone...) {
		if !reg.Set(r) {
			t.Fatalf("Set %v refused", r)
		}
	}
	// Lookups may see a change before its write is done: wait for both.
	onDisk := func() []portmap.RPCB {
		data, _ := os.ReadFile(path)
		recs, _ := decodeState(data, 100)
		return recs
	}
	deadline := time.Now().Add(replyWait)
	for reg.Len()-ts.ownCount() > len(keep) || len(onDisk()) > len(keep) {
		if time.Now().After(deadline) {
			t.Fatalf("not pruned: %v", userEntries(reg.Dump()))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := userEntries(reg.Dump()); !reflect.DeepEqual(got, keep) {
		t.Errorf("after pruning:\n%v\nwant\n%v", got, keep)
	}
	if recs := onDisk(); !reflect.DeepEqual(recs, keep) {
		t.Errorf("state file after pruning: %v", recs)
	}
}

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// netListen listens on a TCP port of 127.0.0.1.
func netListen(t *testing.T) (net.Listener, error) {
	t.Helper()
	return net.Listen("tcp4", "127.0.0.1:0")
}

// waitRegistered waits until srv has registered n own entries.
func waitRegistered(t *testing.T, srv *Server, n int) {
	t.Helper()
	deadline := time.Now().Add(replyWait)
	for srv.Registry().Len() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d entries registered, want %d", srv.Registry().Len(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// serveNull serves program prog version 1 on a UDP port of 127.0.0.1 until
// the test ends, and returns the port.
func serveNull(t *testing.T, prog uint32) uint16 {
	t.Helper()
	return testsupport.ServeFake(t, prog, 1, 1).UDP.Port()
}

// deadPort returns a UDP port of 127.0.0.1 where nothing listens: a call to
// it draws an ICMP port unreachable.
func deadPort(t *testing.T) uint16 {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := c.LocalAddr().(*net.UDPAddr).AddrPort().Port()
	c.Close()
	return port
}

// ownCount returns how many own entries ts's server registered.
func (ts *testServer) ownCount() int {
	n := 0
	for _, r := range ts.srv.Registry().Dump() {
		if r.Prog == portmap.Program {
			n++
		}
	}
	return n
}
