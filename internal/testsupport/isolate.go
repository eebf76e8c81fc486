package testsupport

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// envInside marks a test process that Isolate re-executed inside a test
// namespace. Its value records the pid and network namespaces of the process
// that started it, so that a stray setting (a developer's shell, a test that
// runs another test binary) cannot make a process on the host believe it is
// isolated: Inside checks that its own namespaces differ from those.
const envInside = "PMAP_TEST_NS"

// isolateScript runs as PID 1 of the new pid namespace. It gives the test a
// private /run (so /run/rpcbind.sock, /run/rpcbind and /run/netns are its own),
// brings loopback up and runs the test binary as its child. When the script
// ends, the kernel kills every process still in the namespace.
const isolateScript = `mount -t tmpfs -o mode=0755 tmpfs /run && ip link set lo up && "$0" "$@"`

// Margins between the outer test's deadline and the isolated run. The inner
// test binary gets the time that remains less a tenth of it, at least
// minMargin and at most maxMargin, so that it times out (and prints its
// goroutines) before the outer one does; if it is still running three
// quarters into that margin, the outer kills the whole namespace. Two
// seconds leave a loaded machine time to print a goroutine dump.
const (
	minMargin = 2 * time.Second
	maxMargin = 10 * time.Second
)

// outputWaitDelay bounds how long the outer waits for the output pipe to close
// after the namespace's init has exited; every process in the namespace is
// dead by then, so the pipe closes at once in practice.
const outputWaitDelay = 5 * time.Second

// Isolate runs the calling test inside its own network, mount and pid
// namespace and reports whether the caller is already there.
//
// Called on the host, it checks for root, unshare and ip (skipping, or failing
// under CI, when one is missing), re-executes the test binary with -test.run
// set to exactly this test inside
//
//	unshare --net --mount --pid --fork --kill-child --mount-proc \
//		sh -c 'mount -t tmpfs tmpfs /run && ip link set lo up && TEST-BINARY ...'
//
// copies its output into the test log as it arrives, and returns false: the
// caller returns at once. The outer test fails if the inner one failed or did
// not run, and is skipped if the inner one was skipped. The inner run's
// -test.timeout is set from the outer test's deadline, and the namespace is
// killed if it outlives that; package flags given to the outer run (an -update,
// say), -test.short and -test.failfast are passed on.
//
// Called inside the namespace, it returns true and the test body runs there,
// as a child of the namespace's PID 1, with a private, empty /run and only
// a loopback interface, which is up.
//
// Isolate belongs at the top of a test. In a subtest, the parent test's body
// runs again in the child process up to the t.Run that leads to the subtest.
func Isolate(t *testing.T) bool {
	t.Helper()
	if v, ok := os.LookupEnv(envInside); ok {
		if err := checkInside(v); err != nil {
			t.Fatalf("testsupport: %v", err)
		}
		return true
	}
	Require(t, "unshare", "ip", "mount", "sh")
	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("testsupport: locating the test binary: %v", err)
	}
	marker, err := namespaceIDs()
	if err != nil {
		t.Fatalf("testsupport: %v", err)
	}

	args := []string{"--net", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc",
		"sh", "-c", isolateScript, exe}
	args = append(args, innerFlags(t.Name())...)
	ctx := t.Context()
	if deadline, ok := t.Deadline(); ok {
		remaining := time.Until(deadline)
		margin := min(max(remaining/10, minMargin), maxMargin)
		if remaining <= margin {
			t.Fatalf("testsupport: only %v left before the test deadline; no time to run %s", remaining, t.Name())
		}
		args = append(args, "-test.timeout="+(remaining-margin).Round(time.Millisecond).String())
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, remaining-margin/4)
		defer cancel()
	}

	cmd := exec.CommandContext(ctx, "unshare", args...)
	cmd.Env = append(os.Environ(), envInside+"="+marker, "GORACE="+goraceInner())
	// If this process dies, unshare dies, and with it (--kill-child) the
	// namespace's init and so every process in the namespace.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = outputWaitDelay
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("testsupport: %v", err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("testsupport: starting the test namespace: %v", err)
	}
	result := relay(t, out)
	werr := cmd.Wait()
	switch {
	case werr != nil && ctx.Err() != nil:
		t.Fatalf("testsupport: killed the test namespace of %s as the test deadline neared (%v)", t.Name(), werr)
	case werr != nil:
		t.Fatalf("testsupport: %s failed in its test namespace (%v); its output is logged above", t.Name(), werr)
	case result == "SKIP":
		t.Skipf("testsupport: %s was skipped in its test namespace; the reason is logged above", t.Name())
	case result != "PASS":
		t.Fatalf("testsupport: the test namespace exited cleanly but never reported %s as run", t.Name())
	}
	return false
}

// goraceInner returns the race detector options of the inner run: the
// outer's, plus no pause at exit unless they set one. The race runtime waits
// a second at exit for late reports by default; the inner run's tests have
// ended by then, and the pause would add a second to every isolated test.
func goraceInner() string {
	opts := os.Getenv("GORACE")
	if strings.Contains(opts, "atexit_sleep_ms") {
		return opts
	}
	return strings.TrimSpace(opts + " atexit_sleep_ms=0")
}

// relay copies the inner run's output into the test log line by line and
// returns the result it reported for the test: PASS, FAIL, SKIP or "".
func relay(t *testing.T, r io.Reader) string {
	t.Helper()
	name := t.Name()
	result := ""
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		if line = strings.TrimRight(line, "\n"); line != "" {
			t.Log(line)
			for _, res := range []string{"PASS", "FAIL", "SKIP"} {
				if strings.HasPrefix(strings.TrimSpace(line), "--- "+res+": "+name+" (") {
					result = res
				}
			}
		}
		if err != nil {
			return result
		}
	}
}

// innerFlags builds the inner run's flags: exactly this test, verbose (the
// result is read from the output), once; and the outer's package flags and
// the test flags that change what a test does.
func innerFlags(name string) []string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	args := []string{"-test.run=" + strings.Join(parts, "/"), "-test.v=true", "-test.count=1"}
	flag.Visit(func(f *flag.Flag) {
		if !strings.HasPrefix(f.Name, "test.") || f.Name == "test.short" || f.Name == "test.failfast" {
			args = append(args, "-"+f.Name+"="+f.Value.String())
		}
	})
	return args
}

// Inside reports whether this process runs inside a test namespace made by
// Isolate.
func Inside() bool {
	v, ok := os.LookupEnv(envInside)
	return ok && checkInside(v) == nil
}

// mustBeInside stops a test that would change the host's network or /run.
func mustBeInside(t testing.TB, what string) {
	t.Helper()
	if !Inside() {
		t.Fatalf("testsupport: %s works only inside Isolate; on the host it would change the machine's network or /run", what)
	}
}

// namespaceIDs names this process's pid and network namespaces, e.g.
// "pid:[4026531836] net:[4026531840]".
func namespaceIDs() (string, error) {
	var ids []string
	for _, ns := range []string{"pid", "net"} {
		id, err := os.Readlink("/proc/self/ns/" + ns)
		if err != nil {
			return "", fmt.Errorf("reading this process's %s namespace: %w", ns, err)
		}
		ids = append(ids, id)
	}
	return strings.Join(ids, " "), nil
}

// checkInside verifies that this process's namespaces differ from those of
// the process that set envInside to marker.
func checkInside(marker string) error {
	own, err := namespaceIDs()
	if err != nil {
		return err
	}
	outer := strings.Fields(marker)
	if len(outer) != 2 {
		return fmt.Errorf("%s=%q was not set by Isolate", envInside, marker)
	}
	for i, id := range strings.Fields(own) {
		if id == outer[i] {
			return errors.New(envInside + " is set but this process shares the " + id + " namespace of the process that set it; refusing to treat the host as a test namespace")
		}
	}
	return nil
}
