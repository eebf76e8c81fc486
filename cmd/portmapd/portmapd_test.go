package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/internal/cliutil"
	"github.com/portmap-toolkit/pmap/internal/testsupport"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

var update = flag.Bool("update", false, "rewrite portmapd.8 and portmapd.fish from the command's definition")

func TestMain(m *testing.M) { os.Exit(testsupport.Main(m)) }

// manPageFile is the manual page, kept current by TestManPage: section 8,
// with the other daemons (rpcbind(8)).
const manPageFile = "portmapd.8"

// TestManPage checks that portmapd.8 is what urfave/cli renders from the
// command's definition, and that --generate-man prints it; go generate (or
// -update) rewrites it.
func TestManPage(t *testing.T) {
	page, err := cliutil.ManPage(urfaveApp(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	cliutil.CheckManPage(t, manPageFile, page, *update,
		".TH portmapd 8", "--listen", "--port", "--socket", "--log-format", "--version", "--completion", "rpcbind")
	var stdout, stderr bytes.Buffer
	if rc := run(context.Background(), []string{"portmapd", "--generate-man"}, &stdout, &stderr); rc != 0 || stderr.Len() != 0 || stdout.String() != manPage {
		t.Errorf("--generate-man: rc %d, stderr %q, and not the embedded page", rc, stderr.String())
	}
}

// TestCompletion checks the completion scripts and the candidates the
// scripts ask the command for.
func TestCompletion(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish"} {
		var stdout, stderr bytes.Buffer
		rc := run(context.Background(), []string{"portmapd", "--completion", sh}, &stdout, &stderr)
		if rc != 0 || !strings.Contains(stdout.String(), "portmapd") || stderr.Len() != 0 {
			t.Errorf("--completion %s: rc %d, stdout %q, stderr %q", sh, rc, stdout.String(), stderr.String())
		}
	}
	tests := []struct {
		words []string
		want  string // the candidates, one a line
		has   string // or, when want is "", a word among them
	}{
		{[]string{"--log-format"}, "text\njson\n", ""},
		{[]string{"--log-level"}, "debug\ninfo\nwarn\nerror\n", ""},
		{[]string{"--completion"}, "bash\nzsh\nfish\n", ""},
		{[]string{"-h"}, "", ""}, // an address: nothing to offer
		{[]string{"--port"}, "", ""},
		{nil, "", "\n--prune-interval\n"},
		{[]string{"-w"}, "", "\n--state\n"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		args := append(append([]string{"portmapd"}, tt.words...), "--generate-bash-completion")
		rc := run(context.Background(), args, &stdout, &stderr)
		got := stdout.String()
		ok := rc == 0 && got == tt.want
		if tt.has != "" {
			ok = rc == 0 && strings.Contains(got, tt.has) && !strings.Contains(got, "--generate-man")
		}
		if !ok {
			t.Errorf("candidates after %q: rc %d, %q (stderr %q); want %q%s", tt.words, rc, got, stderr.String(), tt.want, tt.has)
		}
	}
}

func TestUsage(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		rc     int
		stdout string
		stderr string
	}{
		{"version", []string{"--version"}, 0, "portmapd version ", ""},
		{"help", []string{"--help"}, 0, "--socket PATH", ""},
		{"unknown flag", []string{"--bogus"}, 2, "", "portmapd: flag provided but not defined: -bogus (see --help)\n"},
		{"operand", []string{"extra"}, 2, "", "portmapd: unexpected argument \"extra\" (see --help)\n"},
		{"bad address", []string{"--listen", "localhost"}, 2, "", "portmapd: --listen \"localhost\": not an IP address\n"},
		{"bad port", []string{"--port", "70000"}, 2, "", "portmapd: --port 70000: want 1 to 65535\n"},
		{"bad log format", []string{"--log-format", "xml"}, 2, "", "portmapd: --log-format \"xml\": want text or json\n"},
		{"bad shell", []string{"--completion", "tcsh"}, 2, "", "portmapd: invalid value \"tcsh\" for --completion: want bash, zsh or fish\n"},
		{"bad log level", []string{"--log-level", "loud"}, 2, "", "portmapd: --log-level \"loud\": want debug, info, warn or error\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			rc := run(context.Background(), append([]string{"portmapd"}, tt.args...), &stdout, &stderr)
			if rc != tt.rc || !strings.Contains(stdout.String(), tt.stdout) || (tt.rc != 0 && stderr.String() != tt.stderr) {
				t.Errorf("rc %d, stdout %q, stderr %q; want rc %d, stdout with %q, stderr %q", rc, stdout.String(), stderr.String(), tt.rc, tt.stdout, tt.stderr)
			}
		})
	}
}

// freePort returns a port free for both UDP and TCP on 127.0.0.1.
func freePort(t *testing.T) int {
	t.Helper()
	for i := 0; i < 20; i++ {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		p, err := net.ListenPacket("udp4", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err == nil {
			p.Close()
			return port
		}
	}
	t.Fatal("no port free for both UDP and TCP")
	return 0
}

// call makes one call to the port mapper at network, addr.
func call(t *testing.T, network, addr string, vers, proc uint32, args []byte) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := rpc.Dial(ctx, network, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := c.Call(ctx, portmap.Program, vers, proc, args)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestRun runs the daemon's run function on a loopback port and a socket of
// its own, checks it answers there with JSON logs, and that cancelling its
// context stops it cleanly and removes the socket.
func TestRun(t *testing.T) {
	port := freePort(t)
	sock := filepath.Join(t.TempDir(), "pm.sock")
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"portmapd", "--listen", "127.0.0.1", "--port", fmt.Sprint(port), "--socket", sock, "--log-format", "json"}, &stdout, &stderr)
	}()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	waitFor(t, "unix", sock)
	d := xdr.NewDecoder(call(t, "tcp", addr, 3, portmap.RpcbDump, nil))
	var netids []string
	for _, r := range portmap.DecodeRPCBList(d, nil, 100) {
		netids = append(netids, fmt.Sprintf("%d/%s", r.Vers, r.Netid))
	}
	if got, want := strings.Join(netids, " "), "4/tcp 3/tcp 2/tcp 4/udp 3/udp 2/udp 4/local 3/local"; got != want {
		t.Errorf("own entries %q, want %q", got, want)
	}
	if port := xdr.NewDecoder(call(t, "udp", addr, 2, portmap.PmapGetport, portmap.Mapping{Prog: portmap.Program, Vers: 2, Prot: portmap.IPProtoUDP}.Append(nil))).Uint32(); port != uint32(port) {
		t.Errorf("GETPORT %d", port)
	}
	call(t, "unix", sock, 4, portmap.ProcNull, nil)
	cancel()
	select {
	case rc := <-done:
		if rc != 0 {
			t.Errorf("run = %d after cancel; stderr:\n%s", rc, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after its context ended")
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket left behind: %v", err)
	}
	var msgs []string
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		var rec struct{ Level, Msg string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		msgs = append(msgs, rec.Msg)
	}
	if got := strings.Join(msgs, "|"); got != "portmapd starting|server: listening|server: listening|portmapd stopped" {
		t.Errorf("log messages %q", got)
	}
}

// TestRunRefusesBusyPort checks the message when the port is taken.
func TestRunRefusesBusyPort(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	var stdout, stderr bytes.Buffer
	rc := run(context.Background(), []string{"portmapd", "--listen", "127.0.0.1", "--port", fmt.Sprint(port), "--no-socket"}, &stdout, &stderr)
	want := fmt.Sprintf("portmapd: server: 127.0.0.1:%d is already in use: is rpcbind or another port mapper running?", port)
	if rc != 1 || !strings.HasPrefix(stderr.String(), want) && !strings.Contains(stderr.String(), want) {
		t.Errorf("rc %d, stderr %q; want 1 and %q", rc, stderr.String(), want)
	}
}

// TestSignals runs the built daemon and stops it with SIGTERM and SIGINT:
// it must exit 0 each time.
func TestSignals(t *testing.T) {
	bin := filepath.Join(testsupport.BuildGo(t, "./cmd/portmapd"), "portmapd")
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			port := freePort(t)
			sock := filepath.Join(t.TempDir(), "pm.sock")
			var out bytes.Buffer
			cmd := exec.Command(bin, "--listen", "127.0.0.1", "--port", fmt.Sprint(port), "--socket", sock)
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "unix", sock)
			cmd.Process.Signal(sig)
			errc := make(chan error, 1)
			go func() { errc <- cmd.Wait() }()
			select {
			case err := <-errc:
				if err != nil {
					t.Errorf("exit: %v; output:\n%s", err, out.String())
				}
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("still running 10s after %v", sig)
			}
			if !strings.Contains(out.String(), "portmapd stopped") {
				t.Errorf("output:\n%s", out.String())
			}
		})
	}
}

// waitFor waits until something accepts on network, addr.
func waitFor(t *testing.T, network, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial(network, addr)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s %s: %v", network, addr, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
