package server

import (
	"net"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

// maxUDPLookupAllocs bounds the allocations of a lookup over UDP, server
// and client side together: each one is work for the collector, whose
// marking grows with the registry (docs/performance.md, "What bounds each
// figure"). golang.org/x/net's control-message reads and writes took 29; the
// reader's reused Request and addresses (rpc's dgramCall) and the lookups'
// Decoders on the stack took the last 6.
const maxUDPLookupAllocs = 0

// TestUDPLookupAllocs counts the allocations of a GETPORT and a GETADDR over
// UDP on a socket bound to the wildcard address (the destination read from
// IP_PKTINFO, the reply sent from it) and on one bound to 127.0.0.1.
func TestUDPLookupAllocs(t *testing.T) {
	ts := startServer(t, nil)
	ts.srv.Registry().Set(portmap.RPCB{Prog: 100003, Vers: 3, Netid: "udp", Addr: "0.0.0.0.8.1", Owner: OwnerUnknown})
	wild, err := net.ListenPacket("udp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	go ts.srv.ServePacket(wild)
	lookups := []struct {
		name     string
		msg      []byte
		wantTail string // the reply's last bytes
	}{
		{"GETPORT", callMsg(7, 2, portmap.PmapGetport, mapArgs(100003, 3, 17, 0)), "\x00\x00\x08\x01"},
		{"GETADDR", callMsg(8, 3, portmap.RpcbGetaddr, rpcbArgs(100003, 3, "udp", "", "")), "127.0.0.1.8.1\x00\x00\x00"},
	}
	for _, target := range []string{ts.udp.String(), net.JoinHostPort("127.0.0.1", itoa(uint32(wild.LocalAddr().(*net.UDPAddr).Port)))} {
		c, err := net.Dial("udp", target)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for _, l := range lookups {
			buf := make([]byte, 1000)
			var tail []byte
			n := testing.AllocsPerRun(1000, func() {
				c.Write(l.msg)
				c.SetReadDeadline(time.Now().Add(replyWait))
				m, _ := c.Read(buf)
				tail = buf[max(m-len(l.wantTail), 0):m]
			})
			if string(tail) != l.wantTail {
				t.Fatalf("%s: %s answered ...%q, want ...%q", target, l.name, tail, l.wantTail)
			}
			t.Logf("%s: %.1f allocations a %s", target, n, l.name)
			if n > maxUDPLookupAllocs {
				t.Errorf("%s: %.1f allocations a %s, want at most %d", target, n, l.name, maxUDPLookupAllocs)
			}
		}
	}
}
