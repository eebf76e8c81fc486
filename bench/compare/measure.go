package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/portmap-toolkit/pmap/internal/loadgen"
)

// load is one run of the load generator against a mapper.
type load struct {
	Result    loadgen.Result `json:"result"`
	ServerCPU float64        `json:"server_cpu"`    // share of one CPU the mapper used
	ServerUS  float64        `json:"server_us"`     // mapper CPU microseconds per call
	GenCPU    float64        `json:"generator_cpu"` // share of one CPU the generator used
	Command   string         `json:"command"`
}

// loadSpec says what a load row calls.
type loadSpec struct {
	network string // udp or tcp
	proc    string // getport or getaddr
	vers    int    // version of program 100000
}

// runLoad runs pmapload against m for the row and key, and measures the
// mapper's CPU meanwhile.
func (b *bench) runLoad(ctx context.Context, m *mapper, s loadSpec, r *registry) (*load, error) {
	args := []string{
		"-o", "json", "-t", s.network, "-P", s.proc, "-V", strconv.Itoa(s.vers),
		"--prog", strconv.FormatUint(uint64(r.keyProg), 10), "--vers", strconv.FormatUint(uint64(r.keyVers), 10),
		"-c", strconv.Itoa(b.clients), "-d", b.seconds.String(),
	}
	if b.spin {
		args = append(args, "--spin")
	}
	args = append(args, m.addr)
	before, err := cpuTime(m.pid())
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, b.pmapload, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	after, err2 := cpuTime(m.pid())
	l := &load{Command: "pmapload " + strings.Join(args, " ")}
	if jerr := json.Unmarshal(out, &l.Result); jerr != nil {
		return nil, fmt.Errorf("%s: %v %s", l.Command, err, strings.TrimSpace(stderr.String()))
	}
	if err2 != nil {
		return nil, fmt.Errorf("%s exited during the run", m.name)
	}
	res := &l.Result
	if res.Seconds > 0 {
		l.ServerCPU = (after - before).Seconds() / res.Seconds
		l.GenCPU = res.CPUSeconds / res.Seconds
	}
	if res.Calls > 0 {
		l.ServerUS = float64((after-before)/time.Microsecond) / float64(res.Calls)
	}
	if res.Errors+res.Timeouts > 0 || res.Empty > 0 || res.Calls == 0 {
		return l, fmt.Errorf("%s against %s: %d calls, %d errors, %d timeouts, %d empty answers (%s)",
			l.Command, m.name, res.Calls, res.Errors, res.Timeouts, res.Empty, res.FirstError)
	}
	return l, nil
}

// proc is one timed run of a client process.
type proc struct {
	Wall   time.Duration // from fork to exit
	CPU    time.Duration // user and system time of the process
	MaxRSS int64         // peak resident set, KiB
	Lines  int           // lines printed
}

// timeProc runs argv once (pinned, like the orchestrator, to the client
// CPUs) and measures it; a non-zero exit is an error.
func timeProc(ctx context.Context, stdin string, argv ...string) (proc, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	p := proc{Wall: time.Since(start), Lines: bytes.Count(stdout.Bytes(), []byte{'\n'})}
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			p.MaxRSS = ru.Maxrss
			p.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	if err != nil {
		return p, fmt.Errorf("%s: %v: %s", strings.Join(argv, " "), err, firstLine(stderr.String()+stdout.String()))
	}
	return p, nil
}

// firstLine returns the first line of s.
func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
