package server

import (
	"net"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

// maxUDPLookupAllocs bounds the allocations of a GETPORT over UDP, server
// and client side together: each one is work for the collector, whose
// marking grows with the registry (docs/performance.md, "What bounds each
// figure"). golang.org/x/net's control-message reads and writes took 29; 6 now.
const maxUDPLookupAllocs = 8

// TestUDPLookupAllocs counts the allocations of a GETPORT over UDP on a
// socket bound to the wildcard address (the destination read from
// IP_PKTINFO, the reply sent from it) and on one bound to 127.0.0.1.
func TestUDPLookupAllocs(t *testing.T) {
	ts := startServer(t, nil)
	ts.srv.Registry().Set(portmap.RPCB{Prog: 100003, Vers: 3, Netid: "udp", Addr: "0.0.0.0.8.1", Owner: OwnerUnknown})
	wild, err := net.ListenPacket("udp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	go ts.srv.ServePacket(wild)
	for _, target := range []string{ts.udp.String(), net.JoinHostPort("127.0.0.1", itoa(uint32(wild.LocalAddr().(*net.UDPAddr).Port)))} {
		c, err := net.Dial("udp", target)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		msg := callMsg(7, 2, portmap.PmapGetport, mapArgs(100003, 3, 17, 0))
		buf := make([]byte, 1000)
		var port []byte
		n := testing.AllocsPerRun(1000, func() {
			c.Write(msg)
			c.SetReadDeadline(time.Now().Add(replyWait))
			m, _ := c.Read(buf)
			port = buf[max(m-4, 0):m]
		})
		if string(port) != "\x00\x00\x08\x01" {
			t.Fatalf("%s: GETPORT answered %x, want port 2049", target, port)
		}
		t.Logf("%s: %.1f allocations a GETPORT", target, n)
		if n > maxUDPLookupAllocs {
			t.Errorf("%s: %.1f allocations a GETPORT, want at most %d", target, n, maxUDPLookupAllocs)
		}
	}
}
