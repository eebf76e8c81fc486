package rpc

import (
	"net"

	"golang.org/x/sys/unix"
)

// peerCred returns the credentials of the process at the other end of a unix
// socket (SO_PEERCRED), or nil if the kernel does not tell.
func peerCred(c *net.UnixConn) *PeerCred {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil
	}
	var uc *unix.Ucred
	cerr := raw.Control(func(fd uintptr) {
		uc, err = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	})
	if cerr != nil || err != nil {
		return nil
	}
	return &PeerCred{PID: uc.Pid, UID: uc.Uid, GID: uc.Gid}
}
