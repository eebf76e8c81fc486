package main

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/internal/render"
	"github.com/portmap-toolkit/pmap/internal/testsupport"
	"github.com/portmap-toolkit/pmap/pkg/audit"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

// progUnnamed is a program no names table knows, from the range RFC 5531
// leaves to users.
const progUnnamed = 0x20001234

// discoverWindow is the call timeout of the tests' discoveries: the services
// are across a veth pair and answer within a millisecond.
const discoverWindow = time.Second

// TestDiscoverInNamespaces runs rpcinfo --discover against fake services in
// a peer, over udp and tcp, without any port mapper: a known program is
// found from the names table, a program no table names only from a given
// list, a silent port reports nothing after one call timeout and is sent
// nothing but the control call; -n and ranges, JSON lines and the table form
// say the same.
func TestDiscoverInNamespaces(t *testing.T) {
	if !testsupport.Isolate(t) {
		return
	}
	testsupport.Require(t, "nft")
	h := testsupport.Peer(t, "services")
	known := h.ServeFake(t, 100005, 1, 3)
	unnamed := h.ServeFake(t, progUnnamed, 2, 5)
	hidden := h.ServeFake(t, 100024, 1, 1)
	h.Silence(t, "udp", int(hidden.UDP.Port()))
	h.Silence(t, "tcp", int(hidden.TCP.Port()))
	if _, named := portmap.DefaultNames().Name(progUnnamed); named {
		t.Fatalf("program %d has a name", progUnnamed)
	}
	asked := len(portmap.DefaultNames().Entries())
	given := fmt.Sprintf("mountd,status,%d", progUnnamed)
	window := discoverWindow.String()

	for _, network := range []string{"udp", "tcp"} {
		addr := func(f *testsupport.FakeService) netip.AddrPort {
			if network == "tcp" {
				return f.TCP
			}
			return f.UDP
		}
		k, u, s := addr(known), addr(unnamed), addr(hidden)
		tests := []struct {
			name  string
			args  []string
			rc    int
			out   string
			quick bool // takes about one call timeout at most
		}{
			{"a known program, from the names table", []string{k.String()}, 0,
				k.String() + "/" + network + "      100005 mountd      versions 1-3\n", false},
			{"an unnamed program is not in the names table", []string{u.String()}, 1,
				fmt.Sprintf("%s/%s  no program found (%d asked)\n", u, network, asked), false},
			{"an unnamed program from a given list", []string{"--programs", given, u.String()}, 0,
				u.String() + "/" + network + "   536875572 -           versions 2-5\n", true},
			{"-n gives the port", []string{"-n", fmt.Sprint(k.Port()), "--programs", given, h.Addr.String()}, 0,
				k.String() + "/" + network + "      100005 mountd      versions 1-3\n", true},
			{"a silent port reports nothing", []string{"--programs", given, s.String()}, 1,
				s.String() + "/" + network + "  silent\n", true},
		}
		for _, tt := range tests {
			t.Run(network+"/"+tt.name, func(t *testing.T) {
				start := time.Now()
				res := runOurs(t, nil, append([]string{"--discover", "-T", network, "--window", window}, tt.args...)...)
				took := time.Since(start)
				if res.rc != tt.rc || res.out != tt.out || res.err != "" {
					t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, stdout %q", res.rc, res.out, res.err, tt.rc, tt.out)
				}
				if tt.quick && took > discoverWindow+time.Second {
					t.Errorf("took %v, want about one call timeout (%v) at most", took, discoverWindow)
				}
			})
		}

		// Every target at once, as JSON lines that decode as documents.
		t.Run(network+"/JSON lines", func(t *testing.T) {
			res := runOurs(t, nil, "--discover", "-T", network, "--window", window, "-o", "json", "--programs", given,
				k.String()+","+u.String(), s.String())
			var docs []render.DiscoveryDocument
			dec := json.NewDecoder(strings.NewReader(res.out))
			dec.DisallowUnknownFields()
			for dec.More() {
				var d render.DiscoveryDocument
				if err := dec.Decode(&d); err != nil {
					t.Fatalf("%v\n%s", err, res.out)
				}
				docs = append(docs, d)
			}
			if res.rc != 0 || res.err != "" || len(docs) != 3 || strings.Count(res.out, "\n") != 3 {
				t.Fatalf("want three JSON lines: %v", res)
			}
			want := []struct {
				target string
				state  string
				found  []audit.Found
			}{
				{k.String(), audit.StateRPC, []audit.Found{{Prog: 100005, Name: "mountd", Status: "PROG_MISMATCH", Low: 1, High: 3}}},
				{u.String(), audit.StateRPC, []audit.Found{{Prog: progUnnamed, Status: "PROG_MISMATCH", Low: 2, High: 5}}},
				{s.String(), audit.StateSilent, []audit.Found{}},
			}
			for i, w := range want {
				d := docs[i]
				if d.Schema != render.Schema || d.Kind != render.KindDiscovery || d.Host != h.Addr.String() ||
					d.Network != network || d.Target.Addr != w.target || d.State != w.state || fmt.Sprint(d.Programs) != fmt.Sprint(w.found) {
					t.Errorf("document %d: %+v\nwant %s %s %+v", i, d, w.target, w.state, w.found)
				}
				if w.state == audit.StateRPC && (d.Asked != 3 || d.ControlStatus != "PROG_UNAVAIL" || d.Version < audit.MinProbeVersion) {
					t.Errorf("document %d: asked %d, control %q, version %d", i, d.Asked, d.ControlStatus, d.Version)
				}
			}
		})
	}

	// A range: only the address where something answers has a line.
	t.Run("range", func(t *testing.T) {
		r := netip.PrefixFrom(h.Addr, 30).Masked()
		res := runOurs(t, nil, "--discover", "-T", "udp", "--window", window, "--programs", given,
			"-n", fmt.Sprint(known.UDP.Port()), r.String())
		want := known.UDP.String() + "/udp      100005 mountd      versions 1-3\n"
		if res.rc != 0 || res.out != want || res.err != "" {
			t.Errorf("--discover of %s: %v\nwant %q", r, res, want)
		}
	})

	t.Run("table", func(t *testing.T) {
		res := runOurs(t, nil, "--discover", "-T", "tcp", "-o", "table", "--window", window, known.TCP.String())
		for _, want := range []string{"TARGET", "VERSIONS", known.TCP.String(), "mountd", "1-3", "PROG_MISMATCH"} {
			if res.rc != 0 || !strings.Contains(res.out, want) {
				t.Errorf("table lacks %q: %v", want, res)
			}
		}
	})

	if n := hidden.Calls(); n != 0 {
		t.Errorf("the silenced program answered %d calls", n)
	}
}
