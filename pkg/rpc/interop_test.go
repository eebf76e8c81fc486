package rpc_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/internal/testsupport"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

const portmapper = 100000

// TestInteropRpcbind: this client against Debian's rpcbind, over each
// transport rpcbind offers.
func TestInteropRpcbind(t *testing.T) {
	if !testsupport.Isolate(t) {
		return
	}
	testsupport.StartRpcbind(t)
	sys, err := rpc.AuthSysParams{Stamp: 1, MachineName: "interop", GIDs: []uint32{0}}.Auth()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		vers   uint32
		proc   uint32
		opts   *rpc.Options
		status rpc.Status
		text   string
	}{
		{"null v2", 2, 0, nil, rpc.Success, ""},
		{"null v3", 3, 0, nil, rpc.Success, ""},
		{"null v4 auth_sys", 4, 0, &rpc.Options{Cred: sys}, rpc.Success, ""},
		{"v5", 5, 0, nil, rpc.ProgVersMismatch, "RPC: Program/version mismatch; low version = 2, high version = 4"},
		{"proc 99", 2, 99, nil, rpc.ProcUnavail, "RPC: Procedure unavailable"},
		{"flavor 99", 2, 0, &rpc.Options{Cred: rpc.OpaqueAuth{Flavor: 99}}, rpc.AuthError,
			"RPC: Authentication error; why = Server rejected credential"},
	}
	for _, tr := range []struct{ network, addr string }{
		{"udp", "127.0.0.1:111"}, {"tcp", "127.0.0.1:111"}, {"unix", testsupport.RpcbindSocket},
	} {
		t.Run(tr.network, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
					defer cancel()
					c, err := rpc.Dial(ctx, tr.network, tr.addr, tt.opts)
					if err != nil {
						t.Fatal(err)
					}
					defer c.Close()
					res, err := c.Call(ctx, portmapper, tt.vers, tt.proc, nil)
					if tt.status == rpc.Success {
						if err != nil || len(res) != 0 {
							t.Fatalf("Call = %x, %v", res, err)
						}
						return
					}
					var e *rpc.Error
					if !errors.As(err, &e) || e.Status != tt.status || e.Text() != tt.text {
						t.Errorf("Call: %v, want %q", err, tt.text)
					}
				})
			}
			// DUMP v2 over a stream; over UDP it fits too for rpcbind's own entries.
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			c, err := rpc.Dial(ctx, tr.network, tr.addr, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			res, err := c.Call(ctx, portmapper, 2, 4, nil)
			if err != nil || len(res) < 20 {
				t.Errorf("DUMP: %d bytes, %v", len(res), err)
			}
		})
	}
}

// TestInteropRpcinfo: Debian's rpcinfo pings a program this package serves,
// learning its versions from PROG_MISMATCH, over UDP and TCP.
func TestInteropRpcinfo(t *testing.T) {
	if !testsupport.Isolate(t) {
		return
	}
	testsupport.Require(t, "rpcinfo")
	const prog = 0x20000077
	var mux rpc.Mux
	for v := uint32(2); v <= 4; v++ {
		mux.HandleFunc(prog, v, 0, func(_ context.Context, _ *rpc.Request, res []byte) ([]byte, error) { return res, nil })
	}
	srv := &rpc.Server{Handler: &mux}
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.ServePacket(pc)
	go srv.Serve(l)
	defer srv.Shutdown(context.Background())

	// rpcinfo asks the port mapper first: register the program with a
	// portmap v2 SET per version and protocol.
	testsupport.StartRpcbind(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	pm, err := rpc.Dial(ctx, "udp", "127.0.0.1:111", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pm.Close()
	for v := uint32(2); v <= 4; v++ {
		for _, m := range []struct{ prot, port int }{{17, pc.LocalAddr().(*net.UDPAddr).Port}, {6, l.Addr().(*net.TCPAddr).Port}} {
			args := xdr.AppendUint32(nil, prog)
			args = xdr.AppendUint32(args, v)
			args = xdr.AppendUint32(args, uint32(m.prot))
			args = xdr.AppendUint32(args, uint32(m.port))
			res, err := pm.Call(ctx, portmapper, 2, 1, args)
			if err != nil || len(res) != 4 || res[3] != 1 {
				t.Fatalf("SET v%d prot %d: %x, %v", v, m.prot, res, err)
			}
		}
	}

	want := fmt.Sprintf("program %d version 2 ready and waiting\nprogram %d version 3 ready and waiting\nprogram %d version 4 ready and waiting\n", prog, prog, prog)
	for _, flag := range []string{"-u", "-t"} {
		args := []string{flag, "127.0.0.1", fmt.Sprint(prog)}
		out, err := exec.CommandContext(t.Context(), "rpcinfo", args...).CombinedOutput()
		if err != nil || string(out) != want {
			t.Errorf("rpcinfo %s: %v\n%s\nwant:\n%s", strings.Join(args, " "), err, out, want)
		}
	}
}
