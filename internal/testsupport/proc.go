package testsupport

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Nobody is the uid and gid of Debian's nobody and nogroup, the usual
// unprivileged identity for AsUser.
const Nobody = 65534

// stopGrace is how long Stop waits after SIGTERM before SIGKILL, and how long
// Wait waits for a dead process's output pipes: every program the tests run
// exits on SIGTERM within milliseconds.
const stopGrace = 3 * time.Second

// readyTimeout bounds the wait for a started server to listen. rpcbind and our
// servers listen within milliseconds, but a two-core CI machine running -race
// tests in parallel can hold a process back for seconds.
const readyTimeout = 15 * time.Second

// pollInterval is the pause between two readiness probes.
const pollInterval = 10 * time.Millisecond

// maxOutput caps the output kept of one process (the head is kept): enough for
// any diagnostic, bounded even for a server that logs every request of a flood.
const maxOutput = 1 << 20

// Proc is a process started for a test. It is stopped when the test ends and
// its output is logged if the test failed.
type Proc struct {
	// Cmd is the started command; leave it alone except to read it.
	Cmd *exec.Cmd

	host     *Host // where WaitPort probes; nil for the test's own namespace
	out      outputBuffer
	done     chan struct{} // closed when Cmd.Wait has returned
	err      error         // Cmd.Wait's result, written before done is closed
	stopOnce sync.Once
}

// Start starts the named program with args in the current namespace and stops
// it when the test ends. Its standard output and error are kept together
// (see Output).
func Start(t testing.TB, name string, args ...string) *Proc {
	t.Helper()
	return StartCmd(t, exec.Command(name, args...))
}

// StartCmd starts cmd and stops it when the test ends. Standard output and
// error the caller left nil are kept together (see Output); a zero
// WaitDelay becomes a few seconds, so a grandchild holding the output pipe
// cannot stall the test.
func StartCmd(t testing.TB, cmd *exec.Cmd) *Proc {
	t.Helper()
	p := &Proc{Cmd: cmd, done: make(chan struct{})}
	if cmd.Stdout == nil {
		cmd.Stdout = &p.out
	}
	if cmd.Stderr == nil {
		cmd.Stderr = &p.out
	}
	if cmd.WaitDelay == 0 {
		cmd.WaitDelay = stopGrace
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("testsupport: starting %s: %v", cmd, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("testsupport: %s (pid %d) ended with %v; its output:\n%s", p.name(), p.Pid(), p.err, p.Output())
		}
	})
	return p
}

// Pid returns the process id, as seen from the test's namespace.
func (p *Proc) Pid() int { return p.Cmd.Process.Pid }

// Output returns what the process has written so far to the standard output
// and error that StartCmd collects.
func (p *Proc) Output() string { return p.out.String() }

// Done is closed when the process has exited and been waited for.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err returns the process's exit error once Done is closed (nil for exit status
// 0; "signal: terminated" after Stop for a program that does not catch
// SIGTERM), and nil before.
func (p *Proc) Err() error {
	select {
	case <-p.done:
		return p.err
	default:
		return nil
	}
}

// Stop sends SIGTERM, then SIGKILL if the process is still running after a few
// seconds, and waits for it. It is safe to call more than once; the test's
// cleanup calls it too.
func (p *Proc) Stop() {
	p.stopOnce.Do(func() {
		select {
		case <-p.done:
			return
		default:
		}
		_ = p.Cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(stopGrace):
			_ = p.Cmd.Process.Kill()
			<-p.done
		}
	})
}

// WaitPort waits until something listens on addr in the namespace the process
// was started in (see WaitPort the function), failing the test at once if the
// process exits first, or after a timeout.
func (p *Proc) WaitPort(t testing.TB, network, addr string) {
	t.Helper()
	err := p.host.do(func() error { return waitReady(network, addr, p.done) })
	if err != nil {
		t.Fatalf("testsupport: %s (pid %d): %v; its output:\n%s", p.name(), p.Pid(), err, p.Output())
	}
}

func (p *Proc) name() string { return filepath.Base(p.Cmd.Args[0]) }

// WaitPort waits until something listens on addr in the current namespace,
// and fails the test after a timeout. For "tcp", "tcp4", "tcp6" and "unix" it
// connects; for "udp", "udp4" and "udp6" it looks for a socket bound to the
// port in /proc/net/udp and /proc/net/udp6 (any local address).
func WaitPort(t testing.TB, network, addr string) {
	t.Helper()
	if err := waitReady(network, addr, nil); err != nil {
		t.Fatalf("testsupport: %v", err)
	}
}

// errExited reports that the process being waited for has ended.
var errExited = errors.New("the process exited")

// waitReady polls until probe succeeds, done is closed or readyTimeout passes.
func waitReady(network, addr string, done <-chan struct{}) error {
	deadline := time.Now().Add(readyTimeout)
	for {
		err := probe(network, addr)
		if err == nil {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("%w before listening on %s %s", errExited, network, addr)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listens on %s %s after %v: %v", network, addr, readyTimeout, err)
		}
		time.Sleep(pollInterval)
	}
}

// probe checks once whether something listens on addr.
func probe(network, addr string) error {
	switch network {
	case "tcp", "tcp4", "tcp6", "unix":
		c, err := net.DialTimeout(network, addr, time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	case "udp", "udp4", "udp6":
		return udpBound(addr)
	}
	return fmt.Errorf("cannot wait for network %q", network)
}

// udpBound looks for a UDP socket bound to addr's port in the calling thread's
// network namespace (thread-self, so that it works inside Host.Do).
func udpBound(addr string) error {
	_, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return fmt.Errorf("port of %q: %w", addr, err)
	}
	suffix := fmt.Sprintf(":%04X", port)
	for _, table := range []string{"/proc/thread-self/net/udp", "/proc/thread-self/net/udp6"} {
		data, err := os.ReadFile(table)
		if err != nil {
			continue // no IPv6 in this kernel, say
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Scan() // the header
		for sc.Scan() {
			// "  sl  local_address rem_address   st ...", local_address = HEXADDR:PORT
			if f := strings.Fields(sc.Text()); len(f) > 1 && strings.HasSuffix(f[1], suffix) {
				return nil
			}
		}
	}
	return fmt.Errorf("no UDP socket bound to port %d", port)
}

// AsUser makes cmd run under uid and gid with no supplementary groups, and
// returns it. Tests run as root, so this is how a test gets a non-root
// caller (a non-root SET through /run/rpcbind.sock, say). Note that the
// program itself must be reachable by that user: BuildGo and BuildC put
// their output in world-readable directories for this reason.
func AsUser(cmd *exec.Cmd, uid, gid uint32) *exec.Cmd {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uid, Gid: gid, Groups: []uint32{}}
	return cmd
}

// outputBuffer is a goroutine-safe buffer that keeps at most maxOutput bytes.
type outputBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	dropped int
}

func (b *outputBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	keep := min(len(p), maxOutput-b.buf.Len())
	b.buf.Write(p[:keep])
	b.dropped += len(p) - keep
	return len(p), nil
}

func (b *outputBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dropped > 0 {
		return fmt.Sprintf("%s\n[testsupport: %d more bytes dropped]", b.buf.String(), b.dropped)
	}
	return b.buf.String()
}
