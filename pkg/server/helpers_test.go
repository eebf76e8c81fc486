package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

// silenceWait is how long a test waits for a reply before it concludes the
// server stays silent: loopback replies arrive in well under a millisecond,
// and a -race build on a busy two-core machine still answers within tens.
const silenceWait = 300 * time.Millisecond

// replyWait bounds the wait for a reply the test expects.
const replyWait = 10 * time.Second

// testServer is a Server answering on loopback listeners of its own.
type testServer struct {
	srv                  *Server
	udp, tcp, udp6, tcp6 netip.AddrPort // the IPv6 ones are zero without IPv6
	sock                 string
	hasIPv6              bool
	errc                 chan error   // what each Serve returned
	serveCount           atomic.Int32 // Serve calls started
}

// startServer serves a new Server on 127.0.0.1 and ::1 (UDP and TCP, ports
// chosen by the kernel) and on a unix socket in a temporary directory; it
// is shut down when the test ends. setup, if given, sets fields first.
func startServer(t *testing.T, setup func(*Server)) *testServer {
	t.Helper()
	ts := &testServer{srv: New(), errc: make(chan error, 5)}
	if setup != nil {
		setup(ts.srv)
	}
	serve := func(f func() error) {
		ts.serveCount.Add(1)
		go func() { ts.errc <- f() }()
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.tcp = l.Addr().(*net.TCPAddr).AddrPort()
	serve(func() error { return ts.srv.Serve(l) })
	p, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.udp = p.LocalAddr().(*net.UDPAddr).AddrPort()
	serve(func() error { return ts.srv.ServePacket(p) })
	if l6, err := net.Listen("tcp6", "[::1]:0"); err == nil {
		p6, err := net.ListenPacket("udp6", "[::1]:0")
		if err != nil {
			t.Fatal(err)
		}
		ts.hasIPv6 = true
		ts.tcp6 = l6.Addr().(*net.TCPAddr).AddrPort()
		ts.udp6 = p6.LocalAddr().(*net.UDPAddr).AddrPort()
		serve(func() error { return ts.srv.Serve(l6) })
		serve(func() error { return ts.srv.ServePacket(p6) })
	}
	ts.sock = filepath.Join(t.TempDir(), "rpcbind.sock")
	lu, err := net.Listen("unix", ts.sock)
	if err != nil {
		t.Fatal(err)
	}
	serve(func() error { return ts.srv.Serve(lu) })
	// The own entries are registered before each Serve starts its loop;
	// wait until all are there so that tests see a settled registry.
	want := 3 + 3 + 2
	if ts.hasIPv6 {
		want += 4
	}
	deadline := time.Now().Add(replyWait)
	for ts.srv.Registry().Len() < want {
		if time.Now().After(deadline) {
			t.Fatalf("server registered %d own entries, want %d", ts.srv.Registry().Len(), want)
		}
		time.Sleep(time.Millisecond)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), replyWait)
		defer cancel()
		if err := ts.srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		for range ts.serveCount.Load() {
			if err := <-ts.errc; !errors.Is(err, ErrServerClosed) {
				t.Errorf("Serve returned %v, want ErrServerClosed", err)
			}
		}
	})
	return ts
}

// needIPv6 skips a test on a system without IPv6 loopback.
func (ts *testServer) needIPv6(t *testing.T) {
	t.Helper()
	if !ts.hasIPv6 {
		t.Skip("no IPv6 loopback on this system")
	}
}

// Transports a test calls over.
const (
	viaUDP  = "udp"
	viaTCP  = "tcp"
	viaUDP6 = "udp6"
	viaTCP6 = "tcp6"
	viaUnix = "unix"
)

// client is one connection to a test server.
type client struct {
	t       *testing.T
	network string
	conn    net.Conn
	br      *bufio.Reader
	xid     uint32
}

// dial connects to ts over network. privileged binds the local end to a
// port below 1024 on the loopback address (root only), which makes the
// caller "superuser" to the server.
func (ts *testServer) dial(t *testing.T, network string, privileged bool) *client {
	t.Helper()
	var target string
	switch network {
	case viaUDP:
		target = ts.udp.String()
	case viaTCP:
		target = ts.tcp.String()
	case viaUDP6:
		ts.needIPv6(t)
		target = ts.udp6.String()
	case viaTCP6:
		ts.needIPv6(t)
		target = ts.tcp6.String()
	case viaUnix:
		target = ts.sock
	}
	return dialTarget(t, network, target, privileged)
}

// dialTarget connects to target over network, from a privileged loopback
// port when asked.
func dialTarget(t *testing.T, network, target string, privileged bool) *client {
	t.Helper()
	var conn net.Conn
	var err error
	if !privileged {
		conn, err = net.Dial(network, target)
	} else {
		if os.Geteuid() != 0 {
			t.Skip("binding a privileged port needs root")
		}
		host := "127.0.0.1"
		if network == viaUDP6 || network == viaTCP6 {
			host = "::1"
		}
		// Ports below 1024 that something else holds, or that a closed
		// TCP connection keeps in TIME_WAIT, are skipped.
		for port := 600 + int(nextPrivileged.Add(7)%400); ; port++ {
			if port >= privilegedPort {
				port = 600
			}
			local := net.JoinHostPort(host, fmt.Sprint(port))
			var la net.Addr
			if network == viaUDP || network == viaUDP6 {
				la, _ = net.ResolveUDPAddr(network, local)
			} else {
				la, _ = net.ResolveTCPAddr(network, local)
			}
			d := net.Dialer{LocalAddr: la}
			if conn, err = d.Dial(network, target); err == nil || !errors.Is(err, syscall.EADDRINUSE) {
				break
			}
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &client{t: t, network: network, conn: conn, br: bufio.NewReader(conn), xid: 0x5ec00000 + nextXID.Add(0x100)}
}

var nextPrivileged, nextXID atomic.Uint32

// callMsg builds a call message with AUTH_NONE credentials.
func callMsg(xid, vers, proc uint32, args []byte) []byte {
	h := rpc.CallHeader{XID: xid, RPCVers: rpc.RPCVersion, Prog: portmap.Program, Vers: vers, Proc: proc}
	return append(h.Append(nil), args...)
}

// raw sends msg and returns the reply message, or nil when none comes within
// wait.
func (c *client) raw(msg []byte, wait time.Duration) []byte {
	c.t.Helper()
	if c.network == viaUDP || c.network == viaUDP6 {
		if _, err := c.conn.Write(msg); err != nil {
			c.t.Fatal(err)
		}
		c.conn.SetReadDeadline(time.Now().Add(wait))
		buf := make([]byte, 1<<16)
		n, err := c.conn.Read(buf)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return nil
			}
			c.t.Fatal(err)
		}
		return buf[:n]
	}
	if err := rpc.WriteRecord(c.conn, msg, 0); err != nil {
		c.t.Fatal(err)
	}
	c.conn.SetReadDeadline(time.Now().Add(wait))
	rec, err := rpc.ReadRecord(c.br, nil, 1<<24)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil
		}
		c.t.Fatal(err)
	}
	return rec
}

// reply is a decoded reply: its header and results.
type reply struct {
	hdr rpc.ReplyHeader
	res []byte
}

// call calls (vers, proc) with args and decodes the reply; it fails the test
// if none comes.
func (c *client) call(vers, proc uint32, args []byte) reply {
	c.t.Helper()
	c.xid++
	m := c.raw(callMsg(c.xid, vers, proc, args), replyWait)
	if m == nil {
		c.t.Fatalf("v%d proc %d over %s: no reply", vers, proc, c.network)
	}
	d := xdr.NewDecoder(m)
	var r reply
	r.hdr.Decode(d)
	if d.Err() != nil {
		c.t.Fatalf("v%d proc %d: bad reply %x: %v", vers, proc, m, d.Err())
	}
	if r.hdr.XID != c.xid {
		c.t.Fatalf("reply xid %#x, want %#x", r.hdr.XID, c.xid)
	}
	r.res = d.Rest()
	return r
}

// silent calls (vers, proc) and fails the test if a reply comes.
func (c *client) silent(vers, proc uint32, args []byte) {
	c.t.Helper()
	c.xid++
	if m := c.raw(callMsg(c.xid, vers, proc, args), silenceWait); m != nil {
		c.t.Fatalf("v%d proc %d over %s: got reply %x, want none", vers, proc, c.network, m)
	}
}

// ok returns the results of a SUCCESS reply, failing the test otherwise.
func (r reply) ok(t *testing.T) *xdr.Decoder {
	t.Helper()
	if err := r.hdr.Err(); err != nil {
		t.Fatalf("reply %v, want SUCCESS", err)
	}
	return xdr.NewDecoder(r.res)
}

func (r reply) bool(t *testing.T) bool {
	t.Helper()
	d := r.ok(t)
	v := d.Bool()
	if d.Err() != nil {
		t.Fatal(d.Err())
	}
	return v
}

func (r reply) uint(t *testing.T) uint32 {
	t.Helper()
	d := r.ok(t)
	v := d.Uint32()
	if d.Err() != nil {
		t.Fatal(d.Err())
	}
	return v
}

func (r reply) str(t *testing.T) string {
	t.Helper()
	d := r.ok(t)
	v := d.String(portmap.MaxUaddrLen)
	if d.Err() != nil {
		t.Fatal(d.Err())
	}
	return v
}

// status returns the reply's status as a client sees it (rpc.Success for
// SUCCESS).
func (r reply) status() rpc.Status {
	var e *rpc.Error
	if errors.As(r.hdr.Err(), &e) {
		return e.Status
	}
	return rpc.Success
}

// Argument builders.
func rpcbArgs(prog, vers uint32, netid, addr, owner string) []byte {
	return portmap.RPCB{Prog: prog, Vers: vers, Netid: netid, Addr: addr, Owner: owner}.Append(nil)
}

func mapArgs(prog, vers, prot, port uint32) []byte {
	return portmap.Mapping{Prog: prog, Vers: vers, Prot: prot, Port: port}.Append(nil)
}

func rmtArgs(prog, vers, proc uint32, args []byte) []byte {
	return portmap.RmtCallArgs{Prog: prog, Vers: vers, Proc: proc, Args: args}.Append(nil)
}
