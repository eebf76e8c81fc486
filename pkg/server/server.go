package server

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
	"golang.org/x/sys/unix"
)

// DefaultSocketPath is where the port mapper listens for local callers, as
// rpcbind does; libtirpc's clients look for it there.
const DefaultSocketPath = "/run/rpcbind.sock"

// DefaultAddrs are the addresses ListenAndServe listens on when Server.Addrs
// is nil: every IPv4 and every IPv6 address, as rpcbind does.
var DefaultAddrs = []netip.Addr{netip.IPv4Unspecified(), netip.IPv6Unspecified()}

// ErrServerClosed is returned by the Serve methods and ListenAndServe after
// Shutdown.
var ErrServerClosed = rpc.ErrServerClosed

// Server is the port mapper: program 100000, portmap version 2 and rpcbind
// versions 3 and 4 (RFC 1833), with Debian rpcbind's semantics. Create it
// with New, set its fields, then either call ListenAndServe, or hand it
// listeners with Serve (TCP, unix) and ServePacket (UDP). Its fields are read
// when it first serves and must not change afterwards. The zero Server works
// too.
type Server struct {
	// Addrs are the IP addresses ListenAndServe listens on, each with UDP
	// and TCP. Nil means DefaultAddrs (0.0.0.0 and ::, skipping IPv6 when the
	// system has none); an empty, non-nil slice means no IP listeners.
	Addrs []netip.Addr

	// Port is the UDP and TCP port of ListenAndServe; 0 means 111.
	Port uint16

	// SocketPath is the unix socket ListenAndServe listens on for local
	// callers, whose peer credentials decide the owner of what they
	// register; "" means DefaultSocketPath. NoSocket turns it off.
	SocketPath string
	NoSocket   bool

	// Policy says who may change the registry.
	Policy Policy

	// AnswerRPCMismatch answers a call whose RPC version is not 2 with
	// MSG_DENIED RPC_MISMATCH, as RFC 5531 §9 says. By default such a call
	// is dropped without a reply, as rpcbind drops it.
	AnswerRPCMismatch bool

	// MaxConns, IdleTimeout, MaxRecord and MaxInFlight bound the server's
	// stream connections, the idle time of each, the size of a call and the
	// calls handled at once; zero means pkg/rpc's defaults
	// (rpc.DefaultMaxConns, rpc.DefaultIdleTimeout,
	// rpc.DefaultServerMaxRecord, rpc.DefaultMaxInFlight).
	MaxConns    int
	IdleTimeout time.Duration
	MaxRecord   int
	MaxInFlight int

	// Logger receives what the server has to say: listeners opened,
	// declined changes, failures. Nil means no logging.
	Logger *slog.Logger

	// Now is the clock GETTIME reads; nil means time.Now.
	Now func() time.Time

	reg      *Registry
	regOnce  sync.Once
	initOnce sync.Once
	svc      *service
	rs       *rpc.Server
}

// New returns a Server with an empty registry and every field at its
// default.
func New() *Server {
	return &Server{reg: NewRegistry(DefaultMaxRegistrations)}
}

// Registry returns the server's registrations. An embedding program may
// register its own services in it directly.
func (s *Server) Registry() *Registry {
	s.regOnce.Do(func() {
		if s.reg == nil { // a Server not made by New
			s.reg = NewRegistry(DefaultMaxRegistrations)
		}
	})
	return s.reg
}

// Stats returns the statistics GETSTAT reports (RFC 1833 §2.2.12). Like
// serving, it fixes the server's fields.
func (s *Server) Stats() portmap.StatByVers {
	s.init()
	return s.svc.st.snapshot()
}

// init builds the service and the rpc server from the fields, once.
func (s *Server) init() {
	s.initOnce.Do(func() {
		log := s.Logger
		if log == nil {
			log = slog.New(slog.DiscardHandler)
		}
		now := s.Now
		if now == nil {
			now = time.Now
		}
		s.svc = &service{reg: s.Registry(), policy: s.Policy, now: now, log: log}
		s.rs = &rpc.Server{
			Handler:             s.svc,
			MaxRecord:           s.MaxRecord,
			MaxConns:            s.MaxConns,
			IdleTimeout:         s.IdleTimeout,
			MaxInFlight:         s.MaxInFlight,
			SilentOnRPCMismatch: !s.AnswerRPCMismatch,
			Logger:              log,
		}
	})
}

func (s *Server) logger() *slog.Logger {
	s.init()
	return s.svc.log
}

// Serve answers calls on the connections l accepts, a TCP listener (IPv4 or
// IPv6) or a unix socket listener, until Shutdown; it then returns
// ErrServerClosed. It first registers the port mapper's own entries for l's
// address: versions 4, 3 and 2 on tcp, 4 and 3 on tcp6 and local.
func (s *Server) Serve(l net.Listener) error {
	s.init()
	s.registerSelf(l.Addr(), rawConnOf(l))
	return s.rs.Serve(l)
}

// ServePacket answers calls arriving on the UDP socket pc until Shutdown; it
// then returns ErrServerClosed. It first registers the port mapper's own
// entries for pc's address: versions 4, 3 and 2 on udp, 4 and 3 on udp6.
func (s *Server) ServePacket(pc net.PacketConn) error {
	s.init()
	s.registerSelf(pc.LocalAddr(), rawConnOf(pc))
	return s.rs.ServePacket(pc)
}

// Shutdown stops the server gracefully: it closes the listeners, lets the
// calls in progress finish and closes the connections. If ctx ends first it
// closes everything at once and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	return s.rs.Shutdown(ctx)
}

// selfRank orders the mapper's own entries as rpcbind lists them: tcp6, udp6,
// tcp, udp, local, and within each netid versions 4, 3, 2.
var selfRank = map[string]int{
	portmap.NetidTCP6:  0,
	portmap.NetidUDP6:  1,
	portmap.NetidTCP:   2,
	portmap.NetidUDP:   3,
	portmap.NetidLocal: 4,
}

// registerSelf registers program 100000 on the transport of a listener's
// address: versions 4, 3 and, for IPv4, 2. A dual-stack IPv6 socket, which
// IPv4 callers reach too, is registered under both its netids.
func (s *Server) registerSelf(addr net.Addr, raw syscall.RawConn) {
	for _, r := range selfEntries(addr, raw) {
		s.svc.addNetid(r.Netid)
		rank := selfRank[r.Netid]*3 + int(portmap.V4-r.Vers)
		if !s.reg.setOwn(r, rank) {
			s.svc.log.Warn("server: own registration refused", "netid", r.Netid, "vers", r.Vers, "addr", r.Addr)
		}
	}
}

// selfEntries returns the mapper's own registrations for a listener address.
func selfEntries(addr net.Addr, raw syscall.RawConn) []portmap.RPCB {
	var netids, uaddrs []string
	switch a := addr.(type) {
	case *net.UnixAddr:
		netids, uaddrs = []string{portmap.NetidLocal}, []string{a.Name}
	case *net.TCPAddr, *net.UDPAddr:
		v4, v6 := portmap.NetidTCP, portmap.NetidTCP6
		if _, ok := a.(*net.UDPAddr); ok {
			v4, v6 = portmap.NetidUDP, portmap.NetidUDP6
		}
		ap := addrPortOf(a) // an IPv4 address in its 4-byte form
		switch {
		case ap.Addr().Is4():
			netids, uaddrs = []string{v4}, []string{portmap.FormatUaddr(ap)}
		default:
			netids, uaddrs = []string{v6}, []string{portmap.FormatUaddr(ap)}
			if ap.Addr().IsUnspecified() && raw != nil && !v6Only(raw) {
				any4 := netip.AddrPortFrom(netip.IPv4Unspecified(), ap.Port())
				netids, uaddrs = append(netids, v4), append(uaddrs, portmap.FormatUaddr(any4))
			}
		}
	}
	var out []portmap.RPCB
	for i, n := range netids {
		for v := uint32(portmap.V4); v >= portmap.V2; v-- {
			if v == portmap.V2 && n != portmap.NetidTCP && n != portmap.NetidUDP {
				continue
			}
			out = append(out, portmap.RPCB{Prog: portmap.Program, Vers: v, Netid: n, Addr: uaddrs[i], Owner: OwnerSuperuser})
		}
	}
	return out
}

// rawConnOf returns the socket of a listener or packet conn, or nil.
func rawConnOf(x any) syscall.RawConn {
	if sc, ok := x.(interface {
		SyscallConn() (syscall.RawConn, error)
	}); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			return rc
		}
	}
	return nil
}

// v6Only reports whether an IPv6 socket refuses IPv4 callers (IPV6_V6ONLY);
// when it cannot tell, it says yes.
func v6Only(raw syscall.RawConn) bool {
	only := true
	_ = raw.Control(func(fd uintptr) {
		v, err := unix.GetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_V6ONLY)
		only = err != nil || v != 0
	})
	return only
}
