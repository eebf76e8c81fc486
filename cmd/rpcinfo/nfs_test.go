package main

import (
	"strings"
	"testing"

	"github.com/portmap-toolkit/pmap/internal/testsupport"
)

// Ports of the NFS server of the tests: those of a Debian server whose
// daemons have fixed ports in /etc/nfs.conf, and a stale udp registration of
// mountd at 644, where an older rpc.mountd listened.
const (
	portMountd   = 20048
	portStale    = 644
	portNFS      = 2049
	portNlockmgr = 4045
	portStatus   = 662
)

// nfsServer serves and registers in h an NFS server with two faults: mountd
// is registered on udp 644, where nothing listens, and a firewall drops
// nlockmgr's port. nfs is registered on tcp only, as recent kernels do.
func nfsServer(t *testing.T, h *testsupport.Host, m *peerMapper) {
	t.Helper()
	serveProgram(t, h, 100005, 1, 3, portMountd, portMountd)
	for v := uint32(1); v <= 3; v++ {
		m.set(100005, v, portMountd, "tcp")
		m.set(100005, v, portStale, "udp")
	}
	serveProgram(t, h, 100003, 3, 4, 0, portNFS)
	m.set(100003, 3, portNFS, "tcp")
	m.set(100003, 4, portNFS, "tcp")
	serveProgram(t, h, 100021, 1, 4, portNlockmgr, portNlockmgr)
	for _, v := range []uint32{1, 3, 4} {
		m.set(100021, v, portNlockmgr, "udp", "tcp")
	}
	serveProgram(t, h, 100024, 1, 1, portStatus, portStatus)
	m.set(100024, 1, portStatus, "udp", "tcp")
}

// step is what a test expects of one step of --nfs.
type step struct {
	name, proto, verdict string
	cause                string // a part of the cause; "" for none
}

// checkSteps runs --nfs against host and compares its JSON steps with want,
// and its exit status with wantRC.
func checkSteps(t *testing.T, host string, wantRC int, want []step) {
	t.Helper()
	res := runOurs(t, nil, "--nfs", "--timeout", "1s", "-o", "json", host)
	docs := decodeLines(t, res.out)
	if res.rc != wantRC || res.err != "" || len(docs) != 1 || docs[0]["kind"] != "nfs" || docs[0]["ok"] != (wantRC == 0) {
		t.Fatalf("--nfs %s: want exit %d and one nfs document: %v", host, wantRC, res)
	}
	got := docs[0]["steps"].([]any)
	if len(got) != len(want) {
		t.Fatalf("--nfs %s: %d steps, want %d:\n%s", host, len(got), len(want), res.out)
	}
	for i, w := range want {
		g := got[i].(map[string]any)
		cause, _ := g["cause"].(string)
		if g["step"] != w.name || g["protocol"] != w.proto || g["verdict"] != w.verdict ||
			(w.cause == "") != (cause == "") || !strings.Contains(cause, w.cause) {
			t.Errorf("step %d: %v\nwant %+v", i, g, w)
		}
	}
}

// TestNFSPath checks --nfs against an NFS server whose port mapper is
// Debian's rpcbind or portmapd: a stale registration, a firewalled daemon, a
// transport without registrations, then a port mapper firewalled on udp, a
// host that drops everything, and a host without a port mapper where NFSv4
// still answers.
func TestNFSPath(t *testing.T) {
	for _, mk := range mapperKinds {
		t.Run(mk.name, func(t *testing.T) {
			if !testsupport.Isolate(t) {
				return
			}
			h := testsupport.Peer(t, "nfs1")
			mapper := mk.start(t, h)
			m := newPeerMapper(t, h)
			nfsServer(t, h, m)
			h.Silence(t, "", portNlockmgr)
			host := h.Addr.String()
			checkSteps(t, host, 1, []step{
				{"portmapper", "tcp", "ok", ""},
				{"portmapper", "udp", "ok", ""},
				{"mountd", "tcp", "ok", ""},
				{"mountd", "udp", "failed", "mountd is registered on udp 644 but nothing answers there: restart rpc.mountd or remove the stale registration"},
				{"nfs", "tcp", "ok", ""},
				{"nfs", "udp", "warning", "nfs is not registered on udp"},
				{"nlockmgr", "tcp", "failed", "a firewall drops tcp 4045"},
				{"nlockmgr", "udp", "failed", "a firewall drops udp 4045"},
				{"status", "tcp", "ok", ""},
				{"status", "udp", "ok", ""},
			})
			res := runOurs(t, nil, "--nfs", "--timeout", "1s", host)
			for _, want := range []string{"step        proto  port  verdict  detail\n",
				"mountd      udp     644  failed   refused: mountd is registered on udp 644",
				"nfs         tcp    2049  ok       versions 3,4 answer (",
				"\nNFS path to " + host + ": 3 steps failed, 1 step with warnings\n"} {
				if !strings.Contains(res.out, want) {
					t.Errorf("classic --nfs lacks %q:\n%s", want, res.out)
				}
			}
			if res = runOurs(t, nil, "--nfs", "-o", "table", "--timeout", "1s", host); res.rc != 1 || !strings.Contains(res.out, "VERDICT") {
				t.Errorf("table --nfs: %v", res)
			}

			// Without mountd, nlockmgr and status: NFSv4 only.
			for _, p := range [][2]uint32{{100005, 1}, {100005, 2}, {100005, 3}, {100021, 1}, {100021, 3}, {100021, 4}, {100024, 1}} {
				m.unset(p[0], p[1])
			}
			checkSteps(t, host, 1, []step{
				{"portmapper", "tcp", "ok", ""},
				{"portmapper", "udp", "ok", ""},
				{"mountd", "-", "failed", "is rpc.mountd running"},
				{"nfs", "tcp", "ok", ""},
				{"nfs", "udp", "warning", "not registered on udp"},
				{"nlockmgr", "-", "failed", "lockd is not running"},
				{"status", "-", "failed", "is rpc-statd running?"},
			})

			// No port mapper: refused on both transports; NFSv4 answers at
			// 2049 all the same.
			mapper.Stop()
			checkSteps(t, host, 1, []step{
				{"portmapper", "tcp", "failed", "nothing listens on port 111: is rpcbind running?"},
				{"portmapper", "udp", "failed", "nothing listens on port 111: is rpcbind running?"},
				{"mountd", "-", "skipped", "the port mapper does not answer"},
				{"nfs", "-", "skipped", "the port mapper does not answer"},
				{"nlockmgr", "-", "skipped", "the port mapper does not answer"},
				{"status", "-", "skipped", "the port mapper does not answer"},
				{"nfs", "tcp", "ok", ""},
			})

			// A second server whose firewall drops udp 111, then
			// everything.
			h2 := testsupport.Peer(t, "nfs2")
			mk.start(t, h2)
			nfsServer(t, h2, newPeerMapper(t, h2))
			h2.Silence(t, "udp", 111)
			res = runOurs(t, nil, "--nfs", "--timeout", "1s", "-o", "json", h2.Addr.String())
			docs := decodeLines(t, res.out)
			if len(docs) != 1 {
				t.Fatalf("--nfs: %v", res)
			}
			udp := docs[0]["steps"].([]any)[1].(map[string]any)
			if udp["verdict"] != "failed" || udp["cause"] != "the port mapper answers on tcp but not udp: a firewall drops udp 111" {
				t.Errorf("port mapper without udp: %v", udp)
			}
			h2.Silence(t, "", 0)
			checkSteps(t, h2.Addr.String(), 1, []step{
				{"portmapper", "tcp", "failed", "the host is down or a firewall drops port 111"},
				{"portmapper", "udp", "failed", "the host is down or a firewall drops port 111"},
				{"mountd", "-", "skipped", "the port mapper does not answer"},
				{"nfs", "-", "skipped", "the port mapper does not answer"},
				{"nlockmgr", "-", "skipped", "the port mapper does not answer"},
				{"status", "-", "skipped", "the port mapper does not answer"},
				{"nfs", "tcp", "failed", "no NFSv4 server answers at tcp 2049 either"},
			})
		})
	}
}

func TestNFSUsage(t *testing.T) {
	for _, args := range [][]string{{"--nfs"}, {"--nfs", "a", "b"}, {"--nfs", "-p", "a"}, {"--nfs", "--verify", "a"}} {
		out, errs, rc := runArgs(t, nil, args...)
		if rc != 1 || out != "" || errs != "rpcinfo: --nfs takes one host and no mode: rpcinfo --nfs host\n" {
			t.Errorf("%q: rc %d, %q, %q", args, rc, out, errs)
		}
	}
}
