package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

const (
	// socketMode lets every user connect to the local socket, as rpcbind's
	// does: non-root services register through it, and their peer
	// credentials, not the file's mode, decide what they may change.
	socketMode = 0o666

	// probeTimeout bounds the connect that tells a live port mapper's socket
	// from a stale file: a live one accepts at once.
	probeTimeout = time.Second

	// DefaultShutdownTimeout is how long ListenAndServe lets the calls in
	// progress finish once its context ends: port mapper calls take
	// microseconds, so a second is ample.
	DefaultShutdownTimeout = time.Second
)

// listeners are the sockets ListenAndServe opened.
type listeners struct {
	stream []net.Listener
	packet []net.PacketConn
}

func (ls *listeners) close() {
	for _, l := range ls.stream {
		l.Close()
	}
	for _, p := range ls.packet {
		p.Close()
	}
}

// ListenAndServe loads the state (StateFile, WarmStartDir), opens the
// sockets the fields ask for (TCP on each of Addrs at Port, UDP on each of
// UDPAddrs or else Addrs, and the unix socket at SocketPath) or takes the
// Inherited ones, registers the port mapper's own entries for them, calls
// Started, and answers calls until ctx ends or Shutdown is called. It
// refuses to start, with an error that says so, when another port mapper
// holds the port or the socket, or when the state file cannot be read; a
// stale socket file (nothing accepts on it) is removed. When ctx ends it
// shuts down, giving the calls in progress DefaultShutdownTimeout, and
// returns nil once every change is in the state file; after Shutdown it
// returns ErrServerClosed.
func (s *Server) ListenAndServe(ctx context.Context) error {
	if err := s.start(); err != nil {
		s.closeOnce.Do(s.close)
		return err
	}
	ls, err := s.listen(ctx)
	if err != nil {
		s.closeOnce.Do(s.close)
		return err
	}
	// Register every listener's own entries before the first call can
	// arrive; Serve and ServePacket find them there.
	for _, l := range ls.stream {
		s.registerSelf(l.Addr(), rawConnOf(l))
	}
	for _, p := range ls.packet {
		s.registerSelf(p.LocalAddr(), rawConnOf(p))
	}
	if s.Started != nil {
		if err := s.Started(); err != nil {
			ls.close()
			s.closeOnce.Do(s.close)
			return err
		}
	}
	errc := make(chan error, len(ls.stream)+len(ls.packet))
	for _, l := range ls.stream {
		go func() { errc <- s.Serve(l) }()
	}
	for _, p := range ls.packet {
		go func() { errc <- s.ServePacket(p) }()
	}
	n := len(ls.stream) + len(ls.packet)
	var first error
	select {
	case <-ctx.Done():
	case first = <-errc:
		n--
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DefaultShutdownTimeout)
	defer cancel()
	serr := s.Shutdown(sctx)
	for ; n > 0; n-- {
		if err := <-errc; first == nil && !errors.Is(err, ErrServerClosed) {
			first = err
		}
	}
	switch {
	case first != nil && !errors.Is(first, ErrServerClosed):
		return fmt.Errorf("server: serving: %w", first)
	case first != nil:
		return ErrServerClosed
	case serr != nil:
		return fmt.Errorf("server: shutting down: %w", serr)
	}
	return nil
}

// listen opens the sockets, all or none.
func (s *Server) listen(ctx context.Context) (_ *listeners, err error) {
	ls := &listeners{}
	defer func() {
		if err != nil {
			ls.close()
		}
	}()
	log := s.logger()
	if len(s.Inherited) > 0 {
		return inheritedListeners(s.Inherited, log)
	}
	port := s.Port
	if port == 0 {
		port = portmap.Port
	}
	addrs, defaults := s.Addrs, false
	if addrs == nil {
		addrs, defaults = DefaultAddrs, true
	}
	var lc net.ListenConfig
	for _, a := range addrs {
		a = a.Unmap()
		fam := "4"
		if a.Is6() {
			fam = "6"
		}
		hp := netip.AddrPortFrom(a, port).String()
		l, err := lc.Listen(ctx, "tcp"+fam, hp)
		if err == nil {
			ls.stream = append(ls.stream, l)
			if s.UDPAddrs != nil { // UDP has addresses of its own
				log.Info("server: listening", "tcp", l.Addr().String())
				continue
			}
			var p net.PacketConn
			p, err = lc.ListenPacket(ctx, "udp"+fam, hp)
			if err == nil {
				ls.packet = append(ls.packet, p)
				log.Info("server: listening", "tcp", l.Addr().String(), "udp", p.LocalAddr().String())
				continue
			}
		}
		if defaults && a.Is6() && noIPv6(err) {
			log.Warn("server: no IPv6 on this system; listening on IPv4 only", "err", err)
			continue
		}
		return nil, listenError(a, port, err)
	}
	for _, a := range s.UDPAddrs {
		a = a.Unmap()
		fam := "4"
		if a.Is6() {
			fam = "6"
		}
		p, err := lc.ListenPacket(ctx, "udp"+fam, netip.AddrPortFrom(a, port).String())
		if err == nil {
			ls.packet = append(ls.packet, p)
			log.Info("server: listening", "udp", p.LocalAddr().String())
			continue
		}
		if a == netip.IPv6Loopback() && noIPv6(err) {
			log.Warn("server: no IPv6 on this system; not listening on ::1", "err", err)
			continue
		}
		return nil, listenError(a, port, err)
	}
	if !s.NoSocket {
		path := s.SocketPath
		if path == "" {
			path = DefaultSocketPath
		}
		l, err := listenUnix(ctx, path)
		if err != nil {
			return nil, err
		}
		ls.stream = append(ls.stream, l)
		log.Info("server: listening", "unix", path)
	}
	return ls, nil
}

// noIPv6 reports whether a listen failed because the system has no IPv6.
func noIPv6(err error) bool {
	return errors.Is(err, syscall.EAFNOSUPPORT) || errors.Is(err, syscall.EADDRNOTAVAIL) ||
		errors.Is(err, syscall.EPROTONOSUPPORT)
}

// listenError explains a failed listen on an IP address.
func listenError(a netip.Addr, port uint16, err error) error {
	where := net.JoinHostPort(a.String(), strconv.Itoa(int(port)))
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("server: %s is already in use: is rpcbind or another port mapper running? (%w)", where, err)
	case errors.Is(err, syscall.EACCES):
		return fmt.Errorf("server: not allowed to listen on %s: port %d needs root or CAP_NET_BIND_SERVICE (%w)", where, port, err)
	}
	return fmt.Errorf("server: listening on %s: %w", where, err)
}

// listenUnix listens on the unix socket path. A socket a live server accepts
// on is left alone and reported; a stale one, left by a server that died, is
// removed first; anything else at path is refused rather than deleted.
func listenUnix(ctx context.Context, path string) (net.Listener, error) {
	fi, err := os.Lstat(path)
	switch {
	case err == nil && fi.Mode().Type() != fs.ModeSocket:
		return nil, fmt.Errorf("server: %s exists and is not a socket; not replacing it", path)
	case err == nil:
		d := net.Dialer{Timeout: probeTimeout}
		if c, derr := d.DialContext(ctx, "unix", path); derr == nil {
			c.Close()
			return nil, fmt.Errorf("server: %s is in use: is rpcbind or another port mapper running?", path)
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("server: removing the stale socket: %w", err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("server: %w", err)
	}
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "unix", path)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("server: %s is in use: is rpcbind or another port mapper running? (%w)", path, err)
		}
		return nil, fmt.Errorf("server: listening on %s: %w", path, err)
	}
	if err := os.Chmod(path, socketMode); err != nil {
		l.Close()
		return nil, fmt.Errorf("server: %w", err)
	}
	return l, nil
}
