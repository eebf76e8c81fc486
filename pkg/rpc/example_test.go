package rpc_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/portmap-toolkit/pmap/pkg/rpc"
)

// A fake RPC program in a few lines: a Mux answering NULL of mountd v3 on a
// loopback UDP socket, and a client calling it.
func Example() {
	const mountd, v3 = 100005, 3
	var mux rpc.Mux
	mux.HandleFunc(mountd, v3, 0, func(_ context.Context, _ *rpc.Request, res []byte) ([]byte, error) {
		return res, nil // NULL: no results
	})
	srv := &rpc.Server{Handler: &mux}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	go srv.ServePacket(pc)
	defer srv.Shutdown(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := rpc.Dial(ctx, "udp", pc.LocalAddr().String(), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	res, err := c.Call(ctx, mountd, v3, 0, nil)
	fmt.Printf("NULL: %d result bytes, err %v\n", len(res), err)
	_, err = c.Call(ctx, mountd, 1, 0, nil)
	if e, ok := err.(*rpc.Error); ok {
		fmt.Println(e.Text())
	}
	// Output:
	// NULL: 0 result bytes, err <nil>
	// RPC: Program/version mismatch; low version = 3, high version = 3
}
