package server

import (
	"net"
	"net/netip"
	"strconv"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
)

// Policy says what the port mapper lets callers do and how it protects
// itself and others from them. The zero value is the safe default, each part
// of which a field turns off (docs/security.md, "Threat model and defaults"):
// only local callers change the registry; nothing is forwarded; no UDP reply
// to a non-loopback caller is larger than the call that drew it; each
// non-loopback UDP source is held to DefaultUDPRate calls a second; every
// caller may query.
type Policy struct {
	// AllowRemoteSet lets callers that are neither on the local socket nor on
	// a loopback address (127.0.0.1, ::1) SET and UNSET, as rpcbind's -i
	// ("insecure") does. By default they are answered MSG_DENIED AUTH_ERROR
	// AUTH_TOOWEAK.
	AllowRemoteSet bool

	// Forward makes CALLIT (v2, v3), BCAST and INDIRECT (v4) call the
	// target program and relay its answer, as rpcbind's -r does. By default
	// they are answered as rpcbind without -r answers them (docs/server.md).
	// Even when on, only datagram calls are forwarded, only to programs
	// registered on this host, never to the port mapper itself nor to the
	// programs rpcbind refuses to call (NFS, mount MNT/UMNT, ...), with at
	// most Server.MaxForwards calls outstanding, each for at most
	// Server.ForwardTimeout.
	Forward bool

	// AllowAmplification lifts the rule that a UDP reply to a caller that is
	// not on a loopback address is no larger than the call that drew it.
	// Under the rule, a reply that would be larger is replaced by SYSTEM_ERR
	// (24 bytes, less than the smallest call), which clients take as "ask
	// over TCP"; a caller that wants a large answer over UDP may pad its
	// call (in the credential, for instance) to the size of the answer.
	AllowAmplification bool

	// UDPRate and UDPBurst hold each non-loopback UDP source (an IPv4
	// address, an IPv6 /64) to UDPRate calls a second on average and
	// UDPBurst at once; calls beyond are dropped without a reply. Zero means
	// DefaultUDPRate and DefaultUDPBurst; NoUDPRateLimit turns the limit
	// off. Loopback, TCP and local-socket callers are never limited.
	UDPRate        float64
	UDPBurst       int
	NoUDPRateLimit bool

	// Allow and Deny are the access lists of callers that are neither on the
	// local socket nor on a loopback address, which are always let in, as
	// tcp_wrappers' hosts.allow and hosts.deny were for portmap: a caller in
	// an Allow prefix is let in; otherwise one in a Deny prefix is refused;
	// otherwise the caller is let in when Allow is empty and refused when it
	// is not. A refused call is answered MSG_DENIED AUTH_ERROR AUTH_TOOWEAK,
	// whatever its procedure. Both empty: everyone may query.
	Allow, Deny []netip.Prefix
}

// privilegedPort is IPPORT_RESERVED: a source port below it can only be bound
// by root, which is how rpcbind recognises root on a loopback address.
const privilegedPort = 1024

// caller is what the handlers need to know about where a call came from.
type caller struct {
	netid    string         // the arriving transport's netid: udp, tcp, udp6, tcp6, local
	datagram bool           // UDP
	remote   netip.AddrPort // the caller's address (IP transports)
	local    netip.Addr     // the address the caller reached (IP transports)
	cred     *rpc.PeerCred  // the caller's identity (local socket)
}

// callerOf describes the caller of req.
func callerOf(req *rpc.Request) caller {
	c := caller{cred: req.Cred}
	switch req.Network {
	case "unix", "unixpacket":
		c.netid = portmap.NetidLocal
		return c
	case "udp", "udp4", "udp6":
		c.datagram = true
	}
	c.remote = addrPortOf(req.Remote)
	c.local = addrPortOf(req.Local).Addr()
	ip := c.local
	if !ip.IsValid() {
		ip = c.remote.Addr()
	}
	switch {
	case c.datagram && ip.Is4():
		c.netid = portmap.NetidUDP
	case c.datagram:
		c.netid = portmap.NetidUDP6
	case ip.Is4():
		c.netid = portmap.NetidTCP
	default:
		c.netid = portmap.NetidTCP6
	}
	return c
}

// addrPortOf returns the IP address and port of a UDP or TCP address, an
// IPv4-mapped address in its IPv4 form (an IPv4 caller reaching a dual-stack
// socket is an IPv4 caller), or the zero value.
func addrPortOf(a net.Addr) netip.AddrPort {
	var ip net.IP
	var port int
	switch a := a.(type) {
	case *net.UDPAddr:
		ip, port = a.IP, a.Port
	case *net.TCPAddr:
		ip, port = a.IP, a.Port
	default:
		return netip.AddrPort{}
	}
	addr, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(addr.Unmap(), uint16(port))
}

// isLocal reports whether the caller is on the local socket.
func (c caller) isLocal() bool { return c.netid == portmap.NetidLocal }

// isLoopback reports whether the caller may change the registry by default:
// a local-socket caller, or one at 127.0.0.1 or ::1 exactly, the addresses
// rpcbind's is_loopback accepts (the rest of 127.0.0.0/8 is not loopback to
// it).
func (c caller) isLoopback() bool {
	if c.isLocal() {
		return true
	}
	a := c.remote.Addr()
	return a == netip.AddrFrom4([4]byte{127, 0, 0, 1}) || a == netip.IPv6Loopback()
}

// owner is the owner the server gives the caller's registrations, decided as
// rpcbind decides it: on the local socket "superuser" for uid 0 and the
// decimal uid otherwise; on an IP transport "superuser" for a loopback
// caller on a privileged port; "unknown" for anyone else.
func (c caller) owner() string {
	switch {
	case c.isLocal() && c.cred != nil && c.cred.UID == 0:
		return OwnerSuperuser
	case c.isLocal() && c.cred != nil:
		return strconv.FormatUint(uint64(c.cred.UID), 10)
	case !c.isLocal() && c.isLoopback() && c.remote.Port() < privilegedPort:
		return OwnerSuperuser
	}
	return OwnerUnknown
}

// maySet reports whether the policy lets the caller SET and UNSET.
func (p Policy) maySet(c caller) bool {
	return p.AllowRemoteSet || c.isLoopback()
}

// mayQuery reports whether the access lists let the caller in at all:
// local-socket and loopback callers always, others as Policy.Allow and
// Policy.Deny say.
func (p Policy) mayQuery(c caller) bool {
	if c.isLocal() || c.onLoopback() {
		return true
	}
	a := c.remote.Addr()
	for _, pfx := range p.Allow {
		if pfx.Contains(a) {
			return true
		}
	}
	for _, pfx := range p.Deny {
		if pfx.Contains(a) {
			return false
		}
	}
	return len(p.Allow) == 0
}

// onLoopback reports whether an IP caller is on a loopback address, any of
// 127.0.0.0/8 or ::1: a source the kernel never accepts from outside the
// host, so one an attacker cannot spoof to aim replies at a victim.
func (c caller) onLoopback() bool {
	return !c.isLocal() && c.remote.Addr().IsLoopback()
}

// isRemoteDatagram reports whether the call came over UDP from a source that
// is not on a loopback address: the calls the reflection rules and the rate
// limit apply to.
func (c caller) isRemoteDatagram() bool {
	return c.datagram && !c.onLoopback()
}

// Programs and procedures rpcbind never calls on a caller's behalf, whatever
// the forwarding policy (its check_callit): an indirect call to them is
// answered AUTH_TOOWEAK, since forwarding would hide the caller's address from
// a program that decides by it.
const (
	progNFS      = 100003
	progYP       = 100004
	progMount    = 100005
	progYPBind   = 100007
	progYPPasswd = 100009
	progRquota   = 100011

	mountProcMnt     = 1
	mountProcUmnt    = 3
	ypbindProcSetdom = 2
	ypProcMatch      = 3
	ypProcFirst      = 4
	ypProcNext       = 5
	ypProcAll        = 8
	nullProc         = 0
)

// callAllowed reports whether rpcbind would forward a call to (prog, proc):
// NULL always; never the port mapper itself, NFS, yppasswd, rquota, mount's
// MNT and UMNT, ypbind's SETDOM, nor ypserv's MATCH, FIRST, NEXT and ALL.
func callAllowed(prog, proc uint32) bool {
	if proc == nullProc {
		return true
	}
	switch prog {
	case portmap.Program, progNFS, progYPPasswd, progRquota:
		return false
	case progMount:
		return proc != mountProcMnt && proc != mountProcUmnt
	case progYPBind:
		return proc != ypbindProcSetdom
	case progYP:
		switch proc {
		case ypProcMatch, ypProcFirst, ypProcNext, ypProcAll:
			return false
		}
	}
	return true
}
