package hostile

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/internal/testsupport"
	"github.com/portmap-toolkit/pmap/internal/vectors"
	"github.com/portmap-toolkit/pmap/pkg/client"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
)

// Hostile clients against portmapd. Each attack runs for -hostile.duration
// against a fresh portmapd process while a well-behaved client asks it for
// its own port every probeInterval: over UDP, and over a new connection each
// time to TCP and to the unix socket.

const (
	// portmapdAddr is where portmapd listens in the test namespace.
	portmapdAddr = "127.0.0.1:111"

	// probeInterval is the pause between two calls of the well-behaved
	// client on each transport.
	probeInterval = 50 * time.Millisecond

	// idleConns is how many idle connections the idle attack holds: several
	// times the 512 portmapd serves at once (rpc.DefaultMaxConns).
	idleConns = 3000

	// slowConns is how many connections the slowloris attack drips calls
	// on, one byte per second each: half what portmapd serves at once, so
	// that the attack holds connections without simply filling the table,
	// which the idle attack does.
	slowConns = 256

	// slowIdle is portmapd's --idle-timeout in the slowloris attack: short
	// enough that the attack outlasts it, which shows that bytes trickling
	// in do not keep a connection open (the timeout runs from the start of
	// a record, not from its last byte). The default is 2 minutes.
	slowIdle = time.Second

	// slowGrace is how long after slowIdle the slowloris attack looks for
	// open connections.
	slowGrace = 500 * time.Millisecond

	// floodMax bounds the datagrams of one flood, whatever its rate and
	// duration.
	floodMax = 1_000_000

	// floodTick is how often each sender of a datagram attack sends its
	// next burst.
	floodTick = 5 * time.Millisecond

	// unpacedBurst is how many datagrams an unpaced sender sends between
	// two looks at the attack's end.
	unpacedBurst = 64

	// attackWorkers is how many goroutines send each stream attack at once.
	attackWorkers = 4
)

// attack is one hostile client. run attacks portmapd until ctx ends (or
// until it has done all it does), reports a broken property with t.Errorf
// and returns a summary of what it sent.
type attack struct {
	name string
	run  func(ctx context.Context, t *testing.T) string
	// flags are portmapd's flags beyond startPortmapd's own.
	flags []string
}

func TestHostileClients(t *testing.T) {
	if !testsupport.Isolate(t) {
		return
	}
	// The idle attack's connections, the probes' and the test binary's own.
	raiseNofile(t, idleConns+1024)
	bin := filepath.Join(testsupport.BuildGo(t, "./cmd/portmapd"), "portmapd")
	flooder := testsupport.Peer(t, "flooder")
	attacks := []attack{
		{"truncated datagrams", truncatedDatagrams, nil},
		{"garbage datagrams", garbageDatagrams, nil},
		{"length fields at 0, max and 2^32-1", lengthFields, nil},
		{"records claiming 2 GiB", hugeRecords, nil},
		{"endless non-final fragments", endlessFragments, nil},
		{"slowloris, one byte per second", slowloris, []string{"--idle-timeout", slowIdle.String()}},
		{"thousands of idle connections", idleConnections, nil},
		{"bounded UDP flood", udpFlood, nil},
		{"UDP flood from a remote host", remoteFlood(flooder), []string{"--listen", testsupport.LocalAddr.String(),
			"--udp-rate", strconv.Itoa(remoteRate), "--udp-burst", strconv.Itoa(remoteBurst)}},
		{"rpcbomb (CVE-2017-8779)", rpcbomb, nil},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			pd := startPortmapd(t, bin, a.flags...)
			pr := startProber()
			ctx, cancel := context.WithTimeout(t.Context(), *attackTime)
			start := time.Now()
			summary := a.run(ctx, t)
			cancel()
			elapsed := time.Since(start)
			probes := pr.finish()

			select {
			case <-pd.Done():
				t.Fatalf("portmapd exited during the attack (%v); its output:\n%s", pd.Err(), pd.Output())
			default:
			}
			_, hwm, err := memStatus(pd.Pid())
			if err != nil {
				t.Fatal(err)
			}
			pd.Stop()
			if err := pd.Err(); err != nil {
				t.Errorf("portmapd exited with %v on SIGTERM, want status 0", err)
			}
			if out := pd.Output(); crashed(out) {
				t.Errorf("portmapd reported a crash:\n%s", out)
			}
			if hwm > rssLimit {
				t.Errorf("portmapd's peak resident memory (VmHWM) was %s, want under %s", mib(hwm), mib(rssLimit))
			}
			var answered []string
			for _, s := range probes {
				switch {
				case s.n == 0:
					t.Errorf("no %s probe ran", s.network)
				default:
					for _, f := range s.fails {
						t.Errorf("well-behaved %s caller: %s", s.network, f)
					}
				}
				answered = append(answered, fmt.Sprintf("%s %d/%d, worst %v", s.network, s.n-len(s.fails), s.n, s.worst.Round(time.Millisecond)))
			}
			t.Logf("figure | %s | %s in %v | answered: %s | portmapd VmHWM %s",
				a.name, summary, elapsed.Round(10*time.Millisecond), strings.Join(answered, "; "), mib(hwm))
		})
	}
}

// startPortmapd starts portmapd on 127.0.0.1 port 111 and the namespace's
// /run/rpcbind.sock, logging errors only (an attack would fill its log),
// with flags, and waits until it listens.
func startPortmapd(t *testing.T, bin string, flags ...string) *testsupport.Proc {
	t.Helper()
	args := append([]string{"--listen", "127.0.0.1", "--port", "111",
		"--socket", localSocket, "--log-level", "error"}, flags...)
	p := testsupport.Start(t, bin, args...)
	p.WaitPort(t, "tcp", portmapdAddr)
	p.WaitPort(t, "udp", portmapdAddr)
	return p
}

// crashed reports whether a Go program's output shows a panic, a fatal
// runtime error or a data race.
func crashed(out string) bool {
	for _, s := range []string{"panic:", "fatal error:", "DATA RACE", "goroutine "} {
		if strings.Contains(out, s) {
			return true
		}
	}
	return false
}

// probeStats is what the well-behaved caller saw on one transport.
type probeStats struct {
	network string
	stream  bool          // TCP or the unix socket
	n       int           // calls made
	worst   time.Duration // the longest wait for an answer
	fails   []string      // calls not answered correctly within answerLimit
}

// prober is the well-behaved caller.
type prober struct {
	stop  chan struct{}
	wg    sync.WaitGroup
	stats []*probeStats
	udp   *client.Client
}

// startProber starts asking portmapd for its own UDP port over UDP, on one
// socket as a long-lived client would, and for its TCP port over TCP and over
// the unix socket, on a new connection each time as a tool would.
func startProber() *prober {
	p := &prober{stop: make(chan struct{}), udp: client.New("127.0.0.1", &client.Options{Network: "udp"})}
	start := time.Now()
	loop := func(s *probeStats, prot uint32, get func() *client.Client, done func(*client.Client)) {
		defer p.wg.Done()
		tick := time.NewTicker(probeInterval)
		defer tick.Stop()
		for {
			c := get()
			ctx, cancel := context.WithTimeout(context.Background(), answerLimit)
			t0 := time.Now()
			port, err := c.PmapGetport(ctx, portmap.Mapping{Prog: portmap.Program, Vers: portmap.V2, Prot: prot})
			took := time.Since(t0)
			cancel()
			done(c)
			s.n++
			s.worst = max(s.worst, took)
			switch {
			case err != nil:
				s.fails = append(s.fails, fmt.Sprintf("call at +%v failed after %v: %v", t0.Sub(start).Round(time.Millisecond), took.Round(time.Millisecond), err))
			case port != portmap.Port:
				s.fails = append(s.fails, fmt.Sprintf("call at +%v: port %d, want %d", t0.Sub(start).Round(time.Millisecond), port, portmap.Port))
			}
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
		}
	}
	closeClient := func(c *client.Client) { c.Close() }
	for _, pr := range []struct {
		s    *probeStats
		prot uint32
		get  func() *client.Client
		done func(*client.Client)
	}{
		{&probeStats{network: "udp"}, portmap.IPProtoUDP, func() *client.Client { return p.udp }, func(*client.Client) {}},
		{&probeStats{network: "tcp", stream: true}, portmap.IPProtoTCP, func() *client.Client { return client.New("127.0.0.1", nil) }, closeClient},
		{&probeStats{network: "unix", stream: true}, portmap.IPProtoTCP, func() *client.Client {
			return client.Local(&client.Options{Socket: localSocket})
		}, closeClient},
	} {
		p.stats = append(p.stats, pr.s)
		p.wg.Add(1)
		go loop(pr.s, pr.prot, pr.get, pr.done)
	}
	return p
}

// finish stops the prober and returns what it saw on each transport.
func (p *prober) finish() []*probeStats {
	close(p.stop)
	p.wg.Wait()
	p.udp.Close()
	return p.stats
}

// flood is a datagram attack on portmapd.
type flood struct {
	// dial opens a socket connected to portmapd; nil: from this
	// namespace to portmapdAddr.
	dial func() (net.Conn, error)
	// rate is the datagrams sent a second in all; 0: as fast as the
	// sockets take them.
	rate int
	// gen makes the i-th datagram; at most floodMax are sent.
	gen func(i int64) []byte
	// check checks a reply beyond its being well-formed; nil: nothing.
	check func(h rpc.ReplyHeader, reply []byte) error
}

// floodStats is what a flood sent and got back.
type floodStats struct {
	sent, replies           int64
	sentBytes, replyBytes   int64
	largestSent, largestRep int64
}

func (s *floodStats) String() string {
	return fmt.Sprintf("%d datagrams, %d replies", s.sent, s.replies)
}

// run sends f's datagrams from attackWorkers sockets until ctx ends or
// floodMax are sent, checking every reply, and returns what it did.
func (f flood) run(ctx context.Context, t *testing.T) *floodStats {
	t.Helper()
	dial := f.dial
	if dial == nil {
		dial = func() (net.Conn, error) { return net.Dial("udp4", portmapdAddr) }
	}
	burst := unpacedBurst
	if f.rate > 0 {
		burst = max(1, int(float64(f.rate)*floodTick.Seconds())/attackWorkers)
	}
	var next, sent, replies, sentBytes, replyBytes, largestSent, largestRep atomic.Int64
	var wg sync.WaitGroup
	for range attackWorkers {
		conn, err := dial()
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() { // the replies
			buf := make([]byte, 1<<16)
			for {
				n, err := conn.Read(buf)
				if errors.Is(err, net.ErrClosed) {
					return
				}
				if err != nil {
					continue // an ICMP error from an earlier datagram
				}
				replies.Add(1)
				replyBytes.Add(int64(n))
				storeMax(&largestRep, int64(n))
				h, err := checkReply(buf[:n])
				if err == nil && f.check != nil {
					err = f.check(h, buf[:n])
				}
				if err != nil {
					t.Errorf("bad reply: %v", err)
				}
			}
		})
		wg.Go(func() { // the datagrams
			defer conn.Close()
			tick := time.NewTicker(floodTick)
			defer tick.Stop()
			for {
				for range burst {
					i := next.Add(1) - 1
					if i >= floodMax {
						return
					}
					b := f.gen(i)
					if _, err := conn.Write(b); err == nil {
						sent.Add(1)
						sentBytes.Add(int64(len(b)))
						storeMax(&largestSent, int64(len(b)))
					}
				}
				if f.rate == 0 {
					if ctx.Err() != nil {
						return
					}
					continue
				}
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
			}
		})
	}
	wg.Wait()
	return &floodStats{sent: sent.Load(), replies: replies.Load(), sentBytes: sentBytes.Load(), replyBytes: replyBytes.Load(),
		largestSent: largestSent.Load(), largestRep: largestRep.Load()}
}

// storeMax raises a to v if v is larger.
func storeMax(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if v <= old || a.CompareAndSwap(old, v) {
			return
		}
	}
}

// truncatedDatagrams sends every prefix of every call recorded from rpcbind,
// shortest first, over and over.
func truncatedDatagrams(ctx context.Context, t *testing.T) string {
	var prefixes [][]byte
	for _, c := range vectors.All() {
		for n := range len(c.Call) {
			prefixes = append(prefixes, c.Call[:n])
		}
	}
	return flood{rate: *floodRate, gen: func(i int64) []byte { return prefixes[i%int64(len(prefixes))] }}.run(ctx, t).String()
}

// garbageDatagrams sends random bytes, half of them behind the header of a
// call to the port mapper, of random sizes up to 1,500 bytes and now and then
// the largest datagram there is.
func garbageDatagrams(ctx context.Context, t *testing.T) string {
	return flood{rate: *floodRate, gen: func(i int64) []byte {
		n := 1 + rand.IntN(1500)
		if i%100 == 0 {
			n = 65507 // the largest UDP payload over IPv4
		}
		b := make([]byte, n)
		for j := range b {
			b[j] = byte(rand.Uint32())
		}
		if i%2 == 0 && n > 40 {
			h := callMsg(rand.Uint32(), portmap.Program, 2+rand.Uint32N(3), rand.Uint32N(14), nil)
			copy(b, h)
		}
		return b
	}}.run(ctx, t).String()
}

// floodCalls are well-formed calls, the cheap and the expensive ones of the
// port mapper.
func floodCalls() [][]byte {
	return [][]byte{
		callMsg(1, portmap.Program, portmap.V2, portmap.ProcNull, nil),
		callMsg(2, portmap.Program, portmap.V2, portmap.PmapGetport, portmap.Mapping{Prog: 100003, Vers: 3, Prot: 6}.Append(nil)),
		callMsg(3, portmap.Program, portmap.V3, portmap.RpcbDump, nil),
		callMsg(4, portmap.Program, portmap.V4, portmap.RpcbGetstat, nil),
		callMsg(5, portmap.Program, portmap.V4, portmap.RpcbGetaddrlist, portmap.RPCB{Prog: portmap.Program, Vers: 4}.Append(nil)),
	}
}

// udpFlood sends floodCalls from the loopback at -hostile.rate.
func udpFlood(ctx context.Context, t *testing.T) string {
	calls := floodCalls()
	return flood{rate: *floodRate, gen: func(i int64) []byte { return calls[i%int64(len(calls))] }}.run(ctx, t).String()
}

// Flags and figures of the flood from a remote host. The rate limit is given
// explicitly, at portmapd's defaults, so the test holds replies to it.
const (
	remoteRate  = 50  // portmapd --udp-rate: calls a second per source
	remoteBurst = 100 // portmapd --udp-burst
)

// remoteFlood sends floodCalls as fast as the sockets take them from the
// peer host "flooder" (192.0.2.2, on the test bridge) to portmapd's
// 192.0.2.1: a source that is not on the loopback and so may be a spoofed
// victim. portmapd must answer it at most remoteBurst calls at once and
// remoteRate a second, each reply no larger than its call.
func remoteFlood(peer *testsupport.Host) func(ctx context.Context, t *testing.T) string {
	return func(ctx context.Context, t *testing.T) string {
		calls := floodCalls()
		start := time.Now()
		st := flood{
			dial: func() (c net.Conn, err error) {
				err = peer.Do(func() error {
					c, err = net.Dial("udp4", net.JoinHostPort(testsupport.LocalAddr.String(), "111"))
					return err
				})
				return c, err
			},
			gen: func(i int64) []byte { return calls[i%int64(len(calls))] },
		}.run(ctx, t)
		took := time.Since(start)
		if st.largestRep > smallestCall(calls) {
			t.Errorf("a reply of %d bytes to a remote caller whose largest call was %d bytes", st.largestRep, st.largestSent)
		}
		if limit := remoteBurst + int64(remoteRate*took.Seconds()) + remoteRate/2; st.replies > limit {
			t.Errorf("%d replies in %v to one remote source, over the limit of %d at once and %d a second",
				st.replies, took.Round(time.Millisecond), remoteBurst, remoteRate)
		}
		return fmt.Sprintf("%s (%d bytes sent, %d received)", st, st.sentBytes, st.replyBytes)
	}
}

// smallestCall returns the length of the shortest of calls: a remote
// caller's reply may be no longer than its own call, and the flood's replies
// cannot be told apart by call.
func smallestCall(calls [][]byte) int64 {
	n := len(calls[0])
	for _, c := range calls {
		n = min(n, len(c))
	}
	return int64(n)
}

// rpcbombArgs are the arguments of the rpcbomb request and its relatives: an
// rpcb whose netid, address or owner claims a length near 4 GiB, with a few
// bytes after it. rpcbind 0.2.4 and libtirpc 1.0.1 allocated what such a
// length asked for before reading it, and never freed it (CVE-2017-8779).
var rpcbombArgs = [][]byte{
	append(enc(100003, 3, 0xfffffff0), "tcp\x00"...),
	append(enc(100003, 3, "tcp", 0x7fffffff), "0.0."...),
	append(enc(100003, 3, "tcp", "0.0.0.0.8.1", 0xffffffff), "root"...),
}

// rpcbombCalls are the calls that carry rpcbombArgs: GETADDR of versions 3
// and 4, SET of version 3, GETVERSADDR and GETADDRLIST of version 4.
func rpcbombCalls() [][]byte {
	var out [][]byte
	procs := []struct{ vers, proc uint32 }{
		{portmap.V3, portmap.RpcbGetaddr}, {portmap.V4, portmap.RpcbGetaddr}, {portmap.V3, portmap.RpcbSet},
		{portmap.V4, portmap.RpcbGetversaddr}, {portmap.V4, portmap.RpcbGetaddrlist},
	}
	for i, p := range procs {
		for j, args := range rpcbombArgs {
			out = append(out, callMsg(uint32(100*i+j), portmap.Program, p.vers, p.proc, args))
		}
	}
	return out
}

// rpcbomb sends the rpcbomb calls over UDP as fast as they go, and over TCP
// on a few connections, and wants GARBAGE_ARGS for each.
func rpcbomb(ctx context.Context, t *testing.T) string {
	calls := rpcbombCalls()
	garbage := func(h rpc.ReplyHeader) error {
		if h.Stat != rpc.MsgAccepted || h.Accept != rpc.AcceptGarbageArgs {
			return fmt.Errorf("xid %d: %v %v, want GARBAGE_ARGS", h.XID, h.Stat, h.Accept)
		}
		return nil
	}
	var tcpCalls atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		for ctx.Err() == nil {
			conn, err := net.DialTimeout("tcp4", portmapdAddr, answerLimit)
			if err != nil {
				t.Errorf("rpcbomb over TCP: %v", err)
				return
			}
			for _, c := range calls {
				conn.SetDeadline(time.Now().Add(answerLimit))
				if _, err := conn.Write(record(c)); err != nil {
					t.Errorf("rpcbomb over TCP: %v", err)
					break
				}
				reply, err := rpc.ReadRecord(conn, nil, 1<<16)
				if err != nil {
					t.Errorf("rpcbomb over TCP: no reply: %v", err)
					break
				}
				h, err := checkReply(reply)
				if err == nil {
					err = garbage(h)
				}
				if err != nil {
					t.Errorf("rpcbomb over TCP: %v", err)
				}
				tcpCalls.Add(1)
			}
			conn.Close()
		}
	})
	st := flood{rate: *floodRate, gen: func(i int64) []byte { return calls[i%int64(len(calls))] },
		check: func(h rpc.ReplyHeader, _ []byte) error { return garbage(h) }}.run(ctx, t)
	wg.Wait()
	return fmt.Sprintf("%s; %d calls over TCP", st, tcpCalls.Load())
}

// streamWorkers runs attackWorkers copies of f until ctx ends and returns
// how many times they ran it in all.
func streamWorkers(ctx context.Context, f func() bool) int64 {
	var n atomic.Int64
	var wg sync.WaitGroup
	for range attackWorkers {
		wg.Go(func() {
			for ctx.Err() == nil {
				if !f() {
					return
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	return n.Load()
}

// errAttackOver is waitClosed's answer when the attack ended first.
var errAttackOver = errors.New("the attack ended first")

// waitClosed waits until the server closes conn, reading and discarding
// what it sends meanwhile, and fails if that takes longer than answerLimit.
func waitClosed(ctx context.Context, conn net.Conn) error {
	conn.SetReadDeadline(time.Now().Add(answerLimit))
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	_, err := io.Copy(io.Discard, conn)
	var ne net.Error
	switch {
	case !errors.As(err, &ne) || !ne.Timeout():
		return nil // EOF, or a reset
	case ctx.Err() != nil:
		return errAttackOver
	}
	return fmt.Errorf("the server kept the connection open for %v", answerLimit)
}

// hugeRecords opens connections whose first fragment header claims 2 GiB
// (2^31-1 bytes, last fragment or not) and sends a call's first bytes: the
// server must close each at once.
func hugeRecords(ctx context.Context, t *testing.T) string {
	head := callMsg(7, portmap.Program, portmap.V2, portmap.ProcNull, nil)
	var i atomic.Int64
	n := streamWorkers(ctx, func() bool {
		conn, err := net.DialTimeout("tcp4", portmapdAddr, answerLimit)
		if err != nil {
			t.Errorf("dial: %v", err)
			return false
		}
		defer conn.Close()
		mark := uint32(1<<31 - 1)
		if i.Add(1)%2 == 0 {
			mark |= 1 << 31 // 2^32-1: the last fragment, 2^31-1 bytes long
		}
		conn.Write(append(binary.BigEndian.AppendUint32(nil, mark), head...))
		switch err := waitClosed(ctx, conn); {
		case err == errAttackOver:
			return false
		case err != nil:
			t.Errorf("record claiming 2 GiB: %v", err)
			return false
		}
		return true
	})
	return fmt.Sprintf("%d connections, each closed by portmapd", n)
}

// endlessFragments sends, on half the connections, non-final fragments of
// 1 KiB until the server closes the connection, which it must do once they
// pass its record limit; on the other half, empty non-final fragments, which
// add nothing to a record, for as long as the attack lasts.
func endlessFragments(ctx context.Context, t *testing.T) string {
	kib := make([]byte, 0, 64*1028)
	for range 64 {
		kib = binary.BigEndian.AppendUint32(kib, 1024)
		kib = append(kib, make([]byte, 1024)...)
	}
	empty := make([]byte, 4096) // 1024 empty non-final fragments
	var closed, emptyBytes, emptyClosed atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		streamWorkers(ctx, func() bool {
			conn, err := net.DialTimeout("tcp4", portmapdAddr, answerLimit)
			if err != nil {
				t.Errorf("dial: %v", err)
				return false
			}
			defer conn.Close()
			go func() { // ends when a write fails: at the latest, once conn is closed
				for ctx.Err() == nil {
					conn.SetWriteDeadline(time.Now().Add(answerLimit))
					if _, err := conn.Write(kib); err != nil {
						return
					}
				}
			}()
			switch err := waitClosed(ctx, conn); {
			case err == errAttackOver:
				return false
			case err != nil:
				t.Errorf("endless 1 KiB fragments: %v", err)
				return false
			}
			closed.Add(1)
			return true
		})
	})
	wg.Go(func() {
		streamWorkers(ctx, func() bool {
			conn, err := net.DialTimeout("tcp4", portmapdAddr, answerLimit)
			if err != nil {
				t.Errorf("dial: %v", err)
				return false
			}
			defer conn.Close()
			// portmapd refuses a record of more than rpc.MaxEmptyFragments
			// empty fragments and closes the connection: a write fails.
			for ctx.Err() == nil {
				conn.SetWriteDeadline(time.Now().Add(answerLimit))
				n, err := conn.Write(empty)
				emptyBytes.Add(int64(n))
				var ne net.Error
				switch {
				case errors.As(err, &ne) && ne.Timeout():
					t.Errorf("endless empty fragments: neither read nor closed within %v", answerLimit)
					return false
				case err != nil:
					emptyClosed.Add(1)
					return true
				}
			}
			return true
		})
	})
	wg.Wait()
	return fmt.Sprintf("%d connections of 1 KiB fragments closed by portmapd; %d empty fragments sent, %d connections of them closed by portmapd",
		closed.Load(), emptyBytes.Load()/4, emptyClosed.Load())
}

// slowloris opens slowConns connections and sends on each a call, one byte
// per second, for as long as the attack lasts; portmapd must have closed
// every one by then, slowIdle after it opened.
func slowloris(ctx context.Context, t *testing.T) string {
	call := record(callMsg(9, portmap.Program, portmap.V2, portmap.ProcNull, nil))
	conns := make([]net.Conn, 0, slowConns)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range slowConns {
		c, err := net.DialTimeout("tcp4", portmapdAddr, answerLimit)
		if err != nil {
			t.Errorf("dial: %v", err)
			break
		}
		conns = append(conns, c)
	}
	opened := time.Now()
	sent := 0
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for i := 0; ctx.Err() == nil; i++ {
		for _, c := range conns {
			c.SetWriteDeadline(time.Now().Add(answerLimit))
			if _, err := c.Write(call[i%len(call) : i%len(call)+1]); err == nil {
				sent++
			}
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
	// Half a second past the idle timeout, it has closed them all.
	if wait := time.Until(opened.Add(slowIdle + slowGrace)); wait > 0 {
		time.Sleep(wait)
	}
	open := stillOpen(conns)
	if open > 0 {
		t.Errorf("%d of %d dripping connections still open %v after they opened, with --idle-timeout %v",
			open, len(conns), time.Since(opened).Round(time.Millisecond), slowIdle)
	}
	return fmt.Sprintf("%d connections, %d bytes; %d closed by portmapd (--idle-timeout %v)", len(conns), sent, len(conns)-open, slowIdle)
}

// idleConnections opens idleConns connections and holds them, sending
// nothing, for as long as the attack lasts; it reports how many portmapd
// kept open.
func idleConnections(ctx context.Context, t *testing.T) string {
	conns := make([]net.Conn, 0, idleConns)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range idleConns {
		c, err := net.DialTimeout("tcp4", portmapdAddr, answerLimit)
		if err != nil {
			t.Errorf("dial: %v", err)
			break
		}
		conns = append(conns, c)
	}
	<-ctx.Done()
	return fmt.Sprintf("%d connections opened, %d still open at the end", len(conns), stillOpen(conns))
}

// stillOpen returns how many of conns the server has not closed: those on
// which a read finds neither data nor the end of the stream at once.
func stillOpen(conns []net.Conn) int {
	open := 0
	buf := make([]byte, 1)
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(time.Millisecond))
		_, err := c.Read(buf)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			open++
		}
	}
	return open
}

// lengthField is a call with one of its length fields set to a value.
type lengthField struct {
	field string
	limit uint32                // the field's largest accepted value
	build func(n uint32) []byte // the call message with the field at n
	// udpOnly: the call is answered only over a datagram (INDIRECT).
	udpOnly bool
}

// withField returns the bytes of an XDR length n followed by n bytes of
// content, or by 8 bytes when n is over limit: a length beyond the limit is
// a claim, never backed by the bytes.
func withField(n, limit uint32, c byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, n)
	body := int(min(n, 8))
	if n <= limit {
		body = int(n + (4-n%4)%4)
	}
	return append(b, fill(body, c)...)
}

// fill returns n bytes of value c.
func fill(n int, c byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = c
	}
	return b
}

// authSysBody returns an AUTH_SYS body (RFC 5531 §A.1) with the machine
// name's length field at n and gids count at g (each backed by its bytes
// while within the limits).
func authSysBody(n, g uint32) []byte {
	b := enc(uint32(0x5eed))
	b = append(b, withField(n, rpc.MaxMachineName, 'h')...)
	b = append(b, enc(0, 0)...)
	b = binary.BigEndian.AppendUint32(b, g)
	if g <= rpc.MaxGIDs {
		b = append(b, fill(4*int(g), 0)...)
	} else {
		b = append(b, fill(8, 0)...)
	}
	return b
}

// callWithAuth returns a v2 NULL call whose credential is flavor with the
// given encoded body field (length included), and verifier verf (likewise).
func callWithAuth(cred, verf []byte) []byte {
	b := enc(0x1e4, 0, rpc.RPCVersion, portmap.Program, portmap.V2, portmap.ProcNull)
	b = append(b, enc(uint32(rpc.AuthSys))...)
	b = append(b, cred...)
	b = append(b, enc(uint32(rpc.AuthNone))...)
	return append(b, verf...)
}

// lengthFieldCases lists every length field of a call to the port mapper.
func lengthFieldCases() []lengthField {
	okSys, _ := rpc.AuthSysParams{MachineName: "host"}.Auth()
	sys := enc(okSys.Body)
	none := enc(0)
	call := func(vers, proc uint32) func(args []byte) []byte {
		return func(args []byte) []byte { return callMsg(0x1e4, portmap.Program, vers, proc, args) }
	}
	getaddr := call(portmap.V3, portmap.RpcbGetaddr)
	set := call(portmap.V3, portmap.RpcbSet)
	versaddr := call(portmap.V4, portmap.RpcbGetversaddr)
	addrlist := call(portmap.V4, portmap.RpcbGetaddrlist)
	indirect := call(portmap.V4, portmap.RpcbIndirect)
	return []lengthField{
		{field: "credential body", limit: rpc.MaxAuthBytes, build: func(n uint32) []byte {
			return callWithAuth(withField(n, rpc.MaxAuthBytes, 0), none)
		}},
		{field: "verifier body", limit: rpc.MaxAuthBytes, build: func(n uint32) []byte {
			return callWithAuth(sys, withField(n, rpc.MaxAuthBytes, 0))
		}},
		{field: "AUTH_SYS machine name", limit: rpc.MaxMachineName, build: func(n uint32) []byte {
			return callWithAuth(enc(authSysBody(n, 0)), none)
		}},
		{field: "AUTH_SYS gids count", limit: rpc.MaxGIDs, build: func(n uint32) []byte {
			return callWithAuth(enc(authSysBody(4, n)), none)
		}},
		{field: "GETADDR netid", limit: portmap.MaxNetidLen, build: func(n uint32) []byte {
			return getaddr(append(append(enc(100003, 3), withField(n, portmap.MaxNetidLen, 't')...), enc("", "")...))
		}},
		{field: "GETADDRLIST netid", limit: portmap.MaxNetidLen, build: func(n uint32) []byte {
			return addrlist(append(append(enc(100003, 3), withField(n, portmap.MaxNetidLen, 't')...), enc("", "")...))
		}},
		{field: "SET address", limit: portmap.MaxUaddrLen, build: func(n uint32) []byte {
			return set(append(append(enc(300001, 1, "tcp"), withField(n, portmap.MaxUaddrLen, '1')...), enc("")...))
		}},
		{field: "GETVERSADDR owner", limit: portmap.MaxOwnerLen, build: func(n uint32) []byte {
			return versaddr(append(enc(100003, 3, "tcp", ""), withField(n, portmap.MaxOwnerLen, 'o')...))
		}},
		{field: "INDIRECT arguments", limit: 9000, udpOnly: true, build: func(n uint32) []byte {
			return indirect(append(enc(100003, 3, 0), withField(n, 9000, 0)...))
		}},
		{field: "UADDR2TADDR address", limit: portmap.MaxUaddrLen, build: func(n uint32) []byte {
			return call(portmap.V3, 7)(withField(n, portmap.MaxUaddrLen, '1'))
		}},
		{field: "TADDR2UADDR netbuf buffer", limit: portmap.MaxNetbufLen, build: func(n uint32) []byte {
			return call(portmap.V3, 8)(append(enc(16), withField(n, portmap.MaxNetbufLen, 0)...))
		}},
		{field: "TADDR2UADDR netbuf maxlen", limit: 1<<32 - 1, build: func(n uint32) []byte {
			return call(portmap.V3, 8)(append(enc(n), enc([]byte{2, 0, 0, 111, 127, 0, 0, 1})...))
		}},
	}
}

// lengthFields sends every call of lengthFieldCases with its field at 0, at its
// limit and at 2^32-1, over UDP and TCP, and the record mark at 0, at
// portmapd's record limit and at 2^32-1; each must be answered with a
// well-formed reply or dropped, a claim over the limit with GARBAGE_ARGS or
// nothing at all.
func lengthFields(ctx context.Context, t *testing.T) string {
	sent := 0
	for _, f := range lengthFieldCases() {
		for _, n := range []uint32{0, f.limit, 1<<32 - 1} {
			msg := f.build(n)
			over := n > f.limit
			name := fmt.Sprintf("%s at %d", f.field, n)
			if err := lengthOverUDP(msg, over); err != nil {
				t.Errorf("%s over UDP: %v", name, err)
			}
			sent++
			if !f.udpOnly {
				if err := lengthOverTCP(record(msg), over); err != nil {
					t.Errorf("%s over TCP: %v", name, err)
				}
				sent++
			}
		}
	}
	// The record mark: an empty record, one of exactly portmapd's default
	// limit (a NULL call and padding, answered), and 2^32-1 (the last
	// fragment, 2^31-1 bytes long).
	null := callMsg(0x1e4, portmap.Program, portmap.V2, portmap.ProcNull, nil)
	full := append(null, fill(int(rpc.DefaultServerMaxRecord)-len(null), 0)...)
	for _, rec := range []struct {
		name string
		b    []byte
		want bool // a reply
	}{
		{"record mark at 0", binary.BigEndian.AppendUint32(nil, 1<<31), false},
		{fmt.Sprintf("record mark at %d", len(full)), record(full), true},
		{"record mark at 2^32-1", append(binary.BigEndian.AppendUint32(nil, 1<<32-1), null...), false},
	} {
		if err := lengthOverTCP(rec.b, !rec.want); err != nil {
			t.Errorf("%s: %v", rec.name, err)
		}
		sent++
	}
	<-ctx.Done()
	return fmt.Sprintf("%d calls (%d fields, 3 values each, UDP and TCP; 3 record marks)", sent, len(lengthFieldCases())+1)
}

// dropWait is how long a datagram that may be dropped is given to be
// answered: portmapd answers in well under a millisecond.
const dropWait = 300 * time.Millisecond

// lengthOverUDP sends msg and checks the answer. A field within its limit
// must draw a well-formed reply with the call's xid; one over its limit
// either GARBAGE_ARGS (AUTH_BADCRED inside a credential) or, where the call's
// header cannot be decoded, nothing.
func lengthOverUDP(msg []byte, over bool) error {
	conn, err := net.Dial("udp4", portmapdAddr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.Write(msg); err != nil {
		return err
	}
	wait := answerLimit
	if over {
		wait = dropWait
	}
	conn.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 1<<16)
	n, err := conn.Read(buf)
	switch {
	case err != nil && over:
		return nil // dropped
	case err != nil:
		return fmt.Errorf("no reply within %v: %v", wait, err)
	}
	return checkLengthReply(msg, buf[:n], over)
}

// lengthOverTCP sends rec on a new connection and checks the answer as
// lengthOverUDP does; a connection closed without a reply is a drop.
func lengthOverTCP(rec []byte, over bool) error {
	conn, err := net.DialTimeout("tcp4", portmapdAddr, answerLimit)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(answerLimit))
	if _, err := conn.Write(rec); err != nil {
		return err
	}
	reply, err := rpc.ReadRecord(conn, nil, 1<<16)
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("neither answered nor closed within %v", answerLimit)
	case err != nil && over:
		return nil // closed: dropped
	case err != nil:
		return fmt.Errorf("connection closed without a reply: %v", err)
	}
	return checkLengthReply(rec[4:], reply, over)
}

// checkLengthReply checks the reply to a call of lengthFields.
func checkLengthReply(call, reply []byte, over bool) error {
	h, err := checkReply(reply)
	if err != nil {
		return err
	}
	if want := binary.BigEndian.Uint32(call); h.XID != want {
		return fmt.Errorf("reply xid %#x, want %#x", h.XID, want)
	}
	if over && (h.Stat != rpc.MsgAccepted || h.Accept != rpc.AcceptGarbageArgs) &&
		(h.Stat != rpc.MsgDenied || h.Reject != rpc.RejectAuthError || h.Auth != rpc.AuthBadCred) {
		return fmt.Errorf("answered %v %v %v %v to a length over its limit, want GARBAGE_ARGS, AUTH_BADCRED or no reply", h.Stat, h.Accept, h.Reject, h.Auth)
	}
	return nil
}
