package testsupport

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// envBinDir names the directory Main makes for the binaries of one test run;
// processes Isolate starts inherit it, so each binary is built once per run.
const envBinDir = "PMAP_TEST_BINDIR"

// tirpcHeader shows that libtirpc-dev is installed.
const tirpcHeader = "/usr/include/tirpc/rpc/rpc.h"

// builds holds, per output file, the result of building it in this process,
// so parallel tests build each binary once.
var builds sync.Map // string (output path) -> *build

type build struct {
	what string // the package path or C source it is built from
	once sync.Once
	err  error
}

// moduleRoot finds the directory of the main module's go.mod, once.
var moduleRoot = sync.OnceValues(func() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside a Go module (go env GOMOD printed %q)", mod)
	}
	return filepath.Dir(mod), nil
})

// Main runs a package's tests with a shared directory for the binaries BuildGo
// and BuildC make, so that each is built once per test run rather than once
// per test (each Isolate'd test is a process of its own). Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(testsupport.Main(m)) }
//
// Without it, BuildGo and BuildC build into a directory of the calling test.
func Main(m *testing.M) int {
	if os.Getenv(envBinDir) != "" {
		return m.Run() // a child of a run that made the directory
	}
	sweepBinDirs()
	dir, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", binDirPrefix, os.Getpid()))
	if err == nil {
		err = os.Chmod(dir, 0o755)
	}
	if err == nil {
		err = os.Setenv(envBinDir, dir)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "testsupport: making the binaries directory: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	return m.Run()
}

// binDirPrefix starts the names of Main's directories, followed by the
// process id of the run that made it.
const binDirPrefix = "pmap-testbin-"

// sweepBinDirs removes the directories of earlier runs whose process is gone:
// a test binary killed (by a timeout, say) never reaches its deferred
// removal.
func sweepBinDirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), binDirPrefix+"*"))
	for _, dir := range dirs {
		pid, _, ok := strings.Cut(strings.TrimPrefix(filepath.Base(dir), binDirPrefix), "-")
		if _, err := strconv.Atoi(pid); !ok || err != nil {
			continue
		}
		if _, err := os.Stat("/proc/" + pid); errors.Is(err, fs.ErrNotExist) {
			os.RemoveAll(dir)
		}
	}
}

// BuildGo builds the main packages pkgs, given as paths relative to the
// module root ("./cmd/rpcinfo"), and returns the directory holding the
// binaries, each named after the last element of its package path. Each
// binary is built once per run under Main, once per call otherwise. The
// directory can be read and searched by every user, so AsUser children can
// run what is in it.
func BuildGo(t testing.TB, pkgs ...string) string {
	t.Helper()
	Require(t, "go")
	root, err := moduleRoot()
	if err != nil {
		t.Fatalf("testsupport: %v", err)
	}
	dir := binDir(t)
	for _, pkg := range pkgs {
		out := filepath.Join(dir, path.Base(pkg))
		err := buildOnce(out, pkg, func(tmp string) error {
			cmd := exec.Command("go", "build", "-o", tmp, pkg)
			cmd.Dir = root
			return run(cmd)
		})
		if err != nil {
			t.Fatalf("testsupport: building %s: %v", pkg, err)
		}
	}
	return dir
}

// BuildC compiles the C program source, linked with libtirpc, and returns the
// path of the executable, which every user can run. name is a short name for
// it; the same name and source are compiled once per run under Main.
func BuildC(t testing.TB, name, source string) string {
	t.Helper()
	Require(t, "cc")
	if _, err := os.Stat(tirpcHeader); err != nil {
		Unavailable(t, "needs libtirpc-dev ("+tirpcHeader+" is missing); .ci/run installs it")
	}
	sum := sha256.Sum256([]byte(source))
	out := filepath.Join(binDir(t), name+"-"+hex.EncodeToString(sum[:6]))
	err := buildOnce(out, source, func(tmp string) error {
		src := tmp + ".c"
		if err := os.WriteFile(src, []byte(source), 0o644); err != nil {
			return err
		}
		return run(exec.Command("cc", "-Wall", "-O1", "-I/usr/include/tirpc", "-o", tmp, src, "-ltirpc"))
	})
	if err != nil {
		t.Fatalf("testsupport: compiling %s: %v", name, err)
	}
	return out
}

// binDir returns the directory Main made, or a new world-readable directory
// removed when the test ends.
func binDir(t testing.TB) string {
	t.Helper()
	if dir := os.Getenv(envBinDir); dir != "" {
		return dir
	}
	dir, err := os.MkdirTemp("", "pmap-testbin-test-")
	if err == nil {
		err = os.Chmod(dir, 0o755)
	}
	if err != nil {
		t.Fatalf("testsupport: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// buildOnce makes out from what (a package path, a C source) by calling
// produce with a temporary output path, once per process, and not at all if
// out exists: another process of the same run (an Isolate'd test) built it.
// The result is renamed into place, so no process sees a half-written
// binary.
func buildOnce(out, what string, produce func(tmp string) error) error {
	v, _ := builds.LoadOrStore(out, &build{what: what})
	b := v.(*build)
	if b.what != what {
		return fmt.Errorf("%s would also be built from %s", out, b.what)
	}
	b.once.Do(func() {
		if _, err := os.Stat(out); err == nil {
			return
		}
		tmp, err := os.MkdirTemp(filepath.Dir(out), ".build-")
		if err != nil {
			b.err = err
			return
		}
		defer os.RemoveAll(tmp)
		bin := filepath.Join(tmp, filepath.Base(out))
		if b.err = produce(bin); b.err == nil {
			b.err = os.Rename(bin, out)
		}
	})
	return b.err
}

// run runs cmd and returns its output with the error if it fails.
func run(cmd *exec.Cmd) error {
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
	}
	return nil
}
