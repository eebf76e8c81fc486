package client_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/internal/vectors"
	"github.com/portmap-toolkit/pmap/pkg/client"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

// FuzzClientReply plays a port mapper that answers every call with the
// fuzzed bytes as the reply after the call's xid, followed by a PROG_UNAVAIL
// reply to the same call, and makes one call of the client, chosen by the
// input, over UDP or TCP. The client must never panic, must end the call
// promptly (one of the two replies is always there to be read), must fail
// only with an *rpc.Error that names its status, and what it returns must
// hold to its documentation.

// fuzzCallWait bounds one call. The answers arrive at once; only a client
// that ignores both takes longer.
const fuzzCallWait = 5 * time.Second

// fuzzMaxReply is the clients' reply cap: a fuzzed reply is far smaller.
const fuzzMaxReply = 1 << 16

// fuzzMethod is a method of the client, and the (version, procedure) of the
// port mapper whose recorded replies seed it.
type fuzzMethod struct {
	name       string
	vers, proc uint32
	call       func(ctx context.Context, c *client.Client) error
}

var fuzzMethods = []fuzzMethod{
	{"Null", portmap.V2, portmap.ProcNull, func(ctx context.Context, c *client.Client) error { return c.Null(ctx, portmap.V2) }},
	{"PmapSet", portmap.V2, portmap.PmapSet, func(ctx context.Context, c *client.Client) error {
		_, err := c.PmapSet(ctx, portmap.Mapping{Prog: 300001, Vers: 1, Prot: portmap.IPProtoTCP, Port: 700})
		return err
	}},
	{"PmapUnset", portmap.V2, portmap.PmapUnset, func(ctx context.Context, c *client.Client) error {
		_, err := c.PmapUnset(ctx, portmap.Mapping{Prog: 300001, Vers: 1})
		return err
	}},
	{"PmapGetport", portmap.V2, portmap.PmapGetport, func(ctx context.Context, c *client.Client) error {
		_, err := c.PmapGetport(ctx, portmap.Mapping{Prog: 100003, Vers: 3, Prot: portmap.IPProtoTCP})
		return err
	}},
	{"PmapDump", portmap.V2, portmap.PmapDump, func(ctx context.Context, c *client.Client) error {
		l, err := c.PmapDump(ctx)
		return checkLen(len(l), err)
	}},
	{"PmapCallit", portmap.V2, portmap.PmapCallit, func(ctx context.Context, c *client.Client) error {
		r, err := c.PmapCallit(ctx, portmap.CallArgs{Prog: 100003, Vers: 3})
		if err == nil && len(r.Res) > portmap.MaxCallDataLen {
			return errors.New("CALLIT results over MaxCallDataLen")
		}
		return err
	}},
	{"RpcbSet", portmap.V3, portmap.RpcbSet, func(ctx context.Context, c *client.Client) error {
		_, err := c.RpcbSet(ctx, portmap.V3, portmap.RPCB{Prog: 300001, Vers: 1, Netid: "tcp", Addr: "0.0.0.0.2.188"})
		return err
	}},
	{"RpcbUnset", portmap.V3, portmap.RpcbUnset, func(ctx context.Context, c *client.Client) error {
		_, err := c.RpcbUnset(ctx, portmap.V3, portmap.RPCB{Prog: 300001, Vers: 1})
		return err
	}},
	{"RpcbGetaddr v3", portmap.V3, portmap.RpcbGetaddr, func(ctx context.Context, c *client.Client) error {
		_, err := c.RpcbGetaddr(ctx, portmap.V3, portmap.RPCB{Prog: 100003, Vers: 3, Netid: "tcp"})
		return err
	}},
	{"RpcbGetaddr v4", portmap.V4, portmap.RpcbGetaddr, func(ctx context.Context, c *client.Client) error {
		_, err := c.RpcbGetaddr(ctx, portmap.V4, portmap.RPCB{Prog: 100003, Vers: 3, Netid: "tcp"})
		return err
	}},
	{"Lookup", portmap.V4, portmap.RpcbGetaddr, func(ctx context.Context, c *client.Client) error {
		ua, err := c.Lookup(ctx, 100003, 3, "tcp")
		if err == nil {
			if _, perr := portmap.ParseUaddr("tcp", ua); perr != nil {
				return errors.New("Lookup returned " + ua + ", not a tcp address: " + perr.Error())
			}
		}
		return err
	}},
	{"RpcbDump v3", portmap.V3, portmap.RpcbDump, func(ctx context.Context, c *client.Client) error {
		l, err := c.RpcbDump(ctx, portmap.V3)
		return checkLen(len(l), err)
	}},
	{"Dump v4", portmap.V4, portmap.RpcbDump, func(ctx context.Context, c *client.Client) error {
		l, err := c.Dump(ctx, portmap.V4)
		return checkLen(len(l), err)
	}},
	{"Dump v2", portmap.V2, portmap.PmapDump, func(ctx context.Context, c *client.Client) error {
		l, err := c.Dump(ctx, portmap.V2)
		return checkLen(len(l), err)
	}},
	{"RpcbCallit", portmap.V3, portmap.RpcbCallit, func(ctx context.Context, c *client.Client) error {
		_, err := c.RpcbCallit(ctx, portmap.V3, portmap.RmtCallArgs{Prog: 100003, Vers: 3})
		return err
	}},
	{"Gettime", portmap.V3, portmap.RpcbGettime, func(ctx context.Context, c *client.Client) error {
		_, err := c.Gettime(ctx, portmap.V3)
		return err
	}},
	{"Uaddr2taddr", portmap.V3, portmap.RpcbUaddr2taddr, func(ctx context.Context, c *client.Client) error {
		_, err := c.Uaddr2taddr(ctx, portmap.V3, "127.0.0.1.8.1")
		return err
	}},
	{"Taddr2uaddr", portmap.V3, portmap.RpcbTaddr2uaddr, func(ctx context.Context, c *client.Client) error {
		_, err := c.Taddr2uaddr(ctx, portmap.V3, portmap.Netbuf{MaxLen: 16, Buf: make([]byte, 16)})
		return err
	}},
	{"Getversaddr", portmap.V4, portmap.RpcbGetversaddr, func(ctx context.Context, c *client.Client) error {
		_, err := c.Getversaddr(ctx, portmap.RPCB{Prog: 100003, Vers: 3, Netid: "tcp"})
		return err
	}},
	{"Indirect", portmap.V4, portmap.RpcbIndirect, func(ctx context.Context, c *client.Client) error {
		_, err := c.Indirect(ctx, portmap.RmtCallArgs{Prog: 100003, Vers: 3})
		return err
	}},
	{"Getaddrlist", portmap.V4, portmap.RpcbGetaddrlist, func(ctx context.Context, c *client.Client) error {
		l, err := c.Getaddrlist(ctx, portmap.RPCB{Prog: 100003, Vers: 3})
		return checkLen(len(l), err)
	}},
	{"Getstat", portmap.V4, portmap.RpcbGetstat, func(ctx context.Context, c *client.Client) error {
		_, err := c.Getstat(ctx)
		return err
	}},
}

// errFuzzProperty marks a broken promise of a method that returned no
// error of its own.
var errFuzzProperty = errors.New("property")

// checkLen checks a decoded list's length against the client's default cap.
func checkLen(n int, err error) error {
	if err == nil && n > portmap.MaxListEntries {
		return errors.Join(errFuzzProperty, errors.New("list longer than MaxListEntries"))
	}
	return err
}

func FuzzClientReply(f *testing.F) {
	for _, c := range vectors.All() {
		if len(c.Reply) < 4 {
			continue
		}
		var h rpc.CallHeader
		h.Decode(xdr.NewDecoder(c.Call))
		for i, m := range fuzzMethods {
			if m.vers == h.Vers && m.proc == h.Proc {
				f.Add(uint8(2*i), c.Reply[4:])
				f.Add(uint8(2*i+1), c.Reply[4:])
			}
		}
	}
	srv := startFuzzMapper(f)
	clients := map[string]*client.Client{}
	for _, network := range []string{"udp", "tcp"} {
		clients[network] = client.New("127.0.0.1", &client.Options{Port: srv.port, Network: network, MaxReply: fuzzMaxReply})
	}
	f.Cleanup(func() {
		for _, c := range clients {
			c.Close()
		}
	})
	f.Fuzz(func(t *testing.T, sel uint8, body []byte) {
		m := fuzzMethods[int(sel/2)%len(fuzzMethods)]
		network := "udp"
		if sel%2 == 1 {
			network = "tcp"
		}
		srv.setBody(body)
		ctx, cancel := context.WithTimeout(context.Background(), 2*fuzzCallWait)
		defer cancel()
		start := time.Now()
		err := m.call(ctx, clients[network])
		if took := time.Since(start); took > fuzzCallWait {
			t.Fatalf("%s over %s took %v though every call is answered at once: %v", m.name, network, took, err)
		}
		if err == nil {
			return
		}
		if errors.Is(err, errFuzzProperty) || !strings.HasPrefix(err.Error(), "rpc: ") {
			t.Fatalf("%s over %s: %v", m.name, network, err)
		}
		var re *rpc.Error
		if !errors.As(err, &re) || re.Status == 0 {
			t.Fatalf("%s over %s: %T %v, want an *rpc.Error with a status", m.name, network, err, err)
		}
	})
}

// fuzzMapper answers every call on TCP and UDP at one loopback port with the
// current body after the call's xid, then with PROG_UNAVAIL.
type fuzzMapper struct {
	port int
	mu   sync.Mutex
	body []byte
}

func (s *fuzzMapper) setBody(b []byte) {
	s.mu.Lock()
	s.body = append([]byte(nil), b...)
	s.mu.Unlock()
}

// replies returns the two replies to a call with xid.
func (s *fuzzMapper) replies(xid uint32) (fuzzed, unavail []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fuzzed = append(binary.BigEndian.AppendUint32(nil, xid), s.body...)
	h := rpc.ReplyHeader{XID: xid, Stat: rpc.MsgAccepted, Accept: rpc.AcceptProgUnavail}
	return fuzzed, h.Append(nil)
}

// startFuzzMapper starts a fuzzMapper until the fuzz test ends.
func startFuzzMapper(f *testing.F) *fuzzMapper {
	var ln net.Listener
	var pc net.PacketConn
	var err error
	for range 20 { // one port for both, as a port mapper has
		if ln, err = net.Listen("tcp4", "127.0.0.1:0"); err != nil {
			f.Fatal(err)
		}
		if pc, err = net.ListenPacket("udp4", ln.Addr().String()); err == nil {
			break
		}
		ln.Close()
	}
	if err != nil {
		f.Fatal(err)
	}
	s := &fuzzMapper{port: ln.Addr().(*net.TCPAddr).Port}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	f.Cleanup(func() {
		ln.Close()
		pc.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		buf := make([]byte, 1<<16)
		for {
			n, from, err := pc.ReadFrom(buf)
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err != nil || n < 4 {
				continue
			}
			a, b := s.replies(binary.BigEndian.Uint32(buf))
			pc.WriteTo(a, from)
			pc.WriteTo(b, from)
		}
	})
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
			wg.Go(func() {
				defer conn.Close()
				br := bufio.NewReader(conn)
				for {
					call, err := rpc.ReadRecord(br, nil, 1<<16)
					if err != nil || len(call) < 4 {
						return
					}
					a, b := s.replies(binary.BigEndian.Uint32(call))
					var out []byte
					for _, r := range [][]byte{a, b} {
						out = append(binary.BigEndian.AppendUint32(out, uint32(len(r))|1<<31), r...)
					}
					if _, err := conn.Write(out); err != nil {
						return
					}
				}
			})
		}
	})
	return s
}
