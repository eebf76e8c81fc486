package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	// startTimeout bounds how long a mapper may take to answer after it
	// starts: both answer within milliseconds.
	startTimeout = 10 * time.Second

	// stopTimeout is how long a mapper has to exit after SIGTERM before it
	// is killed.
	stopTimeout = 5 * time.Second

	// clockTick is the unit of utime and stime in /proc/PID/stat: USER_HZ,
	// 100 on every Linux architecture the project runs on.
	clockTick = 10 * time.Millisecond
)

// mapper is a port mapper process under test.
type mapper struct {
	name   string // "rpcbind" or "portmapd"
	addr   string // host:port for TCP and UDP calls
	cmd    *exec.Cmd
	exited chan error // receives the process's end, once
	stderr bytes.Buffer
}

// startMapper starts argv pinned to cpus (taskset execs the program, so the
// process is the mapper itself) and waits until it answers NULL at addr.
func startMapper(ctx context.Context, name, addr, cpus string, argv ...string) (*mapper, error) {
	m := &mapper{name: name, addr: addr, exited: make(chan error, 1)}
	m.cmd = exec.Command("taskset", append([]string{"-c", cpus}, argv...)...)
	m.cmd.Stderr = &m.stderr
	m.cmd.Stdout = &m.stderr
	if err := m.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	go func() { m.exited <- m.cmd.Wait() }()
	deadline := time.Now().Add(startTimeout)
	for {
		if err := ping(ctx, addr); err == nil {
			return m, nil
		}
		select {
		case err := <-m.exited:
			return nil, fmt.Errorf("%s exited at start (%v): %s", name, err, strings.TrimSpace(m.stderr.String()))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			m.cmd.Process.Kill()
			<-m.exited
			return nil, fmt.Errorf("%s did not answer at %s within %v: %s", name, addr, startTimeout, strings.TrimSpace(m.stderr.String()))
		}
	}
}

// pid returns the mapper's process id.
func (m *mapper) pid() int { return m.cmd.Process.Pid }

// stop ends the mapper: SIGTERM, then SIGKILL after stopTimeout.
func (m *mapper) stop() {
	m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.exited:
	case <-time.After(stopTimeout):
		m.cmd.Process.Kill()
		<-m.exited
	}
}

// statFields returns the fields of /proc/PID/stat after the command name
// (which may hold blanks): state is field 0, utime 11, stime 12.
func statFields(b []byte) []string {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(b[i+1:]))
}

// cpuTime returns the CPU time (user and system, every thread) the process
// has used.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	f := statFields(b)
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("bad /proc stat")
	}
	return time.Duration(u+s) * clockTick, nil
}

// memory returns the process's resident set size and its peak (VmRSS and
// VmHWM of /proc/PID/status), in KiB.
func memory(pid int) (rss, peak int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			rss = n
		case "VmHWM":
			peak = n
		}
	}
	if rss == 0 {
		return 0, 0, errors.New("no VmRSS")
	}
	return rss, peak, nil
}
