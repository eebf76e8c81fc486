package main

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/internal/testsupport"
)

// pmapregSource is the C helper that registers through libtirpc's own
// pmap_set, pmap_unset, rpcb_set and rpcb_unset.
//
//go:embed testdata/pmapreg.c
var pmapregSource string

// commandTimeout bounds each program the interop test runs; rpcinfo and the
// helper finish in milliseconds against a live port mapper, nmap in seconds.
const commandTimeout = 60 * time.Second

// outcome is what one command printed and its exit status.
type outcome struct {
	name           string
	stdout, stderr string
	rc             int
}

func (o outcome) String() string {
	return fmt.Sprintf("%s: exit %d\n--- stdout\n%s--- stderr\n%s", o.name, o.rc, o.stdout, o.stderr)
}

// step is one command of the interop scenario.
type step struct {
	asNobody bool
	args     []string // program and arguments; "pmapreg" is the C helper
	filter   func(string) string
}

// seedArgs turns testdata/seed-registrations.txt into pmap_set commands.
func seedArgs(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("../../testdata/seed-registrations.txt")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		out = append(out, "pmap_set")
		out = append(out, strings.Fields(line)...)
	}
	return out
}

// nmapTable keeps the lines of nmap's report that describe port 111: the
// port line and the rpcinfo script's table (timings and dates vary).
func nmapTable(s string) string {
	var keep []string
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, "|") || strings.HasPrefix(line, "111/") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n") + "\n"
}

// scenario is what the interop test does against each port mapper:
// registrations by libtirpc as root and as nobody, Debian's rpcinfo in every
// mode the issue names, deletions by the owner, by root and refused to
// another user, nmap's rpcinfo script, and rpcinfo -m last, so that the
// statistics of the whole exchange are compared too.
func scenario(t *testing.T) []step {
	seed := append([]string{"pmapreg"}, seedArgs(t)...)
	rpcinfo := func(args ...string) step { return step{args: append([]string{"rpcinfo"}, args...)} }
	nobody := func(s step) step { s.asNobody = true; return s }
	return []step{
		{args: seed},
		{args: []string{"pmapreg",
			"rpcb_set", "100099", "2", "tcp6", "::.16.147",
			"rpcb_set", "100099", "2", "udp6", "::.16.147",
			"rpcb_set", "100099", "3", "local", "/run/pmaptest.sock",
			"rpcb_set", "100099", "3", "tcp", "0.0.0.0.16.148"}},
		nobody(step{args: []string{"pmapreg",
			"rpcb_set", "300000", "1", "udp", "0.0.0.0.117.48",
			"pmap_set", "300001", "1", "tcp", "30002"}}),
		nobody(step{args: []string{"pmapreg", "pmap_unset", "100003", "2", "rpcb_unset", "100005", "1", "udp"}}),

		rpcinfo(),
		rpcinfo("127.0.0.1"),
		rpcinfo("::1"),
		rpcinfo("-s"),
		rpcinfo("-s", "127.0.0.1"),
		rpcinfo("-p"),
		rpcinfo("-p", "127.0.0.1"),
		rpcinfo("-l", "127.0.0.1", "100003", "3"),
		rpcinfo("-l", "-T", "tcp", "127.0.0.1", "100003", "3"),
		rpcinfo("-l", "-T", "udp6", "::1", "100099", "2"),
		rpcinfo("-l", "127.0.0.1", "100999", "1"),
		rpcinfo("-t", "127.0.0.1", "portmapper"),
		rpcinfo("-t", "127.0.0.1", "100000", "3"),
		rpcinfo("-u", "127.0.0.1", "portmapper", "2"),
		rpcinfo("-u", "127.0.0.1", "100000"),
		rpcinfo("-t", "127.0.0.1", "100003"),
		rpcinfo("-u", "127.0.0.1", "100003", "3"),
		rpcinfo("-t", "127.0.0.1", "100999"),
		rpcinfo("-u", "127.0.0.1", "100000", "7"),
		rpcinfo("-T", "tcp", "127.0.0.1", "portmapper"),
		rpcinfo("-T", "udp", "127.0.0.1", "portmapper", "4"),
		rpcinfo("-T", "tcp6", "::1", "100000"),
		rpcinfo("-T", "udp6", "::1", "100000", "3"),
		rpcinfo("-T", "udp", "127.0.0.1", "100999", "1"),
		rpcinfo("-a", "127.0.0.1.0.111", "-T", "udp", "portmapper"),
		rpcinfo("-a", "::1.0.111", "-T", "tcp6", "100000", "4"),
		rpcinfo("-a", "127.0.0.1.117.48", "-T", "udp", "300000", "1"),

		nobody(rpcinfo("-d", "100003", "3")),
		nobody(rpcinfo("-d", "-T", "tcp", "300001", "1")),
		rpcinfo("-d", "100099", "2"),
		rpcinfo("-d", "-T", "udp", "300000", "1"),
		rpcinfo("-d", "-T", "tcp", "100999", "1"),
		rpcinfo("-p", "127.0.0.1"),
		rpcinfo("127.0.0.1"),

		{args: []string{"nmap", "-sV", "--script", "rpcinfo", "-p", "111", "127.0.0.1"}, filter: nmapTable},
		rpcinfo("-m"),
		rpcinfo("-m", "127.0.0.1"),
	}
}

// runScenario runs the steps against the port mapper on port 111 and
// /run/rpcbind.sock; the capture, if any, is stopped before nmap.
func runScenario(t *testing.T, steps []step, helper string, beforeNmap func()) []outcome {
	t.Helper()
	var out []outcome
	for _, s := range steps {
		args := append([]string(nil), s.args...)
		if args[0] == "pmapreg" {
			args[0] = helper
		}
		if args[0] == "nmap" && beforeNmap != nil {
			beforeNmap()
		}
		ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		if s.asNobody {
			testsupport.AsUser(cmd, testsupport.Nobody, testsupport.Nobody)
		}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		cancel()
		rc := 0
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			rc = ee.ExitCode()
		case err != nil:
			t.Fatalf("%s: %v", strings.Join(s.args, " "), err)
		}
		o := outcome{name: strings.Join(s.args, " "), stdout: stdout.String(), stderr: stderr.String(), rc: rc}
		if s.asNobody {
			o.name = "(as nobody) " + o.name
		}
		if s.filter != nil {
			o.stdout, o.stderr = s.filter(o.stdout), ""
		}
		out = append(out, o)
	}
	return out
}

// capture is a running tshark writing what crosses the loopback interface.
type capture struct {
	proc *testsupport.Proc
	file string
}

// startCapture starts tshark on lo and waits until it captures.
func startCapture(t *testing.T, file string) *capture {
	t.Helper()
	p := testsupport.Start(t, "tshark", "-i", "lo", "-w", file, "-f", "port 111")
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(p.Output(), "Capturing on") {
		if time.Now().After(deadline) {
			t.Fatalf("tshark did not start capturing; output:\n%s", p.Output())
		}
		select {
		case <-p.Done():
			t.Fatalf("tshark exited: %v; output:\n%s", p.Err(), p.Output())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return &capture{proc: p, file: file}
}

// check stops the capture and reads it back: it must hold port mapper
// frames, none of them malformed or carrying an error-level expert item.
func (c *capture) check(t *testing.T, who string) {
	t.Helper()
	time.Sleep(200 * time.Millisecond) // let the last frames reach the capture
	c.proc.Stop()
	read := func(filter string) []string {
		var stderr bytes.Buffer
		cmd := exec.Command("tshark", "-r", c.file, "-Y", filter)
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("tshark -r %s -Y %q: %v\n%s", c.file, filter, err, stderr.String())
		}
		return strings.Split(strings.TrimSpace(string(out)), "\n")
	}
	if frames := read("portmap || rpc"); len(frames) < 50 {
		t.Errorf("%s: the capture holds only %d port mapper frames:\n%s", who, len(frames), strings.Join(frames, "\n"))
	}
	if bad := read("_ws.malformed || _ws.expert.severity >= 8388608"); len(bad) > 1 || bad[0] != "" {
		t.Errorf("%s: malformed or error frames in the capture:\n%s", who, strings.Join(bad, "\n"))
	}
}

// TestInterop runs the same scenario against Debian's rpcbind and against
// portmapd, each on port 111 and /run/rpcbind.sock in the test's namespace,
// and requires every command to print the same and exit the same; a tshark
// capture of the exchange with portmapd must show no malformed or error frame.
func TestInterop(t *testing.T) {
	if !testsupport.Isolate(t) {
		return
	}
	testsupport.Require(t, "rpcbind", "rpcinfo", "nmap", "tshark")
	bin := filepath.Join(testsupport.BuildGo(t, "./cmd/portmapd"), "portmapd")
	helper := testsupport.BuildC(t, "pmapreg", pmapregSource)
	steps := scenario(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o755)

	rb := testsupport.StartRpcbind(t)
	rbCap := startCapture(t, filepath.Join(dir, "rpcbind.pcap"))
	want := runScenario(t, steps, helper, func() { rbCap.check(t, "rpcbind") })
	rb.Stop()
	os.Remove("/run/rpcbind.sock") // rpcbind leaves it behind

	pm := testsupport.Start(t, bin, "--log-level", "debug")
	pm.WaitPort(t, "unix", "/run/rpcbind.sock")
	pm.WaitPort(t, "tcp", "127.0.0.1:111")
	pm.WaitPort(t, "udp", "127.0.0.1:111")
	pm.WaitPort(t, "tcp", "[::1]:111")
	pmCap := startCapture(t, filepath.Join(dir, "portmapd.pcap"))
	got := runScenario(t, steps, helper, func() { pmCap.check(t, "portmapd") })
	pm.Stop()
	if err := pm.Err(); err != nil {
		t.Errorf("portmapd exited with %v after SIGTERM", err)
	}

	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%s differs:\n=== rpcbind\n%v\n=== portmapd\n%v", want[i].name, want[i], got[i])
		}
	}
	if t.Failed() {
		t.Logf("portmapd's log:\n%s", pm.Output())
	}
}
