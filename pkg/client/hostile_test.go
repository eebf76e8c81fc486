package client

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

// A hostile or broken port mapper must cost the client at most the call's
// deadline and a bounded amount of memory, and produce a clear error. These
// tests play such servers over raw sockets.

// startRawTCP serves each call record arriving on a loopback TCP port to h,
// which writes whatever it likes to conn (record marks included), and returns
// the port.
func startRawTCP(t *testing.T, h func(conn net.Conn, call []byte)) int {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			conn, err := l.Accept()
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
					if err != nil {
						return
					}
					h(conn, call)
				}
			})
		}
	})
	return l.Addr().(*net.TCPAddr).Port
}

// startRawUDP hands each datagram arriving on a loopback UDP port to h and
// returns the port.
func startRawUDP(t *testing.T, h func(pc net.PacketConn, from net.Addr, call []byte)) int {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveRawUDP(t, pc, h)
	return pc.LocalAddr().(*net.UDPAddr).Port
}

// serveRawUDP hands each datagram arriving on pc to h until the test ends,
// when it closes pc.
func serveRawUDP(t *testing.T, pc net.PacketConn, h func(pc net.PacketConn, from net.Addr, call []byte)) {
	done := make(chan struct{})
	t.Cleanup(func() {
		pc.Close()
		<-done
	})
	go func() {
		defer close(done)
		buf := make([]byte, 1<<16)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			h(pc, from, append([]byte(nil), buf[:n]...))
		}
	}()
}

// okHeader returns the header of an accepted, successful reply to call.
func okHeader(call []byte) []byte {
	return append(append([]byte(nil), call[:4]...), enc(1, 0, 0, 0, 0)...)
}

// mark returns a record mark for a fragment of n bytes.
func mark(n int, last bool) []byte {
	h := uint32(n)
	if last {
		h |= 1 << 31
	}
	return binary.BigEndian.AppendUint32(nil, h)
}

// allocated runs f and returns how many bytes the process allocated meanwhile.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// growthBound is what reading a reply of up to limit bytes may allocate in
// all: the record buffer grows as bytes arrive, by a factor of about 1.25 once
// large, so the copies it leaves behind add up to a few times the limit.
func growthBound(limit int) uint64 { return 8*uint64(limit) + 1<<20 }

// rpcbEntry is one rpcblist element: TRUE, then an rpcb of 52 bytes.
var rpcbEntry = enc(true, 100003, 3, "tcp", "0.0.0.0.8.1", "superuser")

func TestHostileStream(t *testing.T) {
	endless := func(conn net.Conn, call []byte) {
		// One record that never ends: fragments of list entries, none last.
		chunk := make([]byte, 0, 64<<10)
		chunk = append(chunk, mark(0, false)...) // patched below
		for len(chunk)+len(rpcbEntry) <= cap(chunk) {
			chunk = append(chunk, rpcbEntry...)
		}
		binary.BigEndian.PutUint32(chunk, uint32(len(chunk)-4))
		first := append(append(mark(24, false), okHeader(call)...), chunk...)
		if _, err := conn.Write(first); err != nil {
			return
		}
		for {
			if _, err := conn.Write(chunk); err != nil {
				return
			}
		}
	}
	tests := []struct {
		name     string
		h        func(conn net.Conn, call []byte)
		opts     Options
		call     func(context.Context, *Client) error
		timeout  time.Duration
		status   rpc.Status
		cause    error         // errors.Is, when not nil
		maxTime  time.Duration // the call ends this soon
		maxAlloc uint64        // and allocates at most this much
	}{
		{"endless list, 1 MiB cap", endless, Options{MaxReply: 1 << 20}, dump3, 10 * time.Second,
			rpc.CantDecodeRes, rpc.ErrRecordTooLong, 5 * time.Second, growthBound(1 << 20)},
		{"endless list, default cap", endless, Options{}, dump3, 30 * time.Second,
			rpc.CantDecodeRes, rpc.ErrRecordTooLong, 20 * time.Second, growthBound(DefaultMaxReply)},
		{"list longer than MaxEntries", func(conn net.Conn, call []byte) {
			body := okHeader(call)
			for range 2000 {
				body = append(body, rpcbEntry...)
			}
			body = append(body, enc(false)...)
			rpc.WriteRecord(conn, body, 0)
		}, Options{MaxEntries: 1000}, dump3, 5 * time.Second, rpc.CantDecodeRes, xdr.ErrTooLong, 3 * time.Second, 4 << 20},
		{"4 GiB string", func(conn net.Conn, call []byte) {
			rpc.WriteRecord(conn, append(okHeader(call), 0xff, 0xff, 0xff, 0xff, 'a', 'b', 'c', 'd'), 0)
		}, Options{}, getaddr, 5 * time.Second, rpc.CantDecodeRes, xdr.ErrTooLong, 3 * time.Second, 1 << 20},
		{"2 GiB fragment, then nothing", func(conn net.Conn, call []byte) {
			conn.Write(append(mark(1<<31-1, true), okHeader(call)...))
		}, Options{}, getaddr, 5 * time.Second, rpc.CantDecodeRes, rpc.ErrRecordTooLong, 3 * time.Second, 1 << 20},
		{"wrong xid", func(conn net.Conn, call []byte) {
			h := okHeader(call)
			binary.BigEndian.PutUint32(h, binary.BigEndian.Uint32(h)+1)
			rpc.WriteRecord(conn, append(h, enc("127.0.0.1.8.1")...), 0)
		}, Options{}, getaddr, 300 * time.Millisecond, rpc.TimedOut, nil, 2 * time.Second, 1 << 20},
		{"no answer", func(net.Conn, []byte) {}, Options{}, getaddr, 300 * time.Millisecond,
			rpc.TimedOut, nil, 2 * time.Second, 1 << 20},
		{"not a reply", func(conn net.Conn, call []byte) {
			rpc.WriteRecord(conn, append(append([]byte(nil), call[:4]...), enc(7, 7, 7)...), 0)
		}, Options{}, getaddr, 5 * time.Second, rpc.CantDecodeRes, nil, 3 * time.Second, 1 << 20},
		{"garbage", func(conn net.Conn, call []byte) {
			junk := make([]byte, 4096)
			for i := range junk {
				junk[i] = byte(rand.Uint32())
			}
			conn.Write(append(mark(len(junk), true), junk...))
		}, Options{}, getaddr, 300 * time.Millisecond, rpc.TimedOut, nil, 2 * time.Second, 1 << 20},
		// Refused after rpc.MaxEmptyFragments, long before the deadline.
		{"empty fragments forever", func(conn net.Conn, call []byte) {
			empties := make([]byte, 4096) // 1024 marks of non-last empty fragments
			for {
				if _, err := conn.Write(empties); err != nil {
					return
				}
			}
		}, Options{}, getaddr, 5 * time.Second, rpc.CantDecodeRes, nil, 2 * time.Second, 1 << 20},
		{"closes the connection", func(conn net.Conn, call []byte) { conn.Close() }, Options{}, getaddr,
			5 * time.Second, rpc.CantRecv, nil, 3 * time.Second, 1 << 20},
		{"half a reply", func(conn net.Conn, call []byte) {
			conn.Write(append(mark(100, true), okHeader(call)...))
			conn.Close()
		}, Options{}, getaddr, 5 * time.Second, rpc.CantRecv, nil, 3 * time.Second, 1 << 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			port := startRawTCP(t, tc.h)
			opts := tc.opts
			opts.Port, opts.Network = port, "tcp"
			c := New("127.0.0.1", &opts)
			defer c.Close()
			ctx := ctxT(t, tc.timeout)
			var err error
			start := time.Now()
			n := allocated(func() { err = tc.call(ctx, c) })
			elapsed := time.Since(start)
			checkHostile(t, err, tc.status, tc.cause)
			if elapsed > tc.maxTime {
				t.Errorf("took %v, want at most %v", elapsed, tc.maxTime)
			}
			if n > tc.maxAlloc {
				t.Errorf("allocated %d bytes, want at most %d", n, tc.maxAlloc)
			}
			t.Logf("%v after %v, %d bytes allocated", err, elapsed.Round(time.Millisecond), n)
		})
	}
}

// A large registry still lists: 100,000 entries arrive whole.
func TestLargeDump(t *testing.T) {
	const entries = 100_000
	port := startRawTCP(t, func(conn net.Conn, call []byte) {
		body := okHeader(call)
		for range entries {
			body = append(body, rpcbEntry...)
		}
		rpc.WriteRecord(conn, append(body, enc(false)...), 64<<10)
	})
	c := New("127.0.0.1", &Options{Port: port})
	defer c.Close()
	l, err := c.Dump(ctxT(t, 30*time.Second), 4)
	if err != nil {
		t.Fatal(err)
	}
	want := portmap.RPCB{Prog: 100003, Vers: 3, Netid: "tcp", Addr: "0.0.0.0.8.1", Owner: "superuser"}
	if len(l) != entries || l[0] != want || l[entries-1] != want {
		t.Fatalf("got %d entries, want %d of %+v", len(l), entries, want)
	}
}

func TestHostileDatagram(t *testing.T) {
	tests := []struct {
		name    string
		h       func(pc net.PacketConn, from net.Addr, call []byte)
		call    func(context.Context, *Client) error
		timeout time.Duration
		status  rpc.Status
		cause   error
		maxTime time.Duration
	}{
		{"wrong xid", func(pc net.PacketConn, from net.Addr, call []byte) {
			h := okHeader(call)
			binary.BigEndian.PutUint32(h, ^binary.BigEndian.Uint32(h))
			pc.WriteTo(append(h, enc("127.0.0.1.8.1")...), from)
		}, getaddr, 300 * time.Millisecond, rpc.TimedOut, nil, 2 * time.Second},
		{"garbage", func(pc net.PacketConn, from net.Addr, call []byte) {
			for range 100 {
				junk := make([]byte, 1+rand.IntN(2000))
				for i := range junk {
					junk[i] = byte(rand.Uint32())
				}
				pc.WriteTo(junk, from)
			}
		}, getaddr, 300 * time.Millisecond, rpc.TimedOut, nil, 2 * time.Second},
		{"strays before the answer", func(pc net.PacketConn, from net.Addr, call []byte) {
			for range 1000 {
				h := okHeader(call)
				binary.BigEndian.PutUint32(h, rand.Uint32())
				pc.WriteTo(append(h, enc("0.0.0.0.0.0")...), from)
			}
			pc.WriteTo(append(okHeader(call), enc("127.0.0.1.8.1")...), from)
		}, getaddr, 5 * time.Second, 0, nil, 3 * time.Second},
		{"list without an end", func(pc net.PacketConn, from net.Addr, call []byte) {
			b := okHeader(call)
			for len(b)+len(rpcbEntry) < 9000 {
				b = append(b, rpcbEntry...)
			}
			pc.WriteTo(b, from)
		}, dump3, 5 * time.Second, rpc.CantDecodeRes, xdr.ErrShort, 3 * time.Second},
		{"4 GiB string", func(pc net.PacketConn, from net.Addr, call []byte) {
			pc.WriteTo(append(okHeader(call), 0xff, 0xff, 0xff, 0xfc), from)
		}, getaddr, 5 * time.Second, rpc.CantDecodeRes, xdr.ErrTooLong, 3 * time.Second},
		{"truncated header", func(pc net.PacketConn, from net.Addr, call []byte) {
			pc.WriteTo(okHeader(call)[:10], from)
		}, getaddr, 300 * time.Millisecond, rpc.TimedOut, nil, 2 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			port := startRawUDP(t, tc.h)
			c := New("127.0.0.1", &Options{Port: port, Network: "udp"})
			defer c.Close()
			start := time.Now()
			err := tc.call(ctxT(t, tc.timeout), c)
			elapsed := time.Since(start)
			checkHostile(t, err, tc.status, tc.cause)
			if elapsed > tc.maxTime {
				t.Errorf("took %v, want at most %v", elapsed, tc.maxTime)
			}
		})
	}
}

// checkHostile checks that err has status (0: no error) and wraps cause.
func checkHostile(t *testing.T, err error, status rpc.Status, cause error) {
	t.Helper()
	if status == 0 {
		if err != nil {
			t.Fatalf("got %v, want success", err)
		}
		return
	}
	var e *rpc.Error
	if !errors.As(err, &e) || e.Status != status {
		t.Fatalf("got %v, want status %v", err, status)
	}
	if e.Prog != portmap.Program || e.Network == "" || e.Addr == "" {
		t.Errorf("error %v does not name the call", err)
	}
	if cause != nil && !errors.Is(err, cause) {
		t.Errorf("error %v does not wrap %v", err, cause)
	}
}

func dump3(ctx context.Context, c *Client) error {
	_, err := c.RpcbDump(ctx, 3)
	return err
}

func getaddr(ctx context.Context, c *Client) error {
	_, err := c.RpcbGetaddr(ctx, 4, portmap.RPCB{Prog: 100003, Vers: 3, Netid: "tcp"})
	return err
}
