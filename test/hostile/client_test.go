package hostile

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/pkg/client"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
)

// Hostile port mappers against pkg/client, in this process: every method,
// over UDP and TCP, against every evil server.

// clientCap is the reply cap the client is given here: what the cap does is
// under test, not its size (the tools run with the default and their memory
// is measured), and a small one lets every call run at once.
const clientCap = 1 << 20

// clientMethod is one method of pkg/client. fixed: its results have no
// length in them (a bool, a number, nothing), so a well-formed reply whose
// results are garbage still gives it a value.
type clientMethod struct {
	name  string
	fixed bool
	call  func(ctx context.Context, c *client.Client) error
}

var clientMethods = []clientMethod{
	{"Null", true, func(ctx context.Context, c *client.Client) error { return c.Null(ctx, portmap.V2) }},
	{"PmapSet", true, func(ctx context.Context, c *client.Client) error {
		_, err := c.PmapSet(ctx, portmap.Mapping{Prog: 300001, Vers: 1, Prot: portmap.IPProtoTCP, Port: 700})
		return err
	}},
	{"PmapUnset", true, func(ctx context.Context, c *client.Client) error {
		_, err := c.PmapUnset(ctx, portmap.Mapping{Prog: 300001, Vers: 1})
		return err
	}},
	{"PmapGetport", true, func(ctx context.Context, c *client.Client) error {
		_, err := c.PmapGetport(ctx, portmap.Mapping{Prog: 100003, Vers: 3, Prot: portmap.IPProtoTCP})
		return err
	}},
	{"PmapDump", false, func(ctx context.Context, c *client.Client) error { _, err := c.PmapDump(ctx); return err }},
	{"PmapCallit", false, func(ctx context.Context, c *client.Client) error {
		_, err := c.PmapCallit(ctx, portmap.CallArgs{Prog: 100003, Vers: 3})
		return err
	}},
	{"RpcbSet", true, func(ctx context.Context, c *client.Client) error {
		_, err := c.RpcbSet(ctx, portmap.V3, portmap.RPCB{Prog: 300001, Vers: 1, Netid: "tcp", Addr: "0.0.0.0.2.188"})
		return err
	}},
	{"RpcbUnset", true, func(ctx context.Context, c *client.Client) error {
		_, err := c.RpcbUnset(ctx, portmap.V3, portmap.RPCB{Prog: 300001, Vers: 1})
		return err
	}},
	{"RpcbGetaddr", false, func(ctx context.Context, c *client.Client) error {
		_, err := c.RpcbGetaddr(ctx, portmap.V4, portmap.RPCB{Prog: 100003, Vers: 3, Netid: "tcp"})
		return err
	}},
	{"RpcbDump", false, func(ctx context.Context, c *client.Client) error { _, err := c.RpcbDump(ctx, portmap.V4); return err }},
	{"Dump", false, func(ctx context.Context, c *client.Client) error { _, err := c.Dump(ctx, portmap.V3); return err }},
	{"RpcbCallit", false, func(ctx context.Context, c *client.Client) error {
		_, err := c.RpcbCallit(ctx, portmap.V3, portmap.RmtCallArgs{Prog: 100003, Vers: 3})
		return err
	}},
	{"Gettime", true, func(ctx context.Context, c *client.Client) error { _, err := c.Gettime(ctx, portmap.V3); return err }},
	{"Uaddr2taddr", false, func(ctx context.Context, c *client.Client) error {
		_, err := c.Uaddr2taddr(ctx, portmap.V3, "127.0.0.1.8.1")
		return err
	}},
	{"Taddr2uaddr", false, func(ctx context.Context, c *client.Client) error {
		_, err := c.Taddr2uaddr(ctx, portmap.V3, portmap.Netbuf{MaxLen: 16, Buf: make([]byte, 16)})
		return err
	}},
	{"Getversaddr", false, func(ctx context.Context, c *client.Client) error {
		_, err := c.Getversaddr(ctx, portmap.RPCB{Prog: 100003, Vers: 3, Netid: "tcp"})
		return err
	}},
	{"Indirect", false, func(ctx context.Context, c *client.Client) error {
		_, err := c.Indirect(ctx, portmap.RmtCallArgs{Prog: 100003, Vers: 3})
		return err
	}},
	{"Getaddrlist", false, func(ctx context.Context, c *client.Client) error {
		_, err := c.Getaddrlist(ctx, portmap.RPCB{Prog: 100003, Vers: 3})
		return err
	}},
	{"Getstat", false, func(ctx context.Context, c *client.Client) error { _, err := c.Getstat(ctx); return err }},
	{"Lookup", false, func(ctx context.Context, c *client.Client) error {
		_, err := c.Lookup(ctx, 100003, 3, "tcp")
		return err
	}},
}

func TestHostileServersClient(t *testing.T) {
	for _, e := range evils {
		t.Run(e.name, func(t *testing.T) {
			srv, err := startEvil(e, "", "")
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			type result struct {
				method  clientMethod
				network string
				err     error
				elapsed time.Duration
			}
			var results []*result
			var wg sync.WaitGroup
			for _, network := range []string{"udp", "tcp"} {
				for _, m := range clientMethods {
					r := &result{method: m, network: network}
					results = append(results, r)
					wg.Go(func() {
						c := client.New("127.0.0.1", &client.Options{Port: srv.Port, Network: network, MaxReply: clientCap})
						defer c.Close()
						ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
						defer cancel()
						start := time.Now()
						r.err = m.call(ctx, c)
						r.elapsed = time.Since(start)
					})
				}
			}
			wg.Wait()
			var worst time.Duration
			for _, r := range results {
				worst = max(worst, r.elapsed)
				name := r.method.name + " over " + r.network
				if limit := toolTimeout + exitSlack; r.elapsed > limit {
					t.Errorf("%s took %v, want at most %v", name, r.elapsed, limit)
				}
				if r.err == nil {
					// Results made of the server's bytes may read as
					// results; lengths of 2^32-1 never do.
					if !e.complete(r.network) || e.claims && !r.method.fixed {
						t.Errorf("%s succeeded against a server whose replies it cannot have read", name)
					}
					continue
				}
				var re *rpc.Error
				switch {
				case !errors.As(r.err, &re):
					t.Errorf("%s: %T %v, want an *rpc.Error", name, r.err, r.err)
				case re.Status == 0 || !strings.HasPrefix(r.err.Error(), "rpc: "):
					t.Errorf("%s: error %q without a status", name, r.err)
				case re.Prog != portmap.Program && re.Status != rpc.N2AXlateFailure && re.Status != rpc.ProgNotRegistered:
					t.Errorf("%s: error %q does not name the call", name, r.err)
				}
				if err := printable(r.err.Error()); err != nil {
					t.Errorf("%s: %v", name, err)
				}
			}
			t.Logf("figure | %s | %d calls | slowest %v (deadline %v)", e.name, len(results), worst.Round(time.Millisecond), toolTimeout)
		})
	}
}
