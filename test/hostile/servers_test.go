package hostile

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

// Hostile port mappers. Each evil server answers every call on TCP and UDP
// at one port of 127.0.0.1 and on a unix socket, in its own way; the tests in
// tools_test.go and client_test.go point the client and the tools at it.

const (
	// dripInterval is the pause between two bytes of a dripping server: a
	// reply of 28 bytes takes it 2.8 seconds, longer than any --timeout the
	// tests give.
	dripInterval = 100 * time.Millisecond

	// floodInterval is the pause between two writes of a server that sends
	// forever (wrong xids, garbage): often enough to keep the client busy,
	// seldom enough that twenty clients at once leave the machine's two
	// cores some time.
	floodInterval = time.Millisecond

	// strayCount is how many replies to calls never made a stray server
	// sends on each connection before the first call, and after each call.
	strayCount = 1000

	// chunkSize is the size of the fragments of an endless list.
	chunkSize = 64 << 10

	// maxUDP is the largest UDP payload over IPv4.
	maxUDP = 65507
)

// evil is a hostile port mapper's way of answering.
type evil struct {
	name string
	// stream serves one stream connection, from accept to close; it
	// returns when ctx ends at the latest.
	stream func(ctx context.Context, conn net.Conn)
	// dgram answers one datagram call, in a goroutine of its own; it
	// returns when ctx ends at the latest.
	dgram func(ctx context.Context, pc net.PacketConn, from net.Addr, call []byte)
	// completeStream and completeDgram: over that transport the server
	// answers with a complete, well-formed reply, whose results are the
	// hostile part; a call whose results it can read, a NULL at least,
	// succeeds.
	completeStream, completeDgram bool
	// claims: the results' first length, wherever a call's results have
	// one, claims 2^32-1 bytes, so only results without lengths (a bool, a
	// number, nothing) can succeed.
	claims bool
}

// complete reports whether e answers calls over network ("tcp" or "udp")
// with a complete, well-formed reply.
func (e evil) complete(network string) bool {
	return network == "tcp" && e.completeStream || network == "udp" && e.completeDgram
}

// evils are the hostile servers of issue #11.
var evils = []evil{
	{name: "list that never ends", stream: endlessListStream, dgram: endlessListDgram, completeDgram: true},
	{name: "string claiming 4 GiB", stream: hugeStringStream, dgram: hugeStringDgram, completeStream: true, completeDgram: true, claims: true},
	{name: "2 GiB fragment", stream: hugeFragmentStream, dgram: hugeFragmentDgram, completeDgram: true},
	{name: "wrong xids forever", stream: wrongXIDStream, dgram: wrongXIDDgram},
	{name: "replies to calls never made", stream: straysStream, dgram: straysDgram},
	{name: "drips bytes", stream: dripStream, dgram: dripDgram},
	{name: "closes mid-record", stream: closeMidStream, dgram: closeMidDgram},
	{name: "garbage", stream: garbageStream, dgram: garbageDgram},
}

// callInfo returns a call's xid, version and procedure.
func callInfo(call []byte) (xid, vers, proc uint32) {
	var h rpc.CallHeader
	h.Decode(xdr.NewDecoder(call))
	return h.XID, h.Vers, h.Proc
}

// okHeader returns the header of an accepted, successful reply (RFC 5531
// §9) with an AUTH_NONE verifier.
func okHeader(xid uint32) []byte { return enc(xid, 1, 0, 0, 0, 0) }

// listShape returns, for the results of procedure proc of version vers of
// the port mapper, what comes before its first list of strings (prefix), one
// element of that list with its "value follows" (elem), and where in an
// element a string starts (strAt); strAt is -1 for a list without strings.
// A procedure without a list gets rpcblist's shape: its results are cut short
// or followed by bytes no one reads.
func listShape(vers, proc uint32) (prefix, elem []byte, strAt int) {
	switch {
	case vers == portmap.V2 && proc == portmap.PmapDump:
		return nil, enc(true, 100003, 3, 6, 2049), -1
	case vers == portmap.V4 && proc == portmap.RpcbGetaddrlist:
		return nil, enc(true, "127.0.0.1.8.1", "tcp", 3, "inet", "tcp"), 4
	case vers == portmap.V4 && proc == portmap.RpcbGetstat:
		// rpcb_stat[0]: info[13], setinfo, unsetinfo, then addrinfo.
		return make([]byte, 15*4), enc(true, 100003, 3, 1, 0, "tcp"), 4 + 4*4
	}
	return nil, enc(true, 100003, 3, "tcp", "0.0.0.0.8.1", "superuser"), 4 + 2*4
}

// hugeClaim returns the results of a call with a length of 2^32-1 where its
// first string is, and a few bytes after it. In a list without strings the
// claim stands in the first "value follows", and in results without a list
// at their start: where a bool reads it, it is no bool; where a port number
// does, no port.
func hugeClaim(vers, proc uint32) []byte {
	var b []byte
	isList := proc == portmap.PmapDump || (vers == portmap.V4 && (proc == portmap.RpcbGetaddrlist || proc == portmap.RpcbGetstat))
	if prefix, elem, at := listShape(vers, proc); isList && at >= 0 {
		b = append(prefix, elem[:at]...)
	}
	return append(b, 0xff, 0xff, 0xff, 0xff, 'a', 'b', 'c', 'd')
}

// mark returns a record mark for a fragment of n bytes.
func mark(n int, last bool) []byte {
	h := uint32(n)
	if last {
		h |= 1 << 31
	}
	return binary.BigEndian.AppendUint32(nil, h)
}

// calls reads the call records of conn and sends them on the returned
// channel, which is closed when conn fails; it stops when stop is closed.
func calls(conn net.Conn, stop <-chan struct{}) <-chan []byte {
	ch := make(chan []byte)
	go func() {
		defer close(ch)
		br := bufio.NewReader(conn)
		for {
			call, err := rpc.ReadRecord(br, nil, 1<<16)
			if err != nil {
				return
			}
			select {
			case ch <- call:
			case <-stop:
				return
			}
		}
	}()
	return ch
}

// eachCall runs f on each call arriving on conn until f returns false, conn
// fails or ctx ends.
func eachCall(ctx context.Context, conn net.Conn, f func(call []byte) bool) {
	stop := make(chan struct{})
	defer close(stop)
	ch := calls(conn, stop)
	for {
		select {
		case <-ctx.Done():
			return
		case call, ok := <-ch:
			if !ok || !f(call) {
				return
			}
		}
	}
}

// sleep waits d or until ctx ends, and reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// randomBytes returns n random bytes.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rand.Uint32())
	}
	return b
}

// endlessListStream answers each call with the header and the first
// fragment of a list, then non-final fragments of list elements for as long
// as the client reads.
func endlessListStream(ctx context.Context, conn net.Conn) {
	eachCall(ctx, conn, func(call []byte) bool {
		xid, vers, proc := callInfo(call)
		prefix, elem, _ := listShape(vers, proc)
		head := append(okHeader(xid), prefix...)
		chunk := mark(0, false)
		for len(chunk)+len(elem) <= chunkSize {
			chunk = append(chunk, elem...)
		}
		binary.BigEndian.PutUint32(chunk, uint32(len(chunk)-4))
		if _, err := conn.Write(append(mark(len(head), false), head...)); err != nil {
			return false
		}
		for ctx.Err() == nil {
			if _, err := conn.Write(chunk); err != nil {
				return false
			}
		}
		return false
	})
}

// endlessListDgram answers with the largest datagram there is, full of list
// elements and without the end of the list.
func endlessListDgram(_ context.Context, pc net.PacketConn, from net.Addr, call []byte) {
	xid, vers, proc := callInfo(call)
	prefix, elem, _ := listShape(vers, proc)
	b := append(okHeader(xid), prefix...)
	for len(b)+len(elem) <= maxUDP {
		b = append(b, elem...)
	}
	pc.WriteTo(b, from)
}

// hugeStringStream answers each call with results whose first string claims
// 2^32-1 bytes.
func hugeStringStream(ctx context.Context, conn net.Conn) {
	eachCall(ctx, conn, func(call []byte) bool {
		xid, vers, proc := callInfo(call)
		_, err := conn.Write(record(append(okHeader(xid), hugeClaim(vers, proc)...)))
		return err == nil
	})
}

// hugeStringDgram is hugeStringStream over UDP.
func hugeStringDgram(_ context.Context, pc net.PacketConn, from net.Addr, call []byte) {
	xid, vers, proc := callInfo(call)
	pc.WriteTo(append(okHeader(xid), hugeClaim(vers, proc)...), from)
}

// hugeFragmentStream answers the first call with a fragment header claiming
// 2^31-1 bytes, the last fragment, and the reply's header; then nothing.
func hugeFragmentStream(ctx context.Context, conn net.Conn) {
	eachCall(ctx, conn, func(call []byte) bool {
		xid, _, _ := callInfo(call)
		conn.Write(append(mark(1<<31-1, true), okHeader(xid)...))
		<-ctx.Done()
		return false
	})
}

// hugeFragmentDgram answers with the largest datagram there is, whose
// results begin with a length of 2^31-1.
func hugeFragmentDgram(_ context.Context, pc net.PacketConn, from net.Addr, call []byte) {
	xid, _, _ := callInfo(call)
	b := append(okHeader(xid), mark(1<<31-1, false)...)
	pc.WriteTo(append(b, make([]byte, maxUDP-len(b))...), from)
}

// wrongReply returns a well-formed reply that answers none of the client's
// calls: its xid is xid's complement plus n.
func wrongReply(xid uint32, n int) []byte {
	return append(okHeader(^xid+uint32(n)), enc(false)...)
}

// wrongXIDStream answers each call with well-formed replies whose xid is
// never the call's, one every floodInterval, for as long as the client
// reads.
func wrongXIDStream(ctx context.Context, conn net.Conn) {
	eachCall(ctx, conn, func(call []byte) bool {
		xid, _, _ := callInfo(call)
		for i := 0; sleep(ctx, floodInterval); i++ {
			if _, err := conn.Write(record(wrongReply(xid, i))); err != nil {
				return false
			}
		}
		return false
	})
}

// wrongXIDDgram is wrongXIDStream over UDP, until the client's socket is
// gone or the test ends.
func wrongXIDDgram(ctx context.Context, pc net.PacketConn, from net.Addr, call []byte) {
	xid, _, _ := callInfo(call)
	for i := 0; sleep(ctx, floodInterval); i++ {
		if _, err := pc.WriteTo(wrongReply(xid, i), from); err != nil {
			return
		}
	}
}

// strays returns n replies to calls never made: random xids, successful,
// with a result that would do for most procedures.
func strays(n int) []byte {
	var b []byte
	for range n {
		b = append(b, record(append(okHeader(rand.Uint32()), enc(false)...))...)
	}
	return b
}

// straysStream sends strayCount replies to calls never made as soon as the
// client connects, and strayCount more after each call, never the answer.
func straysStream(ctx context.Context, conn net.Conn) {
	if _, err := conn.Write(strays(strayCount)); err != nil {
		return
	}
	eachCall(ctx, conn, func([]byte) bool {
		_, err := conn.Write(strays(strayCount))
		return err == nil
	})
}

// straysDgram answers a call with strayCount replies to calls never made.
func straysDgram(_ context.Context, pc net.PacketConn, from net.Addr, _ []byte) {
	for range strayCount {
		if _, err := pc.WriteTo(append(okHeader(rand.Uint32()), enc(false)...), from); err != nil {
			return
		}
	}
}

// plausible returns a well-formed, successful reply to a call: an empty
// list, string or false, which every procedure of the port mapper can read.
func plausible(call []byte) []byte {
	xid, _, proc := callInfo(call)
	if proc == portmap.ProcNull {
		return okHeader(xid)
	}
	return append(okHeader(xid), enc(0)...)
}

// dripStream answers each call with a correct reply, one byte every
// dripInterval.
func dripStream(ctx context.Context, conn net.Conn) {
	eachCall(ctx, conn, func(call []byte) bool {
		for _, c := range record(plausible(call)) {
			if !sleep(ctx, dripInterval) {
				return false
			}
			if _, err := conn.Write([]byte{c}); err != nil {
				return false
			}
		}
		return true
	})
}

// dripDgram sends a correct reply one byte per datagram, every dripInterval.
func dripDgram(ctx context.Context, pc net.PacketConn, from net.Addr, call []byte) {
	for _, c := range plausible(call) {
		if !sleep(ctx, dripInterval) {
			return
		}
		if _, err := pc.WriteTo([]byte{c}, from); err != nil {
			return
		}
	}
}

// closeMidStream answers the first call with a record mark promising 100
// bytes and the reply's 24-byte header, and closes the connection.
func closeMidStream(ctx context.Context, conn net.Conn) {
	eachCall(ctx, conn, func(call []byte) bool {
		xid, _, _ := callInfo(call)
		conn.Write(append(mark(100, true), okHeader(xid)...))
		return false
	})
}

// closeMidDgram sends the first half of a reply's header.
func closeMidDgram(_ context.Context, pc net.PacketConn, from net.Addr, call []byte) {
	xid, _, _ := callInfo(call)
	pc.WriteTo(okHeader(xid)[:12], from)
}

// garbageStream sends 4 KiB of random bytes every floodInterval from the
// moment the client connects, reading nothing.
func garbageStream(ctx context.Context, conn net.Conn) {
	for sleep(ctx, floodInterval) {
		if _, err := conn.Write(randomBytes(4096)); err != nil {
			return
		}
	}
}

// garbageDgram answers a call with ten datagrams of random bytes.
func garbageDgram(_ context.Context, pc net.PacketConn, from net.Addr, _ []byte) {
	for range 10 {
		pc.WriteTo(randomBytes(1+rand.IntN(2000)), from)
	}
}

// evilServer runs an evil on TCP and UDP at one port of an address and, if
// sock is not empty, on the unix socket sock.
type evilServer struct {
	Port      int
	e         evil
	datagrams atomic.Int64 // calls received over UDP

	ctx    context.Context
	cancel context.CancelFunc
	ln     []net.Listener
	pc     net.PacketConn
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	sock   string
}

// startEvil starts e on ip ("" means 127.0.0.1); stop it with Close.
func startEvil(e evil, ip, sock string) (*evilServer, error) {
	if ip == "" {
		ip = "127.0.0.1"
	}
	s := &evilServer{e: e, conns: make(map[net.Conn]struct{}), sock: sock}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	var err error
	// The same port for TCP and UDP, as a port mapper has: retry while the
	// kernel's choice for TCP is taken for UDP.
	for range 20 {
		var l net.Listener
		if l, err = net.Listen("tcp4", net.JoinHostPort(ip, "0")); err != nil {
			return nil, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		if s.pc, err = net.ListenPacket("udp4", l.Addr().String()); err != nil {
			l.Close()
			continue
		}
		s.Port, s.ln = port, []net.Listener{l}
		break
	}
	if err != nil {
		return nil, err
	}
	if sock != "" {
		os.Remove(sock)
		ul, err := net.Listen("unix", sock)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.ln = append(s.ln, ul)
	}
	for _, l := range s.ln {
		s.wg.Go(func() { s.accept(l) })
	}
	s.wg.Go(s.serveUDP)
	return s, nil
}

func (s *evilServer) accept(l net.Listener) {
	for {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.ctx.Err() != nil {
			s.mu.Unlock()
			conn.Close()
			return
		}
		s.conns[conn] = struct{}{}
		s.mu.Unlock()
		s.wg.Go(func() {
			defer func() {
				conn.Close()
				s.mu.Lock()
				delete(s.conns, conn)
				s.mu.Unlock()
			}()
			// Writes that block longer than the test are cut short.
			conn.SetWriteDeadline(time.Now().Add(time.Minute))
			s.e.stream(s.ctx, conn)
		})
	}
}

func (s *evilServer) serveUDP() {
	buf := make([]byte, 1<<16)
	for {
		n, from, err := s.pc.ReadFrom(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil || n < 4 {
			continue
		}
		s.datagrams.Add(1)
		call := append([]byte(nil), buf[:n]...)
		s.wg.Go(func() { s.e.dgram(s.ctx, s.pc, from, call) })
	}
}

// Close stops the server and every goroutine it started.
func (s *evilServer) Close() {
	s.mu.Lock()
	s.cancel()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	for _, l := range s.ln {
		l.Close()
	}
	if s.pc != nil {
		s.pc.Close()
	}
	s.wg.Wait()
	if s.sock != "" {
		os.Remove(s.sock)
	}
}
