package client

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/internal/testsupport"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

// envChild makes the test binary act as a small program instead of running
// tests: "set" or "unset" an rpcb through the local mapper's socket, with the
// rpcb in envChildArgs as "vers|prog|rvers|netid|addr". The interop test runs
// it under another uid (testsupport.AsUser) to be a non-root caller.
const (
	envChild     = "PMAP_CLIENT_TEST_CHILD"
	envChildArgs = "PMAP_CLIENT_TEST_CHILD_ARGS"
)

func TestMain(m *testing.M) {
	if op := os.Getenv(envChild); op != "" {
		os.Exit(childMain(op, os.Getenv(envChildArgs), os.Stdout, os.Stderr))
	}
	os.Exit(testsupport.Main(m))
}

// childMain is the child's program: it prints the mapper's answer, "true" or
// "false", and returns 0, or prints the error and returns 2.
func childMain(op, args string, stdout, stderr io.Writer) int {
	f := strings.Split(args, "|")
	if len(f) != 5 {
		fmt.Fprintf(stderr, "child: want 5 fields in %q\n", args)
		return 2
	}
	var n [3]uint64
	for i := range n {
		v, err := strconv.ParseUint(f[i], 10, 32)
		if err != nil {
			fmt.Fprintf(stderr, "child: %v\n", err)
			return 2
		}
		n[i] = v
	}
	r := portmap.RPCB{Prog: uint32(n[1]), Vers: uint32(n[2]), Netid: f[3], Addr: f[4]}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := Local(nil)
	defer c.Close()
	var ok bool
	var err error
	switch op {
	case "set":
		ok, err = c.RpcbSet(ctx, uint32(n[0]), r)
	case "unset":
		ok, err = c.RpcbUnset(ctx, uint32(n[0]), r)
	default:
		err = fmt.Errorf("child: unknown operation %q", op)
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	fmt.Fprintln(stdout, ok)
	return 0
}

// childBinary copies the test binary where any user can run it (the build
// directory of go test is private to root) and returns its path.
func childBinary(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "pmap-client-child-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "client.test")
	if err := os.WriteFile(out, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return out
}
