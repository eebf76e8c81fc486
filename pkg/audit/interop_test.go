package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/internal/testsupport"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
)

// The interop tests run inside a namespace of their own (testsupport.Isolate):
// the port mapper under audit runs in a peer, a second network namespace
// joined by a veth pair, so the audit's calls come from a non-loopback source
// as an attacker's would. They skip where root, rpcbind or nft is missing,
// and fail then when CI is set.

// seedMappings reads testdata/seed-registrations.txt: "prog vers proto port".
func seedMappings(t *testing.T) []portmap.Mapping {
	t.Helper()
	b, err := os.ReadFile("../../testdata/seed-registrations.txt")
	if err != nil {
		t.Fatal(err)
	}
	var out []portmap.Mapping
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) != 4 {
			continue
		}
		var n [3]uint64
		for i, s := range []string{f[0], f[1], f[3]} {
			if n[i], err = strconv.ParseUint(s, 10, 32); err != nil {
				t.Fatalf("seed line %q: %v", line, err)
			}
		}
		prot, ok := portmap.ParseProt(f[2])
		if !ok {
			t.Fatalf("seed line %q: protocol %q", line, f[2])
		}
		out = append(out, portmap.Mapping{Prog: uint32(n[0]), Vers: uint32(n[1]), Prot: prot, Port: uint32(n[2])})
	}
	return out
}

// register makes each mapping with portmap v2 SET from the peer's loopback,
// where rpcbind accepts it.
func register(t *testing.T, h *testsupport.Host, ms []portmap.Mapping) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var c *rpc.Client
	if err := h.Do(func() (err error) {
		c, err = rpc.Dial(ctx, "udp", "127.0.0.1:111", nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, m := range ms {
		res, err := c.Call(ctx, portmap.Program, portmap.V2, portmap.PmapSet, m.Append(nil))
		if err != nil || len(res) != 4 || res[3] != 1 {
			t.Fatalf("SET %+v: %x %v", m, res, err)
		}
	}
}

// mapperCase is a port mapper the audit runs against, from a peer.
type mapperCase struct {
	name string
	// start runs the mapper on port 111 of h with the seed and target
	// registered.
	start      func(t *testing.T, h *testsupport.Host, target *testsupport.FakeService)
	reflects   bool // some probe's factor is above 1
	verdict    string
	forwarding string
}

// startRpcbind starts Debian's rpcbind with args in h and registers the seed
// and then the target over UDP.
func startRpcbind(args ...string) func(*testing.T, *testsupport.Host, *testsupport.FakeService) {
	return func(t *testing.T, h *testsupport.Host, target *testsupport.FakeService) {
		h.StartRpcbind(t, args...)
		register(t, h, append(seedMappings(t),
			portmap.Mapping{Prog: targetProg, Vers: 1, Prot: portmap.IPProtoUDP, Port: uint32(target.UDP.Port())}))
	}
}

// startPortmapd runs this project's portmapd in h with no flags, so with
// its safe defaults, waits until it listens on port 111, and registers the
// seed and then the target as startRpcbind does.
func startPortmapd(t *testing.T, h *testsupport.Host, target *testsupport.FakeService) {
	bin := filepath.Join(testsupport.BuildGo(t, "./cmd/portmapd"), "portmapd")
	p := h.Start(t, bin)
	for _, network := range []string{"udp", "tcp"} {
		p.WaitPort(t, network, netip.AddrPortFrom(h.Addr, portmap.Port).String())
	}
	register(t, h, append(seedMappings(t),
		portmap.Mapping{Prog: targetProg, Vers: 1, Prot: portmap.IPProtoUDP, Port: uint32(target.UDP.Port())}))
}

// startSafeFake serves, on port 111 of h, a mapper built on pkg/rpc that
// answers DUMP and GETSTAT over UDP with a short SYSTEM_ERR, lists over
// TCP, and forwards nothing.
func startSafeFake(t *testing.T, h *testsupport.Host, target *testsupport.FakeService) {
	m := fakeMapper{short: true, stat: someStats(), list: mapperEntries(portmap.Port)}
	for _, s := range seedMappings(t) {
		netid, _ := portmap.NetidForProt(s.Prot)
		m.list = append(m.list, registration(s.Prog, s.Vers, netid, netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(s.Port))))
	}
	m.list = append(m.list, registration(targetProg, 1, portmap.NetidUDP, netip.AddrPortFrom(netip.IPv4Unspecified(), target.UDP.Port())))
	var pc net.PacketConn
	var ln net.Listener
	if err := h.Do(func() (err error) {
		if pc, err = net.ListenPacket("udp4", "0.0.0.0:111"); err != nil {
			return err
		}
		if ln, err = net.Listen("tcp4", "0.0.0.0:111"); err != nil {
			pc.Close()
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	serve(t, &rpc.Server{Handler: m.mux()}, pc, ln)
}

func TestReflectionAuditInNamespaces(t *testing.T) {
	if !testsupport.Isolate(t) {
		return
	}
	testsupport.Require(t, "rpcbind", "nft")
	cases := []mapperCase{
		{name: "rpcbind", start: startRpcbind(), reflects: true, verdict: VerdictReflector, forwarding: ForwardsNo},
		{name: "rpcbind -r", start: startRpcbind("-r"), reflects: true, verdict: VerdictReflector, forwarding: ForwardsYes},
		{name: "safe fake mapper", start: startSafeFake, verdict: VerdictSafe, forwarding: ForwardsNo},
		// portmapd with its safe defaults (issue #6): no UDP reply to a
		// non-loopback source larger than its call, forwarding off.
		{name: "portmapd defaults", start: startPortmapd, verdict: VerdictSafe, forwarding: ForwardsNo},
	}
	for i, mc := range cases {
		t.Run(mc.name, func(t *testing.T) {
			h := testsupport.Peer(t, fmt.Sprintf("mapper%d", i))
			target := h.ServeFake(t, targetProg, 1, 1)
			mc.start(t, h, target)
			checkFactorsAgainstKernel(t, h, mc)
			checkFullAudit(t, h, target, mc)
		})
	}
}

// checkFactorsAgainstKernel runs each probe alone and compares its counts
// with the kernel's, and a DUMP's reply with the same list fetched over TCP.
func checkFactorsAgainstKernel(t *testing.T, h *testsupport.Host, mc mapperCase) {
	t.Helper()
	counter := testsupport.CountUDP(t, h.Addr, portmap.Port)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tcp, err := rpc.Dial(ctx, "tcp", netip.AddrPortFrom(h.Addr, portmap.Port).String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	for _, k := range AllProbes() {
		counter.Take(t)
		r := AuditHost(ctx, h.Addr.String(), &AuditOptions{Probes: []ProbeKind{k}, SkipForwarding: true, Window: testWindow})
		reqPkts, reqBytes, repPkts, repBytes := counter.Take(t)
		if len(r.Probes) != 1 {
			t.Fatalf("%s: %d probes", k, len(r.Probes))
		}
		p := r.Probes[0]
		t.Logf("%s %s: %d bytes in %d datagrams for %d in %d: %s (%s of UDP payload); the kernel counted %d/%d for %d/%d",
			mc.name, k.Label(), p.ReplyBytes, p.ReplyDatagrams, p.RequestBytes, p.RequestDatagrams,
			FormatFactor(p.Factor), FormatFactor(p.PayloadFactor), repBytes, repPkts, reqBytes, reqPkts)
		if p.RequestDatagrams != reqPkts || p.RequestBytes != reqBytes || p.ReplyDatagrams != repPkts || p.ReplyBytes != repBytes {
			t.Errorf("%s: the audit counted %d/%d sent and %d/%d received; the kernel %d/%d and %d/%d",
				k, p.RequestBytes, p.RequestDatagrams, p.ReplyBytes, p.ReplyDatagrams, reqBytes, reqPkts, repBytes, repPkts)
		}
		if reqBytes > 0 && p.Factor != float64(repBytes)/float64(reqBytes) {
			t.Errorf("%s: factor %v, the kernel's counts give %v", k, p.Factor, float64(repBytes)/float64(reqBytes))
		}
		if mc.reflects != (p.Factor > MaxSafeFactor) && k != GetstatV4 {
			t.Errorf("%s: factor %v; this mapper reflects: %v", k, p.Factor, mc.reflects)
		}
		if !mc.reflects && p.Factor > MaxSafeFactor {
			t.Errorf("%s: factor %v from a mapper that must not reflect", k, p.Factor)
		}

		// The same results over TCP: a reply of the same size, if the
		// UDP one carried the results.
		vers, proc, _ := k.call()
		if p.Status == "SUCCESS" && k != GetstatV4 { // GETSTAT's counters change size as calls go by
			res, err := tcp.Call(ctx, portmap.Program, vers, proc, nil)
			if err != nil {
				t.Fatalf("%s over TCP: %v", k, err)
			}
			if want := UDPHeaderLen + replyHeaderLen + len(res); p.ReplyBytes != want || p.ReplyDatagrams != 1 {
				t.Errorf("%s: %d bytes in %d datagrams over UDP; the same list over TCP makes one of %d", k, p.ReplyBytes, p.ReplyDatagrams, want)
			}
		}
	}
}

// checkFullAudit runs the whole audit and checks its verdicts.
func checkFullAudit(t *testing.T, h *testsupport.Host, target *testsupport.FakeService, mc mapperCase) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	before := target.Calls()
	r := AuditHost(ctx, h.Addr.String(), &AuditOptions{Window: testWindow})
	js, _ := json.MarshalIndent(r, "", "  ")
	t.Logf("%s: %s\n%s", mc.name, r.Summary, js)
	if r.Verdict != mc.verdict {
		t.Errorf("verdict %q (%s), want %q", r.Verdict, r.Summary, mc.verdict)
	}
	f := r.Forwarding
	if f == nil || f.Verdict != mc.forwarding {
		t.Fatalf("forwarding %+v, want %q", f, mc.forwarding)
	}
	if f.Target == nil || f.Target.Prog != targetProg || f.Target.Direct != DirectAnswers {
		t.Errorf("forwarding target %+v, want program %#x answering directly", f.Target, targetProg)
	}
	// The direct call is one NULL; a forwarded call is one more each.
	calls := target.Calls() - before
	if mc.forwarding == ForwardsYes && calls < 2 || mc.forwarding == ForwardsNo && calls != 1 {
		t.Errorf("the target saw %d NULL calls; forwarding %s", calls, mc.forwarding)
	}
	checkAdvice(t, r)

	// The mapper's own NULL, the target of last resort: rpcbind -r forwards
	// it like any other; a refusal to call itself proves nothing.
	self := AuditHost(ctx, h.Addr.String(), &AuditOptions{Probes: []ProbeKind{}, Window: testWindow,
		ForwardTarget: &Program{Prog: portmap.Program, Vers: portmap.V2}})
	want := ForwardsUnknown
	if mc.forwarding == ForwardsYes {
		want = ForwardsYes
	}
	f = self.Forwarding
	if f == nil || f.Verdict != want || f.Target == nil || !f.Target.Self || f.Target.Direct != DirectAnswers {
		t.Errorf("asked to forward to itself: %+v, want %q", f, want)
	} else {
		t.Logf("%s, asked to forward to itself: %s (%s)", mc.name, f.Verdict, f.Reason)
	}
}

func TestDiscoveryInNamespaces(t *testing.T) {
	if !testsupport.Isolate(t) {
		return
	}
	testsupport.Require(t, "nft")
	h := testsupport.Peer(t, "services")
	known := h.ServeFake(t, mountdProg, 1, 3)
	unknown := h.ServeFake(t, unknownProg, 2, 5)
	hidden := h.ServeFake(t, 100024, 1, 1)
	h.Silence(t, "udp", int(hidden.UDP.Port()))
	h.Silence(t, "tcp", int(hidden.TCP.Port()))

	names := portmap.BuiltinNames()
	var withUnknown []uint32
	for _, e := range names.Entries() {
		withUnknown = append(withUnknown, e.Number)
	}
	withUnknown = append(withUnknown, unknownProg)
	mountd, _ := names.Name(mountdProg)
	wantKnown := []Found{{Prog: mountdProg, Name: mountd, Status: "PROG_MISMATCH", Low: 1, High: 3}}
	wantUnknown := []Found{{Prog: unknownProg, Status: "PROG_MISMATCH", Low: 2, High: 5}}

	const callTimeout = time.Second
	tests := []struct {
		name     string
		programs []uint32 // nil: the names table
		addr     netip.AddrPort
		state    string
		found    []Found
	}{
		{"a known program, from the names table", nil, known.UDP, StateRPC, wantKnown},
		{"an unknown program is not in the names table", nil, unknown.UDP, StateRPC, []Found{}},
		{"an unknown program from a given list", withUnknown, unknown.UDP, StateRPC, wantUnknown},
		{"a silent port reports nothing", withUnknown, hidden.UDP, StateSilent, []Found{}},
	}
	for _, tt := range tests {
		for _, network := range []string{"udp", "tcp"} {
			t.Run(tt.name+"/"+network, func(t *testing.T) {
				addr := tt.addr
				if network == "tcp" {
					switch addr {
					case known.UDP:
						addr = known.TCP
					case unknown.UDP:
						addr = unknown.TCP
					case hidden.UDP:
						addr = hidden.TCP
					}
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				start := time.Now()
				d := DiscoverTarget(ctx, Target{Network: network, Addr: addr.String()},
					&DiscoverOptions{Programs: tt.programs, Names: names, CallTimeout: callTimeout})
				took := time.Since(start)
				js, _ := json.Marshal(d)
				t.Logf("%s in %v", js, took.Round(time.Millisecond))
				if d.State != tt.state || !slices.Equal(d.Programs, tt.found) || d.Error != "" {
					t.Errorf("state %q, found %+v, error %q; want %q, %+v", d.State, d.Programs, d.Error, tt.state, tt.found)
				}
				if tt.state == StateSilent && (took > callTimeout+time.Second || d.Asked != 0) {
					t.Errorf("a silent port took %v and %d calls; want one call timeout (%v) and no scan", took, d.Asked, callTimeout)
				}
			})
		}
	}
	if n := hidden.Calls(); n != 0 {
		t.Errorf("the silenced program answered %d calls", n)
	}
}
