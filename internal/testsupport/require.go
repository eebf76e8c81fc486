package testsupport

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// debianPackage names the Debian package that provides each program the
// harness runs, for the message of a test that cannot run without it.
var debianPackage = map[string]string{
	"rpcbind": "rpcbind",
	"rpcinfo": "rpcbind",
	"unshare": "util-linux",
	"mount":   "mount",
	"ip":      "iproute2",
	"nft":     "nftables",
	"cc":      "gcc",
	"nmap":    "nmap",
	"tshark":  "tshark",
	"go":      "Go at /usr/local/go/bin",
}

// Require checks that the test runs as root and that each named program is on
// PATH. When something is missing the test is skipped with a message naming
// it, or fails when the environment variable CI is set: CI must never pass by
// skipping.
func Require(t testing.TB, programs ...string) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, p := range programs {
		if _, err := exec.LookPath(p); err != nil {
			if pkg, ok := debianPackage[p]; ok {
				p += " (" + pkg + ")"
			}
			missing = append(missing, p+" on PATH")
		}
	}
	if len(missing) > 0 {
		Unavailable(t, "needs "+strings.Join(missing, ", ")+"; .ci/run installs the packages")
	}
}

// Unavailable ends a test that cannot run on this machine: a skip with the
// message locally, a failure when the environment variable CI is set.
func Unavailable(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("testsupport: %s (CI is set, so this is a failure, not a skip)", msg)
	}
	t.Skipf("testsupport: %s; skipping (with CI set this fails)", msg)
}
