package audit_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/portmap-toolkit/pmap/pkg/audit"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
)

// Which program hides behind a port, with no port mapper to ask: a mountd
// serving versions 1 to 3 on a loopback UDP port is found from the names
// table.
func ExampleDiscoverTarget() {
	var mux rpc.Mux
	for v := uint32(1); v <= 3; v++ {
		mux.HandleFunc(100005, v, 0, func(_ context.Context, _ *rpc.Request, res []byte) ([]byte, error) { return res, nil })
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := &rpc.Server{Handler: &mux}
	go srv.ServePacket(pc)
	defer srv.Shutdown(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d := audit.DiscoverTarget(ctx, audit.Target{Network: "udp", Addr: pc.LocalAddr().String()}, nil)
	fmt.Println(d.State)
	for _, f := range d.Programs {
		fmt.Printf("%d %s versions %d-%d\n", f.Prog, f.Name, f.Low, f.High)
	}
	// Output:
	// rpc
	// 100005 mountd versions 1-3
}
