package server

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/portmap-toolkit/pmap/pkg/rpc"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

// Defaults of the forwarding limits (Server.MaxForwards, ForwardTimeout).
const (
	// DefaultMaxForwards bounds the forwarded calls outstanding at once: 16,
	// a quarter of rpc.DefaultMaxInFlight, since each holds one of the
	// server's call slots while it waits; the other calls always keep the
	// rest. rpcbind keeps at most 64 (its FINFO_SZ) across all callers.
	DefaultMaxForwards = 16

	// DefaultForwardTimeout is how long a forwarded call waits for the
	// target's answer: 3 seconds. The target is a service on this host,
	// which answers in milliseconds; the caller retransmits meanwhile (each
	// retransmission is forwarded anew). rpcbind waits up to 5 minutes,
	// which lets a silent target pin its forwarding table.
	DefaultForwardTimeout = 3 * time.Second

	// maxForwardedReply is the largest answer read from a target: a UDP
	// datagram. The wrapped answer must still fit MaxUDPReply to be sent.
	maxForwardedReply = 65535
)

// errors of a forward the caller is told about as rpcbind tells it: silence
// for CALLIT and BCAST, SYSTEM_ERR for INDIRECT.
var (
	errForwardBusy    = errors.New("server: too many forwarded calls outstanding")
	errForwardTimeout = errors.New("server: the target did not answer in time")
	errForwardFailed  = errors.New("server: the target answered with an error")
)

// forwarder sends calls on a caller's behalf from sockets of its own, bound
// to the loopback addresses on ports the kernel chooses (never privileged, so
// a target cannot mistake a forwarded call for one of root's), and matches
// the answers by xid and source.
type forwarder struct {
	timeout time.Duration
	slots   chan struct{} // MaxForwards tokens
	log     *slog.Logger
	conn4   net.PacketConn // 127.0.0.1; nil when it could not be opened
	conn6   net.PacketConn // ::1; nil without IPv6

	mu      sync.Mutex
	pending map[uint32]*forwardCall
	wg      sync.WaitGroup // the readers
}

// forwardCall is a call waiting for its answer.
type forwardCall struct {
	to    netip.AddrPort
	reply chan []byte // the answer message, once
}

// newForwarder opens the forwarding sockets.
func newForwarder(maxOut int, timeout time.Duration, log *slog.Logger) (*forwarder, error) {
	if maxOut <= 0 {
		maxOut = DefaultMaxForwards
	}
	if timeout <= 0 {
		timeout = DefaultForwardTimeout
	}
	f := &forwarder{
		timeout: timeout, slots: make(chan struct{}, maxOut), log: log,
		pending: make(map[uint32]*forwardCall),
	}
	var err error
	if f.conn4, err = net.ListenPacket("udp4", "127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("server: opening the forwarding socket: %w", err)
	}
	if f.conn6, err = net.ListenPacket("udp6", "[::1]:0"); err != nil {
		f.conn6 = nil // no IPv6: targets registered on udp6 are not reached
		log.Debug("server: no IPv6 forwarding socket", "err", err)
	}
	for _, c := range []net.PacketConn{f.conn4, f.conn6} {
		if c != nil {
			f.wg.Add(1)
			go f.read(c)
		}
	}
	return f, nil
}

// close closes the sockets; outstanding calls time out.
func (f *forwarder) close() {
	for _, c := range []net.PacketConn{f.conn4, f.conn6} {
		if c != nil {
			c.Close()
		}
	}
	f.wg.Wait()
}

// isOwn reports whether ap is the port of a forwarding socket, which is
// never a target.
func (f *forwarder) isOwn(ap netip.AddrPort) bool {
	for _, c := range []net.PacketConn{f.conn4, f.conn6} {
		if c != nil && c.LocalAddr().(*net.UDPAddr).AddrPort().Port() == ap.Port() {
			return true
		}
	}
	return false
}

// read delivers the answers arriving on c to their calls.
func (f *forwarder) read(c net.PacketConn) {
	defer f.wg.Done()
	buf := make([]byte, maxForwardedReply)
	for {
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // an ICMP error for an earlier datagram, say
		}
		if n < 4 {
			continue
		}
		xid := binary.BigEndian.Uint32(buf)
		src := addrPortOf(from)
		f.mu.Lock()
		call, ok := f.pending[xid]
		if ok && call.to == src {
			delete(f.pending, xid)
		} else {
			ok = false
		}
		f.mu.Unlock()
		if ok {
			call.reply <- append([]byte(nil), buf[:n]...)
		}
	}
}

// forward calls (prog, vers, proc) at to with args and the caller's
// credential and verifier, as rpcbind does, and returns the target's results
// when it answers SUCCESS in time.
func (f *forwarder) forward(ctx context.Context, to netip.AddrPort, prog, vers, proc uint32, cred, verf rpc.OpaqueAuth, args []byte) ([]byte, error) {
	select {
	case f.slots <- struct{}{}:
	default:
		return nil, errForwardBusy
	}
	defer func() { <-f.slots }()
	conn := f.conn4
	if to.Addr().Is6() {
		conn = f.conn6
	}
	if conn == nil {
		return nil, fmt.Errorf("server: no forwarding socket for %v", to)
	}

	call := &forwardCall{to: to, reply: make(chan []byte, 1)}
	f.mu.Lock()
	var xid uint32
	for {
		xid = randomXID()
		if _, taken := f.pending[xid]; !taken {
			break
		}
	}
	f.pending[xid] = call
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.pending, xid)
		f.mu.Unlock()
	}()

	h := rpc.CallHeader{XID: xid, RPCVers: rpc.RPCVersion, Prog: prog, Vers: vers, Proc: proc, Cred: cred, Verf: verf}
	msg := append(h.Append(make([]byte, 0, minCallLen+len(cred.Body)+len(verf.Body)+8+len(args))), args...)
	if _, err := conn.WriteTo(msg, net.UDPAddrFromAddrPort(to)); err != nil {
		return nil, fmt.Errorf("server: forwarding to %v: %w", to, err)
	}
	timer := time.NewTimer(f.timeout)
	defer timer.Stop()
	var m []byte
	select {
	case m = <-call.reply:
	case <-timer.C:
		return nil, errForwardTimeout
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	d := xdr.NewDecoder(m)
	var rh rpc.ReplyHeader
	rh.Decode(d)
	if d.Err() != nil || rh.Stat != rpc.MsgAccepted || rh.Accept != rpc.AcceptSuccess {
		return nil, errForwardFailed
	}
	return d.Rest(), nil
}

// randomXID returns an xid no one outside can predict, so that a forged
// answer cannot be slipped in for a forwarded call.
func randomXID() uint32 {
	var b [4]byte
	rand.Read(b[:])
	return binary.BigEndian.Uint32(b[:])
}

// localAddrs tells the addresses of this host, refreshed at most every
// localAddrsTTL: forwarding and pruning reach only services on this host.
type localAddrs struct {
	mu    sync.Mutex
	at    time.Time
	addrs map[netip.Addr]bool
}

// localAddrsTTL is how long the host's address list is trusted: addresses
// change rarely, and reading them costs a netlink dump.
const localAddrsTTL = 5 * time.Second

// has reports whether a is an address of one of this host's interfaces.
func (l *localAddrs) has(a netip.Addr) bool {
	if a.IsLoopback() {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.addrs == nil || time.Since(l.at) > localAddrsTTL {
		l.addrs = make(map[netip.Addr]bool)
		l.at = time.Now()
		if as, err := net.InterfaceAddrs(); err == nil {
			for _, ia := range as {
				if p, err := netip.ParsePrefix(ia.String()); err == nil {
					l.addrs[p.Addr().Unmap()] = true
				}
			}
		}
	}
	return l.addrs[a.Unmap()]
}
