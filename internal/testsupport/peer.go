package testsupport

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// The test network is TEST-NET-1 (RFC 5737), reserved for documentation and
// never routed, so a test that escaped its namespace still could not reach
// anything real. Every Peer is on one bridge with the test namespace, so a
// datagram to BroadcastAddr reaches every peer (and the test namespace too).
var (
	// Subnet is the network of the test namespace and its peers.
	Subnet = netip.MustParsePrefix("192.0.2.0/24")
	// LocalAddr is the test namespace's own address on the bridge.
	LocalAddr = netip.MustParseAddr("192.0.2.1")
	// BroadcastAddr is Subnet's broadcast address.
	BroadcastAddr = netip.MustParseAddr("192.0.2.255")
)

// bridgeName is the bridge in the test namespace that every peer's veth joins.
const bridgeName = "pmapbr0"

// maxPeers is how many peers fit in Subnet: .2 to .254, after LocalAddr and
// before BroadcastAddr.
const maxPeers = 253

// peerRunRoot holds each peer's private /run, inside the test namespace's /run.
const peerRunRoot = "/run/pmap-peers"

// peerName is what a peer may be called: it names a network namespace and a
// directory, and is embedded in a shell command.
var peerName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// peers is the per-process state of the test network: the bridge is made once
// and lives as long as the test namespace; addresses are never reused.
var peers struct {
	sync.Mutex
	bridge bool
	count  int
}

// Host is a second machine for a test: a network namespace joined to the
// test namespace by a veth pair on a bridge, with its own address in Subnet,
// loopback up and a private /run. Processes in it are in the test's pid
// namespace and die with it.
type Host struct {
	// Name is the host's network namespace, as `ip netns` knows it.
	Name string
	// Addr is the host's address in Subnet.
	Addr netip.Addr
	// RunDir is, seen from the test namespace, the directory that programs
	// started with Command see as /run: the host's rpcbind socket is
	// RunDir/rpcbind.sock.
	RunDir string
}

// Peer creates a host called name (letters, digits, '-' and '_') joined to the
// test namespace: on first use, a bridge holding LocalAddr/24; then a network
// namespace, a veth pair whose outer end is on the bridge and whose inner end,
// eth0, holds the next free address of Subnet. Peers of one test are on one
// segment, so two of them answer one broadcast. The host is removed when the
// test ends, after the processes started in it have been stopped (cleanups
// run in reverse order). Peer must run inside Isolate.
func Peer(t testing.TB, name string) *Host {
	t.Helper()
	mustBeInside(t, "Peer")
	Require(t, "ip", "mount")
	if !peerName.MatchString(name) {
		t.Fatalf("testsupport: peer name %q: use 1 to 32 letters, digits, '-' or '_'", name)
	}

	peers.Lock()
	if !peers.bridge {
		err := ip("",
			"link add "+bridgeName+" type bridge",
			"addr add "+netip.PrefixFrom(LocalAddr, Subnet.Bits()).String()+" brd + dev "+bridgeName,
			"link set "+bridgeName+" up")
		if err != nil {
			peers.Unlock()
			t.Fatalf("testsupport: making the test bridge: %v", err)
		}
		peers.bridge = true
	}
	if peers.count == maxPeers {
		peers.Unlock()
		t.Fatalf("testsupport: more than %d peers in one test process", maxPeers)
	}
	peers.count++
	n := peers.count
	peers.Unlock()

	addr := Subnet.Addr().As4()
	addr[3] = byte(1 + n)
	h := &Host{Name: name, Addr: netip.AddrFrom4(addr), RunDir: filepath.Join(peerRunRoot, name)}
	veth := fmt.Sprintf("pmv%d", n)
	if err := os.MkdirAll(h.RunDir, 0o755); err != nil {
		t.Fatalf("testsupport: %v", err)
	}
	t.Cleanup(func() {
		// Deleting the outer end deletes the pair; the namespace goes when
		// its last process has.
		if err := ip("", "link del "+veth, "netns del "+name); err != nil {
			t.Errorf("testsupport: removing peer %s: %v", name, err)
		}
		if err := os.RemoveAll(h.RunDir); err != nil {
			t.Errorf("testsupport: %v", err)
		}
	})
	err := ip("",
		"netns add "+name,
		"link add "+veth+" type veth peer name eth0 netns "+name,
		"link set "+veth+" master "+bridgeName,
		"link set "+veth+" up")
	if err == nil {
		err = ip(name,
			"addr add "+netip.PrefixFrom(h.Addr, Subnet.Bits()).String()+" brd + dev eth0",
			"link set eth0 up",
			"link set lo up")
	}
	if err != nil {
		t.Fatalf("testsupport: making peer %s: %v", name, err)
	}
	return h
}

// ip runs `ip -force -batch -` with commands, in network namespace netns if
// it is not empty; -force runs every command and still reports a failure.
func ip(netns string, commands ...string) error {
	var args []string
	if netns != "" {
		args = append(args, "-n", netns)
	}
	cmd := exec.Command("ip", append(args, "-force", "-batch", "-")...)
	cmd.Stdin = strings.NewReader(strings.Join(commands, "\n") + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(commands, "; "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Command returns a command that runs the named program in the host: with
// `ip netns exec`, in a mount namespace of its own where /run is the host's
// RunDir.
func (h *Host) Command(name string, args ...string) *exec.Cmd {
	script := "mount --bind " + h.RunDir + ` /run && exec "$0" "$@"`
	return exec.Command("ip", append([]string{"netns", "exec", h.Name, "sh", "-c", script, name}, args...)...)
}

// command is Command, and for a nil host (the test namespace) exec.Command.
func (h *Host) command(name string, args ...string) *exec.Cmd {
	if h == nil {
		return exec.Command(name, args...)
	}
	return h.Command(name, args...)
}

// Start starts the named program in the host and stops it when the test
// ends, like the function Start.
func (h *Host) Start(t testing.TB, name string, args ...string) *Proc {
	t.Helper()
	return h.StartCmd(t, h.Command(name, args...))
}

// StartCmd starts cmd, made by h.Command, like the function StartCmd; the
// returned Proc's WaitPort probes the host's network (for a nil host, the
// test namespace's).
func (h *Host) StartCmd(t testing.TB, cmd *exec.Cmd) *Proc {
	t.Helper()
	p := StartCmd(t, cmd)
	p.host = h
	return p
}

// StartRpcbind starts Debian's rpcbind -f with args in the host, like the
// function StartRpcbind; its local socket is RunDir/rpcbind.sock.
func (h *Host) StartRpcbind(t testing.TB, args ...string) *Proc {
	t.Helper()
	return startRpcbind(t, h, h.RunDir, args)
}

// WaitPort waits until something listens on addr in the host's network, like
// the function WaitPort.
func (h *Host) WaitPort(t testing.TB, network, addr string) {
	t.Helper()
	if err := h.Do(func() error { return waitReady(network, addr, nil) }); err != nil {
		t.Fatalf("testsupport: in %s: %v", h.Name, err)
	}
}

// Do runs fn on an OS thread that has entered the host's network namespace,
// and returns its error. Sockets fn opens belong to the host and stay there
// after fn returns, so a test can listen or send "from" the peer in Go.
// Only the network namespace changes (files are the test namespace's), and
// goroutines fn starts do not follow it. fn must not call t.Fatal or
// t.FailNow: it runs on a goroutine of its own.
func (h *Host) Do(fn func() error) error {
	return h.do(fn)
}

// do is Do, and for a nil host simply calls fn.
func (h *Host) do(fn func() error) error {
	if h == nil {
		return fn()
	}
	errc := make(chan error, 1)
	go func() {
		// The goroutine keeps its thread; if the thread cannot be put back
		// in its namespace it stays locked and ends with the goroutine.
		runtime.LockOSThread()
		home, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("testsupport: %w", err)
			return
		}
		defer home.Close()
		if err := setns(filepath.Join("/run/netns", h.Name)); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("testsupport: entering %s: %w", h.Name, err)
			return
		}
		ferr := fn()
		if err := setnsFd(home); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("testsupport: leaving %s: %w", h.Name, err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// setns moves the calling thread into the network namespace at path.
func setns(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return setnsFd(f)
}

// setnsFd moves the calling thread into the network namespace f refers to.
func setnsFd(f *os.File) error {
	return os.NewSyscallError("setns", unix.Setns(int(f.Fd()), unix.CLONE_NEWNET))
}
