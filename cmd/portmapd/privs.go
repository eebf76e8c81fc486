package main

import (
	"fmt"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// dropPrivileges makes the process run as the user name and that user's
// primary group, with no supplementary groups, as rpcbind -s does once its
// sockets are open. Go changes the ids of every thread of the process. When
// there is a state file, its directory must be writable by the user, or the
// first registration would fail: that is checked here, so that a wrong setup
// stops the start rather than every SET.
func dropPrivileges(name, stateFile string) error {
	u, err := user.Lookup(name)
	if err != nil {
		return fmt.Errorf("-s: %w", err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("-s: user %s has uid %q and gid %q", name, u.Uid, u.Gid)
	}
	if err := syscall.Setgroups([]int{}); err != nil {
		return fmt.Errorf("-s: dropping the supplementary groups: %w", err)
	}
	if err := syscall.Setgid(gid); err != nil {
		return fmt.Errorf("-s: switching to group %d: %w", gid, err)
	}
	if err := syscall.Setuid(uid); err != nil {
		return fmt.Errorf("-s: switching to user %s (%d): %w", name, uid, err)
	}
	if syscall.Getuid() != uid || syscall.Geteuid() != uid {
		return fmt.Errorf("-s: still running as uid %d after switching to %s", syscall.Geteuid(), name)
	}
	if stateFile != "" {
		dir := filepath.Dir(stateFile)
		if err := unix.Access(dir, unix.W_OK|unix.X_OK); err != nil {
			return fmt.Errorf("-s: user %s cannot write the state directory %s (%w): make it the user's, as /run/rpcbind is _rpc's", name, dir, err)
		}
	}
	return nil
}
