// Command compare runs the side-by-side comparisons of docs/performance.md
// (issue #10): the toolkit's portmapd, rpcinfo and pmapset against Debian's
// rpcbind, rpcinfo and a libtirpc pmap_set loop, in the same invocation, on
// the same CPUs, over several rounds, with the reference also run against
// itself to show the noise.
//
// It must run as PID 1 of private network, mount and pid namespaces, where
// port 111 and /run are its own; bench/compare.sh starts it so, pinned to the
// client CPUs. It starts every mapper it measures and stops them all before
// it exits; the namespace ends with it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	// maxRounds and maxSeconds bound a run of the harness: with every row,
	// 20 rounds of 30-second loads would still end within the hour.
	maxRounds  = 20
	maxSeconds = 30 * time.Second

	// maxRuns bounds the runs of a process per side and round.
	maxRuns = 200

	// wholeRun bounds the whole harness, whatever its flags.
	wholeRun = time.Hour

	// ourPort is where portmapd listens while rpcbind holds 111, so that
	// both can be measured in the same rounds.
	ourPort = 1111
	// ourSeedPort is where a second portmapd holds the seed registry while
	// the large one is measured, for the keep of the large rows.
	ourSeedPort = 1112

	// refAddr and ourAddr are the mappers' addresses in the namespace.
	refAddr = "127.0.0.1:111"
)

var (
	ourAddr     = "127.0.0.1:" + strconv.Itoa(ourPort)
	ourSeedAddr = "127.0.0.1:" + strconv.Itoa(ourSeedPort)
)

// bench is one invocation of the harness.
type bench struct {
	repo       string        // the repository: bin/, testdata/
	work       string        // scratch files
	pmapload   string        // the load generator
	loopHelper string        // pmapsetloop, "" when it could not be built
	rounds     int           // rounds of every comparison
	seconds    time.Duration // of each load run
	runs       int           // runs of a process per side and round
	clients    int           // concurrent clients of the load runs
	serverCPUs string        // taskset list for the mappers
	spin       bool          // pmapload --spin
	only       string        // run only rows whose name contains this

	rpcbind, rpcinfo                 string // the reference's binaries
	portmapd, ourRpcinfo, ourPmapset string // ours, "" when not built
	skipped                          []string
	rows                             []*row
	log                              io.Writer
}

func main() {
	b := &bench{log: os.Stderr}
	var jsonOut string
	flag.StringVar(&b.repo, "repo", ".", "the repository's root")
	flag.StringVar(&b.work, "work", os.TempDir(), "directory for scratch files")
	flag.StringVar(&b.pmapload, "pmapload", "", "the load generator binary")
	flag.StringVar(&b.loopHelper, "pmapsetloop", "", "the libtirpc pmap_set loop binary (empty: not built)")
	flag.IntVar(&b.rounds, "rounds", 5, "rounds of each comparison")
	flag.DurationVar(&b.seconds, "seconds", 2*time.Second, "duration of each load run")
	flag.IntVar(&b.runs, "runs", 20, "runs of a client process per side and round")
	flag.IntVar(&b.clients, "clients", 16, "concurrent clients of each load run")
	flag.StringVar(&b.serverCPUs, "server-cpus", "1", "CPUs the mappers are pinned to (taskset -c)")
	flag.BoolVar(&b.spin, "spin", false, "run the load generator with --spin")
	flag.StringVar(&b.only, "only", "", "run only the rows whose name contains this")
	flag.StringVar(&jsonOut, "json", "", "write every measurement to this file")
	flag.Parse()
	if err := b.run(jsonOut); err != nil {
		fmt.Fprintf(os.Stderr, "compare: %v\n", err)
		os.Exit(1)
	}
}

func (b *bench) run(jsonOut string) error {
	switch {
	case os.Getpid() != 1:
		return errors.New("not PID 1 of a private namespace: run bench/compare.sh")
	case b.rounds < 1 || b.rounds > maxRounds:
		return fmt.Errorf("-rounds %d: want 1 to %d", b.rounds, maxRounds)
	case b.seconds <= 0 || b.seconds > maxSeconds:
		return fmt.Errorf("-seconds %v: want up to %v", b.seconds, maxSeconds)
	case b.runs < 1 || b.runs > maxRuns:
		return fmt.Errorf("-runs %d: want 1 to %d", b.runs, maxRuns)
	case b.pmapload == "":
		return errors.New("-pmapload: the load generator is needed")
	}
	if err := setupNamespace(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), wholeRun)
	defer cancel()
	b.detect()
	seedList, err := readSeed(filepath.Join(b.repo, "testdata", "seed-registrations.txt"))
	if err != nil {
		return err
	}
	seed, big := seedRegistry(seedList), bigRegistry(seedList)
	for _, r := range []*registry{seed, big} {
		if err := r.writeFile(filepath.Join(b.work, "registry-"+r.name+".txt")); err != nil {
			return err
		}
	}
	b.printf("machine: %d CPUs (%s); mappers on CPUs %s, clients on %s; %d rounds, %v loads, %d clients, %d process runs per side and round",
		onlineCPUs(), cpuModel(), b.serverCPUs, clientCPUs(), b.rounds, b.seconds, b.clients, b.runs)

	if b.rpcbind == "" {
		b.skipped = append(b.skipped, "every rpcbind comparison: Debian's rpcbind is not installed (apt-get install rpcbind)")
	} else {
		for _, r := range []*registry{seed, big} {
			b.mapperRows(ctx, r, seed)
		}
		b.pmapsetRows(ctx, big)
		b.scanRow(ctx, seed)
	}

	fmt.Println()
	writeTable(os.Stdout, b.rows)
	fmt.Println()
	writeNotes(os.Stdout, b.rows)
	for _, s := range b.skipped {
		fmt.Printf("- skipped: %s\n", s)
	}
	if jsonOut != "" {
		out, err := json.MarshalIndent(b.rows, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(jsonOut, out, 0o644); err != nil {
			return err
		}
	}
	failed := 0
	for _, r := range b.rows {
		if r.Failed != "" {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d rows could not be measured (see the notes)", failed, len(b.rows))
	}
	return nil
}

// printf writes a line of progress.
func (b *bench) printf(format string, args ...any) {
	fmt.Fprintf(b.log, "compare: "+format+"\n", args...)
}

// wanted reports whether the row named name is to be run.
func (b *bench) wanted(name string) bool {
	return b.only == "" || strings.Contains(name, b.only)
}

// detect finds the reference's binaries and ours, noting what is missing.
func (b *bench) detect() {
	b.rpcbind = executable("/usr/sbin/rpcbind")
	b.rpcinfo = executable("/usr/sbin/rpcinfo")
	bin := filepath.Join(b.repo, "bin")
	b.portmapd = executable(filepath.Join(bin, "portmapd"))
	b.ourRpcinfo = executable(filepath.Join(bin, "rpcinfo"))
	b.ourPmapset = executable(filepath.Join(bin, "pmapset"))
	if b.rpcinfo == "" {
		b.skipped = append(b.skipped, "rpcinfo rows: Debian's rpcinfo is not installed (apt-get install rpcbind)")
	}
	if b.loopHelper == "" {
		b.skipped = append(b.skipped, "pmapset rows: the libtirpc pmap_set loop was not built (needs cc and libtirpc-dev)")
	}
}

// executable returns path if it is an executable file, else "".
func executable(path string) string {
	if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
		return path
	}
	return ""
}

// notBuilt is why one of our binaries is missing.
func notBuilt(name string) string {
	return "bin/" + name + " is not built yet (make build)"
}

// setupNamespace makes /run a private tmpfs with rpcbind's state
// directory, and brings the loopback up. It refuses a namespace with any
// interface but the loopback: the load must not leave the machine.
func setupNamespace() error {
	if err := syscall.Mount("tmpfs", "/run", "tmpfs", 0, "mode=755"); err != nil {
		return fmt.Errorf("mount tmpfs on /run: %w", err)
	}
	state := "/run/rpcbind"
	if err := os.Mkdir(state, 0o700); err != nil {
		return err
	}
	if u, err := user.Lookup("_rpc"); err == nil {
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(state, uid, gid); err != nil {
			return err
		}
	}
	if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		return fmt.Errorf("ip link set lo up: %v: %s", err, out)
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return err
	}
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback == 0 {
			return fmt.Errorf("interface %s in the namespace: the harness runs only where the loopback is all there is", i.Name)
		}
	}
	return nil
}

// onlineCPUs returns the machine's CPUs (runtime.NumCPU counts only those
// this process may use).
func onlineCPUs() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return strings.Count(string(b), "\nprocessor\t") + btoi(strings.HasPrefix(string(b), "processor\t"))
}

func btoi(v bool) int {
	if v {
		return 1
	}
	return 0
}

// cpuModel returns the CPU's model name from /proc/cpuinfo.
func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown model"
}

// clientCPUs returns the CPUs this process (and so every client it starts)
// may run on.
func clientCPUs() string {
	out, err := exec.Command("taskset", "-cp", strconv.Itoa(os.Getpid())).Output()
	if err != nil {
		return "?"
	}
	s := strings.TrimSpace(string(out))
	if i := strings.LastIndex(s, ": "); i >= 0 {
		return s[i+2:]
	}
	return s
}
