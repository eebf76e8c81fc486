package testsupport

import (
	"fmt"
	"net/netip"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// ipv4HeaderLen is the header of every IPv4 packet the test namespace sends or
// receives (no options): nftables counts whole packets, UDPCounter reports IP
// payload (the UDP header and what it carries).
const ipv4HeaderLen = 20

// counterTables numbers the nftables tables CountUDP makes in this process.
var counterTables atomic.Int64

// UDPCounter counts, with nftables counters in the test namespace, the UDP
// datagrams sent to one port of a peer and those coming back from it: a count
// made by the kernel, independent of what the program under test reports.
type UDPCounter struct {
	table string
}

// CountUDP starts counting the IPv4 UDP traffic to port of peer and back. The
// counters live in an nftables table of their own, removed when the test
// ends. It must run inside Isolate.
func CountUDP(t testing.TB, peer netip.Addr, port int) *UDPCounter {
	t.Helper()
	mustBeInside(t, "CountUDP")
	Require(t, "nft")
	c := &UDPCounter{table: fmt.Sprintf("pmap_count_%d", counterTables.Add(1))}
	script := fmt.Sprintf(`table inet %[1]s {
	counter req { }
	counter rep { }
	chain out {
		type filter hook output priority filter; policy accept;
		ip daddr %[2]s udp dport %[3]d counter name "req"
	}
	chain in {
		type filter hook input priority filter; policy accept;
		ip saddr %[2]s udp sport %[3]d counter name "rep"
	}
}
`, c.table, peer, port)
	c.nft(t, script, "-f", "-")
	t.Cleanup(func() { c.nft(t, "", "delete", "table", "inet", c.table) })
	return c
}

func (c *UDPCounter) nft(t testing.TB, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command("nft", args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("testsupport: nft %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

var nftCounts = regexp.MustCompile(`packets (\d+) bytes (\d+)`)

// Take returns the datagrams and IP payload bytes each way since the last
// Take (or the start), and resets the counters.
func (c *UDPCounter) Take(t testing.TB) (reqPkts, reqBytes, repPkts, repBytes int) {
	t.Helper()
	read := func(name string) (int, int) {
		out := c.nft(t, "", "reset", "counter", "inet", c.table, name)
		m := nftCounts.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("testsupport: nft counter %s: %q", name, out)
		}
		p, _ := strconv.Atoi(m[1])
		b, _ := strconv.Atoi(m[2])
		return p, b - ipv4HeaderLen*p
	}
	reqPkts, reqBytes = read("req")
	repPkts, repBytes = read("rep")
	return
}
