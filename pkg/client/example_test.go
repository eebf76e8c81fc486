package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"time"

	"github.com/portmap-toolkit/pmap/pkg/client"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

// Find where a program listens, as rpcinfo and mount do. A stand-in port
// mapper on the loopback knows NFS version 3 on port 2049 of every address
// (0.0.0.0.8.1); Lookup gives back the address it reached instead of the
// wildcard.
func ExampleClient_Lookup() {
	mux := &rpc.Mux{}
	mux.HandleFunc(portmap.Program, portmap.V4, portmap.RpcbGetaddr,
		func(_ context.Context, req *rpc.Request, res []byte) ([]byte, error) {
			var r portmap.RPCB
			d := xdr.NewDecoder(req.Args)
			if r.Decode(d); d.Err() != nil {
				return nil, rpc.ErrGarbageArgs
			}
			if r.Prog != 100003 {
				return xdr.AppendString(res, ""), nil // not registered
			}
			return xdr.AppendString(res, "0.0.0.0.8.1"), nil
		})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := &rpc.Server{Handler: mux}
	go srv.Serve(l)
	defer srv.Shutdown(context.Background())

	c := client.New("127.0.0.1", &client.Options{Port: l.Addr().(*net.TCPAddr).Port})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	uaddr, err := c.Lookup(ctx, 100003, 3, "tcp")
	if err != nil {
		log.Fatal(err)
	}
	network, addr, err := portmap.DialAddress("tcp", uaddr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(uaddr, "->", network, addr)

	_, err = c.Lookup(ctx, 100005, 3, "tcp")
	var e *rpc.Error
	if errors.As(err, &e) {
		fmt.Printf("program %d: %s\n", e.Prog, e.Text())
	}
	// Output:
	// 127.0.0.1.8.1 -> tcp4 127.0.0.1:2049
	// program 100005: RPC: Program not registered
}
