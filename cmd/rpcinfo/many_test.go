package main

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/internal/testsupport"
)

// TestScan checks listings of many hosts: a scan of 1,024 silent loopback
// addresses and a piece of the bridge, where Debian's rpcbind and portmapd
// run in two peers and a third peer drops everything, takes about one
// timeout and finds both mappers; named hosts are asked whatever the sweep
// finds; the answers come in the order given, labelled, as JSON lines with
// -o json; and the progress bar shows on demand only.
func TestScan(t *testing.T) {
	if !testsupport.Isolate(t) {
		return
	}
	// What arrives for udp 111 in the test namespace is dropped: the
	// loopback addresses of the range are silent, not refused.
	testsupport.Silence(t, "udp", 111)
	p1 := testsupport.Peer(t, "rpcbind")
	p1.StartRpcbind(t)
	newPeerMapper(t, p1).set(progDead, 1, portDead, "udp", "tcp")
	p2 := testsupport.Peer(t, "portmapd")
	startPortmapd(t, p2)
	p3 := testsupport.Peer(t, "down")
	p3.Silence(t, "", 0)
	a1, a2, a3 := p1.Addr.String(), p2.Addr.String(), p3.Addr.String()
	const timeout = 2 * time.Second
	within := func(took time.Duration) bool {
		return took >= timeout-100*time.Millisecond && took < timeout+1500*time.Millisecond
	}

	// 1,032 addresses, two of which have a port mapper.
	start := time.Now()
	res := runOurs(t, nil, "-s", "-o", "json", "--timeout", timeout.String(), "127.1.0.0/22,192.0.2.0/29")
	took := time.Since(start)
	t.Logf("the scan of 1,032 addresses took %v", took)
	if !within(took) {
		t.Errorf("the scan of 1,032 addresses took %v, want about %v", took, timeout)
	}
	docs := decodeLines(t, res.out)
	if res.rc != 0 || res.err != "" || len(docs) != 2 {
		t.Fatalf("scan: want two JSON lines: %v", res)
	}
	if strings.Count(res.out, "\n") != 2 {
		t.Errorf("not one document a line:\n%s", res.out)
	}
	for i, want := range []string{a1, a2} {
		if docs[i]["host"] != want || docs[i]["kind"] != "summary" {
			t.Errorf("line %d: %v, want the summary of %s", i, docs[i], want)
		}
	}
	if !strings.Contains(res.out, fmt.Sprint(progDead)) {
		t.Errorf("the registration of %s is missing:\n%s", a1, res.out)
	}

	// Named hosts are asked even if they do not answer: the silent one
	// fails after its timeout, alongside the sweep.
	start = time.Now()
	res = runOurs(t, nil, "-p", "--timeout", timeout.String(), "127.1.0.0/22", a3+","+a1, a2+"/32")
	took = time.Since(start)
	t.Logf("the scan with a silent named host took %v; it printed:\n%s", took, res)
	if !within(took) {
		t.Errorf("the scan with a silent named host took %v, want about %v", took, timeout)
	}
	header := "   program vers proto   port  service\n"
	if res.rc != 1 || !strings.HasPrefix(res.out, a1+":\n"+header) || !strings.Contains(res.out, "\n\n"+a2+":\n"+header) ||
		strings.Contains(res.out, a3) {
		t.Errorf("-p of many hosts: %v", res)
	}
	if lines := strings.Split(strings.TrimSuffix(res.err, "\n"), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], a3+": ") {
		t.Errorf("the failure of %s is not one labelled line: %q", a3, res.err)
	}

	// JSON lines: one per named host, an error document for the failure.
	res = runOurs(t, nil, "-m", "-o", "json", "--timeout", "1s", a1+","+a3)
	docs = decodeLines(t, res.out)
	if res.rc != 1 || len(docs) != 2 || docs[0]["kind"] != "statistics" || docs[1]["kind"] != "error" ||
		docs[1]["host"] != a3 || !strings.HasPrefix(docs[1]["error"].(string), "rpcinfo: can't contact rpcbind") {
		t.Errorf("-m -o json of a live and a silent host: %v", res)
	}

	// The other listings, and --verify of each host.
	for _, args := range [][]string{{a1 + "," + a2}, {"-l", a1 + "," + a2, "100000", "2"}, {"-o", "table", "-s", a1 + "," + a2}} {
		res = runOurs(t, nil, args...)
		if res.rc != 0 || res.err != "" || !strings.HasPrefix(res.out, a1+":\n") || !strings.Contains(res.out, "\n\n"+a2+":\n") {
			t.Errorf("rpcinfo %q: %v", args, res)
		}
	}
	res = runOurs(t, nil, "--verify", "-o", "json", "--timeout", "1s", a1+","+a2)
	docs = decodeLines(t, res.out)
	if res.rc != 1 || len(docs) != 2 || docs[0]["alive"] != false || docs[1]["alive"] != true {
		t.Errorf("--verify of two hosts, one with a dead registration: %v", res)
	}

	// A progress bar only when asked (standard error is no terminal here).
	res = runOurs(t, nil, "-s", "--progress", "always", "--timeout", "1s", "127.1.0.0/24,"+a1)
	if res.rc != 0 || !strings.Contains(res.err, "\r\x1b[K") || !strings.Contains(res.err, "/257 hosts") ||
		strings.Contains(res.out, "\x1b") || !strings.HasSuffix(res.err, "\r\x1b[K") {
		t.Errorf("--progress always: %q", res.err)
	}
	if res = runOurs(t, nil, "-s", "--timeout", "1s", "127.1.0.0/24"); res.rc != 1 || res.err != "" || res.out != "" {
		t.Errorf("a scan that finds nothing: %v", res)
	}
}

func TestManyArgs(t *testing.T) {
	tests := []struct {
		args []string
		err  string
	}{
		{[]string{"-s", "10.0.0.0/19"}, "rpcinfo: range 10.0.0.0/19 is wider than 4096 addresses (a /20 of IPv4)\n"},
		{[]string{"-p", "a,,b"}, "rpcinfo: empty host in \"a,,b\"\n"},
		{[]string{"--parallel", "0", "-s"}, "rpcinfo: invalid value 0 for --parallel: want 1 to 50\n"},
		{[]string{"--progress", "sometimes", "-s"}, "rpcinfo: invalid value \"sometimes\" for --progress: want auto, always or never\n"},
		{[]string{"--verify", "-m", "a,b"}, "rpcinfo: --verify checks the registrations of a listing: use it without a mode, or with -s, -p or -l\n"},
	}
	for _, tt := range tests {
		out, errs, rc := runArgs(t, nil, tt.args...)
		if rc != 1 || out != "" || errs != tt.err {
			t.Errorf("%q: rc %d, stdout %q, stderr %q, want %q", tt.args, rc, out, errs, tt.err)
		}
	}
}

func TestLabelLines(t *testing.T) {
	got := string(labelLines("h", []byte("one\nh: two\nthree")))
	if want := "h: one\nh: two\nh: three\n"; got != want {
		t.Errorf("labelLines = %q, want %q", got, want)
	}
}

func TestProgress(t *testing.T) {
	var b syncBuffer
	p := newProgress(&b, 4)
	p.done()
	p.done()
	p.answered()
	time.Sleep(progressDelay + 2*progressTick)
	p.pause(func() { b.WriteString("RESULT\n") })
	p.finish()
	out := b.String()
	for _, want := range []string{"\r\x1b[Krpcinfo: [###############...............] 2/4 hosts, 1 answering, ", "\r\x1b[KRESULT\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("progress output lacks %q: %q", want, out)
		}
	}
	if !strings.HasSuffix(out, "\r\x1b[K") {
		t.Errorf("the bar is not cleared at the end: %q", out)
	}
	var nilBar *progress
	nilBar.done()
	nilBar.answered()
	ran := false
	nilBar.pause(func() { ran = true })
	nilBar.finish()
	if !ran {
		t.Error("a nil bar does not run the writes it pauses for")
	}
}

// syncBuffer is a bytes.Buffer safe for the bar's goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) WriteString(str string) {
	s.Write([]byte(str))
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
