package server

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
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

	// UDPAddrs, when not nil, are the addresses ListenAndServe listens on
	// for UDP instead of Addrs, as rpcbind's -h restricts only UDP: TCP
	// stays on Addrs.
	UDPAddrs []netip.Addr

	// Port is the UDP and TCP port of ListenAndServe; 0 means 111.
	Port uint16

	// Inherited are sockets handed over by a service manager (systemd's
	// socket activation: see ActivationFiles). When there are any,
	// ListenAndServe serves exactly these, TCP, UDP and unix stream
	// sockets alike, and opens none of its own: Addrs, UDPAddrs, Port,
	// SocketPath and NoSocket are ignored, as rpcbind ignores -h under
	// socket activation. The server owns them from then on.
	Inherited []*os.File

	// SocketPath is the unix socket ListenAndServe listens on for local
	// callers, whose peer credentials decide the owner of what they
	// register; "" means DefaultSocketPath. NoSocket turns it off.
	SocketPath string
	NoSocket   bool

	// Policy says who may change the registry, what is forwarded, and how
	// callers are limited; its zero value is the safe default.
	Policy Policy

	// LogCalls logs every call at level Info, with its caller, procedure
	// and answer, as rpcbind's -l logs connections; calls dropped by the
	// rate limit are not logged, so that a flood cannot flood the log too.
	LogCalls bool

	// StateFile, when set, is where the registrations are kept across
	// restarts: loaded when the server starts serving, and rewritten with
	// every change before the change is acknowledged (docs/security.md,
	// "Durability"). A change that cannot be written is answered SYSTEM_ERR
	// and undone. A file that cannot be decoded stops the start with a
	// *StateError, the file renamed aside.
	StateFile string

	// WarmStartDir, when set, is a directory where Debian's rpcbind -w
	// leaves its warm-start files (DefaultWarmStartDir, /run/rpcbind). If it
	// holds any, their registrations are loaded at start in place of
	// StateFile's (rpcbind ran last: portmapd removes the files once they
	// are in its state file) and, when there is a StateFile, written to it
	// and the files removed.
	WarmStartDir string

	// PruneInterval, when positive, makes the server call the NULL
	// procedure of every registered service on this host at that interval
	// and remove the registrations of those that failed to answer twice in
	// a row. Off (0) by default, as in rpcbind.
	PruneInterval time.Duration

	// MaxRegistrations caps the registry (DefaultMaxRegistrations when 0):
	// SET beyond it answers FALSE.
	MaxRegistrations int

	// MaxForwards and ForwardTimeout bound forwarding (Policy.Forward): the
	// calls outstanding at once and the wait for each; zero means
	// DefaultMaxForwards and DefaultForwardTimeout.
	MaxForwards    int
	ForwardTimeout time.Duration

	// Started, when set, is called by ListenAndServe once the state is
	// loaded and the sockets are open, before the first call is read; an
	// error stops the server. cmd/portmapd drops privileges and tells
	// systemd it is ready there.
	Started func() error

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

	reg       *Registry
	regOnce   sync.Once
	initOnce  sync.Once
	svc       *service
	rs        *rpc.Server
	startOnce sync.Once
	startErr  error
	journal   *journal
	stopPrune context.CancelFunc
	pruneDone chan struct{}
	closeOnce sync.Once
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
		s.svc = &service{reg: s.Registry(), policy: s.Policy, now: now, log: log,
			logCalls: s.LogCalls, limit: newLimiter(s.Policy, time.Now)}
		s.rs = &rpc.Server{
			Handler:             s.svc,
			MaxRecord:           s.MaxRecord,
			MaxConns:            s.MaxConns,
			IdleTimeout:         s.IdleTimeout,
			MaxInFlight:         s.MaxInFlight,
			SilentOnRPCMismatch: !s.AnswerRPCMismatch,
			InlineDatagram:      inlineCall,
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
	if err := s.start(); err != nil {
		l.Close()
		return err
	}
	s.registerSelf(l.Addr(), rawConnOf(l))
	return s.rs.Serve(l)
}

// ServePacket answers calls arriving on the UDP socket pc until Shutdown; it
// then returns ErrServerClosed. It first registers the port mapper's own
// entries for pc's address: versions 4, 3 and 2 on udp, 4 and 3 on udp6.
func (s *Server) ServePacket(pc net.PacketConn) error {
	if err := s.start(); err != nil {
		pc.Close()
		return err
	}
	s.registerSelf(pc.LocalAddr(), rawConnOf(pc))
	return s.rs.ServePacket(pc)
}

// Shutdown stops the server gracefully: it closes the listeners, lets the
// calls in progress finish and closes the connections, then stops pruning
// and forwarding and waits until every change is in the state file. If ctx
// ends first it closes the connections at once and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	err := s.rs.Shutdown(ctx)
	s.closeOnce.Do(s.close)
	return err
}

// start readies what serving needs, once: the registry's limit, the state
// (a state file, rpcbind's warm-start files), forwarding and pruning.
func (s *Server) start() error {
	s.init()
	s.startOnce.Do(func() { s.startErr = s.open() })
	return s.startErr
}

func (s *Server) open() error {
	log := s.svc.log
	reg := s.Registry()
	reg.setMax(s.MaxRegistrations)
	max := s.MaxRegistrations
	if max <= 0 {
		max = DefaultMaxRegistrations
	}
	if err := s.loadState(max); err != nil {
		return err
	}
	if s.Policy.Forward {
		f, err := newForwarder(s.MaxForwards, s.ForwardTimeout, log)
		if err != nil {
			s.closeJournal()
			return err
		}
		s.svc.fwd = f
	}
	if s.PruneInterval > 0 {
		ctx, cancel := context.WithCancel(context.Background())
		s.stopPrune, s.pruneDone = cancel, make(chan struct{})
		go func() {
			defer close(s.pruneDone)
			s.pruneLoop(ctx)
		}()
	}
	return nil
}

// loadState fills the registry from the state file or rpcbind's warm-start
// files and, with a state file, attaches its journal.
func (s *Server) loadState(max int) error {
	log := s.svc.log
	reg := s.Registry()
	now := s.svc.now()
	var st stateContent
	if s.StateFile != "" {
		// The directory may be a fresh /run after a boot: make it, as
		// systemd's RuntimeDirectory= would.
		if err := os.MkdirAll(filepath.Dir(s.StateFile), stateDirMode); err != nil {
			return &StateError{Path: s.StateFile, Err: err}
		}
		var err error
		if st, err = loadState(s.StateFile, max, now); err != nil {
			return err
		}
		if st.dropped > 0 {
			log.Warn("server: the state file ends in a change cut short (a crash while it was written); it was never acknowledged and is ignored",
				"path", s.StateFile, "bytes", st.dropped)
		}
	}
	recs := st.recs
	var warm []string
	if s.WarmStartDir != "" {
		wrecs, files, err := readWarmStart(s.WarmStartDir, max, now)
		if err != nil {
			return err
		}
		if len(files) > 0 {
			recs, warm = wrecs, files
			log.Info("server: loaded rpcbind's warm-start files", "files", files, "registrations", len(wrecs))
		}
	}
	refused := reg.load(recs)
	if refused > 0 {
		log.Warn("server: registrations of the saved state not restored (duplicates, or over the limit)", "count", refused)
	}
	if s.StateFile == "" {
		return nil
	}
	committed := reg.userRecords()
	// size is what the journal appends to: the file as read when it is a
	// bare snapshot of the registry; otherwise the file is rewritten as one
	// now (or, when that fails, at the first change).
	var size int64
	switch {
	case warm != nil:
		var err error
		if size, err = rewriteState(s.StateFile, committed); err != nil {
			return err
		}
		if err := removeWarmStart(warm); err != nil {
			log.Warn("server: could not remove rpcbind's warm-start files; they will be read again at the next start", "err", err)
		}
	case st.version == stateVersion && st.changes == 0 && st.dropped == 0 && refused == 0 && len(committed) == len(st.recs):
		size = int64(st.good)
	case st.version != 0:
		var err error
		if size, err = rewriteState(s.StateFile, committed); err != nil {
			log.Warn("server: could not compact the state file; the first change will rewrite it", "err", err)
		}
	}
	log.Info("server: state file", "path", s.StateFile, "registrations", len(committed))
	s.journal = newJournal(s.StateFile, reg, size, log)
	reg.j.Store(s.journal)
	return nil
}

// close stops what start started, after the last call has been answered:
// pruning, forwarding, and the journal, whose queued changes are written.
func (s *Server) close() {
	if s.stopPrune != nil {
		s.stopPrune()
		<-s.pruneDone
	}
	if s.svc.fwd != nil {
		s.svc.fwd.close()
	}
	s.closeJournal()
}

func (s *Server) closeJournal() {
	if s.journal != nil {
		s.journal.close()
	}
}

// selfRank orders the mapper's own entries as rpcbind lists them: tcp6, udp6,
// tcp, udp, local, and within each netid versions 4, 3, 2.
var selfRank = map[string]int32{
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
		rank := selfRank[r.Netid]*3 + int32(portmap.V4-r.Vers)
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

// inlineCall names the calls the UDP reader answers itself
// (rpc.Server.InlineDatagram): every call but those that may wait, SET and
// UNSET (on the state file's write) and the forwarding ones, CALLIT, BCAST
// and INDIRECT (on the target's answer). None of the handlers it names keeps
// the rpc.Request, which the reader reuses: callerOf copies the addresses.
func inlineCall(prog, vers, proc uint32) bool {
	if prog != portmap.Program {
		return true // answered PROG_UNAVAIL at once
	}
	switch proc {
	case portmap.PmapSet, portmap.PmapUnset, portmap.PmapCallit: // the same numbers in v3 and v4
		return false
	case portmap.RpcbIndirect:
		return vers != portmap.V4
	}
	return true
}
