package client

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

// enc builds XDR by hand from uint32s (ints), strings, opaque []bytes and
// bools, independently of package portmap's encoders.
func enc(items ...any) []byte {
	var b []byte
	for _, it := range items {
		switch v := it.(type) {
		case int:
			b = xdr.AppendUint32(b, uint32(v))
		case uint32:
			b = xdr.AppendUint32(b, v)
		case string:
			b = xdr.AppendString(b, v)
		case []byte:
			b = xdr.AppendOpaque(b, v)
		case bool:
			b = xdr.AppendBool(b, v)
		default:
			panic("enc: unsupported item")
		}
	}
	return b
}

// statBytes encodes an rpcb_stat with counters info, set and unset counts,
// one address-lookup entry and no remote calls.
func statBytes(base int) []byte {
	var items []any
	for i := range portmap.StatHighProc {
		items = append(items, base+i)
	}
	items = append(items, base+20, base+21, true, 100003, 3, base+1, 0, "tcp", false, false)
	return enc(items...)
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestMethods(t *testing.T) {
	nfs := portmap.RPCB{Prog: 100003, Vers: 3, Netid: "tcp", Addr: "0.0.0.0.8.1", Owner: "me"}
	nfsArgs := enc(100003, 3, "tcp", "0.0.0.0.8.1", "me")
	rmt := portmap.RmtCallArgs{Prog: 100024, Vers: 1, Proc: 0, Args: []byte{1, 2, 3, 4}}
	rmtArgs := enc(100024, 1, 0, []byte{1, 2, 3, 4})
	sin := []byte{2, 0, 8, 1, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}
	dumpRes := enc(true, 100000, 4, "tcp6", "::.0.111", "superuser", true, 100003, 3, "udp", "0.0.0.0.8.1", "unknown", false)
	dumpWant := []portmap.RPCB{
		{Prog: 100000, Vers: 4, Netid: "tcp6", Addr: "::.0.111", Owner: "superuser"},
		{Prog: 100003, Vers: 3, Netid: "udp", Addr: "0.0.0.0.8.1", Owner: "unknown"},
	}
	pmapRes := enc(true, 100000, 2, 6, 111, true, 100003, 3, 17, 2049, false)
	var statWant portmap.StatByVers
	for i := range statWant {
		base := 10 * (i + 1)
		for j := range statWant[i].Info {
			statWant[i].Info[j] = int32(base + j)
		}
		statWant[i].SetInfo, statWant[i].UnsetInfo = int32(base+20), int32(base+21)
		statWant[i].AddrInfo = []portmap.AddrStat{{Prog: 100003, Vers: 3, Success: int32(base + 1), Netid: "tcp"}}
	}

	tests := []struct {
		name       string
		vers, proc uint32
		args, res  []byte
		call       func(context.Context, *Client) (any, error)
		want       any
	}{
		{"Null", 2, 0, nil, nil,
			func(ctx context.Context, c *Client) (any, error) { return nil, c.Null(ctx, 2) }, nil},
		{"PmapSet", 2, 1, enc(100099, 1, 6, 4242), enc(true),
			func(ctx context.Context, c *Client) (any, error) {
				return c.PmapSet(ctx, portmap.Mapping{Prog: 100099, Vers: 1, Prot: 6, Port: 4242})
			}, true},
		{"PmapUnset", 2, 2, enc(100099, 1, 0, 0), enc(false),
			func(ctx context.Context, c *Client) (any, error) {
				return c.PmapUnset(ctx, portmap.Mapping{Prog: 100099, Vers: 1})
			}, false},
		{"PmapGetport", 2, 3, enc(100003, 3, 6, 0), enc(2049),
			func(ctx context.Context, c *Client) (any, error) {
				return c.PmapGetport(ctx, portmap.Mapping{Prog: 100003, Vers: 3, Prot: 6})
			}, uint32(2049)},
		{"PmapDump", 2, 4, nil, pmapRes,
			func(ctx context.Context, c *Client) (any, error) { return c.PmapDump(ctx) },
			[]portmap.Mapping{{Prog: 100000, Vers: 2, Prot: 6, Port: 111}, {Prog: 100003, Vers: 3, Prot: 17, Port: 2049}}},
		{"PmapCallit", 2, 5, rmtArgs, enc(32770, []byte{9, 9}),
			func(ctx context.Context, c *Client) (any, error) {
				return c.PmapCallit(ctx, portmap.CallArgs{Prog: 100024, Vers: 1, Args: []byte{1, 2, 3, 4}})
			}, portmap.CallResult{Port: 32770, Res: []byte{9, 9}}},
		{"RpcbSet", 3, 1, nfsArgs, enc(true),
			func(ctx context.Context, c *Client) (any, error) { return c.RpcbSet(ctx, 3, nfs) }, true},
		{"RpcbUnset", 4, 2, nfsArgs, enc(false),
			func(ctx context.Context, c *Client) (any, error) { return c.RpcbUnset(ctx, 4, nfs) }, false},
		{"RpcbGetaddr", 3, 3, nfsArgs, enc("127.0.0.1.8.1"),
			func(ctx context.Context, c *Client) (any, error) { return c.RpcbGetaddr(ctx, 3, nfs) }, "127.0.0.1.8.1"},
		{"RpcbDump", 4, 4, nil, dumpRes,
			func(ctx context.Context, c *Client) (any, error) { return c.RpcbDump(ctx, 4) }, dumpWant},
		{"RpcbCallit", 3, 5, rmtArgs, enc("127.0.0.1.128.2", []byte{7}),
			func(ctx context.Context, c *Client) (any, error) { return c.RpcbCallit(ctx, 3, rmt) },
			portmap.RmtCallRes{Addr: "127.0.0.1.128.2", Results: []byte{7}}},
		{"RpcbCallit/BCAST", 4, 5, rmtArgs, enc("127.0.0.1.128.2", []byte{}),
			func(ctx context.Context, c *Client) (any, error) { return c.RpcbCallit(ctx, 4, rmt) },
			portmap.RmtCallRes{Addr: "127.0.0.1.128.2"}},
		{"Gettime", 3, 6, nil, enc(1795842941),
			func(ctx context.Context, c *Client) (any, error) { return c.Gettime(ctx, 3) }, uint32(1795842941)},
		{"Uaddr2taddr", 4, 7, enc("127.0.0.1.8.1"), enc(16, sin),
			func(ctx context.Context, c *Client) (any, error) { return c.Uaddr2taddr(ctx, 4, "127.0.0.1.8.1") },
			portmap.Netbuf{MaxLen: 16, Buf: sin}},
		{"Taddr2uaddr", 3, 8, enc(16, sin), enc("127.0.0.1.8.1"),
			func(ctx context.Context, c *Client) (any, error) {
				return c.Taddr2uaddr(ctx, 3, portmap.Netbuf{MaxLen: 16, Buf: sin})
			}, "127.0.0.1.8.1"},
		{"Getversaddr", 4, 9, nfsArgs, enc("127.0.0.1.8.1"),
			func(ctx context.Context, c *Client) (any, error) { return c.Getversaddr(ctx, nfs) }, "127.0.0.1.8.1"},
		{"Indirect", 4, 10, rmtArgs, enc("127.0.0.1.128.2", []byte{5, 6}),
			func(ctx context.Context, c *Client) (any, error) { return c.Indirect(ctx, rmt) },
			portmap.RmtCallRes{Addr: "127.0.0.1.128.2", Results: []byte{5, 6}}},
		{"Getaddrlist", 4, 11, nfsArgs,
			enc(true, "127.0.0.1.8.1", "udp", 1, "inet", "udp", true, "127.0.0.1.8.1", "tcp", 3, "inet", "tcp", false),
			func(ctx context.Context, c *Client) (any, error) { return c.Getaddrlist(ctx, nfs) },
			[]portmap.Entry{
				{Maddr: "127.0.0.1.8.1", Netid: "udp", Semantics: 1, Protofmly: "inet", Proto: "udp"},
				{Maddr: "127.0.0.1.8.1", Netid: "tcp", Semantics: 3, Protofmly: "inet", Proto: "tcp"},
			}},
		{"Getstat", 4, 12, nil, append(append(statBytes(10), statBytes(20)...), statBytes(30)...),
			func(ctx context.Context, c *Client) (any, error) { return c.Getstat(ctx) }, statWant},
		{"Dump/v3", 3, 4, nil, dumpRes,
			func(ctx context.Context, c *Client) (any, error) { return c.Dump(ctx, 3) }, dumpWant},
		{"Dump/v2", 2, 4, nil, pmapRes,
			func(ctx context.Context, c *Client) (any, error) { return c.Dump(ctx, 2) },
			[]portmap.RPCB{
				{Prog: 100000, Vers: 2, Netid: "tcp", Addr: "0.0.0.0.0.111", Owner: "unknown"},
				{Prog: 100003, Vers: 3, Netid: "udp", Addr: "0.0.0.0.8.1", Owner: "unknown"},
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{answer: func(*rpc.Request) ([]byte, error) { return tc.res, nil }}
			f := startFake(t, rec)
			networks := []string{"udp", "tcp", "unix"}
			if f.has6 {
				networks = append(networks, "udp6", "tcp6")
			}
			for _, network := range networks {
				c := f.client(network, nil)
				got, err := tc.call(ctxT(t, 5*time.Second), c)
				c.Close()
				if err != nil {
					t.Fatalf("%s: %v", network, err)
				}
				if !reflect.DeepEqual(got, tc.want) {
					t.Errorf("%s: got %#v, want %#v", network, got, tc.want)
				}
				calls := rec.take()
				if len(calls) != 1 {
					t.Fatalf("%s: the server got %d calls, want 1", network, len(calls))
				}
				k := calls[0]
				wantNet := network[:min(len(network), 3)]
				if network == "unix" {
					wantNet = "unix"
				}
				if k.network != wantNet || k.prog != portmap.Program || k.vers != tc.vers || k.proc != tc.proc {
					t.Errorf("%s: the server got %s program %d version %d procedure %d, want %s 100000 %d %d",
						network, k.network, k.prog, k.vers, k.proc, wantNet, tc.vers, tc.proc)
				}
				if !bytes.Equal(k.args, tc.args) {
					t.Errorf("%s: arguments\n got %x\nwant %x", network, k.args, tc.args)
				}
			}
		})
	}
}

// TestVersionChecks: a method given a version without its procedure fails
// before anything is sent.
func TestVersionChecks(t *testing.T) {
	rec := &recorder{answer: func(*rpc.Request) ([]byte, error) { return enc(true), nil }}
	f := startFake(t, rec)
	c := f.client("tcp", nil)
	defer c.Close()
	ctx := ctxT(t, 5*time.Second)
	r := portmap.RPCB{Prog: 1, Vers: 1, Netid: "tcp"}
	calls := map[string]func() error{
		"RpcbSet/2":     func() error { _, err := c.RpcbSet(ctx, 2, r); return err },
		"RpcbUnset/5":   func() error { _, err := c.RpcbUnset(ctx, 5, r); return err },
		"RpcbGetaddr/2": func() error { _, err := c.RpcbGetaddr(ctx, 2, r); return err },
		"RpcbDump/2":    func() error { _, err := c.RpcbDump(ctx, 2); return err },
		"RpcbCallit/2":  func() error { _, err := c.RpcbCallit(ctx, 2, portmap.RmtCallArgs{}); return err },
		"Gettime/2":     func() error { _, err := c.Gettime(ctx, 2); return err },
		"Uaddr2taddr/1": func() error { _, err := c.Uaddr2taddr(ctx, 1, "x"); return err },
		"Taddr2uaddr/0": func() error { _, err := c.Taddr2uaddr(ctx, 0, portmap.Netbuf{}); return err },
		"Dump/5":        func() error { _, err := c.Dump(ctx, 5); return err },
	}
	for name, call := range calls {
		err := call()
		var e *rpc.Error
		if !errors.As(err, &e) || e.Status != rpc.CantEncodeArgs || e.Prog != portmap.Program {
			t.Errorf("%s: got %v, want a CantEncodeArgs *rpc.Error naming program 100000", name, err)
		}
	}
	if n := len(rec.take()); n != 0 {
		t.Errorf("the server got %d calls, want none", n)
	}
}

// lookupAnswers answers a Lookup's calls per (version, procedure).
type lookupAnswers map[[2]uint32]func(*rpc.Request) ([]byte, error)

func (a lookupAnswers) answer(req *rpc.Request) ([]byte, error) {
	if f := a[[2]uint32{req.Header.Vers, req.Header.Proc}]; f != nil {
		return f(req)
	}
	return nil, rpc.ErrProcUnavail
}

func answer(res []byte) func(*rpc.Request) ([]byte, error) {
	return func(*rpc.Request) ([]byte, error) { return res, nil }
}

func fail(err error) func(*rpc.Request) ([]byte, error) {
	return func(*rpc.Request) ([]byte, error) { return nil, err }
}

func TestLookup(t *testing.T) {
	mismatch := func(low, high uint32) error {
		return &rpc.Error{Status: rpc.ProgVersMismatch, Low: low, High: high}
	}
	v4 := [2]uint32{4, 3}
	v3 := [2]uint32{3, 3}
	v2 := [2]uint32{2, 3}
	tests := []struct {
		name      string
		netid     string
		answers   lookupAnswers
		want      string
		status    rpc.Status // when the lookup fails
		wantCalls [][2]uint32
	}{
		{"v4 wildcard replaced", "tcp", lookupAnswers{v4: answer(enc("0.0.0.0.8.1"))},
			"127.0.0.1.8.1", 0, [][2]uint32{v4}},
		{"v4 specific kept", "udp", lookupAnswers{v4: answer(enc("127.0.0.2.8.1"))},
			"127.0.0.2.8.1", 0, [][2]uint32{v4}},
		{"v4 says not registered", "udp", lookupAnswers{v4: answer(enc(""))},
			"", rpc.ProgNotRegistered, [][2]uint32{v4}},
		{"v4 mismatch, v3 answers", "tcp", lookupAnswers{v4: fail(mismatch(2, 3)), v3: answer(enc("0.0.0.0.3.233"))},
			"127.0.0.1.3.233", 0, [][2]uint32{v4, v3}},
		{"v4 and v3 unavailable, v2 answers", "udp",
			lookupAnswers{v4: fail(rpc.ErrProgUnavail), v3: fail(rpc.ErrProgUnavail), v2: answer(enc(2049))},
			"127.0.0.1.8.1", 0, [][2]uint32{v4, v3, v2}},
		{"v2 port 0", "tcp",
			lookupAnswers{v4: fail(mismatch(2, 2)), v3: fail(mismatch(2, 2)), v2: answer(enc(0))},
			"", rpc.ProgNotRegistered, [][2]uint32{v4, v3, v2}},
		{"v2 fails", "tcp",
			lookupAnswers{v4: fail(mismatch(2, 2)), v3: fail(mismatch(2, 2)), v2: fail(rpc.ErrSystemErr)},
			"", rpc.PMapFailure, [][2]uint32{v4, v3, v2}},
		{"newer protocol only", "tcp", lookupAnswers{v4: fail(mismatch(5, 6))},
			"", rpc.ProgVersMismatch, [][2]uint32{v4}},
		{"system error ends the search", "tcp", lookupAnswers{v4: fail(rpc.ErrSystemErr)},
			"", rpc.SystemError, [][2]uint32{v4}},
		{"not an address", "tcp", lookupAnswers{v4: answer(enc("junk"))},
			"", rpc.N2AXlateFailure, [][2]uint32{v4}},
		{"address of the other family", "tcp", lookupAnswers{v4: answer(enc("::1.8.1"))},
			"", rpc.N2AXlateFailure, [][2]uint32{v4}},
		{"local", "local", lookupAnswers{v4: answer(enc("/run/x.sock"))},
			"/run/x.sock", 0, [][2]uint32{v4}},
		{"local has no v2", "local", lookupAnswers{v4: fail(rpc.ErrProgUnavail), v3: fail(rpc.ErrProgUnavail)},
			"", rpc.ProgNotRegistered, [][2]uint32{v4, v3}},
		{"udp6", "udp6", lookupAnswers{v4: answer(enc("::.8.1"))},
			"::1.8.1", 0, [][2]uint32{v4}},
		{"tcp6 has no v2", "tcp6", lookupAnswers{v4: fail(mismatch(2, 2)), v3: fail(mismatch(2, 2))},
			"", rpc.ProgNotRegistered, [][2]uint32{v4, v3}},
		{"unknown netid", "sctp", lookupAnswers{}, "", rpc.UnknownProto, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{answer: tc.answers.answer}
			f := startFake(t, rec)
			if (tc.netid == "udp6" || tc.netid == "tcp6") && !f.has6 {
				t.Skip("no ::1 on this machine")
			}
			// A Local client reaches 127.0.0.1 or ::1, as the netid needs.
			c := Local(&Options{Port: f.port, Network: "tcp", Socket: f.sock})
			defer c.Close()
			got, err := c.Lookup(ctxT(t, 5*time.Second), 100003, 3, tc.netid)
			if tc.status != 0 {
				var e *rpc.Error
				if !errors.As(err, &e) || e.Status != tc.status {
					t.Fatalf("got %q, %v; want status %v", got, err, tc.status)
				}
				if tc.status == rpc.ProgNotRegistered && (e.Prog != 100003 || e.Vers != 3 || e.Addr == "") {
					t.Errorf("error %v does not name the program looked up and the mapper", err)
				}
			} else if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
			calls := rec.take()
			var seen [][2]uint32
			wantNet := map[string]string{"udp": "udp", "udp6": "udp", "tcp": "tcp", "tcp6": "tcp", "local": "unix"}[tc.netid]
			for _, k := range calls {
				seen = append(seen, [2]uint32{k.vers, k.proc})
				if k.network != wantNet {
					t.Errorf("call %d/%d went over %s, want %s: Lookup must ask over the netid's transport", k.vers, k.proc, k.network, wantNet)
				}
				if k.vers == 2 {
					wantProt := map[string]uint32{"udp": 17, "tcp": 6}[tc.netid]
					if !bytes.Equal(k.args, enc(100003, 3, wantProt, 0)) {
						t.Errorf("GETPORT arguments %x, want prot %d", k.args, wantProt)
					}
					continue
				}
				var r portmap.RPCB
				d := xdr.NewDecoder(k.args)
				r.Decode(d)
				if d.Err() != nil || r.Prog != 100003 || r.Vers != 3 || r.Netid != tc.netid {
					t.Errorf("GETADDR arguments %+v (%v), want program 100003 version 3 netid %s", r, d.Err(), tc.netid)
				}
				if tc.netid == "tcp" || tc.netid == "udp" {
					if want := portmap.FormatUaddr(k.local.(interface{ AddrPort() netip.AddrPort }).AddrPort()); r.Addr != want {
						t.Errorf("GETADDR r_addr %q, want the mapper's address %q", r.Addr, want)
					}
				}
			}
			if !reflect.DeepEqual(seen, tc.wantCalls) {
				t.Errorf("calls %v, want %v", seen, tc.wantCalls)
			}
		})
	}
}

func TestDumpFallback(t *testing.T) {
	list := enc(true, 100000, 4, "tcp", "0.0.0.0.0.111", "superuser", false)
	want := []portmap.RPCB{{Prog: 100000, Vers: 4, Netid: "tcp", Addr: "0.0.0.0.0.111", Owner: "superuser"}}
	pmapList := enc(true, 100000, 2, 17, 111, false)
	pmapWant := []portmap.RPCB{{Prog: 100000, Vers: 2, Netid: "udp", Addr: "0.0.0.0.0.111", Owner: "unknown"}}
	byNet := func(udp, tcp func(*rpc.Request) ([]byte, error)) func(*rpc.Request) ([]byte, error) {
		return func(req *rpc.Request) ([]byte, error) {
			if req.Network == "udp" {
				return udp(req)
			}
			return tcp(req)
		}
	}
	tests := []struct {
		name     string
		network  string
		vers     uint32
		timeout  time.Duration
		answer   func(*rpc.Request) ([]byte, error)
		want     []portmap.RPCB
		status   rpc.Status
		wantNets []string
		minTime  time.Duration
	}{
		{"system error over udp", "udp", 3, 10 * time.Second,
			byNet(fail(rpc.ErrSystemErr), answer(list)), want, 0, []string{"udp", "tcp"}, 0},
		{"silence over udp", "udp", 2, 10 * time.Second,
			byNet(fail(rpc.ErrNoReply), answer(pmapList)), pmapWant, 0, []string{"udp", "tcp"}, dumpUDPWait},
		{"undecodable over udp", "udp", 4, 10 * time.Second,
			byNet(answer(enc(true, 100000)), answer(list)), want, 0, []string{"udp", "tcp"}, 0},
		{"udp answers", "udp", 4, 10 * time.Second,
			byNet(answer(list), fail(rpc.ErrSystemErr)), want, 0, []string{"udp"}, 0},
		{"prog unavail is final", "udp", 4, 10 * time.Second,
			byNet(fail(rpc.ErrProgUnavail), answer(list)), nil, rpc.ProgUnavail, []string{"udp"}, 0},
		{"tcp only", "tcp", 3, 10 * time.Second,
			byNet(answer(list), fail(rpc.ErrSystemErr)), nil, rpc.SystemError, []string{"tcp"}, 0},
		{"silent everywhere", "udp", 3, time.Second,
			fail(rpc.ErrNoReply), nil, rpc.TimedOut, nil, 900 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{answer: tc.answer}
			f := startFake(t, rec)
			c := f.client(tc.network, nil)
			defer c.Close()
			start := time.Now()
			got, err := c.Dump(ctxT(t, tc.timeout), tc.vers)
			elapsed := time.Since(start)
			if tc.status != 0 {
				var e *rpc.Error
				if !errors.As(err, &e) || e.Status != tc.status {
					t.Fatalf("got %v, %v; want status %v", got, err, tc.status)
				}
			} else if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
			if elapsed < tc.minTime || elapsed > tc.timeout+time.Second {
				t.Errorf("took %v, want between %v and %v", elapsed, tc.minTime, tc.timeout+time.Second)
			}
			if tc.wantNets == nil {
				return
			}
			var nets []string
			for _, k := range rec.take() {
				if k.vers != tc.vers || k.proc != 4 {
					t.Errorf("call %d/%d, want DUMP of version %d", k.vers, k.proc, tc.vers)
				}
				nets = append(nets, k.network)
			}
			// UDP calls may be retransmitted: compare the sequence of transports.
			if nets = slices.Compact(nets); !reflect.DeepEqual(nets, tc.wantNets) {
				t.Errorf("calls over %v, want %v", nets, tc.wantNets)
			}
		})
	}
}

// TestErrorsNameTheCall: failures are *rpc.Error naming the transport, the
// address, the program, version and procedure, with libtirpc's status.
func TestErrorsNameTheCall(t *testing.T) {
	// A port with nothing behind it, on TCP and UDP.
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	tests := []struct {
		network string
		status  rpc.Status
		errno   error
		addr    string
		text    string // as rpcinfo prints it (testdata/rpcinfo/down_*)
	}{
		{"udp", rpc.CantRecv, syscall.ECONNREFUSED, "127.0.0.1:" + itoa(port),
			"RPC: Unable to receive; errno = Connection refused"},
		{"tcp", rpc.SystemError, syscall.ECONNREFUSED, "127.0.0.1:" + itoa(port),
			"RPC: Remote system error - Connection refused"},
		{"unix", rpc.SystemError, syscall.ENOENT, "/nonexistent/rpcbind.sock",
			"RPC: Remote system error - No such file or directory"},
	}
	for _, tc := range tests {
		t.Run(tc.network, func(t *testing.T) {
			c := New("127.0.0.1", &Options{Port: port, Network: tc.network, Socket: "/nonexistent/rpcbind.sock"})
			defer c.Close()
			_, err := c.PmapGetport(ctxT(t, 5*time.Second), portmap.Mapping{Prog: 100003, Vers: 3, Prot: 6})
			var e *rpc.Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, want an *rpc.Error", err)
			}
			if e.Status != tc.status || !errors.Is(err, tc.errno) || e.Network != tc.network || e.Addr != tc.addr ||
				e.Prog != portmap.Program || e.Vers != 2 || e.Proc != portmap.PmapGetport {
				t.Errorf("got %#v (%v), want status %v, cause %v, network %s, address %s, program 100000 version 2 procedure 3",
					e, err, tc.status, tc.errno, tc.network, tc.addr)
			}
			if e.Text() != tc.text {
				t.Errorf("Text() = %q, want %q", e.Text(), tc.text)
			}
		})
	}
}

func TestClose(t *testing.T) {
	rec := &recorder{answer: answer(nil)}
	f := startFake(t, rec)
	for _, network := range []string{"udp", "tcp", "unix"} {
		c := f.client(network, nil)
		ctx := ctxT(t, 5*time.Second)
		if err := c.Null(ctx, 2); err != nil {
			t.Fatalf("%s: %v", network, err)
		}
		if err := c.Close(); err != nil {
			t.Errorf("%s: Close: %v", network, err)
		}
		err := c.Null(ctx, 2)
		if !errors.Is(err, rpc.ErrCantSend) || !errors.Is(err, errClosed) {
			t.Errorf("%s: call after Close: %v, want CantSend: client closed", network, err)
		}
	}
}

// TestHostForms: New takes names, IPv4 and IPv6 literals with or without brackets.
func TestHostForms(t *testing.T) {
	rec := &recorder{answer: answer(nil)}
	f := startFake(t, rec)
	hosts := []string{"127.0.0.1", "localhost"}
	if f.has6 {
		hosts = append(hosts, "::1", "[::1]")
	}
	for _, h := range hosts {
		c := New(h, &Options{Port: f.port, Network: "udp"})
		if err := c.Null(ctxT(t, 5*time.Second), 2); err != nil {
			t.Errorf("%s: %v", h, err)
		}
		if want := trimBrackets(h); c.Host() != want {
			t.Errorf("Host() = %q, want %q", c.Host(), want)
		}
		c.Close()
	}
	if got := Local(nil).Host(); got != "" {
		t.Errorf("Local(nil).Host() = %q, want \"\"", got)
	}
}

func trimBrackets(h string) string {
	if len(h) > 1 && h[0] == '[' {
		return h[1 : len(h)-1]
	}
	return h
}

func itoa(n int) string { return strconv.Itoa(n) }
