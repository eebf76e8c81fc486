package server_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
	"github.com/portmap-toolkit/pmap/pkg/server"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

// A Go program embeds the port mapper on a listener of its own, registers
// its NFS service directly in the registry, and a client looks it up.
func Example() {
	srv := server.New()
	srv.Registry().Set(portmap.RPCB{Prog: 100003, Vers: 3, Netid: "tcp", Addr: "0.0.0.0.8.1", Owner: server.OwnerSuperuser})
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	go srv.Serve(l)
	defer srv.Shutdown(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := rpc.Dial(ctx, "tcp", l.Addr().String(), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	res, err := c.Call(ctx, portmap.Program, portmap.V4, portmap.RpcbGetaddr, portmap.RPCB{Prog: 100003, Vers: 3}.Append(nil))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(xdr.NewDecoder(res).String(portmap.MaxUaddrLen))
	// Output: 127.0.0.1.8.1
}
