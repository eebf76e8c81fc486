package testsupport

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ioTimeout bounds each network exchange of these tests; they stay inside
// one machine, so anything slower is a failure.
const ioTimeout = 5 * time.Second

func TestPeer(t *testing.T) {
	t.Parallel()
	if !Isolate(t) {
		return
	}
	a := Peer(t, "a")
	if !Subnet.Contains(a.Addr) || a.Addr == LocalAddr || a.Addr == BroadcastAddr {
		t.Fatalf("peer address %v", a.Addr)
	}

	t.Run("Command runs in the peer", func(t *testing.T) {
		out, err := a.Command("ip", "-4", "-o", "addr", "show", "dev", "eth0").CombinedOutput()
		if err != nil || !strings.Contains(string(out), " "+a.Addr.String()+"/24 brd 192.0.2.255 ") {
			t.Errorf("ip addr in the peer: %v\n%s", err, out)
		}
	})

	t.Run("the peer has its own /run", func(t *testing.T) {
		if out, err := a.Command("sh", "-c", "echo x > /run/marker").CombinedOutput(); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if _, err := os.Stat(filepath.Join(a.RunDir, "marker")); err != nil {
			t.Errorf("the peer's /run/marker is not in RunDir: %v", err)
		}
		if _, err := os.Stat("/run/marker"); err == nil {
			t.Errorf("the peer wrote into the test namespace's /run")
		}
	})

	t.Run("Do enters the peer's network", func(t *testing.T) {
		var names []string
		err := a.Do(func() error {
			ifs, err := net.Interfaces()
			for _, i := range ifs {
				names = append(names, i.Name)
			}
			return err
		})
		slices.Sort(names)
		if err != nil || !slices.Equal(names, []string{"eth0", "lo"}) {
			t.Errorf("interfaces in Do: %v (%v), want eth0 and lo", names, err)
		}
		if err := a.Do(func() error { return errors.New("marker") }); err == nil || err.Error() != "marker" {
			t.Errorf("Do returned %v, want fn's error", err)
		}
	})

	t.Run("TCP to a listener in the peer", func(t *testing.T) {
		var ln net.Listener
		if err := a.Do(func() (err error) {
			ln, err = net.Listen("tcp", netip.AddrPortFrom(a.Addr, 0).String())
			return err
		}); err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() { // tell the caller where it came from
			c, err := ln.Accept()
			if err == nil {
				fmt.Fprintln(c, c.RemoteAddr().(*net.TCPAddr).IP)
				c.Close()
			}
		}()
		c, err := net.DialTimeout("tcp", ln.Addr().String(), ioTimeout)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(ioTimeout))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || strings.TrimSpace(line) != LocalAddr.String() {
			t.Errorf("the peer saw the caller as %q (%v), want %v", line, err, LocalAddr)
		}
	})

	t.Run("UDP from a socket of the peer", func(t *testing.T) {
		local, err := net.ListenPacket("udp4", netip.AddrPortFrom(LocalAddr, 0).String())
		if err != nil {
			t.Fatal(err)
		}
		defer local.Close()
		var remote net.PacketConn
		if err := a.Do(func() (err error) {
			remote, err = net.ListenPacket("udp4", ":0")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		defer remote.Close()
		// The socket stays in the peer after Do: send from here.
		if _, err := remote.WriteTo([]byte("hi"), local.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		local.SetDeadline(time.Now().Add(ioTimeout))
		buf := make([]byte, 16)
		n, from, err := local.ReadFrom(buf)
		if err != nil || string(buf[:n]) != "hi" || from.(*net.UDPAddr).AddrPort().Addr() != a.Addr {
			t.Errorf("got %q from %v (%v), want \"hi\" from %v", buf[:n], from, err, a.Addr)
		}
	})
}

// TestPeersBroadcast sends one datagram to BroadcastAddr and hears from two peers.
func TestPeersBroadcast(t *testing.T) {
	t.Parallel()
	if !Isolate(t) {
		return
	}
	const port = 40111
	hosts := []*Host{Peer(t, "b1"), Peer(t, "b2")}
	for _, h := range hosts {
		var conn net.PacketConn
		if err := h.Do(func() (err error) {
			conn, err = net.ListenPacket("udp4", fmt.Sprintf("0.0.0.0:%d", port))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		go func() { // answer the first datagram with the host's name
			buf := make([]byte, 16)
			conn.SetDeadline(time.Now().Add(ioTimeout))
			if _, from, err := conn.ReadFrom(buf); err == nil {
				conn.WriteTo([]byte(h.Name), from)
			}
		}()
	}

	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_BROADCAST, 1)
		})
		return errors.Join(err, serr)
	}}
	sender, err := lc.ListenPacket(context.Background(), "udp4", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer sender.Close()
	if _, err := sender.WriteTo([]byte("who"), net.UDPAddrFromAddrPort(netip.AddrPortFrom(BroadcastAddr, port))); err != nil {
		t.Fatal(err)
	}
	got := map[netip.Addr]string{}
	sender.SetDeadline(time.Now().Add(ioTimeout))
	for len(got) < len(hosts) {
		buf := make([]byte, 16)
		n, from, err := sender.ReadFrom(buf)
		if err != nil {
			break
		}
		got[from.(*net.UDPAddr).AddrPort().Addr()] = string(buf[:n])
	}
	for _, h := range hosts {
		if got[h.Addr] != h.Name {
			t.Errorf("from %v got %q, want %q (all replies: %v)", h.Addr, got[h.Addr], h.Name, got)
		}
	}
}

// TestRpcinfoBroadcast runs Debian's rpcinfo -b against two peers, each with
// rpcbind -r and a libtirpc service, and sees both answer. rpcinfo -b
// collects replies for its whole fixed period, about 12 seconds.
func TestRpcinfoBroadcast(t *testing.T) {
	t.Parallel()
	if !Isolate(t) {
		return
	}
	Require(t, "rpcinfo")
	const prog = "536870913" // 0x20000001, in the range RFC 5531 leaves to users
	source, err := os.ReadFile("testdata/nullsrv.c")
	if err != nil {
		t.Fatal(err)
	}
	nullsrv := BuildC(t, "nullsrv", string(source))
	hosts := []*Host{Peer(t, "r1"), Peer(t, "r2")}
	for _, h := range hosts {
		h.StartRpcbind(t, "-r")
		srv := h.Start(t, nullsrv, prog, "1")
		waitFor(t, srv, func() bool {
			return h.Command("rpcinfo", "-T", "udp", "127.0.0.1", prog, "1").Run() == nil
		})
	}
	cmd := exec.Command("rpcinfo", "-b", prog, "1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("rpcinfo -b: %v\n%s%s", err, out, stderr.String())
	}
	answered := map[netip.Addr]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		// "192.0.2.2.219.131\tunknown": a universal address, then a host name
		uaddr, _, _ := strings.Cut(line, "\t")
		parts := strings.Split(uaddr, ".")
		if len(parts) != 6 {
			t.Fatalf("rpcinfo -b printed %q", line)
		}
		answered[netip.MustParseAddr(strings.Join(parts[:4], "."))] = true
	}
	for _, h := range hosts {
		if !answered[h.Addr] {
			t.Errorf("%s (%v) did not answer rpcinfo -b:\n%s", h.Name, h.Addr, out)
		}
	}
	if len(answered) != len(hosts) {
		t.Errorf("answers from %v, want only the peers", answered)
	}
}

// waitFor polls ready until it holds, failing if p exits or time runs out.
func waitFor(t *testing.T, p *Proc, ready func() bool) {
	t.Helper()
	deadline := time.Now().Add(readyTimeout)
	for !ready() {
		select {
		case <-p.Done():
			t.Fatalf("%s exited: %v\n%s", p.Cmd, p.Err(), p.Output())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after %v\n%s", p.Cmd, readyTimeout, p.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
