package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/internal/testsupport"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

// daemon is a portmapd the test started on a loopback port and a socket of
// its own.
type daemon struct {
	proc *testsupport.Proc
	port int
	sock string
}

// startDaemon runs the built portmapd on 127.0.0.1, a free port and a unix
// socket in dir, with extra arguments, and waits until it answers.
func startDaemon(t *testing.T, bin, dir string, args ...string) *daemon {
	t.Helper()
	d := &daemon{port: freePort(t), sock: filepath.Join(dir, "pm.sock")}
	all := append([]string{"--listen", "127.0.0.1", "--port", strconv.Itoa(d.port), "--socket", d.sock}, args...)
	d.proc = testsupport.Start(t, bin, all...)
	d.proc.WaitPort(t, "unix", d.sock)
	d.proc.WaitPort(t, "tcp", d.tcp())
	return d
}

func (d *daemon) tcp() string { return fmt.Sprintf("127.0.0.1:%d", d.port) }

// stop stops the daemon with SIGTERM and requires a clean exit.
func (d *daemon) stop(t *testing.T) {
	t.Helper()
	d.proc.Stop()
	if err := d.proc.Err(); err != nil {
		t.Errorf("portmapd exited with %v after SIGTERM; output:\n%s", err, d.proc.Output())
	}
}

// rpcCall makes one call and returns its results or its error.
func rpcCall(ctx context.Context, network, addr string, vers, proc uint32, args []byte) ([]byte, error) {
	c, err := rpc.Dial(ctx, network, addr, nil)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.Call(ctx, portmap.Program, vers, proc, args)
}

// userDump returns the registrations of the mapper at (network, addr) other
// than its own, by v3 DUMP.
func userDump(t *testing.T, network, addr string) []portmap.RPCB {
	t.Helper()
	d := xdr.NewDecoder(call(t, network, addr, 3, portmap.RpcbDump, nil))
	var out []portmap.RPCB
	for _, r := range portmap.DecodeRPCBList(d, nil, portmap.MaxListEntries) {
		if r.Prog != portmap.Program {
			out = append(out, r)
		}
	}
	if d.Err() != nil {
		t.Fatal(d.Err())
	}
	return out
}

// setOver registers r with a v3 SET over network and reports the answer:
// true, false, or an error.
func setOver(ctx context.Context, network, addr string, proc uint32, r portmap.RPCB) (bool, error) {
	res, err := rpcCall(ctx, network, addr, 3, proc, r.Append(nil))
	if err != nil {
		return false, err
	}
	d := xdr.NewDecoder(res)
	ok := d.Bool()
	return ok, d.Err()
}

// uaddrOf is a wildcard universal address of port.
func uaddrOf(port int) string { return fmt.Sprintf("0.0.0.0.%d.%d", port>>8, port&0xff) }

// TestKill9 registers and unregisters in bursts of concurrent calls, kills
// portmapd with SIGKILL in the middle of a burst, restarts it on the same
// state file, and requires every acknowledged change to be there: every
// acknowledged SET present unless its UNSET was acknowledged too, every
// acknowledged UNSET absent. The state file must load every time (a
// half-written one would stop the start), and no temporary file may
// remain once it has started. Several rounds kill at different moments.
func TestKill9(t *testing.T) {
	bin := filepath.Join(testsupport.BuildGo(t, "./cmd/portmapd"), "portmapd")
	dir := t.TempDir()
	state := filepath.Join(dir, "state", "portmapd.state")
	os.Mkdir(filepath.Dir(state), 0o755)
	const (
		rounds  = 6
		workers = 16
	)
	// What each program must be after a restart: mustHave once its SET is
	// acknowledged, mustNot once its UNSET is, either while an UNSET is
	// under way (it may be on disk without its answer having arrived).
	present := make(map[uint32]ackState)
	var mu sync.Mutex
	prog := uint32(400000)
	for round := range rounds {
		d := startDaemon(t, bin, dir, "--state", state)
		if got := userDump(t, "unix", d.sock); !matches(got, present) {
			t.Fatalf("round %d: after the restart the registry does not hold what was acknowledged:\n%s", round, diff(got, present))
		}
		if tmps, _ := filepath.Glob(state + ".tmp-*"); len(tmps) > 0 {
			t.Errorf("round %d: temporary files left after the start: %v", round, tmps)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		acks := make(chan struct{}, 1<<16)
		for w := range workers {
			wg.Go(func() {
				for n := 0; ctx.Err() == nil; n++ {
					mu.Lock()
					prog++
					p := prog
					mu.Unlock()
					r := portmap.RPCB{Prog: p, Vers: 1, Netid: "udp", Addr: uaddrOf(1000 + w)}
					cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
					ok, err := setOver(cctx, "unix", d.sock, portmap.RpcbSet, r)
					if err == nil && ok {
						mu.Lock()
						present[p] = mustHave
						mu.Unlock()
						acks <- struct{}{}
						if n%4 == 3 {
							mu.Lock()
							present[p] = either
							mu.Unlock()
							ok, err = setOver(cctx, "unix", d.sock, portmap.RpcbUnset, r)
							if err == nil && ok {
								mu.Lock()
								present[p] = mustNot
								mu.Unlock()
							}
						}
					}
					ccancel()
					if err != nil {
						return // the daemon is gone
					}
				}
			})
		}
		// Kill after a number of acknowledgements that differs from round
		// to round, while the workers keep calling.
		want := 20 + rand.IntN(200)
		deadline := time.After(30 * time.Second)
		for got := 0; got < want; got++ {
			select {
			case <-acks:
			case <-deadline:
				t.Fatalf("round %d: only %d registrations acknowledged in 30 s", round, got)
			}
		}
		if err := d.proc.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-d.proc.Done()
		cancel()
		wg.Wait()
	}
	d := startDaemon(t, bin, dir, "--state", state)
	if got := userDump(t, "unix", d.sock); !matches(got, present) {
		t.Fatalf("after the last restart the registry does not hold what was acknowledged:\n%s", diff(got, present))
	}
	kept := 0
	for _, v := range present {
		if v == mustHave {
			kept++
		}
	}
	t.Logf("%d rounds, %d programs registered, %d registrations kept", rounds, len(present), kept)
	d.stop(t)
}

// ackState is what an acknowledged change requires of a program.
type ackState int8

const (
	either   ackState = iota // no requirement: a change is under way
	mustHave                 // its SET was acknowledged
	mustNot                  // its UNSET was acknowledged
)

// matches reports whether a dump holds every acknowledged registration and
// none of the acknowledged removals.
func matches(got []portmap.RPCB, present map[uint32]ackState) bool {
	return diff(got, present) == ""
}

func diff(got []portmap.RPCB, present map[uint32]ackState) string {
	have := make(map[uint32]bool)
	for _, r := range got {
		have[r.Prog] = true
	}
	var b strings.Builder
	for p, want := range present {
		switch {
		case want == mustHave && !have[p]:
			fmt.Fprintf(&b, "program %d: SET acknowledged, missing\n", p)
		case want == mustNot && have[p]:
			fmt.Fprintf(&b, "program %d: UNSET acknowledged, present\n", p)
		}
	}
	return b.String()
}

// TestDiskFull runs portmapd with its state file on a tiny tmpfs, fills the
// file system, and checks that a change is then refused with SYSTEM_ERR,
// that lookups and listings go on, that what was stored survives a
// restart, and that changes work again once there is room.
func TestDiskFull(t *testing.T) {
	if !testsupport.Isolate(t) {
		return
	}
	bin := filepath.Join(testsupport.BuildGo(t, "./cmd/portmapd"), "portmapd")
	mnt := t.TempDir()
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=64k"); err != nil {
		t.Fatalf("mounting a tiny tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(mnt, syscall.MNT_DETACH) })
	state := filepath.Join(mnt, "portmapd.state")
	d := startDaemon(t, bin, t.TempDir(), "--state", state)
	stored := registerSome(t, d, 500000, 5)

	filler := filepath.Join(mnt, "filler")
	if err := fill(filler); err != nil {
		t.Fatal(err)
	}
	stored = append(stored, untilRefused(t, d, 500200)...)
	refusedWhile(t, d, stored, "the disk is full")
	d.stop(t)

	// What was stored survives; the filler is still there.
	d = startDaemon(t, bin, t.TempDir(), "--state", state)
	if got := userDump(t, "tcp", d.tcp()); !sameProgs(got, stored) {
		t.Errorf("after a restart on the full disk: %v, want %v", got, stored)
	}
	refusedWhile(t, d, stored, "the disk is still full")
	os.Remove(filler)
	more := registerSome(t, d, 500100, 1)
	d.stop(t)
	d = startDaemon(t, bin, t.TempDir(), "--state", state)
	if got := userDump(t, "tcp", d.tcp()); !sameProgs(got, append(stored, more...)) {
		t.Errorf("after making room: %v", got)
	}
	d.stop(t)
}

// TestReadOnlyStateDir makes the state file's directory a read-only mount
// under a running portmapd (root ignores file modes, so a read-only bind
// mount is what refuses it): changes are refused with SYSTEM_ERR, lookups
// go on, and once the directory is writable again changes are stored.
func TestReadOnlyStateDir(t *testing.T) {
	if !testsupport.Isolate(t) {
		return
	}
	bin := filepath.Join(testsupport.BuildGo(t, "./cmd/portmapd"), "portmapd")
	dir := t.TempDir()
	state := filepath.Join(dir, "portmapd.state")
	d := startDaemon(t, bin, t.TempDir(), "--state", state)
	stored := registerSome(t, d, 510000, 3)
	testsupport.ReadOnly(t, dir)
	refusedWhile(t, d, stored, "the state directory is read-only")
	d.stop(t)

	// A restart on the read-only directory loads the state and answers.
	d = startDaemon(t, bin, t.TempDir(), "--state", state)
	if got := userDump(t, "tcp", d.tcp()); !sameProgs(got, stored) {
		t.Errorf("after a restart on the read-only directory: %v, want %v", got, stored)
	}
	if err := syscall.Mount("", dir, "", syscall.MS_REMOUNT|syscall.MS_BIND, ""); err != nil {
		t.Fatalf("making %s writable again: %v", dir, err)
	}
	more := registerSome(t, d, 510100, 1)
	d.stop(t)
	d = startDaemon(t, bin, t.TempDir(), "--state", state)
	if got := userDump(t, "tcp", d.tcp()); !sameProgs(got, append(stored, more...)) {
		t.Errorf("after the directory became writable: %v", got)
	}
	d.stop(t)
}

// set registers r with an rpcbind v3 SET over d's unix socket.
func (d *daemon) set(r portmap.RPCB) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return setOver(ctx, "unix", d.sock, portmap.RpcbSet, r)
}

// registerSome registers n programs from base over the unix socket and
// returns them.
func registerSome(t *testing.T, d *daemon, base uint32, n int) []portmap.RPCB {
	t.Helper()
	var out []portmap.RPCB
	for i := range n {
		r := portmap.RPCB{Prog: base + uint32(i), Vers: 1, Netid: "tcp", Addr: uaddrOf(2000 + i)}
		if ok, err := d.set(r); err != nil || !ok {
			t.Fatalf("SET %d: %v, %v", r.Prog, ok, err)
		}
		out = append(out, r)
	}
	return out
}

// untilRefused registers programs from base over the unix socket until a
// SET is refused with SYSTEM_ERR, and returns those acknowledged. On a full
// file system a change record still fits in the room left in the state
// file's last block, and is then stored as any other; the first that needs a
// new block is refused.
func untilRefused(t *testing.T, d *daemon, base uint32) []portmap.RPCB {
	t.Helper()
	// A block of 4 KiB holds about 70 records of these registrations.
	const most = 200
	var out []portmap.RPCB
	for i := range most {
		r := portmap.RPCB{Prog: base + uint32(i), Vers: 1, Netid: "tcp", Addr: uaddrOf(3000 + i)}
		ok, err := d.set(r)
		switch {
		case errors.Is(err, rpc.ErrSystemErr):
			t.Logf("on the full disk, %d more registrations were stored before one was refused", len(out))
			return out
		case err != nil || !ok:
			t.Fatalf("SET %d on the full disk: %v, %v; want true or SYSTEM_ERR", r.Prog, ok, err)
		}
		out = append(out, r)
	}
	t.Fatalf("%d SETs stored on a full disk", most)
	return nil
}

// refusedWhile checks that while the state cannot be written, SET and UNSET
// (v2 and v3) are answered SYSTEM_ERR and change nothing, and that lookups,
// listings and statistics are answered.
func refusedWhile(t *testing.T, d *daemon, stored []portmap.RPCB, why string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, c := range []struct {
		name       string
		vers, proc uint32
		args       []byte
	}{
		{"v3 SET", 3, 1, portmap.RPCB{Prog: 599999, Vers: 1, Netid: "udp", Addr: uaddrOf(999)}.Append(nil)},
		{"v2 SET", 2, 1, portmap.Mapping{Prog: 599998, Vers: 1, Prot: 17, Port: 998}.Append(nil)},
		{"v4 UNSET", 4, 2, portmap.RPCB{Prog: stored[0].Prog, Vers: 1, Netid: "tcp"}.Append(nil)},
		{"v2 UNSET", 2, 2, portmap.Mapping{Prog: stored[0].Prog, Vers: 1}.Append(nil)},
	} {
		_, err := rpcCall(ctx, "unix", d.sock, c.vers, c.proc, c.args)
		if !errors.Is(err, rpc.ErrSystemErr) {
			t.Errorf("%s while %s: %v, want SYSTEM_ERR", c.name, why, err)
		}
	}
	if got := userDump(t, "tcp", d.tcp()); !sameProgs(got, stored) {
		t.Errorf("while %s the registry changed: %v, want %v", why, got, stored)
	}
	res, err := rpcCall(ctx, "udp", d.tcp(), 2, portmap.PmapGetport, portmap.Mapping{Prog: stored[0].Prog, Vers: 1, Prot: 6}.Append(nil))
	if err != nil || xdr.NewDecoder(res).Uint32() != 2000 {
		t.Errorf("GETPORT while %s: %x, %v", why, res, err)
	}
	if _, err := rpcCall(ctx, "tcp", d.tcp(), 4, portmap.RpcbGetstat, nil); err != nil {
		t.Errorf("GETSTAT while %s: %v", why, err)
	}
	if !strings.Contains(d.proc.Output(), "could not be stored") {
		t.Errorf("nothing logged about the refused changes; output:\n%s", d.proc.Output())
	}
}

// sameProgs reports whether got holds exactly the programs of want, in order.
func sameProgs(got, want []portmap.RPCB) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i].Prog != want[i].Prog || got[i].Addr != want[i].Addr {
			return false
		}
	}
	return true
}

// fill writes to path until the file system is full.
func fill(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return nil
			}
			return err
		}
	}
}

// TestCorruptStateFile starts portmapd on a state file that is not one: it
// must refuse to start with an error naming the file and where it was put,
// keep its bytes there, and start empty the next time.
func TestCorruptStateFile(t *testing.T) {
	bin := filepath.Join(testsupport.BuildGo(t, "./cmd/portmapd"), "portmapd")
	dir := t.TempDir()
	state := filepath.Join(dir, "portmapd.state")
	garbage := []byte("this is not a state file\n")
	for _, content := range [][]byte{garbage, nil} {
		os.WriteFile(state, content, 0o600)
		ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
		out, err := exec.CommandContext(ctx, bin, "--listen", "127.0.0.1", "--port", strconv.Itoa(freePort(t)),
			"--no-socket", "--state", state).CombinedOutput()
		cancel()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Fatalf("exit %v with a corrupt state file; output:\n%s", err, out)
		}
		msg := string(out)
		asides, _ := filepath.Glob(state + ".corrupt-*")
		if len(asides) != 1 {
			t.Fatalf("files kept aside: %v", asides)
		}
		for _, want := range []string{"portmapd: server: state file " + state + " is corrupt", asides[0]} {
			if !strings.Contains(msg, want) {
				t.Errorf("output does not say %q:\n%s", want, msg)
			}
		}
		if kept, _ := os.ReadFile(asides[0]); string(kept) != string(content) {
			t.Errorf("kept aside: %q, want %q", kept, content)
		}
		if _, err := os.Stat(state); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the corrupt file is still at %s", state)
		}
		os.Remove(asides[0])
	}
	d := startDaemon(t, bin, dir, "--state", state)
	if got := userDump(t, "tcp", d.tcp()); len(got) != 0 {
		t.Errorf("the next start holds %v", got)
	}
	registerSome(t, d, 520000, 1)
	d.stop(t)
}

// TestRpcbindWarmStart runs Debian's rpcbind -w in the test namespace,
// registers through libtirpc as root and as nobody, stops it with SIGTERM
// so that it writes its warm-start files, then starts portmapd as rpcbind's
// unit file starts rpcbind (-f -w): portmapd must hold the same
// registrations, with their owners, have them in its state file (a restart
// without rpcbind's files keeps them), and have removed rpcbind's files.
func TestRpcbindWarmStart(t *testing.T) {
	if !testsupport.Isolate(t) {
		return
	}
	testsupport.Require(t, "rpcbind")
	bin := filepath.Join(testsupport.BuildGo(t, "./cmd/portmapd"), "portmapd")
	helper := testsupport.BuildC(t, "pmapreg", pmapregSource)
	rb := testsupport.StartRpcbind(t, "-w")
	reg := func(asNobody bool, args ...string) {
		cmd := exec.Command(helper, args...)
		if asNobody {
			testsupport.AsUser(cmd, testsupport.Nobody, testsupport.Nobody)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("pmapreg %v: %v\n%s", args, err, out)
		}
	}
	reg(false, seedArgs(t)...)
	reg(false, "rpcb_set", "100099", "2", "tcp6", "::.16.147", "rpcb_set", "100099", "3", "local", "/run/pmaptest.sock")
	reg(true, "rpcb_set", "300000", "1", "udp", "0.0.0.0.117.48", "pmap_set", "300001", "1", "tcp", "30002")
	want := userDump(t, "unix", "/run/rpcbind.sock")
	rb.Stop()
	for _, f := range []string{"rpcbind.xdr", "portmap.xdr"} {
		if _, err := os.Stat(filepath.Join("/run/rpcbind", f)); err != nil {
			t.Fatalf("rpcbind -w left no %s: %v", f, err)
		}
	}

	start := func() *testsupport.Proc {
		p := testsupport.Start(t, bin, "-f", "-w")
		p.WaitPort(t, "unix", "/run/rpcbind.sock")
		p.WaitPort(t, "tcp", "127.0.0.1:111")
		return p
	}
	pm := start()
	if got := userDump(t, "unix", "/run/rpcbind.sock"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("portmapd -w holds\n%v\nrpcbind held\n%v", got, want)
	}
	for _, f := range []string{"rpcbind.xdr", "portmap.xdr"} {
		if _, err := os.Stat(filepath.Join("/run/rpcbind", f)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s was not removed after the import: %v", f, err)
		}
	}
	pm.Stop()
	if err := pm.Err(); err != nil {
		t.Errorf("portmapd -w exited with %v", err)
	}
	pm = start()
	if got := userDump(t, "unix", "/run/rpcbind.sock"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after a restart from its own state file portmapd holds\n%v\nwant\n%v", got, want)
	}
	pm.Stop()
}

// TestDropPrivileges runs portmapd -w -s as rpcbind's unit would with -s:
// once started it must run as the user (_rpc, whose /run/rpcbind is), with
// no supplementary groups, still answer on port 111, and still store the
// registrations root makes over the unix socket.
func TestDropPrivileges(t *testing.T) {
	if !testsupport.Isolate(t) {
		return
	}
	u, err := user.Lookup("_rpc")
	if err != nil {
		testsupport.Unavailable(t, "needs the user _rpc of Debian's rpcbind package")
	}
	uid, _ := strconv.Atoi(u.Uid)
	bin := filepath.Join(testsupport.BuildGo(t, "./cmd/portmapd"), "portmapd")
	os.MkdirAll("/run/rpcbind", 0o755)
	os.Chown("/run/rpcbind", uid, 0)
	p := testsupport.Start(t, bin, "-f", "-w", "-s")
	p.WaitPort(t, "unix", "/run/rpcbind.sock")
	p.WaitPort(t, "tcp", "127.0.0.1:111")
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid()))
	if err != nil {
		t.Fatal(err)
	}
	fields := make(map[string]string)
	for _, line := range strings.Split(string(status), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			fields[k] = strings.Join(strings.Fields(v), " ")
		}
	}
	if want := fmt.Sprintf("%d %d %d %d", uid, uid, uid, uid); fields["Uid"] != want || fields["Groups"] != "" {
		t.Errorf("running with Uid %q and Groups %q, want %q and none", fields["Uid"], fields["Groups"], want)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r := portmap.RPCB{Prog: 530000, Vers: 1, Netid: "udp", Addr: uaddrOf(3000)}
	if ok, err := setOver(ctx, "unix", "/run/rpcbind.sock", portmap.RpcbSet, r); !ok || err != nil {
		t.Fatalf("SET after dropping privileges: %v, %v; output:\n%s", ok, err, p.Output())
	}
	fi, err := os.Stat("/run/rpcbind/portmapd.state")
	if err != nil || fi.Sys().(*syscall.Stat_t).Uid != uint32(uid) {
		t.Errorf("state file: %v, %v; want it written by _rpc", fi, err)
	}
	if got := userDump(t, "tcp", "127.0.0.1:111"); len(got) != 1 || got[0].Owner != "superuser" {
		t.Errorf("registry: %v", got)
	}
	p.Stop()
	if err := p.Err(); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}

	// A state directory the user cannot write stops the start.
	os.Chown("/run/rpcbind", 0, 0)
	ctx2, cancel2 := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel2()
	out, err := exec.CommandContext(ctx2, bin, "-f", "-w", "-s").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "cannot write the state directory /run/rpcbind") {
		t.Errorf("-s with a directory _rpc cannot write: %v\n%s", err, out)
	}
}
