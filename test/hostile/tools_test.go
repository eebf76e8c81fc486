package hostile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/portmap-toolkit/pmap/internal/testsupport"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

// Hostile port mappers against the tools, run as processes: every mode of
// rpcinfo, pmapdump and pmapset against every evil server.

const (
	// toolTimeout is the --timeout every tool is given.
	toolTimeout = time.Second

	// toolKill is when a tool that has not exited is killed: well past the
	// bound the test holds it to, so that a hung tool fails the test
	// rather than hanging it.
	toolKill = toolTimeout + exitSlack + 10*time.Second

	// toolsAtOnce is how many tools run at once against one evil server.
	toolsAtOnce = 12

	// maxToolOutput is how much of a tool's output is kept.
	maxToolOutput = 64 << 10

	// localSocket is where the local modes find their port mapper: the
	// test namespace's own /run/rpcbind.sock.
	localSocket = "/run/rpcbind.sock"

	// pmapsetInput is what pmapset is asked to register.
	pmapsetInput = "   100003    3   tcp   2049  nfs\n"
)

// toolMode is one way of running a tool against a port mapper.
type toolMode struct {
	name string
	tool string
	// args are the tool's arguments; PORT stands for the evil server's
	// port and UADDR for its universal address.
	args []string
	// nullOnly: the mode calls only NULL, and only over the transport
	// nullNet ("tcp" or "udp"), of the program at the server's address;
	// against a server that answers with complete replies over that
	// transport (evil.complete) it succeeds.
	nullOnly bool
	nullNet  string
	stdin    string
}

// toolModes are the modes of the three tools, each against the evil server
// at 127.0.0.1 (given with --port), or on the local socket.
var toolModes = []toolMode{
	{name: "rpcinfo", tool: "rpcinfo", args: []string{"--port", "PORT", "127.0.0.1"}},
	{name: "rpcinfo -s", tool: "rpcinfo", args: []string{"--port", "PORT", "-s", "127.0.0.1"}},
	{name: "rpcinfo -p", tool: "rpcinfo", args: []string{"--port", "PORT", "-p", "127.0.0.1"}},
	{name: "rpcinfo -m", tool: "rpcinfo", args: []string{"--port", "PORT", "-m", "127.0.0.1"}},
	{name: "rpcinfo -l", tool: "rpcinfo", args: []string{"--port", "PORT", "-l", "127.0.0.1", "100003", "3"}},
	{name: "rpcinfo -t", tool: "rpcinfo", args: []string{"--port", "PORT", "-t", "127.0.0.1", "100003", "3"}},
	{name: "rpcinfo -t (all versions)", tool: "rpcinfo", args: []string{"--port", "PORT", "-t", "127.0.0.1", "100003"}},
	{name: "rpcinfo -u", tool: "rpcinfo", args: []string{"--port", "PORT", "-u", "127.0.0.1", "100003", "3"}},
	{name: "rpcinfo -T tcp", tool: "rpcinfo", args: []string{"--port", "PORT", "-T", "tcp", "127.0.0.1", "100003", "3"}},
	{name: "rpcinfo -T udp", tool: "rpcinfo", args: []string{"--port", "PORT", "-T", "udp", "127.0.0.1", "100003", "3"}},
	{name: "rpcinfo -n -t", tool: "rpcinfo", args: []string{"-n", "PORT", "-t", "127.0.0.1", "100003", "3"}, nullOnly: true, nullNet: "tcp"},
	{name: "rpcinfo -n -u", tool: "rpcinfo", args: []string{"-n", "PORT", "-u", "127.0.0.1", "100003", "3"}, nullOnly: true, nullNet: "udp"},
	{name: "rpcinfo -a -T tcp", tool: "rpcinfo", args: []string{"-a", "UADDR", "-T", "tcp", "100003", "3"}, nullOnly: true, nullNet: "tcp"},
	{name: "rpcinfo -a -T udp", tool: "rpcinfo", args: []string{"-a", "UADDR", "-T", "udp", "100003", "3"}, nullOnly: true, nullNet: "udp"},
	{name: "rpcinfo (local)", tool: "rpcinfo"},
	{name: "rpcinfo -p (local)", tool: "rpcinfo", args: []string{"-p"}},
	{name: "rpcinfo -d (local)", tool: "rpcinfo", args: []string{"-d", "100003", "3"}},
	{name: "pmapdump", tool: "pmapdump", args: []string{"--port", "PORT", "127.0.0.1"}},
	{name: "pmapdump -o extended", tool: "pmapdump", args: []string{"--port", "PORT", "-o", "extended", "127.0.0.1"}},
	{name: "pmapdump -o json", tool: "pmapdump", args: []string{"--port", "PORT", "-o", "json", "127.0.0.1"}},
	{name: "pmapdump (local)", tool: "pmapdump"},
	{name: "pmapset", tool: "pmapset", args: []string{"--port", "PORT", "127.0.0.1"}, stdin: pmapsetInput},
	{name: "pmapset --sync", tool: "pmapset", args: []string{"--port", "PORT", "--sync", "127.0.0.1"}, stdin: pmapsetInput},
	{name: "pmapset (local)", tool: "pmapset", stdin: pmapsetInput},
}

// toolRun is what one run of a tool did.
type toolRun struct {
	mode    toolMode
	args    []string
	exit    int // 128 + the signal's number when a signal ended it
	elapsed time.Duration
	maxRSS  uint64 // peak resident memory, from wait4
	stdout  string
	stderr  string
	err     error // the run could not be made
}

func TestHostileServers(t *testing.T) {
	if !testsupport.Isolate(t) {
		return
	}
	dir := testsupport.BuildGo(t, "./cmd/rpcinfo", "./cmd/pmapdump", "./cmd/pmapset")
	rss := buildMaxRSS(t)
	for _, e := range evils {
		t.Run(e.name, func(t *testing.T) {
			srv, err := startEvil(e, "", localSocket)
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			runs := make([]toolRun, len(toolModes))
			sem := make(chan struct{}, toolsAtOnce)
			var wg sync.WaitGroup
			for i, m := range toolModes {
				wg.Go(func() {
					sem <- struct{}{}
					defer func() { <-sem }()
					runs[i] = runTool(rss, filepath.Join(dir, m.tool), m, srv.Port)
				})
			}
			wg.Wait()
			var worst time.Duration
			var peak uint64
			for _, r := range runs {
				t.Run(r.mode.name, func(t *testing.T) {
					checkToolRun(t, e, r)
				})
				worst = max(worst, r.elapsed)
				peak = max(peak, r.maxRSS)
			}
			t.Logf("figure | %s | %d tool runs | slowest exit %v (--timeout %v) | largest peak RSS %s",
				e.name, len(runs), worst.Round(time.Millisecond), toolTimeout, mib(peak))
		})
	}
}

// buildMaxRSS compiles testdata/maxrss.c and checks the figure it gives for
// a program that needs almost no memory.
func buildMaxRSS(t *testing.T) *maxRSS {
	t.Helper()
	src, err := os.ReadFile("testdata/maxrss.c")
	if err != nil {
		t.Fatal(err)
	}
	m := &maxRSS{bin: testsupport.BuildC(t, "maxrss", string(src)), dir: t.TempDir()}
	exit, rss, err := m.run(context.Background(), exec.Command("true"), "self-check")
	switch {
	case err != nil:
		t.Fatalf("maxrss true: %v", err)
	case exit != 0 || rss == 0 || rss > 8<<20:
		t.Fatalf("maxrss true: exit %d, peak RSS %s; want 0 and a few hundred KiB", exit, mib(rss))
	}
	return m
}

// maxRSS runs commands under testdata/maxrss.c to learn their peak resident
// memory.
type maxRSS struct {
	bin string // the compiled maxrss
	dir string // for the figure files
	n   atomic.Int64
}

// run runs cmd (only its Path, Args, Stdin, Stdout and Stderr are used)
// under maxrss until it exits or ctx ends, when the whole process group is
// killed, and returns its exit status and peak resident memory.
func (m *maxRSS) run(ctx context.Context, cmd *exec.Cmd, name string) (exit int, rss uint64, err error) {
	file := filepath.Join(m.dir, fmt.Sprintf("%d.rss", m.n.Add(1)))
	w := exec.CommandContext(ctx, m.bin, append([]string{file, cmd.Path}, cmd.Args[1:]...)...)
	w.Stdin, w.Stdout, w.Stderr = cmd.Stdin, cmd.Stdout, cmd.Stderr
	w.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	w.Cancel = func() error { return syscall.Kill(-w.Process.Pid, syscall.SIGKILL) }
	w.WaitDelay = time.Second
	err = w.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return 0, 0, err
	}
	exit = w.ProcessState.ExitCode()
	data, ferr := os.ReadFile(file)
	if ferr != nil {
		return exit, 0, fmt.Errorf("%s: no figure from maxrss (exit %d, %v)", name, exit, ferr)
	}
	kb, perr := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
	if perr != nil {
		return exit, 0, fmt.Errorf("%s: maxrss wrote %q", name, data)
	}
	return exit, kb << 10, nil
}

// TestHostileBroadcast runs rpcinfo -b while a peer host on the test network
// answers its broadcast as each evil server does. rpcinfo -b ends at its
// --timeout and, as Debian's, exits 0 however many hosts answered; what it
// prints of hostile answers must be text.
func TestHostileBroadcast(t *testing.T) {
	if !testsupport.Isolate(t) {
		return
	}
	rpcinfo := filepath.Join(testsupport.BuildGo(t, "./cmd/rpcinfo"), "rpcinfo")
	rss := buildMaxRSS(t)
	peer := testsupport.Peer(t, "evil")
	mode := toolMode{name: "rpcinfo -b", tool: "rpcinfo", args: []string{"--port", "PORT", "-b", "100003", "3"}}
	// The control: a port mapper that answers the broadcast as a port
	// mapper forwarding to a live program does, which rpcinfo must print.
	honest := evil{name: "an honest answer", dgram: func(_ context.Context, pc net.PacketConn, from net.Addr, call []byte) {
		xid, vers, _ := callInfo(call)
		res := enc(2049, []byte{}) // call_result (v2)
		if vers != portmap.V2 {
			res = enc("192.0.2.2.8.1", []byte{}) // rpcb_rmtcallres
		}
		pc.WriteTo(append(okHeader(xid), res...), from)
	}, stream: func(context.Context, net.Conn) {}}
	// Every server at once, each on a port of its own, each rpcinfo -b
	// broadcasting to its server's port.
	all := append([]evil{honest}, evils...)
	srvs := make([]*evilServer, len(all))
	for i, e := range all {
		err := peer.Do(func() (err error) {
			srvs[i], err = startEvil(e, "0.0.0.0", "")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		defer srvs[i].Close()
	}
	runs := make([]toolRun, len(all))
	var wg sync.WaitGroup
	for i := range all {
		wg.Go(func() { runs[i] = runTool(rss, rpcinfo, mode, srvs[i].Port) })
	}
	wg.Wait()
	for i, e := range all {
		t.Run(e.name, func(t *testing.T) {
			r, srv := runs[i], srvs[i]
			cmdline := "rpcinfo " + strings.Join(r.args, " ")
			if r.err != nil {
				t.Fatalf("%s: %v", cmdline, r.err)
			}
			if out := r.stdout + r.stderr; crashed(out) {
				t.Errorf("%s crashed:\n%s", cmdline, out)
			}
			if r.exit != 0 {
				t.Errorf("%s: exit %d, want 0; stderr %q", cmdline, r.exit, r.stderr)
			}
			if limit := toolTimeout + exitSlack; r.elapsed > limit {
				t.Errorf("%s took %v, want at most %v", cmdline, r.elapsed, limit)
			}
			if r.maxRSS > rssLimit {
				t.Errorf("%s: peak resident memory %s, want under %s", cmdline, mib(r.maxRSS), mib(rssLimit))
			}
			for name, s := range map[string]string{"standard output": r.stdout, "standard error": r.stderr} {
				if err := printable(s); err != nil {
					t.Errorf("%s: %s: %v", cmdline, name, err)
				}
			}
			lines := strings.Count(r.stdout, "\n")
			switch {
			case srv.datagrams.Load() == 0:
				t.Errorf("%s: the broadcast never reached the peer", cmdline)
			case e.name == honest.name && lines == 0:
				t.Errorf("%s printed nothing for an honest answer; stderr %q", cmdline, r.stderr)
			}
			t.Logf("figure | %s | rpcinfo -b | exit %d after %v (--timeout %v) | peak RSS %s | %d calls received, %d lines printed",
				e.name, r.exit, r.elapsed.Round(time.Millisecond), toolTimeout, mib(r.maxRSS), srv.datagrams.Load(), lines)
		})
	}
}

// runTool runs a tool mode against the evil server at port.
func runTool(m *maxRSS, bin string, mode toolMode, port int) toolRun {
	uaddr := fmt.Sprintf("127.0.0.1.%d.%d", port>>8, port&0xff)
	args := []string{"--timeout", toolTimeout.String()}
	for _, a := range mode.args {
		a = strings.ReplaceAll(a, "PORT", strconv.Itoa(port))
		args = append(args, strings.ReplaceAll(a, "UADDR", uaddr))
	}
	r := toolRun{mode: mode, args: args}
	ctx, cancel := context.WithTimeout(context.Background(), toolKill)
	defer cancel()
	cmd := exec.Command(bin, args...)
	cmd.Stdin = strings.NewReader(mode.stdin)
	var stdout, stderr capped
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	r.exit, r.maxRSS, r.err = m.run(ctx, cmd, mode.name)
	r.elapsed = time.Since(start)
	r.stdout, r.stderr = stdout.String(), stderr.String()
	return r
}

// checkToolRun holds one run to the bounds: exit status 1 with a clear
// message (0, "ready and waiting", where the mode only pings and the server
// answers pings well), within toolTimeout and exitSlack, under rssLimit, and
// no panic.
func checkToolRun(t *testing.T, e evil, r toolRun) {
	t.Helper()
	cmdline := r.mode.tool + " " + strings.Join(r.args, " ")
	if r.err != nil {
		t.Fatalf("%s: %v", cmdline, r.err)
	}
	t.Logf("%s: exit %d after %v, peak RSS %s; stderr: %q", cmdline, r.exit, r.elapsed.Round(time.Millisecond), mib(r.maxRSS), firstLine(r.stderr))
	if out := r.stdout + r.stderr; crashed(out) {
		t.Errorf("%s crashed:\n%s", cmdline, out)
	}
	if limit := toolTimeout + exitSlack; r.elapsed > limit {
		t.Errorf("%s took %v, want at most %v", cmdline, r.elapsed, limit)
	}
	if r.maxRSS > rssLimit {
		t.Errorf("%s: peak resident memory %s, want under %s", cmdline, mib(r.maxRSS), mib(rssLimit))
	}
	for name, s := range map[string]string{"standard output": r.stdout, "standard error": r.stderr} {
		if err := printable(s); err != nil {
			t.Errorf("%s: %s: %v", cmdline, name, err)
		}
	}
	succeeds := r.mode.nullOnly && e.complete(r.mode.nullNet)
	if succeeds {
		if r.exit != 0 || !strings.Contains(r.stdout, "ready and waiting") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want 0 and ready and waiting (the answer to NULL is well-formed)", cmdline, r.exit, r.stdout, r.stderr)
		}
		return
	}
	if r.exit != 1 {
		t.Errorf("%s: exit %d, want 1; stdout %q, stderr %q", cmdline, r.exit, r.stdout, r.stderr)
	}
	if err := clearMessage(r.mode.tool, r.stderr); err != nil {
		t.Errorf("%s: %v", cmdline, err)
	}
}

// clearMessage checks a failed tool's standard error: one or a few short
// lines that say who speaks and what failed.
func clearMessage(tool, stderr string) error {
	msg := strings.TrimSpace(stderr)
	switch {
	case msg == "":
		return errors.New("failed without a message on standard error")
	case strings.Count(msg, "\n") > 4 || len(msg) > 1024:
		return fmt.Errorf("a message of %d lines, %d bytes: %q", strings.Count(msg, "\n")+1, len(msg), msg)
	case !strings.HasPrefix(msg, tool+": ") && !strings.Contains(msg, "RPC: "):
		return fmt.Errorf("message %q names neither the tool nor the RPC failure", msg)
	}
	return nil
}

// printable checks that s is UTF-8 text without control characters other
// than newline and tab: nothing a hostile server sent reaches a terminal raw.
func printable(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("output is not UTF-8: %q", s)
	}
	for _, c := range s {
		if c != '\n' && c != '\t' && unicode.IsControl(c) {
			return fmt.Errorf("output holds control character %U: %q", c, s)
		}
	}
	return nil
}

// firstLine returns the first line of s.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// capped is a buffer that keeps the first maxToolOutput bytes written to it.
type capped struct{ bytes.Buffer }

func (c *capped) Write(p []byte) (int, error) {
	if room := maxToolOutput - c.Len(); room > 0 {
		c.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
