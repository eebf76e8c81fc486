package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/internal/render"
	"github.com/portmap-toolkit/pmap/internal/testsupport"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

// Programs of the registration check, one per verdict, from the range RFC
// 5531 leaves to users.
const (
	progAlive  = 0x20000010 // served at portAlive
	progDead   = 0x20000011 // registered at portDead, where nothing listens
	progSilent = 0x20000012 // served at portSilent, which a firewall drops
	progOld    = 0x20000013 // serves versions 1-2, registered as version 3
	progTaken  = 0x20000014 // registered at portAlive, where progAlive answers
)

const (
	portAlive  = 3001
	portDead   = 3002
	portSilent = 3003
	portOld    = 3004
)

// verifyScenario serves and registers the programs above in h.
func verifyScenario(t *testing.T, h *testsupport.Host, m *peerMapper) {
	t.Helper()
	serveProgram(t, h, progAlive, 1, 1, portAlive, portAlive)
	m.set(progAlive, 1, portAlive, "udp", "tcp")
	m.set(progDead, 1, portDead, "udp", "tcp")
	serveProgram(t, h, progSilent, 1, 1, portSilent, portSilent)
	h.Silence(t, "", portSilent)
	m.set(progSilent, 1, portSilent, "udp", "tcp")
	serveProgram(t, h, progOld, 1, 2, portOld, portOld)
	m.set(progOld, 3, portOld, "udp", "tcp")
	m.set(progTaken, 1, portAlive, "udp", "tcp")
}

// wantVerdicts are the verdicts of the scenario's registrations.
var wantVerdicts = map[uint32]render.Verdict{
	progAlive: render.Alive, progDead: render.Refused, progSilent: render.Silent,
	progOld: render.Mismatch, progTaken: render.Unavailable,
}

// TestVerify checks every verdict of --verify against a port mapper in a
// peer host, Debian's rpcbind and portmapd, in every output form and in the
// listings that take it, and that the exit status says whether all answer.
func TestVerify(t *testing.T) {
	for _, mk := range mapperKinds {
		t.Run(mk.name, func(t *testing.T) {
			if !testsupport.Isolate(t) {
				return
			}
			h := testsupport.Peer(t, "server")
			mk.start(t, h)
			m := newPeerMapper(t, h)
			verifyScenario(t, h, m)
			host := h.Addr.String()

			start := time.Now()
			res := runOurs(t, nil, "--verify", "--timeout", "2s", "-o", "json", host)
			if took := time.Since(start); took > 4*time.Second {
				t.Errorf("--verify took %v with a 2s timeout", took)
			}
			if res.rc != 1 || res.err != "" {
				t.Fatalf("--verify -o json: %v", res)
			}
			docs := decodeLines(t, res.out)
			if len(docs) != 1 || docs[0]["kind"] != render.KindVerification || docs[0]["alive"] != false || docs[0]["host"] != host {
				t.Fatalf("want one verification document, not alive:\n%s", res.out)
			}
			seen := map[string]bool{}
			for _, c := range docs[0]["checks"].([]any) {
				c := c.(map[string]any)
				prog, netid, verdict := uint32(c["program"].(float64)), c["netid"].(string), c["verdict"].(string)
				if want, ok := wantVerdicts[prog]; ok {
					seen[fmt.Sprint(prog, netid)] = true
					if verdict != want.String() {
						t.Errorf("program %#x over %s: %s, want %s (%v)", prog, netid, verdict, want, c)
					}
					if want == render.Mismatch && (c["low"] != 1.0 || c["high"] != 2.0) {
						t.Errorf("mismatch without its range: %v", c)
					}
					if want == render.Alive && c["rtt_ms"] == nil {
						t.Errorf("alive without a round-trip time: %v", c)
					}
					continue
				}
				// The mapper's own registrations: alive over IPv4, skipped
				// where they cannot be called from here (its unix socket,
				// IPv6, which the peer has no address of).
				switch {
				case prog == portmap.Program && (netid == "tcp" || netid == "udp"):
					if verdict != "alive" {
						t.Errorf("the mapper over %s: %s", netid, verdict)
					}
				case verdict != "skipped":
					t.Errorf("program %d over %s: %s, want skipped (%v)", prog, netid, verdict, c)
				}
			}
			if len(seen) != 2*len(wantVerdicts) {
				t.Errorf("checked %d of the scenario's %d registrations", len(seen), 2*len(wantVerdicts))
			}

			// The classic form: rpcinfo's columns with the verdict, a
			// summary on standard error.
			res = runOurs(t, nil, "--verify", "--timeout", "2s", host)
			for _, want := range []string{"   program version netid     address                service    verdict\n",
				"refused", "silent", "mismatch 1-2", "unavailable", "alive ", "skipped: a unix socket of " + host} {
				if !strings.Contains(res.out, want) {
					t.Errorf("classic --verify lacks %q:\n%s", want, res.out)
				}
			}
			if res.rc != 1 || !strings.HasPrefix(res.err, "rpcinfo: 8 of ") || !strings.HasSuffix(res.err, " registrations do not answer as registered\n") {
				t.Errorf("classic --verify: %v", res)
			}
			res = runOurs(t, nil, "--verify", "--timeout", "2s", "-o", "table", host)
			if res.rc != 1 || !strings.Contains(res.out, "VERDICT") || !strings.Contains(res.out, "mismatch") {
				t.Errorf("table --verify: %v", res)
			}

			// -p checks the portmap listing, -l one program's addresses.
			res = runOurs(t, nil, "--verify", "--timeout", "2s", "-p", host)
			for _, want := range []string{"refused", "silent", "mismatch 1-2", "unavailable"} {
				if res.rc != 1 || !strings.Contains(res.out, want) {
					t.Errorf("-p --verify lacks %q: %v", want, res)
				}
			}
			res = runOurs(t, nil, "--verify", "-o", "json", "-l", host, fmt.Sprint(progDead), "1")
			docs = decodeLines(t, res.out)
			if res.rc != 1 || len(docs) != 1 || len(docs[0]["checks"].([]any)) != 2 ||
				docs[0]["checks"].([]any)[0].(map[string]any)["verdict"] != "refused" {
				t.Errorf("-l --verify of a dead program: %v", res)
			}

			// Once the stale registrations are gone, everything answers.
			for _, p := range []uint32{progDead, progSilent, progTaken} {
				m.unset(p, 1)
			}
			m.unset(progOld, 3)
			for _, args := range [][]string{{host}, {"-s", host}, {"-p", host}, {"-l", host, fmt.Sprint(progAlive), "1"}} {
				res = runOurs(t, nil, append([]string{"--verify", "--timeout", "2s"}, args...)...)
				if res.rc != 0 || res.err != "" || !strings.Contains(res.out, "alive") ||
					strings.Contains(res.out, "refused") || strings.Contains(res.out, "silent") {
					t.Errorf("--verify %q after the clean-up: %v", args, res)
				}
			}
		})
	}
}

// TestVerifyLocal checks --verify through the local socket, where wildcard
// and loopback addresses are called on the loopback and the mapper's own
// unix socket too.
func TestVerifyLocal(t *testing.T) {
	if !testsupport.Isolate(t) {
		return
	}
	testsupport.StartRpcbind(t)
	reg := newRegistrar(t)
	live := serveAndRegister(t, reg, progLive, 1, 2)
	reg.v3(portmap.RPCB{Prog: progDead, Vers: 1, Netid: "tcp", Addr: "0.0.0.0.11.186", Owner: "superuser"}) // port 3002
	res := runOurs(t, nil, "--verify", "--timeout", "2s", "-o", "json")
	docs := decodeLines(t, res.out)
	if res.rc != 1 || len(docs) != 1 {
		t.Fatalf("--verify: %v", res)
	}
	for _, c := range docs[0]["checks"].([]any) {
		c := c.(map[string]any)
		want := "alive"
		if c["program"] == float64(progDead) {
			want = "refused"
		}
		if c["verdict"] != want {
			t.Errorf("%v: want %s", c, want)
		}
		if c["netid"] == "local" && c["target"] != testsupport.RpcbindSocket {
			t.Errorf("the local socket was called at %v", c["target"])
		}
	}
	if live.Calls() < 4 {
		t.Errorf("the live program answered %d calls, want one per registration (4)", live.Calls())
	}
	res = runOurs(t, nil, "--verify", "-t", "127.0.0.1", "100000")
	if res.rc != 1 || !strings.Contains(res.err, "--verify checks the registrations of a listing") {
		t.Errorf("--verify with -t: %v", res)
	}
}
