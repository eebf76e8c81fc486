package server

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

// maxLookupAllocs bounds the allocations of a lookup over UDP or TCP, server
// and client side together: each one is work for the collector, whose
// marking grows with the registry (docs/performance.md, "What bounds each
// figure"). Over UDP golang.org/x/net's control-message reads and writes
// took 29; the reader's reused Request and addresses (rpc's dgramCall) and
// the lookups' Decoders on the stack took the last 6. Over TCP the reused
// Request and record buffer took 3.
const maxLookupAllocs = 0

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
			if n > maxLookupAllocs {
				t.Errorf("%s: %.1f allocations a %s, want at most %d", target, n, l.name, maxLookupAllocs)
			}
		}
	}
}

// TestTCPLookupAllocs counts the allocations of a GETPORT over TCP: the
// connection's Request and record buffer are reused from call to call, and
// the fragment header is read in place.
func TestTCPLookupAllocs(t *testing.T) {
	ts := startServer(t, nil)
	ts.srv.Registry().Set(portmap.RPCB{Prog: 100003, Vers: 3, Netid: "tcp", Addr: "0.0.0.0.8.1", Owner: OwnerUnknown})
	c, err := net.Dial("tcp", ts.tcp.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := callMsg(7, 2, portmap.PmapGetport, mapArgs(100003, 3, 6, 0))
	rec := append([]byte{0x80, 0, 0, byte(len(msg))}, msg...)
	buf := make([]byte, 1000)
	var reply []byte
	n := testing.AllocsPerRun(1000, func() {
		c.Write(rec)
		c.SetReadDeadline(time.Now().Add(replyWait))
		m, _ := io.ReadAtLeast(c, buf, 32) // a record mark and a 28-byte reply
		reply = buf[:m]
	})
	if len(reply) != 32 || string(reply[28:]) != "\x00\x00\x08\x01" {
		t.Fatalf("GETPORT answered % x, want a record ending in port 2049", reply)
	}
	t.Logf("%.1f allocations a TCP GETPORT", n)
	if n > maxLookupAllocs {
		t.Errorf("%.1f allocations a TCP GETPORT, want at most %d", n, maxLookupAllocs)
	}
}
