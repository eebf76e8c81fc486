package rpc_test

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/internal/testsupport"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
)

const bcastProg = 0x20000077

// TestBroadcastAnswered: a call that reaches the server at a broadcast address
// (as rpcinfo -b sends it) is answered from a unicast address of the interface,
// so the reply arrives. Answering from the broadcast address, as the kernel's
// IP_PKTINFO destination would suggest, loses every reply.
func TestBroadcastAnswered(t *testing.T) {
	if !testsupport.Isolate(t) {
		return
	}
	var m rpc.Mux
	m.HandleFunc(bcastProg, 1, 0, func(ctx context.Context, req *rpc.Request, res []byte) ([]byte, error) {
		return res, nil
	})
	s := &rpc.Server{Handler: &m}
	pc, err := net.ListenPacket("udp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.ServePacket(pc)
	defer s.Shutdown(context.Background())
	port := pc.LocalAddr().(*net.UDPAddr).Port

	conn, err := net.ListenPacket("udp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var from []string
	dest := &net.UDPAddr{IP: net.IPv4(127, 255, 255, 255), Port: port}
	err = rpc.Broadcast(ctx, conn, []net.Addr{dest}, bcastProg, 1, 0, nil, nil, func(a net.Addr, res []byte, err error) bool {
		if err == nil {
			from = append(from, a.String())
		}
		return false
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := "127.0.0.1:" + strconv.Itoa(port); len(from) != 1 || from[0] != want {
		t.Fatalf("replies from %v, want one from %s", from, want)
	}
}
