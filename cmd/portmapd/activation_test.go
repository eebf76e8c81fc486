package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/internal/testsupport"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

// notifyListener is a stand-in for systemd's notification socket: it
// collects what portmapd sends to NOTIFY_SOCKET.
type notifyListener struct {
	conn *net.UnixConn
	msgs chan string
}

func listenNotify(t *testing.T) (*notifyListener, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	n := &notifyListener{conn: conn, msgs: make(chan string, 16)}
	go func() {
		buf := make([]byte, 4096)
		for {
			k, err := conn.Read(buf)
			if err != nil {
				close(n.msgs)
				return
			}
			n.msgs <- string(buf[:k])
		}
	}()
	return n, path
}

// expect waits for a notification holding want.
func (n *notifyListener) expect(t *testing.T, want string) {
	t.Helper()
	select {
	case m := <-n.msgs:
		if !strings.Contains(m, want) {
			t.Errorf("notification %q, want %q", m, want)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("no %q notification", want)
	}
}

// fileOf returns a duplicate descriptor of a listener or packet socket.
func fileOf(t *testing.T, x interface{ File() (*os.File, error) }) *os.File {
	t.Helper()
	f, err := x.File()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestSocketActivation hands portmapd a TCP, a UDP and a unix socket as
// systemd's socket activation does (descriptors 3, 4 and 5, LISTEN_FDS,
// LISTEN_FDNAMES, and LISTEN_PID naming the process, which a shell's exec
// keeps), with -h and --listen given as well: it must serve exactly those
// sockets (the own entries name them), tell NOTIFY_SOCKET it is ready and
// then that it stops, exit 0 on SIGTERM, and leave the unix socket, which
// is systemd's, in place.
func TestSocketActivation(t *testing.T) {
	bin := filepath.Join(testsupport.BuildGo(t, "./cmd/portmapd"), "portmapd")
	tl, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tl.Close()
	ul, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ul.Close()
	sock := filepath.Join(t.TempDir(), "rpcbind.sock")
	xl, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	xl.SetUnlinkOnClose(false)
	defer xl.Close()
	files := []*os.File{fileOf(t, tl.(*net.TCPListener)), fileOf(t, ul.(*net.UDPConn)), fileOf(t, xl)}
	note, notifyPath := listenNotify(t)

	cmd := exec.Command("sh", "-c", `LISTEN_PID=$$ exec "$0" "$@"`, bin,
		"-f", "-h", "127.0.0.1", "--listen", "127.0.0.1", "--port", fmt.Sprint(freePort(t)), "--no-socket")
	cmd.Env = append(os.Environ(), "LISTEN_FDS=3", "LISTEN_FDNAMES=tcp:udp:unix", "NOTIFY_SOCKET="+notifyPath)
	cmd.ExtraFiles = files
	p := testsupport.StartCmd(t, cmd)
	note.expect(t, "READY=1")

	tcpAddr, udpAddr := tl.Addr().String(), ul.LocalAddr().String()
	var got []string
	d := xdr.NewDecoder(call(t, "tcp", tcpAddr, 3, portmap.RpcbDump, nil))
	for _, r := range portmap.DecodeRPCBList(d, nil, 100) {
		got = append(got, fmt.Sprintf("%d/%s/%s", r.Vers, r.Netid, r.Addr))
	}
	tu := portmap.FormatUaddr(tl.Addr().(*net.TCPAddr).AddrPort())
	uu := portmap.FormatUaddr(ul.LocalAddr().(*net.UDPAddr).AddrPort())
	want := []string{"4/tcp/" + tu, "3/tcp/" + tu, "2/tcp/" + tu, "4/udp/" + uu, "3/udp/" + uu, "2/udp/" + uu,
		"4/local/" + sock, "3/local/" + sock}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("own entries\n%v\nwant\n%v", got, want)
	}
	res := call(t, "udp", udpAddr, 2, portmap.PmapGetport, portmap.Mapping{Prog: portmap.Program, Vers: 2, Prot: portmap.IPProtoUDP}.Append(nil))
	if port := xdr.NewDecoder(res).Uint32(); port != uint32(ul.LocalAddr().(*net.UDPAddr).Port) {
		t.Errorf("GETPORT over the inherited UDP socket = %d", port)
	}
	call(t, "unix", sock, 4, portmap.ProcNull, nil)
	for _, want := range []string{"name=tcp", "name=udp", "name=unix", "socket activation: -h and --listen are ignored"} {
		if !strings.Contains(p.Output(), want) {
			t.Errorf("log does not mention %q:\n%s", want, p.Output())
		}
	}

	p.Cmd.Process.Signal(syscall.SIGTERM)
	note.expect(t, "STOPPING=1")
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("still running 10 s after SIGTERM")
	}
	if err := p.Err(); err != nil {
		t.Errorf("exit after SIGTERM: %v\n%s", err, p.Output())
	}
	if _, err := os.Stat(sock); err != nil {
		t.Errorf("portmapd removed systemd's socket: %v", err)
	}
}

// TestActivationRefusals checks what portmapd says when the handed-over
// descriptors are wrong: a count beyond what was passed, a socket that is
// not listening.
func TestActivationRefusals(t *testing.T) {
	bin := filepath.Join(testsupport.BuildGo(t, "./cmd/portmapd"), "portmapd")
	conn, err := net.Dial("udp4", "127.0.0.1:9") // a connected socket is still a datagram socket
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tcpConn, peer := tcpPair(t)
	defer peer.Close()
	tests := []struct {
		name  string
		fds   string
		files []*os.File
		want  string
	}{
		{"count beyond the descriptors", "3", []*os.File{fileOf(t, conn.(*net.UDPConn))}, "LISTEN_FDS=3, but descriptor 4 is not"},
		{"not listening", "1", []*os.File{fileOf(t, tcpConn)}, "is not listening"},
		{"absurd count", "1000", nil, "LISTEN_FDS=\"1000\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
			defer cancel()
			cmd := exec.CommandContext(ctx, "sh", "-c", `LISTEN_PID=$$ exec "$0" "$@"`, bin, "--no-socket")
			cmd.Env = append(os.Environ(), "LISTEN_FDS="+tt.fds)
			cmd.ExtraFiles = tt.files
			out, err := cmd.CombinedOutput()
			if err == nil || !strings.Contains(string(out), tt.want) {
				t.Errorf("exit %v; output does not say %q:\n%s", err, tt.want, out)
			}
		})
	}
}

// tcpPair returns the two ends of a TCP connection on loopback.
func tcpPair(t *testing.T) (*net.TCPConn, net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := net.Dial("tcp4", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	return c.(*net.TCPConn), s
}
