package loadgen

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

// fakeMapper is an in-process program 100000 on the loopback that answers
// NULL, GETPORT, GETADDR and DUMP from a fixed table and counts the calls.
type fakeMapper struct {
	udp, tcp string       // addresses
	calls    atomic.Int64 // calls answered (or dropped, when mute)
	srv      *rpc.Server
	ln       net.Listener
	pc       net.PacketConn
}

// fakeTable is what the fake mapper holds.
var fakeTable = []portmap.Mapping{
	{Prog: portmap.Program, Vers: 2, Prot: portmap.IPProtoUDP, Port: 111},
	{Prog: 100003, Vers: 3, Prot: portmap.IPProtoUDP, Port: 2049},
	{Prog: 100003, Vers: 3, Prot: portmap.IPProtoTCP, Port: 2049},
}

// fakeMode chooses how the fake mapper behaves.
type fakeMode int

const (
	fakeAnswer fakeMode = iota // answer every call
	fakeMute                   // drop every call: clients time out
	fakeNoProc                 // answer nothing but NULL: others get PROC_UNAVAIL
)

// startFake starts a fake mapper on 127.0.0.1 (UDP and TCP, random ports)
// and stops it when the test ends.
func startFake(t *testing.T, mode fakeMode) *fakeMapper {
	t.Helper()
	f := &fakeMapper{}
	var mux rpc.Mux
	handle := func(vers, proc uint32, answer func(req *rpc.Request, res []byte) []byte) {
		if mode == fakeNoProc && proc != portmap.ProcNull {
			return
		}
		mux.HandleFunc(portmap.Program, vers, proc, func(_ context.Context, req *rpc.Request, res []byte) ([]byte, error) {
			f.calls.Add(1)
			if mode == fakeMute {
				return nil, rpc.ErrNoReply
			}
			return answer(req, res), nil
		})
	}
	for _, v := range []uint32{2, 3, 4} {
		handle(v, portmap.ProcNull, func(_ *rpc.Request, res []byte) []byte { return res })
	}
	handle(2, portmap.PmapGetport, func(req *rpc.Request, res []byte) []byte {
		var m portmap.Mapping
		m.Decode(xdr.NewDecoder(req.Args))
		for _, e := range fakeTable {
			if e.Prog == m.Prog && e.Vers == m.Vers && e.Prot == m.Prot {
				return xdr.AppendUint32(res, e.Port)
			}
		}
		return xdr.AppendUint32(res, 0)
	})
	for _, v := range []uint32{3, 4} {
		handle(v, portmap.RpcbGetaddr, func(req *rpc.Request, res []byte) []byte {
			var r portmap.RPCB
			r.Decode(xdr.NewDecoder(req.Args))
			if r.Prog == 100003 {
				return xdr.AppendString(res, "127.0.0.1.8.1")
			}
			return xdr.AppendString(res, "")
		})
		handle(v, portmap.RpcbDump, func(_ *rpc.Request, res []byte) []byte {
			var l []portmap.RPCB
			for _, m := range fakeTable {
				l = append(l, portmap.RPCB{Prog: m.Prog, Vers: m.Vers, Netid: "udp", Addr: "0.0.0.0.8.1", Owner: "superuser"})
			}
			return portmap.AppendRPCBList(res, l)
		})
	}
	handle(2, portmap.PmapDump, func(_ *rpc.Request, res []byte) []byte {
		return portmap.AppendMappingList(res, fakeTable)
	})

	f.srv = &rpc.Server{Handler: &mux, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		pc.Close()
		t.Fatal(err)
	}
	f.udp, f.tcp, f.ln, f.pc = pc.LocalAddr().String(), ln.Addr().String(), ln, pc
	go f.srv.ServePacket(pc)
	go f.srv.Serve(ln)
	t.Cleanup(f.stop)
	return f
}

// stop shuts the fake mapper down, waiting for its calls in progress.
func (f *fakeMapper) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	f.srv.Shutdown(ctx)
	// Shutdown closes what the server serves; a Serve goroutine that has not
	// started yet never will, so close the sockets here too.
	f.ln.Close()
	f.pc.Close()
}

// addr returns the fake's address for network.
func (f *fakeMapper) addr(network string) string {
	if network == "tcp" {
		return f.tcp
	}
	return f.udp
}

// engines are the engines the tests run: the raw one only where it exists.
func engines() []Engine {
	if defaultEngine == EngineRaw {
		return []Engine{EngineRaw, EngineRPC}
	}
	return []Engine{EngineRPC}
}

// testContext returns a context that ends with the test, bounded.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
