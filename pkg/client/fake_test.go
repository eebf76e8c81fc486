package client

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/pkg/rpc"
)

// fakeServer serves an rpc.Handler on the loopback, over UDP and TCP on one
// port for IPv4 and (when the machine has ::1) IPv6, and on a unix socket, so
// one Client with Options.Port can reach it over every transport.
type fakeServer struct {
	port int
	has6 bool
	sock string
	srv  *rpc.Server
}

// startFake starts a fakeServer answering with h; it stops when the test ends.
func startFake(t testing.TB, h rpc.Handler) *fakeServer {
	t.Helper()
	f := &fakeServer{srv: &rpc.Server{Handler: h}}
	dir, err := os.MkdirTemp("", "pmfake")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	f.sock = filepath.Join(dir, "s")
	ul, err := net.Listen("unix", f.sock)
	if err != nil {
		t.Fatal(err)
	}
	lns, pcs := listenLoopback(t)
	lns = append(lns, ul)
	f.port = lns[0].Addr().(*net.TCPAddr).Port
	f.has6 = len(pcs) == 2
	for _, l := range lns {
		go f.srv.Serve(l)
	}
	for _, pc := range pcs {
		go f.srv.ServePacket(pc)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		f.srv.Shutdown(ctx)
	})
	return f
}

// listenLoopback returns TCP listeners and UDP sockets on one port of
// 127.0.0.1 and, when it can, ::1.
func listenLoopback(t testing.TB) ([]net.Listener, []net.PacketConn) {
	t.Helper()
	for range 50 {
		l4, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := strconv.Itoa(l4.Addr().(*net.TCPAddr).Port)
		p4, err := net.ListenPacket("udp4", "127.0.0.1:"+port)
		if err != nil {
			l4.Close()
			continue
		}
		l6, err6 := net.Listen("tcp6", "[::1]:"+port)
		if err6 != nil {
			if isNoIPv6(err6) {
				return []net.Listener{l4}, []net.PacketConn{p4}
			}
			l4.Close()
			p4.Close()
			continue
		}
		p6, err := net.ListenPacket("udp6", "[::1]:"+port)
		if err != nil {
			l4.Close()
			p4.Close()
			l6.Close()
			continue
		}
		return []net.Listener{l4, l6}, []net.PacketConn{p4, p6}
	}
	t.Fatal("no port free on the loopback for TCP and UDP at once")
	return nil, nil
}

// isNoIPv6 reports whether err says the machine has no ::1.
func isNoIPv6(err error) bool {
	return errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, syscall.EAFNOSUPPORT)
}

// client returns a Client of the fake's port over network; "unix" uses its socket.
func (f *fakeServer) client(network string, o *Options) *Client {
	var opts Options
	if o != nil {
		opts = *o
	}
	opts.Port = f.port
	opts.Network = network
	opts.Socket = f.sock
	host := "127.0.0.1"
	if network == "udp6" || network == "tcp6" {
		host = "::1"
	}
	return New(host, &opts)
}

// recorded is a call a fake received.
type recorded struct {
	network          string
	prog, vers, proc uint32
	cred             rpc.OpaqueAuth
	args             []byte
	local            net.Addr
}

// recorder is a Handler that keeps every call and answers with answer.
type recorder struct {
	answer func(req *rpc.Request) ([]byte, error)

	mu    sync.Mutex
	calls []recorded
}

func (r *recorder) ServeRPC(ctx context.Context, req *rpc.Request, res []byte) ([]byte, error) {
	r.mu.Lock()
	r.calls = append(r.calls, recorded{
		network: req.Network, prog: req.Header.Prog, vers: req.Header.Vers, proc: req.Header.Proc,
		cred:  rpc.OpaqueAuth{Flavor: req.Header.Cred.Flavor, Body: bytes.Clone(req.Header.Cred.Body)},
		args:  bytes.Clone(req.Args),
		local: req.Local,
	})
	r.mu.Unlock()
	out, err := r.answer(req)
	if err != nil {
		return nil, err
	}
	return append(res, out...), nil
}

// take returns the calls recorded so far and forgets them.
func (r *recorder) take() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.calls
	r.calls = nil
	return c
}
