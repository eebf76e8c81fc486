package client

import (
	"context"
	"net"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/internal/testsupport"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
	"golang.org/x/net/ipv6"
)

// echoProc of fakeProg version 1 answers "<host>:<its string argument>".
const echoProc = 1

// responder is a peer host running rpcbind -r and a fake program on its
// loopback, registered for udp and udp6.
type responder struct {
	host         *testsupport.Host
	port4, port6 uint16
}

// startResponder makes a peer called name with rpcbind -r and fakeProg.
func startResponder(t *testing.T, ctx context.Context, name string) *responder {
	t.Helper()
	h := testsupport.Peer(t, name)
	h.StartRpcbind(t, "-r")
	m := versionsMux(1)
	m.HandleFunc(fakeProg, 1, echoProc, func(_ context.Context, req *rpc.Request, res []byte) ([]byte, error) {
		d := xdr.NewDecoder(req.Args)
		s := d.String(100)
		if d.Err() != nil {
			return nil, rpc.ErrGarbageArgs
		}
		return xdr.AppendString(res, name+":"+s), nil
	})
	srv := &rpc.Server{Handler: m}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	// The sockets are opened in the peer's network namespace.
	var pc4, pc6 net.PacketConn
	err := h.Do(func() error {
		var err error
		if pc4, err = net.ListenPacket("udp4", "127.0.0.1:0"); err != nil {
			return err
		}
		pc6, err = net.ListenPacket("udp6", "[::1]:0")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	go srv.ServePacket(pc4)
	go srv.ServePacket(pc6)
	r := &responder{host: h, port4: addrPort(pc4.LocalAddr()).Port(), port6: addrPort(pc6.LocalAddr()).Port()}

	// Register through the peer's rpcbind socket, seen from here.
	c := Local(&Options{Socket: filepath.Join(h.RunDir, "rpcbind.sock")})
	defer c.Close()
	for _, reg := range []portmap.RPCB{
		{Prog: fakeProg, Vers: 1, Netid: "udp", Addr: portmap.FormatUaddr(addrPort(pc4.LocalAddr()))},
		{Prog: fakeProg, Vers: 1, Netid: "udp6", Addr: portmap.FormatUaddr(addrPort(pc6.LocalAddr()))},
	} {
		if ok, err := c.RpcbSet(ctx, 3, reg); err != nil || !ok {
			t.Fatalf("%s: SET %+v: %v, %v", name, reg, ok, err)
		}
	}
	return r
}

// reply is one answer to a broadcast.
type reply struct {
	from netip.AddrPort
	res  string
}

// collect broadcasts proc with the string arg over netid for d and returns
// the distinct answers.
func collect(t *testing.T, ctx context.Context, netid string, proc uint32, arg string, d time.Duration) map[reply]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var mu sync.Mutex
	got := make(map[reply]int)
	var args []byte
	if proc == echoProc {
		args = xdr.AppendString(nil, arg)
	}
	err := BroadcastCall(ctx, netid, fakeProg, 1, proc, args, nil, func(from netip.AddrPort, res []byte) bool {
		var s string
		if proc == echoProc {
			d := xdr.NewDecoder(res)
			s = d.String(100)
			if d.Err() != nil {
				t.Errorf("answer from %v: %v", from, d.Err())
			}
		}
		mu.Lock()
		got[reply{from, s}]++
		mu.Unlock()
		return true
	})
	if err != nil {
		t.Fatalf("broadcast over %s: %v", netid, err)
	}
	return got
}

// waitLinkLocal waits until interface ifname of host h (nil: the test's own
// namespace) has a link-local IPv6 address that duplicate address detection
// has cleared, so that it can send from it.
func waitLinkLocal(t *testing.T, h *testsupport.Host, ifname string) {
	t.Helper()
	args := []string{"-6", "addr", "show", "dev", ifname, "scope", "link"}
	if h != nil {
		args = append([]string{"-n", h.Name}, args...)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		out, err := exec.Command("ip", args...).Output()
		if err != nil {
			t.Fatalf("ip %v: %v", args, err)
		}
		if s := string(out); strings.Contains(s, "inet6 fe80:") && !strings.Contains(s, "tentative") {
			return
		}
	}
	t.Fatalf("no usable link-local address on %s after 10s", ifname)
}

// startMulticastMapper answers rpcbind v3 CALLIT arriving at [ff02::202]:port
// on h's eth0 with the uaddr "::" and the port progPort, and h's name as the
// results. It is a raw responder: the reply leaves from the address the
// kernel picks.
func startMulticastMapper(t *testing.T, h *testsupport.Host, port int, progPort uint16) {
	t.Helper()
	var pc net.PacketConn
	err := h.Do(func() error {
		var err error
		if pc, err = net.ListenPacket("udp6", "[::]:"+itoa(port)); err != nil {
			return err
		}
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		return ipv6.NewPacketConn(pc).JoinGroup(ifi, &net.UDPAddr{IP: MulticastAddr.AsSlice()})
	})
	if err != nil {
		t.Fatal(err)
	}
	serveRawUDP(t, pc, func(pc net.PacketConn, from net.Addr, call []byte) {
		d := xdr.NewDecoder(call)
		var hdr rpc.CallHeader
		var a portmap.RmtCallArgs
		hdr.Decode(d)
		a.Decode(d)
		if d.Err() != nil || hdr.Prog != portmap.Program || hdr.Vers != 3 || hdr.Proc != portmap.RpcbCallit {
			return
		}
		rh := rpc.ReplyHeader{XID: hdr.XID}
		res := portmap.RmtCallRes{Addr: portmap.FormatUaddr(netip.AddrPortFrom(netip.IPv6Unspecified(), progPort)),
			Results: []byte(h.Name)}
		pc.WriteTo(res.Append(rh.Append(nil)), from)
	})
}

func TestInteropBroadcast(t *testing.T) {
	if !testsupport.Isolate(t) {
		return
	}
	testsupport.Require(t, "rpcbind", "ip")
	ctx := ctxT(t, time.Minute)
	rs := []*responder{startResponder(t, ctx, "pa"), startResponder(t, ctx, "pb")}

	t.Run("udp", func(t *testing.T) {
		got := collect(t, ctx, "udp", echoProc, "hi", 2*time.Second)
		for _, r := range rs {
			want := reply{netip.AddrPortFrom(r.host.Addr, r.port4), r.host.Name + ":hi"}
			if got[want] == 0 {
				t.Errorf("no answer %+v; got %v", want, got)
			}
		}
		if len(got) != len(rs) {
			t.Errorf("answers %v, want one from each of %d responders", got, len(rs))
		}
	})

	t.Run("NULL", func(t *testing.T) {
		got := collect(t, ctx, "udp", 0, "", 2*time.Second)
		for _, r := range rs {
			if want := (reply{netip.AddrPortFrom(r.host.Addr, r.port4), ""}); got[want] == 0 {
				t.Errorf("no answer %+v; got %v", want, got)
			}
		}
	})

	t.Run("stop early", func(t *testing.T) {
		start := time.Now()
		n := 0
		err := Broadcast(ctxT(t, 10*time.Second), "udp", fakeProg, 1, func(netip.AddrPort, []byte) bool {
			n++
			return false
		})
		if err != nil || n != 1 {
			t.Errorf("Broadcast: %v after %d answers, want nil after 1", err, n)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("took %v after fn returned false", d)
		}
	})

	t.Run("udp6", func(t *testing.T) {
		// Debian's rpcbind 1.2.6 neither joins ff02::202 nor forwarded a
		// udp6 CALLIT here, so fake mappers in the peers answer the
		// multicast, on a port of their own.
		waitLinkLocal(t, nil, "pmapbr0")
		const port = 1111
		for _, r := range rs {
			waitLinkLocal(t, r.host, "eth0")
			startMulticastMapper(t, r.host, port, r.port6)
		}
		ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		var mu sync.Mutex
		got := make(map[reply]int)
		err := BroadcastCall(ctx, "udp6", fakeProg, 1, echoProc, xdr.AppendString(nil, "hi6"), &BroadcastOptions{Port: port},
			func(from netip.AddrPort, res []byte) bool {
				mu.Lock()
				defer mu.Unlock()
				got[reply{from, string(res)}]++
				return true
			})
		if err != nil {
			t.Fatal(err)
		}
		// Answers come from the peers' link-local addresses on the bridge,
		// with the port the mapper reported.
		hosts := map[string]bool{}
		for rep := range got {
			if !rep.from.Addr().Is6() || !rep.from.Addr().IsLinkLocalUnicast() || rep.from.Addr().Zone() == "" {
				t.Errorf("answer from %v, want a link-local IPv6 address with its zone", rep.from)
			}
			for _, r := range rs {
				if rep.res == r.host.Name && rep.from.Port() == r.port6 {
					hosts[r.host.Name] = true
				}
			}
		}
		if len(hosts) != len(rs) {
			t.Errorf("answers %v, want one from each of %d responders", got, len(rs))
		}
	})

	t.Run("unknown netid", func(t *testing.T) {
		err := Broadcast(ctx, "tcp", fakeProg, 1, func(netip.AddrPort, []byte) bool { return true })
		if e, ok := err.(*rpc.Error); !ok || e.Status != rpc.UnknownProto {
			t.Errorf("broadcast over tcp: %v, want UnknownProto", err)
		}
	})
}
