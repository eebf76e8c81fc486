package testsupport

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func TestIsolate(t *testing.T) {
	t.Parallel()
	if !Isolate(t) {
		return
	}
	checks := []struct {
		name  string
		check func() error
	}{
		{"Inside reports it", func() error {
			if !Inside() {
				return fmt.Errorf("Inside() = false")
			}
			return nil
		}},
		{"parent is the namespace's init", func() error {
			if ppid := os.Getppid(); ppid != 1 {
				return fmt.Errorf("parent pid %d, want 1", ppid)
			}
			return nil
		}},
		{"only the namespace's processes are visible", func() error {
			pids, _ := filepath.Glob("/proc/[0-9]*")
			if len(pids) > 5 { // sh, this test, perhaps a pid being reaped
				return fmt.Errorf("%d processes visible: %v", len(pids), pids)
			}
			return nil
		}},
		{"/run is a private, empty tmpfs", func() error {
			fs, err := mountType("/run")
			if err != nil {
				return err
			}
			if fs != "tmpfs" {
				return fmt.Errorf("/run is %s", fs)
			}
			entries, err := os.ReadDir("/run")
			if err != nil || len(entries) != 0 {
				return fmt.Errorf("/run holds %v (%v)", entries, err)
			}
			return nil
		}},
		{"loopback is the only interface and is up", func() error {
			ifs, err := net.Interfaces()
			if err != nil {
				return err
			}
			if len(ifs) != 1 || ifs[0].Name != "lo" || ifs[0].Flags&net.FlagUp == 0 {
				return fmt.Errorf("interfaces: %v", ifs)
			}
			return nil
		}},
	}
	for _, c := range checks {
		if err := c.check(); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

// mountType returns the file system type of the mount visible at dir.
func mountType(dir string) (string, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	fs := ""
	for _, line := range strings.Split(string(data), "\n") {
		// "36 35 98:0 / /mnt rw,noatime master:1 - ext3 /dev/root rw": field 5
		// is the mount point, the first field after "-" the type; the last
		// mount at a point is the visible one.
		f := strings.Fields(line)
		for i := range f {
			if f[i] == "-" && i+1 < len(f) && len(f) > 4 && f[4] == dir {
				fs = f[i+1]
			}
		}
	}
	if fs == "" {
		return "", fmt.Errorf("nothing is mounted at %s", dir)
	}
	return fs, nil
}

// envHelperMode tells TestHelperIsolated what to do; TestIsolateOutcomes sets it.
const envHelperMode = "PMAP_TESTSUPPORT_HELPER"

// TestHelperIsolated is not a test of its own: TestIsolateOutcomes runs it
// in a child test binary to watch, from outside, what Isolate reports.
func TestHelperIsolated(t *testing.T) {
	mode := os.Getenv(envHelperMode)
	if mode == "" {
		t.Skip("helper of TestIsolateOutcomes; it runs only as that test's child")
	}
	if !Isolate(t) {
		return
	}
	switch mode {
	case "pass":
		t.Log("helper ran inside")
	case "skip":
		t.Skip("helper skip reason")
	case "fail":
		t.Error("helper failure")
	case "hang":
		time.Sleep(time.Hour)
	case "leak":
		// Processes nobody stops: the namespace must take them down.
		leaked := exec.Command("rpcbind", "-f")
		if err := leaked.Start(); err != nil {
			t.Fatal(err)
		}
		WaitPort(t, "tcp", "127.0.0.1:111")
		if err := exec.Command("sh", "-c", "sleep 600 &").Run(); err != nil {
			t.Fatal(err)
		}
		id, err := os.Readlink("/proc/self/ns/pid")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("pidns=%s", id)
	default:
		t.Fatalf("unknown helper mode %q", mode)
	}
}

// TestIsolateOutcomes runs TestHelperIsolated in a child test binary and
// checks how the outer test reports what happened in the namespace.
func TestIsolateOutcomes(t *testing.T) {
	if Inside() {
		t.Fatal("TestIsolateOutcomes runs on the host")
	}
	Require(t, "unshare", "ip", "mount", "sh")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		mode     string
		timeout  time.Duration // the child's -test.timeout
		wantExit int
		want     []string // in the child's output
		dontWant []string
		needs    []string
	}{
		{mode: "pass", timeout: time.Minute, want: []string{"helper ran inside", "--- PASS: TestHelperIsolated"}},
		{mode: "skip", timeout: time.Minute, want: []string{"helper skip reason", "--- SKIP: TestHelperIsolated", "was skipped in its test namespace"}},
		{mode: "fail", timeout: time.Minute, wantExit: 1, want: []string{"helper failure", "failed in its test namespace", "--- FAIL: TestHelperIsolated"}},
		// The child has 5s; the namespace gets 5s less the minimum margin and
		// times out first, printing its goroutines, before the child's own
		// deadline.
		{mode: "hang", timeout: 5 * time.Second, wantExit: 1,
			want:     []string{"panic: test timed out after", "--- FAIL: TestHelperIsolated"},
			dontWant: []string{"test timed out after 5s", "killed the test namespace"}},
		{mode: "leak", timeout: time.Minute, want: []string{"pidns=pid:[", "--- PASS: TestHelperIsolated"}, needs: []string{"rpcbind"}},
	}
	for _, tc := range tests {
		t.Run(tc.mode, func(t *testing.T) {
			t.Parallel()
			Require(t, tc.needs...)
			ctx, cancel := context.WithTimeout(t.Context(), tc.timeout+30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, exe, "-test.run=^TestHelperIsolated$", "-test.v", "-test.timeout="+tc.timeout.String())
			cmd.Env = append(os.Environ(), envHelperMode+"="+tc.mode)
			out, err := cmd.CombinedOutput()
			exit := cmd.ProcessState.ExitCode()
			if exit != tc.wantExit {
				t.Errorf("child exited with %d (%v), want %d", exit, err, tc.wantExit)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("child output lacks %q", w)
				}
			}
			for _, w := range tc.dontWant {
				if strings.Contains(string(out), w) {
					t.Errorf("child output has %q", w)
				}
			}
			if m := regexp.MustCompile(`pidns=(pid:\[\d+\])`).FindSubmatch(out); m != nil {
				// The namespace's processes are killed as the child
				// exits, but the kernel may take a moment to tear them
				// down and their parent to reap them: a leak is what
				// is still there after a grace period.
				left := processesIn(string(m[1]))
				for deadline := time.Now().Add(5 * time.Second); len(left) > 0 && time.Now().Before(deadline); {
					time.Sleep(50 * time.Millisecond)
					left = processesIn(string(m[1]))
				}
				if len(left) > 0 {
					t.Errorf("processes left in %s after the test: %v", m[1], left)
				}
			}
			if t.Failed() {
				t.Logf("child output:\n%s", out)
			}
		})
	}
}

// processesIn lists the processes, seen from here, in pid namespace id.
func processesIn(id string) []string {
	var found []string
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		if ns, err := os.Readlink(d + "/ns/pid"); err == nil && ns == id {
			cmdline, _ := os.ReadFile(d + "/cmdline")
			found = append(found, filepath.Base(d)+":"+strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	return found
}

// stopRecorder is a testing.TB whose Fatalf and Skipf record their message
// and end the goroutine, as the real ones do.
type stopRecorder struct {
	testing.TB
	kind, msg string
}

func (r *stopRecorder) Helper() {}

func (r *stopRecorder) Fatalf(format string, args ...any) {
	r.kind, r.msg = "fatal", fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *stopRecorder) Skipf(format string, args ...any) {
	r.kind, r.msg = "skip", fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// stops runs fn with a stopRecorder and returns how fn was stopped ("" if it
// returned) and the message.
func stops(t *testing.T, fn func(testing.TB)) (kind, msg string) {
	r := &stopRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(r)
	}()
	<-done
	return r.kind, r.msg
}

func TestRequire(t *testing.T) {
	root := os.Geteuid() == 0
	tests := []struct {
		name     string
		ci       string
		path     string // PATH for the check; "" leaves it
		programs []string
		wantKind string
		wantMsg  []string
	}{
		{name: "present", programs: []string{"sh"}},
		{name: "missing locally", programs: []string{"pmap-no-such-program"}, wantKind: "skip",
			wantMsg: []string{"pmap-no-such-program on PATH", "skipping"}},
		{name: "missing under CI", ci: "true", programs: []string{"pmap-no-such-program"}, wantKind: "fatal",
			wantMsg: []string{"pmap-no-such-program on PATH", "CI is set"}},
		{name: "names the Debian package", path: t.TempDir(), programs: []string{"rpcbind", "nft"}, wantKind: "skip",
			wantMsg: []string{"rpcbind (rpcbind) on PATH", "nft (nftables) on PATH"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			if tc.path != "" {
				t.Setenv("PATH", tc.path)
			}
			if !root { // then every case is missing root
				tc.wantMsg = append(tc.wantMsg, "root")
				if tc.wantKind == "" {
					tc.wantKind = "skip"
				}
			}
			kind, msg := stops(t, func(tb testing.TB) { Require(tb, tc.programs...) })
			if kind != tc.wantKind {
				t.Errorf("Require stopped with %q (%q), want %q", kind, msg, tc.wantKind)
			}
			for _, w := range tc.wantMsg {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q lacks %q", msg, w)
				}
			}
		})
	}
}

// TestRefusesHost checks that what changes the network or /run refuses to
// run outside a test namespace, even when the marker is forged.
func TestRefusesHost(t *testing.T) {
	if Inside() {
		t.Fatal("TestRefusesHost runs on the host")
	}
	own, err := namespaceIDs()
	if err != nil {
		t.Fatal(err)
	}
	calls := []struct {
		name string
		call func(testing.TB)
	}{
		{"StartRpcbind", func(tb testing.TB) { StartRpcbind(tb) }},
		{"Peer", func(tb testing.TB) { Peer(tb, "x") }},
		{"Silence", func(tb testing.TB) { Silence(tb, "udp", 111) }},
		{"ReadOnly", func(tb testing.TB) { ReadOnly(tb, tb.TempDir()) }},
	}
	for _, marker := range []string{"", own, "junk"} {
		for _, c := range calls {
			t.Run(fmt.Sprintf("%s/marker=%q", c.name, marker), func(t *testing.T) {
				t.Setenv(envInside, marker) // restored when the subtest ends
				if marker == "" {
					os.Unsetenv(envInside)
				}
				kind, msg := stops(t, c.call)
				if kind != "fatal" || !strings.Contains(msg, "only inside Isolate") {
					t.Errorf("%s on the host stopped with %q %q, want a fatal refusal", c.name, kind, msg)
				}
			})
		}
	}
}

func TestCheckInside(t *testing.T) {
	own, err := namespaceIDs()
	if err != nil {
		t.Fatal(err)
	}
	ownPid, ownNet, _ := strings.Cut(own, " ")
	tests := []struct {
		marker string
		ok     bool
	}{
		{"pid:[1] net:[2]", true}, // another process's namespaces
		{own, false},
		{"pid:[1] " + ownNet, false},
		{ownPid + " net:[2]", false},
		{"", false},
		{"1", false},
	}
	for _, tc := range tests {
		if err := checkInside(tc.marker); (err == nil) != tc.ok {
			t.Errorf("checkInside(%q) = %v, want ok=%v", tc.marker, err, tc.ok)
		}
	}
}

func TestInnerFlags(t *testing.T) {
	tests := []struct {
		name, want string
	}{
		{"TestX", "-test.run=^TestX$"},
		{"TestX/sub_case", "-test.run=^TestX$/^sub_case$"},
		{"TestX/a.b+c#01", `-test.run=^TestX$/^a\.b\+c#01$`},
	}
	for _, tc := range tests {
		run := innerFlags(tc.name)[0]
		if run != tc.want {
			t.Errorf("innerFlags(%q)[0] = %q, want %q", tc.name, run, tc.want)
		}
		// Each level's pattern matches that level's name and nothing longer.
		patterns := strings.Split(strings.TrimPrefix(run, "-test.run="), "/")
		for i, part := range strings.Split(tc.name, "/") {
			re := regexp.MustCompile(patterns[i])
			if !re.MatchString(part) || re.MatchString(part+"x") || re.MatchString("x"+part) {
				t.Errorf("pattern %s does not match exactly %q", re, part)
			}
		}
	}
}
