package testsupport

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
)

// silenceTables numbers the nftables tables Silence makes in this process.
var silenceTables atomic.Int64

// Silence makes the test namespace drop, without an answer, every packet that
// arrives for port over proto ("udp", "tcp", or "" for both); port 0 means
// every port. A UDP sender then gets no ICMP "port unreachable" and a TCP
// connect gets no RST: the port behaves like a host that is down or behind a
// firewall. The rule is an nftables table of its own, removed when the test
// ends. Silence must run inside Isolate.
func Silence(t testing.TB, proto string, port int) {
	t.Helper()
	mustBeInside(t, "Silence")
	silence(t, nil, proto, port)
}

// Silence makes the host drop what arrives for port over proto, like the
// function Silence. Silence(t, "", 0) makes the whole host silent (it still
// answers ARP).
func (h *Host) Silence(t testing.TB, proto string, port int) {
	t.Helper()
	silence(t, h, proto, port)
}

// silence installs the drop rule in host's namespace (nil: the test namespace).
func silence(t testing.TB, host *Host, proto string, port int) {
	t.Helper()
	Require(t, "nft")
	var match string
	switch proto {
	case "udp", "tcp":
		match = "meta l4proto " + proto
	case "":
		match = "meta l4proto { tcp, udp }"
	default:
		t.Fatalf("testsupport: Silence: protocol %q is neither udp, tcp nor empty", proto)
	}
	switch {
	case port < 0 || port > 65535:
		t.Fatalf("testsupport: Silence: port %d out of range", port)
	case port > 0:
		match += fmt.Sprintf(" th dport %d", port)
	case proto == "":
		match = "" // everything
	}
	table := fmt.Sprintf("pmap_silence_%d", silenceTables.Add(1))
	script := fmt.Sprintf("table inet %s {\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n\t\t%s drop\n\t}\n}\n", table, match)
	nft := func(stdin string, args ...string) error {
		cmd := host.command("nft", args...)
		cmd.Stdin = strings.NewReader(stdin)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("nft %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	if err := nft(script, "-f", "-"); err != nil {
		t.Fatalf("testsupport: %v", err)
	}
	t.Cleanup(func() {
		if err := nft("", "delete", "table", "inet", table); err != nil {
			t.Errorf("testsupport: %v", err)
		}
	})
}
