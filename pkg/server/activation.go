package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// listenFdsStart is the first descriptor a service manager passes: 0, 1 and
// 2 are the standard streams (sd_listen_fds(3), SD_LISTEN_FDS_START).
const listenFdsStart = 3

// maxActivationFds bounds the descriptors taken from LISTEN_FDS: a port
// mapper has a few sockets (rpcbind.socket has five); a larger count is a
// mistake, not something to trust.
const maxActivationFds = 64

// ActivationFiles returns the sockets a service manager handed to this
// process with systemd's socket-activation protocol (sd_listen_fds(3)):
// LISTEN_PID names this process, LISTEN_FDS counts the descriptors from 3
// on, and LISTEN_FDNAMES, if set, names them (colon-separated). Each file is
// named after its LISTEN_FDNAMES entry. The variables are removed from the
// environment and the descriptors marked close-on-exec, so that programs
// this process starts do not take them for their own. With no activation
// (the variables unset, or naming another process) it returns nil, nil.
// Hand the files to Server.Inherited.
func ActivationFiles() ([]*os.File, error) {
	files, err := activationFiles(os.Getenv, os.Getpid())
	for _, v := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		os.Unsetenv(v)
	}
	return files, err
}

// activationFiles is ActivationFiles with the environment and pid given.
func activationFiles(getenv func(string) string, pid int) ([]*os.File, error) {
	pidText, nText := getenv("LISTEN_PID"), getenv("LISTEN_FDS")
	if pidText == "" || nText == "" {
		return nil, nil
	}
	if p, err := strconv.Atoi(pidText); err != nil || p != pid {
		return nil, nil // meant for another process (a parent shell, say)
	}
	n, err := strconv.Atoi(nText)
	if err != nil || n < 0 || n > maxActivationFds {
		return nil, fmt.Errorf("server: LISTEN_FDS=%q: want a count from 0 to %d", nText, maxActivationFds)
	}
	if n == 0 {
		return nil, nil
	}
	var names []string
	if v := getenv("LISTEN_FDNAMES"); v != "" {
		names = strings.Split(v, ":")
	}
	files := make([]*os.File, 0, n)
	for i := range n {
		fd := listenFdsStart + i
		// A descriptor that is not a socket is left alone, not wrapped (and
		// so never closed): with a wrong count it may be one of the
		// runtime's own.
		var why error
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
			why = fmt.Errorf("server: LISTEN_FDS=%d, but descriptor %d is not open: %w", n, fd, err)
		} else if _, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE); err != nil {
			why = fmt.Errorf("server: LISTEN_FDS=%d, but descriptor %d is not a socket: %w", n, fd, err)
		}
		if why != nil {
			for _, f := range files {
				f.Close()
			}
			return nil, why
		}
		syscall.CloseOnExec(fd)
		name := "LISTEN_FD_" + strconv.Itoa(fd)
		if i < len(names) && names[i] != "" {
			name = names[i]
		}
		files = append(files, os.NewFile(uintptr(fd), name))
	}
	return files, nil
}

// inheritedListeners turns sockets handed over by a service manager into
// listeners: a listening stream socket (TCP or unix) becomes a net.Listener,
// a UDP socket a net.PacketConn. Anything else is refused. The files are
// closed (the listeners hold their own descriptors).
func inheritedListeners(files []*os.File, log *slog.Logger) (_ *listeners, err error) {
	ls := &listeners{}
	defer func() {
		for _, f := range files {
			f.Close()
		}
		if err != nil {
			ls.close()
		}
	}()
	for _, f := range files {
		typ, err := unix.GetsockoptInt(int(f.Fd()), unix.SOL_SOCKET, unix.SO_TYPE)
		if err != nil {
			return nil, fmt.Errorf("server: inherited descriptor %s is not a socket: %w", f.Name(), err)
		}
		switch typ {
		case unix.SOCK_STREAM:
			if acc, err := unix.GetsockoptInt(int(f.Fd()), unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil || acc == 0 {
				return nil, fmt.Errorf("server: inherited stream socket %s is not listening (use ListenStream= with Accept=no)", f.Name())
			}
			l, err := net.FileListener(f)
			if err != nil {
				return nil, fmt.Errorf("server: inherited socket %s: %w", f.Name(), err)
			}
			if _, ok := l.(*net.UnixListener); !ok {
				if _, ok := l.(*net.TCPListener); !ok {
					l.Close()
					return nil, fmt.Errorf("server: inherited socket %s is neither TCP nor unix", f.Name())
				}
			}
			ls.stream = append(ls.stream, l)
			log.Info("server: listening (socket activation)", "name", f.Name(), "addr", l.Addr().Network()+" "+l.Addr().String())
		case unix.SOCK_DGRAM:
			p, err := net.FilePacketConn(f)
			if err != nil {
				return nil, fmt.Errorf("server: inherited socket %s: %w", f.Name(), err)
			}
			if _, ok := p.(*net.UDPConn); !ok {
				p.Close()
				return nil, fmt.Errorf("server: inherited datagram socket %s is not UDP", f.Name())
			}
			ls.packet = append(ls.packet, p)
			log.Info("server: listening (socket activation)", "name", f.Name(), "addr", "udp "+p.LocalAddr().String())
		default:
			return nil, errors.New("server: inherited socket " + f.Name() + " is neither a stream nor a datagram socket")
		}
	}
	return ls, nil
}
