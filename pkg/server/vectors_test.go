package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/internal/testsupport"
	"github.com/portmap-toolkit/pmap/internal/vectors"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

func TestMain(m *testing.M) { os.Exit(testsupport.Main(m)) }

// vectorTCP are the cases recorded over TCP (internal/vectors/testdata/INDEX.md);
// the others went over UDP.
var vectorTCP = map[string]bool{"v2_dump": true, "v3_dump": true, "v4_dump": true, "v4_getstat": true}

// vectorDepartures are the cases where this server answers as RFC 5531 says
// rather than as rpcbind did (docs/server.md, "Departures"), with the reply
// it gives instead.
var vectorDepartures = map[string]func(t *testing.T, reply []byte){
	// rpcbind decoded the missing half of the arguments from its stale
	// receive buffer and answered SUCCESS, port 0; this server answers
	// GARBAGE_ARGS, as rpcbind itself does over TCP.
	"v2_getport_garbage_args": func(t *testing.T, reply []byte) {
		var h rpc.ReplyHeader
		h.Decode(xdr.NewDecoder(reply))
		if h.Stat != rpc.MsgAccepted || h.Accept != rpc.AcceptGarbageArgs {
			t.Errorf("reply %x, want GARBAGE_ARGS", reply)
		}
	},
}

// TestVectors replays the calls recorded from Debian's rpcbind 1.2.6 against
// this server on port 111 and /run/rpcbind.sock, in a namespace, holding the
// same registrations: its own entries, the seed table registered as libtirpc's
// pmap_set registers it (20 rpcbind v3 SETs over the local socket), one v2
// DUMP (rpcinfo -p, checking the seed), then the cases in the order they were
// recorded, from a privileged loopback port as they were. Every reply must be
// the recorded one byte for byte, GETSTAT's counters included, except the
// departures listed above.
func TestVectors(t *testing.T) {
	if !testsupport.Isolate(t) {
		return
	}
	cases := vectors.All()
	sort.Slice(cases, func(i, j int) bool {
		return binary.BigEndian.Uint32(cases[i].Call) < binary.BigEndian.Uint32(cases[j].Call)
	})
	var recordedTime uint32
	for _, c := range cases {
		if c.Name == "v3_gettime" {
			recordedTime = binary.BigEndian.Uint32(c.Reply[len(c.Reply)-4:])
		}
	}

	srv := New()
	srv.Now = func() time.Time { return time.Unix(int64(recordedTime), 0) }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ListenAndServe(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ListenAndServe: %v", err)
		}
	})
	testsupport.WaitPort(t, "unix", DefaultSocketPath)
	testsupport.WaitPort(t, "tcp", "127.0.0.1:111")
	testsupport.WaitPort(t, "udp", "127.0.0.1:111")
	testsupport.WaitPort(t, "tcp", "[::1]:111")

	unix := dialTarget(t, viaUnix, DefaultSocketPath, false)
	for _, m := range seedMappings(t) {
		netid, _ := portmap.NetidForProt(m.Prot)
		addr := "0.0.0.0." + itoa(m.Port>>8) + "." + itoa(m.Port&0xff)
		if !unix.call(3, 1, rpcbArgs(m.Prog, m.Vers, netid, addr, "")).bool(t) {
			t.Fatalf("seed SET %v refused", m)
		}
	}
	dialTarget(t, viaTCP, "127.0.0.1:111", false).call(2, 4, nil)

	udp := dialTarget(t, viaUDP, "127.0.0.1:111", true)
	tcp := dialTarget(t, viaTCP, "127.0.0.1:111", true)
	for _, c := range cases {
		via := udp
		if vectorTCP[c.Name] {
			via = tcp
		}
		wait := replyWait
		if c.Reply == nil {
			wait = silenceWait
		}
		got := via.raw(c.Call, wait)
		if check, ok := vectorDepartures[c.Name]; ok {
			check(t, got)
			continue
		}
		switch {
		case c.Reply == nil && got != nil:
			t.Errorf("%s: got %x, want no reply", c.Name, got)
		case !bytes.Equal(got, c.Reply):
			t.Errorf("%s:\n got %x\nwant %x", c.Name, got, c.Reply)
		}
	}
}

// TestListenAndServeRefuses checks that the server will not start where
// another port mapper listens, and replaces a stale socket file.
func TestListenAndServeRefuses(t *testing.T) {
	if !testsupport.Isolate(t) {
		return
	}
	start := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return New().ListenAndServe(ctx)
	}
	// A stale socket: a file nothing accepts on.
	l, err := net.Listen("unix", DefaultSocketPath)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	if err := start(); err != nil {
		t.Fatalf("with a stale socket: %v", err)
	}
	if _, err := os.Stat(DefaultSocketPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket left behind after shutdown: %v", err)
	}

	// rpcbind holding everything.
	rb := testsupport.StartRpcbind(t)
	err = start()
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("another port mapper")) {
		t.Errorf("with rpcbind running: %v, want a refusal naming another port mapper", err)
	}
	rb.Stop()
	// rpcbind leaves its socket file behind when it stops.
	if err := start(); err != nil {
		t.Errorf("after rpcbind stopped: %v", err)
	}

	// Only the socket held: the ports are free.
	os.Remove(DefaultSocketPath)
	l, err = net.Listen("unix", DefaultSocketPath)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	err = start()
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte(DefaultSocketPath+" is in use")) {
		t.Errorf("with the socket held: %v", err)
	}
	// A regular file where the socket goes is never deleted.
	l.Close()
	if err := os.WriteFile(DefaultSocketPath, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := start(); err == nil {
		t.Error("started over a regular file")
	}
	if b, _ := os.ReadFile(DefaultSocketPath); string(b) != "keep" {
		t.Error("the regular file was changed")
	}
}
