package testsupport

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"
)

// silentAfter is how long a probe waits for an answer before calling a port
// silent: a refusal on one machine comes back in microseconds.
const silentAfter = 300 * time.Millisecond

// reach reports how a port with no listener answers: "refused" or "silent".
func reach(network string, addr netip.AddrPort) string {
	c, err := net.DialTimeout(network, addr.String(), silentAfter)
	if err == nil && network == "udp" {
		c.SetDeadline(time.Now().Add(silentAfter))
		if _, err = c.Write([]byte("x")); err == nil {
			_, err = c.Read(make([]byte, 1))
		}
	}
	if c != nil {
		c.Close()
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, os.ErrDeadlineExceeded), err != nil && err.(net.Error).Timeout():
		return "silent"
	}
	return fmt.Sprintf("answered (%v)", err)
}

func TestSilence(t *testing.T) {
	t.Parallel()
	if !Isolate(t) {
		return
	}
	loopback := netip.MustParseAddr("127.0.0.1")
	tests := []struct {
		network string
		proto   string // Silence's argument
		port    int
		probe   uint16
		want    string
	}{
		{"udp", "udp", 111, 111, "silent"},
		{"udp", "udp", 111, 112, "refused"}, // only the port named
		{"udp", "tcp", 111, 111, "refused"}, // only the protocol named
		{"tcp", "tcp", 111, 111, "silent"},
		{"tcp", "", 111, 111, "silent"},
		{"udp", "", 111, 111, "silent"},
		{"udp", "udp", 0, 2049, "silent"}, // every port
		{"tcp", "", 0, 2049, "silent"},
	}
	for _, tc := range tests {
		silenced := tc.proto
		if silenced == "" {
			silenced = "both"
		}
		name := fmt.Sprintf("%s_%d/%s_%d", silenced, tc.port, tc.network, tc.probe)
		target := netip.AddrPortFrom(loopback, tc.probe)
		if got := reach(tc.network, target); got != "refused" {
			t.Fatalf("%s before Silence: %s, want refused", name, got)
		}
		t.Run(name, func(t *testing.T) {
			Silence(t, tc.proto, tc.port)
			if got := reach(tc.network, target); got != tc.want {
				t.Errorf("%s %v: %s, want %s", tc.network, target, got, tc.want)
			}
		})
		if got := reach(tc.network, target); got != "refused" {
			t.Errorf("%s after the subtest: %s, want refused again", name, got)
		}
	}

	t.Run("a silent peer", func(t *testing.T) {
		h := Peer(t, "quiet")
		target := netip.AddrPortFrom(h.Addr, 111)
		if got := reach("tcp", target); got != "refused" {
			t.Fatalf("peer before Silence: %s, want refused", got)
		}
		h.Silence(t, "", 0)
		for _, network := range []string{"tcp", "udp"} {
			if got := reach(network, target); got != "silent" {
				t.Errorf("silent peer over %s: %s", network, got)
			}
		}
		// The rule is the peer's: the test namespace still refuses.
		if got := reach("tcp", netip.AddrPortFrom(LocalAddr, 111)); got != "refused" {
			t.Errorf("test namespace after silencing the peer: %s, want refused", got)
		}
	})
}
