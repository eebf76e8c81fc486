package rpc

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// ServePacket answers calls arriving as datagrams on conn (UDP) until
// [Server.Shutdown], after which it returns ErrServerClosed once its calls in
// progress are answered and conn is closed. On a UDP socket bound to a
// wildcard address each call's destination address is read from its
// IP_PKTINFO or IPV6_PKTINFO, given to the handler as Request.Local, and used
// as the source of the reply. Datagrams that are not decodable calls, or are
// larger than MaxRecord, are dropped.
func (s *Server) ServePacket(conn net.PacketConn) error {
	if err := s.start(func() { s.pconns[conn] = struct{}{} }); err != nil {
		return err
	}
	defer s.wg.Done()
	pc := newPktConn(conn)
	size := min(s.maxRecord(), maxDatagram)
	// Calls are handed to worker goroutines that live on between calls
	// (see dgramWorker); work is unbuffered, so a send succeeds only when
	// a worker is waiting for one.
	work := make(chan datagram)
	var workers sync.WaitGroup
	defer func() {
		close(work)
		workers.Wait()
		s.mu.Lock()
		delete(s.pconns, conn)
		s.mu.Unlock()
		conn.Close()
	}()
	// One buffer of the largest datagram accepted (plus a byte, to tell a
	// larger one) for the reads; each call is copied into a pooled buffer
	// of its own size, so that the calls in flight hold a few hundred
	// bytes each rather than 64 KiB.
	rbuf := make([]byte, size+1)
	// The reader's own call: where the datagrams it answers itself arrived,
	// and the Request they are handled with, reused from one to the next.
	var dc dgramCall
	for {
		if !s.acquire() {
			return ErrServerClosed
		}
		n, local, remote, ap, err := pc.read(rbuf, &dc.local)
		if err != nil {
			s.release()
			if s.shutting.Load() {
				return ErrServerClosed
			}
			if isICMPError(err) || errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			return err
		}
		if n > size {
			s.release()
			continue
		}
		if s.inline(rbuf[:n]) {
			s.answerDatagram(pc, rbuf[:n], &dc, pc.unicast(local), remote, ap)
			s.release()
			continue
		}
		if local == &dc.local { // the next read reuses it
			local = newPktLocal(local.ip, local.ifIndex)
		}
		bp := s.getBuf()
		*bp = append((*bp)[:0], rbuf[:n]...)
		d := datagram{bp: bp, local: pc.unicast(local), remote: remote, ap: ap}
		select {
		case work <- d:
		default:
			workers.Add(1)
			go s.dgramWorker(pc, work, d, &workers)
		}
	}
}

// dgramCall is the state of one datagram call that outlives the read: the
// Request and the addresses it points to. The reader keeps one for the calls
// it answers itself, and each worker one for its calls, reused from call to
// call (see Request), so that a call allocates nothing.
type dgramCall struct {
	req    Request
	local  pktLocal    // the destination, read into by the reader's read
	ra, la net.UDPAddr // req.Remote and req.Local, when built here
	rip    [net.IPv6len]byte
}

// remoteAddr returns the sender as handlers see it: remote when the read
// named it, else ap (the fast path), built in dc with its IPv4-mapped form
// unmapped.
func (dc *dgramCall) remoteAddr(remote net.Addr, ap netip.AddrPort) net.Addr {
	if remote != nil {
		return unmapAddr(remote)
	}
	a := ap.Addr().Unmap()
	var n int
	if a.Is4() {
		b := a.As4()
		n = copy(dc.rip[:], b[:])
	} else {
		b := a.As16()
		n = copy(dc.rip[:], b[:])
	}
	dc.ra = net.UDPAddr{IP: dc.rip[:n], Port: int(ap.Port()), Zone: a.Zone()}
	return &dc.ra
}

// inline reports whether the call in msg is one InlineDatagram names. The
// fields it needs sit at fixed places (RFC 5531 §9: xid, msg_type CALL,
// rpcvers, prog, vers, proc), so nothing is decoded twice.
func (s *Server) inline(msg []byte) bool {
	if s.InlineDatagram == nil || len(msg) < 24 || binary.BigEndian.Uint32(msg[4:]) != uint32(Call) {
		return false
	}
	return s.InlineDatagram(binary.BigEndian.Uint32(msg[12:]), binary.BigEndian.Uint32(msg[16:]), binary.BigEndian.Uint32(msg[20:]))
}

// datagram is a call read by ServePacket, for a worker to answer.
type datagram struct {
	bp     *[]byte // the call, in a pooled buffer
	local  *pktLocal
	remote net.Addr       // the sender, as the read named it (nil on the fast path)
	ap     netip.AddrPort // the sender, as the socket names it (fast path)
}

// dgramIdle is how long a datagram worker waits for another call before it
// ends: long enough to serve a steady stream of calls with the same
// goroutines, short enough that those of a burst do not linger.
const dgramIdle = 5 * time.Second

// dgramWorker answers d, then the calls it is handed on work, until work is
// closed or none comes for dgramIdle. A goroutine per call would start each
// on a small stack and grow it (copying it) on every call, a sixth of the
// CPU of a UDP lookup; a worker's stack has grown once, and the number of
// workers follows the number of calls in flight (at most MaxInFlight).
func (s *Server) dgramWorker(pc *pktConn, work <-chan datagram, d datagram, wg *sync.WaitGroup) {
	defer wg.Done()
	idle := time.NewTimer(dgramIdle)
	defer idle.Stop()
	var dc dgramCall
	for {
		s.answerDatagram(pc, *d.bp, &dc, d.local, d.remote, d.ap)
		s.putBuf(d.bp)
		s.release()
		idle.Reset(dgramIdle)
		var ok bool
		select {
		case d, ok = <-work:
			if !ok {
				return
			}
		case <-idle.C:
			return
		}
	}
}

// answerDatagram handles one datagram held in msg. The reply is built in a
// second buffer, since the arguments in msg stay in use until it is built.
func (s *Server) answerDatagram(pc *pktConn, msg []byte, dc *dgramCall, local *pktLocal, remote net.Addr, ap netip.AddrPort) {
	dc.req = Request{Network: "udp", Remote: dc.remoteAddr(remote, ap), Local: pc.localAddr(local, &dc.la)}
	req := &dc.req
	op := s.getBuf()
	defer s.putBuf(op)
	reply, ok := s.dispatch(req, msg, (*op)[:0])
	if !ok || reply == nil {
		return
	}
	if err := pc.write(reply[4:], remote, ap, local); err != nil {
		s.logger().Debug("rpc: udp reply not sent", "remote", req.Remote, "err", err)
	}
}

// pktConn reads datagrams with their destination address and writes replies
// from that address, through IP_PKTINFO or IPV6_PKTINFO where conn supports them.
type pktConn struct {
	ifaces ifaceCache // the host's addresses, to answer broadcasts from a unicast one
	conn   net.PacketConn
	p4     *ipv4.PacketConn // an AF_INET socket with IP_PKTINFO
	p6     *ipv6.PacketConn // an AF_INET6 socket with IPV6_PKTINFO
	w4     *ipv4.PacketConn // writes IP_PKTINFO, also for IPv4 callers of an AF_INET6 socket
	// fast is set where the control messages are read and written without
	// golang.org/x/net (fastPktinfo), on a UDP socket that has them.
	fast bool
	uc   *net.UDPConn
	oob  []byte // the reader's room for control messages
}

// pktLocal is where a datagram arrived: destination address and interface.
type pktLocal struct {
	ip      net.IP
	ifIndex int
	buf     [net.IPv6len]byte // holds ip when newPktLocal made it
}

// newPktLocal returns a pktLocal holding a copy of ip, in one allocation.
func newPktLocal(ip net.IP, ifIndex int) *pktLocal {
	l := new(pktLocal)
	l.set(ip, ifIndex)
	return l
}

// set makes l hold a copy of ip.
func (l *pktLocal) set(ip net.IP, ifIndex int) {
	l.ip, l.ifIndex = l.buf[:copy(l.buf[:], ip)], ifIndex
}

func newPktConn(conn net.PacketConn) *pktConn {
	pc := &pktConn{conn: conn}
	ua, ok := conn.LocalAddr().(*net.UDPAddr)
	uc, isUDP := conn.(*net.UDPConn)
	if !ok || !isUDP {
		return pc
	}
	if len(ua.IP) == net.IPv4len { // an AF_INET socket reports a 4-byte address
		p := ipv4.NewPacketConn(conn)
		if p.SetControlMessage(ipv4.FlagDst|ipv4.FlagInterface, true) == nil {
			pc.p4, pc.w4 = p, p
		}
	} else {
		// A dual-stack socket reports an IPv4 datagram's destination in
		// IPV6_PKTINFO as a mapped address, but takes the source of the
		// reply only from IP_PKTINFO: x/net's IPv6 control message cannot
		// carry an IPv4 address.
		p := ipv6.NewPacketConn(conn)
		if p.SetControlMessage(ipv6.FlagDst|ipv6.FlagInterface, true) == nil {
			pc.p6, pc.w4 = p, ipv4.NewPacketConn(conn)
		}
	}
	if fastPktinfo && (pc.p4 != nil || pc.p6 != nil) {
		pc.fast, pc.uc, pc.oob = true, uc, make([]byte, pktinfoSpace)
	}
	return pc
}

// read reads a datagram into b. local is where it arrived, when the socket
// says (the fast path reads it into into, which the next read overwrites).
// The fast path names the sender in ap, as the socket names it, and leaves
// remote nil (dgramCall.remoteAddr builds the handler's view of it); the
// others name it in remote.
func (pc *pktConn) read(b []byte, into *pktLocal) (n int, local *pktLocal, remote net.Addr, ap netip.AddrPort, err error) {
	switch {
	case pc.fast:
		var oobn int
		n, oobn, _, ap, err = pc.uc.ReadMsgUDPAddrPort(b, pc.oob)
		if err != nil {
			return n, nil, nil, ap, err
		}
		if ip, ifIndex, ok := parsePktinfo(pc.oob[:oobn]); ok {
			into.set(ip, ifIndex)
			local = into
		}
		return n, local, nil, ap, nil
	case pc.p4 != nil:
		n, cm, src, err := pc.p4.ReadFrom(b)
		if cm != nil && cm.Dst != nil {
			return n, &pktLocal{ip: cm.Dst, ifIndex: cm.IfIndex}, src, ap, err
		}
		return n, nil, src, ap, err
	case pc.p6 != nil:
		n, cm, src, err := pc.p6.ReadFrom(b)
		if cm != nil && cm.Dst != nil {
			return n, &pktLocal{ip: cm.Dst, ifIndex: cm.IfIndex}, src, ap, err
		}
		return n, nil, src, ap, err
	}
	n, src, err := pc.conn.ReadFrom(b)
	return n, nil, src, ap, err
}

// write sends b to the sender of a datagram (ap when the fast path read it,
// else dst) from the address the call reached. The interface is pinned only
// for an IPv6 link-local address, where the address alone is ambiguous;
// otherwise routing chooses it.
func (pc *pktConn) write(b []byte, dst net.Addr, ap netip.AddrPort, local *pktLocal) error {
	var err error
	switch {
	case pc.fast && ap.IsValid():
		var oob []byte
		var room pktinfoBuf
		if local != nil {
			oob = appendPktinfo(room.bytes(), local.ip, local.ifIndex)
		}
		_, _, err = pc.uc.WriteMsgUDPAddrPort(b, oob, ap)
	case local != nil && pc.w4 != nil && local.ip.To4() != nil:
		_, err = pc.w4.WriteTo(b, &ipv4.ControlMessage{Src: local.ip.To4()}, dst)
	case local != nil && pc.p6 != nil:
		cm := &ipv6.ControlMessage{Src: local.ip}
		if local.ip.IsLinkLocalUnicast() {
			cm.IfIndex = local.ifIndex
		}
		_, err = pc.p6.WriteTo(b, cm, dst)
	default:
		_, err = pc.conn.WriteTo(b, dst)
	}
	return err
}

// localAddr returns the address a datagram reached, as a handler sees it,
// built in a.
func (pc *pktConn) localAddr(local *pktLocal, a *net.UDPAddr) net.Addr {
	la := pc.conn.LocalAddr()
	ua, ok := la.(*net.UDPAddr)
	if local == nil || !ok {
		return la
	}
	*a = net.UDPAddr{IP: local.ip, Port: ua.Port}
	if ip4 := local.ip.To4(); ip4 != nil {
		a.IP = ip4
	} else if local.ip.IsLinkLocalUnicast() {
		if ifi, err := net.InterfaceByIndex(local.ifIndex); err == nil {
			a.Zone = ifi.Name
		}
	}
	return a
}

// unmapAddr turns an IPv4-mapped IPv6 UDP address into its IPv4 form.
func unmapAddr(a net.Addr) net.Addr {
	if ua, ok := a.(*net.UDPAddr); ok && len(ua.IP) == net.IPv6len {
		if ip4 := ua.IP.To4(); ip4 != nil {
			return &net.UDPAddr{IP: ip4, Port: ua.Port}
		}
	}
	return a
}
