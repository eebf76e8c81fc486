package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/internal/vectors"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
	"github.com/portmap-toolkit/pmap/pkg/server"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

// The fuzz targets of this file push whole calls through the server's request
// path, the rpc layer's dispatch and the port mapper's handlers, over an
// in-memory transport, and hold every answer to the protocol: never a panic
// (a handler's panic, which the rpc layer would recover and answer with
// SYSTEM_ERR, fails the target too), at most one reply per call, and every
// reply a well-formed REPLY for the call's xid whose results decode, as the
// procedure's type says, to the last byte.

// fuzzReplyWait bounds the wait for the server's answer to one input. The
// server answers in microseconds; only a hung or dead server takes longer.
const fuzzReplyWait = 10 * time.Second

// fuzzSentinelXID is the xid of the NULL call sent after each input, whose
// answer marks the end of the input's answers. It is changed if an input uses
// it.
const fuzzSentinelXID = 0x5e471e1

// fuzzPeers are the callers a fuzzed datagram comes from, chosen by the
// input: loopback callers may change the registry, a remote one may not, and
// an IPv6 one reaches the server's IPv6 address.
var fuzzPeers = []struct {
	remote, local *net.UDPAddr
}{
	{&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1).To4(), Port: 700}, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1).To4(), Port: 111}},
	{&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1).To4(), Port: 40000}, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1).To4(), Port: 111}},
	{&net.UDPAddr{IP: net.IPv4(192, 0, 2, 9).To4(), Port: 1000}, &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1).To4(), Port: 111}},
	{&net.UDPAddr{IP: net.IPv6loopback, Port: 800}, &net.UDPAddr{IP: net.IPv6loopback, Port: 111}},
}

// fuzzSeedRegistrations are registered before each input, so that lookups,
// DUMP and the indirect calls find something.
var fuzzSeedRegistrations = []portmap.RPCB{
	{Prog: 100003, Vers: 3, Netid: "tcp", Addr: "0.0.0.0.8.1", Owner: server.OwnerSuperuser},
	{Prog: 100003, Vers: 3, Netid: "udp", Addr: "0.0.0.0.8.1", Owner: server.OwnerSuperuser},
	{Prog: 100003, Vers: 4, Netid: "tcp6", Addr: "::.8.1", Owner: server.OwnerSuperuser},
	{Prog: 100021, Vers: 4, Netid: "udp", Addr: "0.0.0.0.128.2", Owner: "0"},
	{Prog: 100005, Vers: 3, Netid: "udp6", Addr: "::.2.132", Owner: server.OwnerUnknown},
	{Prog: 200000, Vers: 1, Netid: "local", Addr: "/run/fuzz.sock", Owner: "1000"},
}

// FuzzServeDatagram sends one datagram, from one of fuzzPeers, to a fresh
// server holding fuzzSeedRegistrations, then a NULL call whose answer marks
// the end, and checks what came back.
func FuzzServeDatagram(f *testing.F) {
	for _, c := range vectors.All() {
		for peer := range fuzzPeers {
			f.Add(uint8(peer), c.Call)
		}
	}
	f.Add(uint8(0), []byte{})
	f.Add(uint8(0), []byte{0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, peer uint8, msg []byte) {
		p := fuzzPeers[int(peer)%len(fuzzPeers)]
		replies := fuzzServeOne(t, p.remote, p.local, msg)
		if len(replies) > 1 {
			t.Fatalf("%d replies to one datagram", len(replies))
		}
		if len(replies) == 1 {
			checkFuzzReply(t, msg, replies[0], server.MaxUDPReply)
			// No reflection (Policy.AllowAmplification is off): a caller
			// off the loopback, whose address may be spoofed, never gets
			// more bytes than it sent.
			if !p.remote.IP.IsLoopback() && len(replies[0]) > len(msg) {
				t.Fatalf("a %d-byte call from %v drew a %d-byte reply", len(msg), p.remote, len(replies[0]))
			}
		}
	})
}

// fuzzServeOne serves msg from remote to local on a new server and returns
// the replies sent to remote before the sentinel's answer.
func fuzzServeOne(t *testing.T, remote, local *net.UDPAddr, msg []byte) [][]byte {
	t.Helper()
	var panics fuzzPanicLog
	srv := server.New()
	srv.Logger = slog.New(&panics)
	// One call at a time: the sentinel is read only once the input's
	// answer, if any, has been sent.
	srv.MaxInFlight = 1
	for _, r := range fuzzSeedRegistrations {
		srv.Registry().Set(r)
	}
	pc := newFuzzPacketConn(local)
	done := make(chan error, 1)
	go func() { done <- srv.ServePacket(pc) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), fuzzReplyWait)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; err != server.ErrServerClosed {
			t.Errorf("ServePacket returned %v, want ErrServerClosed", err)
		}
	}()

	sentinel := uint32(fuzzSentinelXID)
	if len(msg) >= 4 && binary.BigEndian.Uint32(msg) == sentinel {
		sentinel++
	}
	null := rpc.CallHeader{XID: sentinel, RPCVers: rpc.RPCVersion, Prog: portmap.Program, Vers: portmap.V2}
	loop := fuzzPeers[0]
	pc.in <- fuzzDatagram{bytes.Clone(msg), remote}
	pc.in <- fuzzDatagram{null.Append(nil), loop.remote}

	var replies [][]byte
	timeout := time.After(fuzzReplyWait)
	for {
		select {
		case d := <-pc.out:
			if d.addr.String() == loop.remote.String() && len(d.b) >= 4 && binary.BigEndian.Uint32(d.b) == sentinel {
				if msg := panics.String(); msg != "" {
					t.Fatalf("the server logged a panic: %s", msg)
				}
				return replies
			}
			if d.addr.String() != remote.String() {
				t.Fatalf("reply %x sent to %v, want %v", d.b, d.addr, remote)
			}
			replies = append(replies, d.b)
		case <-timeout:
			t.Fatalf("no answer to the NULL call sent after the input within %v: the server hung; its log: %s", fuzzReplyWait, panics.String())
		}
	}
}

// checkFuzzReply checks that reply is a well-formed answer to call, at most
// max bytes long, whose results decode to the last byte.
func checkFuzzReply(t *testing.T, call, reply []byte, max int) {
	t.Helper()
	if err := fuzzReplyError(call, reply, max); err != nil {
		t.Fatal(err)
	}
}

// fuzzReplyError returns what is wrong with reply as an answer to call.
func fuzzReplyError(call, reply []byte, max int) error {
	if len(reply) > max {
		return fmt.Errorf("reply of %d bytes, over %d", len(reply), max)
	}
	var ch rpc.CallHeader
	cd := xdr.NewDecoder(call)
	ch.Decode(cd)
	if cd.Err() != nil {
		return fmt.Errorf("reply %x to a message that is not a call (%v)", reply, cd.Err())
	}
	var h rpc.ReplyHeader
	d := xdr.NewDecoder(reply)
	h.Decode(d)
	if d.Err() != nil {
		return fmt.Errorf("reply %x does not decode: %v", reply, d.Err())
	}
	if h.XID != ch.XID {
		return fmt.Errorf("reply xid %#x to call xid %#x", h.XID, ch.XID)
	}
	if h.Stat != rpc.MsgAccepted || h.Accept != rpc.AcceptSuccess {
		if d.Remaining() != 0 {
			return fmt.Errorf("%d bytes after a reply that carries no results: %x", d.Remaining(), reply)
		}
		return nil
	}
	if ch.Prog != portmap.Program {
		return fmt.Errorf("SUCCESS from program %d, which the port mapper does not serve", ch.Prog)
	}
	decodeFuzzResults(d, ch.Vers, ch.Proc)
	if d.Err() != nil || d.Remaining() != 0 {
		return fmt.Errorf("results of version %d procedure %d: %v, %d bytes left; reply %x", ch.Vers, ch.Proc, d.Err(), d.Remaining(), reply)
	}
	return nil
}

// decodeFuzzResults reads the results of a port mapper procedure as RFC 1833
// types them; an unknown procedure records an error on d.
func decodeFuzzResults(d *xdr.Decoder, vers, proc uint32) {
	isV2 := vers == portmap.V2
	switch {
	case proc == portmap.ProcNull:
	case proc == portmap.PmapSet || proc == portmap.PmapUnset:
		d.Bool()
	case isV2 && proc == portmap.PmapGetport:
		d.Uint32()
	case isV2 && proc == portmap.PmapDump:
		portmap.DecodeMappingList(d, nil, portmap.MaxListEntries)
	case isV2 && proc == portmap.PmapCallit:
		var r portmap.CallResult
		r.Decode(d)
	case proc == portmap.RpcbGetaddr || (vers == portmap.V4 && proc == portmap.RpcbGetversaddr) || proc == portmap.RpcbTaddr2uaddr:
		d.String(portmap.MaxUaddrLen)
	case proc == portmap.RpcbDump:
		portmap.DecodeRPCBList(d, nil, portmap.MaxListEntries)
	case proc == portmap.RpcbCallit || (vers == portmap.V4 && proc == portmap.RpcbIndirect):
		var r portmap.RmtCallRes
		r.Decode(d)
	case proc == portmap.RpcbGettime:
		d.Uint32()
	case proc == portmap.RpcbUaddr2taddr:
		var nb portmap.Netbuf
		nb.Decode(d)
	case vers == portmap.V4 && proc == portmap.RpcbGetaddrlist:
		portmap.DecodeEntryList(d, nil, portmap.MaxListEntries)
	case vers == portmap.V4 && proc == portmap.RpcbGetstat:
		var s portmap.StatByVers
		s.Decode(d)
	default:
		d.Fail("results", fmt.Errorf("SUCCESS for version %d procedure %d, which does not exist", vers, proc))
	}
}

// FuzzServeStream writes the input, as it comes, on a stream connection from
// 127.0.0.1 port 700 to a fresh server holding fuzzSeedRegistrations, then
// closes its side for writing, and reads what comes back until the server
// closes the connection: whole records, each a well-formed reply to one of
// the calls the input's records hold, at most one reply per call.
func FuzzServeStream(f *testing.F) {
	for _, c := range vectors.All() {
		f.Add(fuzzRecord(c.Call))
	}
	all := []byte{}
	for _, c := range vectors.All() {
		all = append(all, fuzzRecord(c.Call)...)
	}
	f.Add(all)
	f.Add([]byte{0x7f, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, in []byte) {
		// The records the input holds, by xid, as the server's record
		// reader sees them.
		calls := map[uint32][][]byte{}
		r := bytes.NewReader(in)
		for {
			rec, err := rpc.ReadRecord(r, nil, rpc.DefaultServerMaxRecord)
			if err != nil {
				break
			}
			if len(rec) >= 4 {
				xid := binary.BigEndian.Uint32(rec)
				calls[xid] = append(calls[xid], rec)
			}
		}

		var panics fuzzPanicLog
		srv := server.New()
		srv.Logger = slog.New(&panics)
		for _, r := range fuzzSeedRegistrations {
			srv.Registry().Set(r)
		}
		client, conn := fuzzConnPair(t)
		defer client.Close()
		ln := &fuzzListener{conns: make(chan net.Conn, 1), done: make(chan struct{})}
		ln.conns <- conn
		done := make(chan error, 1)
		go func() { done <- srv.Serve(ln) }()
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), fuzzReplyWait)
			defer cancel()
			if err := srv.Shutdown(ctx); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
			if err := <-done; err != server.ErrServerClosed {
				t.Errorf("Serve returned %v, want ErrServerClosed", err)
			}
		}()
		go func() {
			client.Write(in) // fails once the server has closed: fine
			client.CloseWrite()
		}()
		client.SetReadDeadline(time.Now().Add(fuzzReplyWait))
		br := bufio.NewReader(client)
		answered := map[uint32]int{}
		for {
			reply, err := rpc.ReadRecord(br, nil, rpc.DefaultMaxRecord)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("the server neither answered nor closed the connection within %v", fuzzReplyWait)
			}
			if err != nil {
				break
			}
			if len(reply) < 4 {
				t.Fatalf("reply record of %d bytes", len(reply))
			}
			xid := binary.BigEndian.Uint32(reply)
			answered[xid]++
			if answered[xid] > len(calls[xid]) {
				t.Fatalf("reply %x: %d replies to %d records of xid %#x", reply, answered[xid], len(calls[xid]), xid)
			}
			// The reply answers one of the records of its xid.
			var errs []error
			for _, call := range calls[xid] {
				errs = append(errs, fuzzReplyError(call, reply, rpc.DefaultMaxRecord))
			}
			if !slices.Contains(errs, nil) {
				t.Fatal(errors.Join(errs...))
			}
		}
		if msg := panics.String(); msg != "" {
			t.Fatalf("the server logged a panic: %s", msg)
		}
	})
}

// fuzzRecord returns msg as one record of a single, last fragment.
func fuzzRecord(msg []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(msg))|1<<31), msg...)
}

// fuzzConnPair returns the two ends of a connected stream socket pair: the
// test's, and the server's, which reports TCP addresses (127.0.0.1 port 700
// calling port 111), so that the server treats its caller as a privileged
// TCP caller on the loopback. A socket pair takes no port, however many
// inputs the fuzzer tries.
func fuzzConnPair(t *testing.T) (*net.UnixConn, net.Conn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	var conns [2]*net.UnixConn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "socketpair")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c.(*net.UnixConn)
	}
	loop := net.IPv4(127, 0, 0, 1).To4()
	return conns[0], &fuzzTCPConn{UnixConn: conns[1],
		local: &net.TCPAddr{IP: loop, Port: 111}, remote: &net.TCPAddr{IP: loop, Port: 700}}
}

// fuzzTCPConn is one end of a socket pair that reports TCP addresses.
type fuzzTCPConn struct {
	*net.UnixConn
	local, remote net.Addr
}

func (c *fuzzTCPConn) LocalAddr() net.Addr  { return c.local }
func (c *fuzzTCPConn) RemoteAddr() net.Addr { return c.remote }

// fuzzListener hands out the connections sent on conns, then waits for
// Close.
type fuzzListener struct {
	conns     chan net.Conn
	closeOnce sync.Once
	done      chan struct{}
}

func (l *fuzzListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *fuzzListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return nil
}

func (l *fuzzListener) Addr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1).To4(), Port: 111}
}

// fuzzDatagram is a datagram and its peer's address.
type fuzzDatagram struct {
	b    []byte
	addr net.Addr
}

// fuzzPacketConn is an in-memory net.PacketConn: the test sends datagrams
// to the server on in and receives its replies on out.
type fuzzPacketConn struct {
	local net.Addr
	in    chan fuzzDatagram
	out   chan fuzzDatagram

	closeOnce sync.Once
	closed    chan struct{}
	wakeOnce  sync.Once
	wake      chan struct{} // closed when a read deadline in the past is set
}

func newFuzzPacketConn(local net.Addr) *fuzzPacketConn {
	return &fuzzPacketConn{
		local:  local,
		in:     make(chan fuzzDatagram, 2),
		out:    make(chan fuzzDatagram, 16),
		closed: make(chan struct{}),
		wake:   make(chan struct{}),
	}
}

func (c *fuzzPacketConn) ReadFrom(b []byte) (int, net.Addr, error) {
	select {
	case d := <-c.in:
		return copy(b, d.b), d.addr, nil
	case <-c.closed:
		return 0, nil, net.ErrClosed
	case <-c.wake:
		return 0, nil, os.ErrDeadlineExceeded
	}
}

func (c *fuzzPacketConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	select {
	case c.out <- fuzzDatagram{bytes.Clone(b), addr}:
		return len(b), nil
	case <-c.closed:
		return 0, net.ErrClosed
	}
}

func (c *fuzzPacketConn) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return nil
}

func (c *fuzzPacketConn) LocalAddr() net.Addr { return c.local }

func (c *fuzzPacketConn) SetDeadline(t time.Time) error { return c.SetReadDeadline(t) }

// SetReadDeadline wakes a blocked ReadFrom for good when t has passed, which
// is how Shutdown stops the reader; later deadlines are not needed here.
func (c *fuzzPacketConn) SetReadDeadline(t time.Time) error {
	if !t.IsZero() && !t.After(time.Now()) {
		c.wakeOnce.Do(func() { close(c.wake) })
	}
	return nil
}

func (c *fuzzPacketConn) SetWriteDeadline(time.Time) error { return nil }

// fuzzPanicLog is a slog.Handler that keeps the records that report a panic.
type fuzzPanicLog struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (h *fuzzPanicLog) Enabled(context.Context, slog.Level) bool { return true }

func (h *fuzzPanicLog) Handle(_ context.Context, r slog.Record) error {
	var line strings.Builder
	line.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&line, " %s=%v", a.Key, a.Value)
		return true
	})
	if s := line.String(); strings.Contains(s, "panic") {
		h.mu.Lock()
		h.buf.WriteString(s + "\n")
		h.mu.Unlock()
	}
	return nil
}

func (h *fuzzPanicLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *fuzzPanicLog) WithGroup(string) slog.Handler      { return h }

func (h *fuzzPanicLog) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.buf.String()
}
