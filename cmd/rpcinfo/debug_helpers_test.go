package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/internal/testsupport"
	"github.com/portmap-toolkit/pmap/pkg/client"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
)

// Helpers of the tests of the debugging extensions (--verify, --nfs, many
// hosts): port mappers in peer hosts, Debian's rpcbind or this project's
// portmapd, and RPC programs served there by pkg/rpc at fixed ports.

// mapperKind is a port mapper the tests run in a peer host.
type mapperKind struct {
	name  string
	start func(t *testing.T, h *testsupport.Host) *testsupport.Proc
}

// mapperKinds are Debian's rpcbind and portmapd, which every debugging
// test is run against.
var mapperKinds = []mapperKind{
	{"rpcbind", func(t *testing.T, h *testsupport.Host) *testsupport.Proc { return h.StartRpcbind(t) }},
	{"portmapd", startPortmapd},
}

// startPortmapd runs cmd/portmapd, with its long flags only, in h and
// waits until it listens on tcp, udp and its unix socket.
func startPortmapd(t *testing.T, h *testsupport.Host) *testsupport.Proc {
	t.Helper()
	bin := filepath.Join(testsupport.BuildGo(t, "./cmd/portmapd"), "portmapd")
	p := h.Start(t, bin, "--log-level", "warn")
	p.WaitPort(t, "tcp", netip.AddrPortFrom(h.Addr, portmap.Port).String())
	p.WaitPort(t, "udp", netip.AddrPortFrom(h.Addr, portmap.Port).String())
	p.WaitPort(t, "unix", socketOf(h))
	return p
}

// socketOf is the path, seen from the test namespace, of h's mapper socket.
func socketOf(h *testsupport.Host) string { return filepath.Join(h.RunDir, "rpcbind.sock") }

// peerMapper registers with the port mapper of a peer through its unix
// socket, as root: the owner is "superuser".
type peerMapper struct {
	t   *testing.T
	c   *client.Client
	ctx context.Context
}

func newPeerMapper(t *testing.T, h *testsupport.Host) *peerMapper {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	c := client.Local(&client.Options{Socket: socketOf(h)})
	t.Cleanup(func() { c.Close() })
	return &peerMapper{t: t, c: c, ctx: ctx}
}

// set registers (prog, vers) at port of the host over each of netids
// ("udp", "tcp"), at the wildcard address as rpcbind's own daemons do.
func (m *peerMapper) set(prog, vers uint32, port int, netids ...string) {
	m.t.Helper()
	for _, n := range netids {
		r := portmap.RPCB{Prog: prog, Vers: vers, Netid: n, Owner: "superuser",
			Addr: portmap.FormatUaddr(netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(port)))}
		if ok, err := m.c.RpcbSet(m.ctx, portmap.V3, r); err != nil || !ok {
			m.t.Fatalf("SET %+v: %v, %v", r, ok, err)
		}
	}
}

// unset removes every registration of (prog, vers).
func (m *peerMapper) unset(prog, vers uint32) {
	m.t.Helper()
	if _, err := m.c.RpcbUnset(m.ctx, portmap.V3, portmap.RPCB{Prog: prog, Vers: vers}); err != nil {
		m.t.Fatal(err)
	}
}

// serveProgram serves NULL of prog, versions low to high, in h on every
// address at udpPort and tcpPort (0: not that transport), until the test
// ends. Other versions get PROG_MISMATCH low-high, as a real program does.
func serveProgram(t *testing.T, h *testsupport.Host, prog, low, high uint32, udpPort, tcpPort int) {
	t.Helper()
	mux := new(rpc.Mux)
	for v := low; v <= high; v++ {
		mux.HandleFunc(prog, v, 0, func(_ context.Context, _ *rpc.Request, res []byte) ([]byte, error) { return res, nil })
	}
	var pc net.PacketConn
	var ln net.Listener
	err := h.Do(func() (err error) {
		if udpPort != 0 {
			if pc, err = net.ListenPacket("udp4", ":"+strconv.Itoa(udpPort)); err != nil {
				return err
			}
		}
		if tcpPort != 0 {
			ln, err = net.Listen("tcp4", ":"+strconv.Itoa(tcpPort))
		}
		return err
	})
	if err != nil {
		t.Fatalf("serving program %d: %v", prog, err)
	}
	srv := &rpc.Server{Handler: mux, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
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
		if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, rpc.ErrServerClosed) {
			t.Errorf("stopping program %d: %v", prog, err)
		}
		if pc != nil {
			pc.Close()
		}
		if ln != nil {
			ln.Close()
		}
		wg.Wait()
	})
}

// decodeLines decodes JSON lines (or one document) of output into a list of
// generic documents.
func decodeLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var docs []map[string]any
	dec := json.NewDecoder(strings.NewReader(out))
	for dec.More() {
		var d map[string]any
		if err := dec.Decode(&d); err != nil {
			t.Fatalf("bad JSON: %v\n%s", err, out)
		}
		docs = append(docs, d)
	}
	return docs
}
