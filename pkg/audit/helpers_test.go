package audit

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

// testWindow is the listening window of the tests' audits: every server is on
// the loopback or a veth pair and answers within a millisecond, so a tenth of
// the default keeps the tests quick without a race against the reply.
const testWindow = 300 * time.Millisecond

// replyHeaderLen is the size of an accepted reply's header with an AUTH_NONE
// verifier (RFC 5531 §9: xid, msg_type, reply_stat, flavor, length,
// accept_stat), what every SUCCESS reply of the fakes carries before its
// results.
const replyHeaderLen = 24

// callHeaderLen is the size of a call's header with AUTH_NONE credential and
// verifier (RFC 5531 §9): the whole of a DUMP or GETSTAT call.
const callHeaderLen = 40

// serve runs srv on conn in the background until the test ends.
func serve(t testing.TB, srv *rpc.Server, pc net.PacketConn, ln net.Listener) {
	t.Helper()
	if srv.Logger == nil {
		srv.Logger = slog.New(slog.DiscardHandler)
	}
	var wg sync.WaitGroup
	if pc != nil {
		wg.Go(func() { srv.ServePacket(pc) })
	}
	if ln != nil {
		wg.Go(func() { srv.Serve(ln) })
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("stopping a fake server: %v", err)
		}
		wg.Wait()
	})
}

// listenPair listens on a UDP and a TCP socket of ip with the same port, so
// one address serves both, as a port mapper's does.
func listenPair(t testing.TB, ip string) (net.PacketConn, net.Listener) {
	t.Helper()
	for range 50 {
		pc, err := net.ListenPacket("udp4", ip+":0")
		if err != nil {
			t.Fatal(err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		ln, err := net.Listen("tcp4", netip.AddrPortFrom(netip.MustParseAddr(ip), uint16(port)).String())
		if err == nil {
			return pc, ln
		}
		pc.Close()
	}
	t.Fatal("no port free for both UDP and TCP")
	return nil, nil
}

// serveRPC serves h on a UDP and a TCP port of 127.0.0.1 with the same number
// and returns that address.
func serveRPC(t testing.TB, h rpc.Handler) netip.AddrPort {
	t.Helper()
	pc, ln := listenPair(t, "127.0.0.1")
	// Concurrent calls on a connection, so that a test sees the client's
	// parallelism over TCP too.
	serve(t, &rpc.Server{Handler: h, ConcurrentStreamCalls: true}, pc, ln)
	return pc.LocalAddr().(*net.UDPAddr).AddrPort()
}

// fakeMapper describes a port mapper built on pkg/rpc for the tests.
type fakeMapper struct {
	// list is what DUMP returns: v3 and v4 all of it, v2 its IPv4 tcp and
	// udp entries.
	list []portmap.RPCB
	// stat is what GETSTAT returns.
	stat portmap.StatByVers
	// short makes every DUMP and GETSTAT over UDP answer SYSTEM_ERR (24
	// bytes), as a mapper safe from reflection does; TCP still lists all.
	short bool
	// forward makes CALLIT and INDIRECT call the registered target over
	// UDP and return its result; otherwise CALLIT stays silent and
	// INDIRECT answers SYSTEM_ERR, as rpcbind without -r does.
	forward bool
}

// v2List is the pmaplist of m's list: its IPv4 udp and tcp entries.
func (m *fakeMapper) v2List() []portmap.Mapping {
	var out []portmap.Mapping
	for _, r := range m.list {
		prot, ok := portmap.ProtForNetid(r.Netid)
		ap, err := portmap.ParseUaddr(r.Netid, r.Addr)
		if ok && err == nil && ap.Addr().Is4() {
			out = append(out, portmap.Mapping{Prog: r.Prog, Vers: r.Vers, Prot: prot, Port: uint32(ap.Port())})
		}
	}
	return out
}

// results returns the encoded results of DUMP of version vers or of GETSTAT.
func (m *fakeMapper) dumpResults(vers uint32) []byte {
	if vers == portmap.V2 {
		return portmap.AppendMappingList(nil, m.v2List())
	}
	return portmap.AppendRPCBList(nil, m.list)
}

// mux returns the mapper's handlers.
func (m *fakeMapper) mux() *rpc.Mux {
	mux := &rpc.Mux{}
	null := func(_ context.Context, _ *rpc.Request, res []byte) ([]byte, error) { return res, nil }
	udp := func(req *rpc.Request) bool { return strings.HasPrefix(req.Network, "udp") }
	for _, vers := range []uint32{portmap.V2, portmap.V3, portmap.V4} {
		mux.HandleFunc(portmap.Program, vers, portmap.ProcNull, null)
		mux.HandleFunc(portmap.Program, vers, portmap.RpcbDump, func(_ context.Context, req *rpc.Request, res []byte) ([]byte, error) {
			if m.short && udp(req) {
				return nil, rpc.ErrSystemErr
			}
			return append(res, m.dumpResults(vers)...), nil
		})
	}
	mux.HandleFunc(portmap.Program, portmap.V4, portmap.RpcbGetstat, func(_ context.Context, req *rpc.Request, res []byte) ([]byte, error) {
		if m.short && udp(req) {
			return nil, rpc.ErrSystemErr
		}
		return m.stat.Append(res), nil
	})
	mux.HandleFunc(portmap.Program, portmap.V2, portmap.PmapCallit, func(ctx context.Context, req *rpc.Request, res []byte) ([]byte, error) {
		if !m.forward {
			return nil, rpc.ErrNoReply
		}
		addr, out, err := m.forwardCall(ctx, req)
		if err != nil {
			return nil, rpc.ErrNoReply
		}
		return portmap.CallResult{Port: uint32(addr.Port()), Res: out}.Append(res), nil
	})
	mux.HandleFunc(portmap.Program, portmap.V4, portmap.RpcbIndirect, func(ctx context.Context, req *rpc.Request, res []byte) ([]byte, error) {
		if !m.forward {
			return nil, rpc.ErrSystemErr
		}
		addr, out, err := m.forwardCall(ctx, req)
		if errors.Is(err, rpc.ErrProgUnavail) {
			return nil, rpc.ErrProgUnavail
		}
		if err != nil {
			return nil, rpc.ErrNoReply
		}
		return portmap.RmtCallRes{Addr: portmap.FormatUaddr(addr), Results: out}.Append(res), nil
	})
	return mux
}

// forwardCall makes the remote call req asks for at the target's registered
// udp address.
func (m *fakeMapper) forwardCall(ctx context.Context, req *rpc.Request) (netip.AddrPort, []byte, error) {
	var a portmap.RmtCallArgs
	d := xdr.NewDecoder(req.Args)
	a.Decode(d)
	if d.Err() != nil {
		return netip.AddrPort{}, nil, rpc.ErrGarbageArgs
	}
	for _, r := range m.list {
		if r.Prog != a.Prog || r.Vers != a.Vers || r.Netid != portmap.NetidUDP {
			continue
		}
		ap, err := portmap.ParseUaddr(r.Netid, r.Addr)
		if err != nil {
			return netip.AddrPort{}, nil, err
		}
		if ap.Addr().IsUnspecified() {
			ap = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), ap.Port())
		}
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		c, err := rpc.Dial(ctx, "udp", ap.String(), nil)
		if err != nil {
			return netip.AddrPort{}, nil, err
		}
		defer c.Close()
		out, err := c.Call(ctx, a.Prog, a.Vers, a.Proc, a.Args)
		return ap, out, err
	}
	return netip.AddrPort{}, nil, rpc.ErrProgUnavail
}

// mapperEntries returns the port mapper's own registrations at port, as
// rpcbind lists them, IPv4 only.
func mapperEntries(port uint16) []portmap.RPCB {
	ua := portmap.FormatUaddr(netip.AddrPortFrom(netip.IPv4Unspecified(), port))
	var out []portmap.RPCB
	for _, netid := range []string{portmap.NetidTCP, portmap.NetidUDP} {
		for _, v := range []uint32{portmap.V4, portmap.V3, portmap.V2} {
			out = append(out, portmap.RPCB{Prog: portmap.Program, Vers: v, Netid: netid, Addr: ua, Owner: "superuser"})
		}
	}
	return out
}

// registration returns an rpcb for prog version vers over netid at ap.
func registration(prog, vers uint32, netid string, ap netip.AddrPort) portmap.RPCB {
	return portmap.RPCB{Prog: prog, Vers: vers, Netid: netid, Addr: portmap.FormatUaddr(ap), Owner: "superuser"}
}

// wantFactor is the factor of one request answered by one SUCCESS datagram
// carrying results bytes of results.
func wantFactor(results int) float64 {
	return float64(UDPHeaderLen+replyHeaderLen+results) / float64(UDPHeaderLen+callHeaderLen)
}
