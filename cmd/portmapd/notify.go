package main

import (
	"fmt"
	"net"
	"os"
)

// notify tells the service manager about the daemon's state, as
// sd_notify(3) does: state is sent as one datagram to the unix socket
// NOTIFY_SOCKET names (a path, or an abstract name when it starts with '@').
// Without NOTIFY_SOCKET (not started by systemd, or not as Type=notify) it
// does nothing. portmapd sends READY=1 once it answers calls and STOPPING=1
// when it begins to stop, which is what the unit's Type=notify waits for.
func notify(state string) error {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil
	}
	if path[0] == '@' {
		path = "\x00" + path[1:]
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("telling systemd %q: %w", state, err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(state)); err != nil {
		return fmt.Errorf("telling systemd %q: %w", state, err)
	}
	return nil
}
