package server

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

// Size limits of replies sent as datagrams.
const (
	// MaxUDPReply is the largest reply message sent over UDP: 9000 bytes,
	// libtirpc's RPC_MAXDATASIZE, the send buffer rpcbind gives its UDP
	// transports. A larger reply is not sent: v3 and v4 answer SYSTEM_ERR
	// and v2 stays silent, as rpcbind does (rpcinfo lists over TCP for this
	// reason). It also bounds how much a spoofed 40-byte DUMP call can
	// reflect.
	MaxUDPReply = 9000

	// acceptedHeaderLen is the size of an accepted SUCCESS reply's header
	// with an AUTH_NONE verifier: xid, msg_type, reply_stat, verifier
	// flavor and length, accept_stat (RFC 5531 §9).
	acceptedHeaderLen = 24

	// maxUDPResults is what is left of MaxUDPReply for the results.
	maxUDPResults = MaxUDPReply - acceptedHeaderLen

	// maxRmtArgs bounds the arguments of CALLIT, BCAST and INDIRECT as
	// rpcbind's decoder does (RPC_MAXDATASIZE): longer ones are garbage.
	maxRmtArgs = 9000
)

// netidBit numbers the transports a server can have, for the set of those it
// has (the statistics count only lookups over, or for, one of them, as
// rpcbind records only netids it has a transport for).
var netidBit = map[string]uint32{
	portmap.NetidUDP:   1 << 0,
	portmap.NetidTCP:   1 << 1,
	portmap.NetidUDP6:  1 << 2,
	portmap.NetidTCP6:  1 << 3,
	portmap.NetidLocal: 1 << 4,
}

// service is the rpc.Handler of program 100000, versions 2, 3 and 4.
type service struct {
	reg      *Registry
	st       stats
	policy   Policy
	now      func() time.Time
	log      *slog.Logger
	logCalls bool          // log every call (rpcbind's -l)
	limit    *limiter      // the per-source UDP rate limit; nil when off
	fwd      *forwarder    // set once serving starts with Policy.Forward
	local    localAddrs    // this host's addresses, for forwarding
	netids   atomic.Uint32 // netidBit of the transports being served
}

// addNetid records that the server has a transport for netid.
func (s *service) addNetid(netid string) {
	b := netidBit[netid]
	for {
		old := s.netids.Load()
		if s.netids.CompareAndSwap(old, old|b) {
			return
		}
	}
}

// hasNetid reports whether the server has a transport for netid (spelled
// exactly, as rpcbind's rpcbind_get_conf compares).
func (s *service) hasNetid(netid string) bool {
	b, ok := netidBit[netid]
	return ok && s.netids.Load()&b != 0
}

// ServeRPC answers a call to the port mapper.
func (s *service) ServeRPC(ctx context.Context, req *rpc.Request, res []byte) ([]byte, error) {
	h := &req.Header
	c := callerOf(req)
	if c.isRemoteDatagram() && s.limit != nil && !s.limit.allow(c.remote.Addr()) {
		s.log.Debug("server: dropped a call over the source's rate limit", "remote", c.remote)
		return nil, rpc.ErrNoReply
	}
	if !s.policy.mayQuery(c) {
		if s.logCalls {
			s.log.Info("server: call refused by the access lists", "remote", c.remote, "netid", c.netid, "prog", h.Prog, "vers", h.Vers, "proc", h.Proc)
		}
		return nil, rpc.AuthErrorReply(rpc.AuthTooWeak)
	}
	res, err := s.answer(ctx, c, req, res)
	if s.logCalls {
		s.logCall(c, h, err)
	}
	return res, err
}

// answer answers a call the guards let in; replies sent as datagrams are
// held to the size rules (docs/security.md, "Reflection").
func (s *service) answer(ctx context.Context, c caller, req *rpc.Request, res []byte) ([]byte, error) {
	h := &req.Header
	switch {
	case h.Prog != portmap.Program:
		return nil, rpc.ErrProgUnavail
	case h.Vers < portmap.V2 || h.Vers > portmap.V4:
		return nil, &rpc.Error{Status: rpc.ProgVersMismatch, Low: portmap.V2, High: portmap.V4}
	}
	s.st.proc(h.Vers, h.Proc)
	var err error
	if h.Vers == portmap.V2 {
		res, err = s.serveV2(ctx, c, req, res)
	} else {
		res, err = s.serveRPCB(ctx, c, req, res)
	}
	if err != nil || !c.datagram {
		return res, err
	}
	// Every other answer (an error, 20 to 32 bytes) is smaller than the
	// smallest call (minCallLen bytes).
	if size := acceptedHeaderLen + len(res); c.isRemoteDatagram() && !s.policy.AllowAmplification && size > callLen(req) {
		s.log.Debug("server: answered SYSTEM_ERR rather than a datagram larger than its call",
			"remote", c.remote, "vers", h.Vers, "proc", h.Proc, "bytes", size, "call", callLen(req))
		return nil, rpc.ErrSystemErr
	}
	if len(res) > maxUDPResults {
		s.log.Debug("server: reply too large for a datagram", "vers", h.Vers, "proc", h.Proc,
			"bytes", acceptedHeaderLen+len(res), "max", MaxUDPReply)
		if h.Vers == portmap.V2 {
			return nil, rpc.ErrNoReply
		}
		return nil, rpc.ErrSystemErr
	}
	return res, nil
}

// logCall logs a call that was answered, as rpcbind -l logs connections.
func (s *service) logCall(c caller, h *rpc.CallHeader, err error) {
	from := c.remote.String()
	if c.isLocal() {
		from = "local"
		if c.cred != nil {
			from = "local uid " + itoa(c.cred.UID)
		}
	}
	answer := "SUCCESS"
	switch {
	case errors.Is(err, rpc.ErrNoReply):
		answer = "no reply"
	case err != nil:
		var e *rpc.Error
		if errors.As(err, &e) {
			answer = e.Status.String()
		} else {
			answer = err.Error()
		}
	}
	s.log.Info("server: call", "from", from, "netid", c.netid, "prog", h.Prog, "vers", h.Vers, "proc", h.Proc, "answer", answer)
}

// change applies a change to the registry, durably when there is a state
// file; a change that could not be stored is answered SYSTEM_ERR (and was
// undone).
//
// Once the change is applied, the connection's next call may be handled
// while the change is written (rpc.Request.Proceed): its reply still waits.
func (s *service) change(ctx context.Context, req *rpc.Request, f func(r *Registry) bool) (bool, error) {
	ok, err := s.reg.apply(ctx, func() bool { return f(s.reg) }, req.Proceed)
	if err != nil {
		return false, rpc.ErrSystemErr
	}
	return ok, nil
}

// serveV2 answers portmap version 2 (RFC 1833 §3.2).
func (s *service) serveV2(ctx context.Context, c caller, req *rpc.Request, res []byte) ([]byte, error) {
	proc, args := req.Header.Proc, req.Args
	switch proc {
	case portmap.ProcNull:
		return res, nil
	case portmap.PmapSet, portmap.PmapUnset:
		owner := c.owner()
		var m portmap.Mapping
		if !decode(args, m.Decode) {
			return nil, rpc.ErrGarbageArgs
		}
		if !s.policy.maySet(c) {
			s.log.Info("server: declined a change from a non-local caller", "proc", proc, "remote", c.remote, "prog", m.Prog)
			return nil, rpc.AuthErrorReply(rpc.AuthTooWeak)
		}
		var ok bool
		var err error
		if proc == portmap.PmapSet {
			ok, err = s.setV2(ctx, req, m, owner)
			s.st.set(portmap.V2, ok)
		} else {
			// UNSET removes both protocols' mappings, whatever prot says.
			ok, err = s.change(ctx, req, func(r *Registry) bool {
				okTCP := r.unset(m.Prog, m.Vers, portmap.NetidTCP, owner)
				okUDP := r.unset(m.Prog, m.Vers, portmap.NetidUDP, owner)
				return okTCP || okUDP
			})
			s.st.unset(portmap.V2, ok)
		}
		if err != nil {
			return nil, err
		}
		return xdr.AppendBool(res, ok), nil
	case portmap.PmapGetport:
		var m portmap.Mapping
		if !decodeMapping(args, &m) {
			return nil, rpc.ErrGarbageArgs
		}
		port, _ := s.reg.GetPort(m.Prog, m.Vers, m.Prot)
		if netid, ok := portmap.NetidForProt(m.Prot); ok && s.hasNetid(netid) {
			s.st.addr(portmap.V2, m.Prog, m.Vers, netid, port != 0)
		}
		return xdr.AppendUint32(res, port), nil
	case portmap.PmapDump:
		return s.reg.appendDumpV2(res), nil
	case portmap.PmapCallit:
		return s.rmtcall(ctx, c, req, res)
	}
	return nil, rpc.ErrProcUnavail
}

// setV2 registers a v2 mapping as rpcbind does: under netid "tcp" or "udp"
// with the address 0.0.0.0.p1.p2 of the low 16 bits of the port; any other
// prot is refused.
func (s *service) setV2(ctx context.Context, req *rpc.Request, m portmap.Mapping, owner string) (bool, error) {
	netid, ok := portmap.NetidForProt(m.Prot)
	if !ok {
		return false, nil
	}
	addr := "0.0.0.0." + itoa(m.Port>>8&0xff) + "." + itoa(m.Port&0xff)
	rec := portmap.RPCB{Prog: m.Prog, Vers: m.Vers, Netid: netid, Addr: addr, Owner: owner}
	return s.change(ctx, req, func(r *Registry) bool { return r.set(rec, false, 0) })
}

// serveRPCB answers rpcbind versions 3 and 4 (RFC 1833 §2.2).
func (s *service) serveRPCB(ctx context.Context, c caller, req *rpc.Request, res []byte) ([]byte, error) {
	vers, proc, args := req.Header.Vers, req.Header.Proc, req.Args
	v4 := vers == portmap.V4
	switch {
	case proc == portmap.ProcNull:
		return res, nil
	case proc == portmap.RpcbSet || proc == portmap.RpcbUnset:
		var r portmap.RPCB
		if !decode(args, r.Decode) {
			return nil, rpc.ErrGarbageArgs
		}
		if !s.policy.maySet(c) {
			s.log.Info("server: declined a change from a non-local caller", "vers", vers, "proc", proc, "remote", c.remote, "prog", r.Prog)
			return nil, rpc.AuthErrorReply(rpc.AuthTooWeak)
		}
		owner := c.owner()
		var ok bool
		var err error
		if proc == portmap.RpcbSet {
			r.Owner = owner
			ok, err = s.change(ctx, req, func(reg *Registry) bool { return reg.set(r, false, 0) })
			s.st.set(vers, ok)
		} else {
			ok, err = s.change(ctx, req, func(reg *Registry) bool { return reg.unset(r.Prog, r.Vers, r.Netid, owner) })
			s.st.unset(vers, ok)
		}
		if err != nil {
			return nil, err
		}
		return xdr.AppendBool(res, ok), nil
	case proc == portmap.RpcbGetaddr || (v4 && proc == portmap.RpcbGetversaddr):
		var r portmap.RPCB
		if !decodeRPCB(args, &r) {
			return nil, rpc.ErrGarbageArgs
		}
		res, found := s.appendAddr(res, c, r.Prog, r.Vers, proc == portmap.RpcbGetaddr)
		s.st.addr(vers, r.Prog, r.Vers, c.netid, found)
		return res, nil
	case proc == portmap.RpcbDump:
		return s.reg.appendDump(res), nil
	case proc == portmap.RpcbCallit: // BCAST in version 4
		return s.rmtcall(ctx, c, req, res)
	case proc == portmap.RpcbGettime:
		return xdr.AppendUint32(res, uint32(s.now().Unix())), nil
	case proc == portmap.RpcbUaddr2taddr:
		d := xdr.NewDecoder(args)
		uaddr := d.String(portmap.MaxUaddrLen)
		if d.Err() != nil {
			return nil, rpc.ErrGarbageArgs
		}
		return uaddrToNetbuf(c.netid, uaddr).Append(res), nil
	case proc == portmap.RpcbTaddr2uaddr:
		var nb portmap.Netbuf
		if !decode(args, nb.Decode) {
			return nil, rpc.ErrGarbageArgs
		}
		return xdr.AppendString(res, netbufToUaddr(c.netid, nb.Buf)), nil
	case v4 && proc == portmap.RpcbIndirect:
		return s.rmtcall(ctx, c, req, res)
	case v4 && proc == portmap.RpcbGetaddrlist:
		var r portmap.RPCB
		if !decode(args, r.Decode) {
			return nil, rpc.ErrGarbageArgs
		}
		return portmap.AppendEntryList(res, s.getaddrlist(c, r.Prog, r.Vers)), nil
	case v4 && proc == portmap.RpcbGetstat:
		return s.st.snapshot().Append(res), nil
	}
	return nil, rpc.ErrProcUnavail
}

// appendAddr appends the answer to GETADDR (anyVersion) or GETVERSADDR, an
// XDR string, for the netid of the transport the call arrived on; the netid
// in the arguments is ignored, as rpcbind ignores it. A wildcard host part is
// replaced by the address the caller reached (appendMerged), in place, so
// that a lookup allocates nothing. found reports whether the address is not empty.
func (s *service) appendAddr(res []byte, c caller, prog, vers uint32, anyVersion bool) (_ []byte, found bool) {
	rec, ok := s.reg.Lookup(prog, vers, c.netid, anyVersion)
	if !ok {
		return xdr.AppendString(res, ""), false
	}
	at := len(res)
	res = xdr.AppendStringFunc(res, func(b []byte) []byte { return c.appendMerged(b, rec.Addr) })
	return res, len(res) > at+4
}

// merge returns a registered address as handed to the caller: with a
// wildcard host part (0.0.0.0, ::) replaced by the address the caller
// reached, so that it can be dialled. Other addresses are unchanged.
func (c caller) merge(uaddr string) string {
	if c.isLocal() {
		return uaddr
	}
	return portmap.ReplaceWildcard(uaddr, c.local)
}

// appendMerged appends merge(uaddr) to b, without a string of its own.
func (c caller) appendMerged(b []byte, uaddr string) []byte {
	if c.isLocal() {
		return append(b, uaddr...)
	}
	return portmap.AppendReplaceWildcard(b, uaddr, c.local)
}

// getaddrlist answers GETADDRLIST: the registrations of (prog, vers) on the
// netids of the arriving transport's protocol family, each with its merged
// address, in registration order. Like rpcbind it lists only netids it has a
// transport for, and none over the local socket, whose callers rpcbind cannot
// merge an address for.
func (s *service) getaddrlist(c caller, prog, vers uint32) []portmap.Entry {
	var out []portmap.Entry
	found := false
	if !c.isLocal() {
		want, _ := portmap.LookupNetid(c.netid)
		for _, rec := range s.reg.Program(prog, vers) {
			n, ok := portmap.LookupNetid(rec.Netid)
			if !ok || n.Name != rec.Netid || !s.hasNetid(rec.Netid) || n.Family != want.Family {
				continue
			}
			// rpcbind cannot merge an address it cannot parse: it leaves the
			// registration out and remembers the failure.
			if portmap.CheckUaddr(rec.Netid, rec.Addr) != nil {
				found = false
				continue
			}
			maddr := c.merge(rec.Addr)
			found = true
			out = append(out, portmap.Entry{
				Maddr: maddr, Netid: n.Name, Semantics: n.Semantics,
				Protofmly: n.Family, Proto: n.Proto,
			})
		}
	}
	// rpcbind counts GETADDRLIST as a GETADDR that found what its last
	// merge found.
	s.st.addr(portmap.V4, prog, vers, c.netid, found)
	return out
}

// rmtcall answers CALLIT (v2, v3), BCAST (v4) and INDIRECT (v4). Only
// datagrams are considered (over a stream there is no answer at all); a call
// rpcbind would never forward is answered AUTH_TOOWEAK; a program not
// registered on the transport gets silence from CALLIT and BCAST, and
// PROG_UNAVAIL from INDIRECT (PROG_MISMATCH for a version not registered).
//
// With forwarding off, as Debian's rpcbind without -r, CALLIT and BCAST stay
// silent and INDIRECT answers SYSTEM_ERR for a registered target. With it on
// (rpcbind -r), the call is forwarded and the target's results come back
// wrapped as rpcbind wraps them: v2 call_result {port, res}, v3/v4
// rpcb_rmtcallres {the target's address as the caller reaches it, results};
// a target that answers with an error, does not answer in time or cannot be
// reached gets the caller silence (CALLIT, BCAST) or SYSTEM_ERR (INDIRECT).
func (s *service) rmtcall(ctx context.Context, c caller, req *rpc.Request, res []byte) ([]byte, error) {
	h := &req.Header
	vers, proc := h.Vers, h.Proc
	indirect := vers == portmap.V4 && proc == portmap.RpcbIndirect
	answer := func(err error) ([]byte, error) {
		if indirect {
			return nil, err
		}
		return nil, rpc.ErrNoReply
	}
	if !c.datagram {
		return nil, rpc.ErrNoReply
	}
	var a portmap.RmtCallArgs
	if !decode(req.Args, a.Decode) || len(a.Args) > maxRmtArgs {
		return answer(rpc.ErrGarbageArgs)
	}
	if !callAllowed(a.Prog, a.Proc) {
		return nil, rpc.AuthErrorReply(rpc.AuthTooWeak)
	}
	rec, ok := s.reg.Lookup(a.Prog, a.Vers, c.netid, true)
	s.st.rmtcall(vers, a.Prog, a.Vers, a.Proc, c.netid, ok && rec.Vers == a.Vers, indirect)
	switch {
	case !ok:
		return answer(rpc.ErrProgUnavail)
	case rec.Vers != a.Vers:
		low, high, _ := s.reg.Versions(a.Prog, c.netid)
		return answer(&rpc.Error{Status: rpc.ProgVersMismatch, Low: low, High: high})
	}
	if s.fwd == nil {
		s.log.Debug("server: remote call not forwarded (forwarding is off)", "prog", a.Prog, "vers", a.Vers, "proc", a.Proc, "netid", c.netid)
		return answer(rpc.ErrSystemErr)
	}
	target, err := portmap.ParseUaddr(rec.Netid, rec.Addr)
	if err != nil {
		return answer(rpc.ErrSystemErr)
	}
	var results []byte
	if a.Prog == portmap.Program {
		// Only NULL gets here (callAllowed): answered without calling
		// ourselves, with what the call would have returned, and counted
		// as the NULL call rpcbind makes to itself.
		s.st.proc(a.Vers, nullProc)
	} else {
		target, ok = s.forwardTarget(target)
		if !ok {
			s.log.Debug("server: remote call not forwarded: the target is not a service of this host", "prog", a.Prog, "addr", rec.Addr)
			return answer(rpc.ErrSystemErr)
		}
		if results, err = s.fwd.forward(ctx, target, a.Prog, a.Vers, a.Proc, h.Cred, h.Verf, a.Args); err != nil {
			s.log.Debug("server: forwarded call failed", "prog", a.Prog, "vers", a.Vers, "proc", a.Proc, "to", target, "err", err)
			return answer(rpc.ErrSystemErr)
		}
	}
	if vers == portmap.V2 {
		return portmap.CallResult{Port: uint32(target.Port()), Res: results}.Append(res), nil
	}
	return portmap.RmtCallRes{Addr: c.merge(rec.Addr), Results: results}.Append(res), nil
}

// forwardTarget returns where a forwarded call goes for a registered
// address: a wildcard host means this host's loopback address; any other
// host must be an address of this host; the port must not be one of the
// mapper's own (its listeners or its forwarding sockets).
func (s *service) forwardTarget(ap netip.AddrPort) (netip.AddrPort, bool) {
	a := ap.Addr()
	switch {
	case a.IsUnspecified() && a.Is4():
		a = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	case a.IsUnspecified():
		a = netip.IPv6Loopback()
	case !s.local.has(a):
		return netip.AddrPort{}, false
	}
	ap = netip.AddrPortFrom(a, ap.Port())
	if ap.Port() == 0 || s.reg.ownPort(uint32(ap.Port())) || s.fwd.isOwn(ap) {
		return netip.AddrPort{}, false
	}
	return ap, true
}

// decode runs a decoder over args and reports whether it succeeded.
func decode(args []byte, f func(*xdr.Decoder)) bool {
	d := xdr.NewDecoder(args)
	f(d)
	return d.Err() == nil
}

// decodeMapping and decodeRPCB are decode for the lookups, whose Decoder
// stays on the stack: decode's is allocated, since f might keep it.
func decodeMapping(args []byte, m *portmap.Mapping) bool {
	var d xdr.Decoder
	d.Reset(args, 0)
	m.Decode(&d)
	return d.Err() == nil
}

func decodeRPCB(args []byte, r *portmap.RPCB) bool {
	var d xdr.Decoder
	d.Reset(args, 0)
	r.Decode(&d)
	return d.Err() == nil
}

func itoa(v uint32) string {
	var b [10]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			return string(b[i:])
		}
	}
}
