package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/internal/loadgen"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

// startMapper starts a program 100000 on 127.0.0.1 that answers v2 GETPORT
// with 2049 over UDP and TCP, and returns its two addresses.
func startMapper(t *testing.T) (udp, tcp string) {
	t.Helper()
	var mux rpc.Mux
	mux.HandleFunc(100000, 2, 3, func(_ context.Context, _ *rpc.Request, res []byte) ([]byte, error) {
		return xdr.AppendUint32(res, 2049), nil
	})
	srv := &rpc.Server{Handler: &mux}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.ServePacket(pc)
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		pc.Close()
		ln.Close()
	})
	return pc.LocalAddr().String(), ln.Addr().String()
}

func TestRunJSON(t *testing.T) {
	udp, tcp := startMapper(t)
	for _, tc := range []struct{ network, addr string }{{"udp", udp}, {"tcp", tcp}} {
		t.Run(tc.network, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), []string{"pmapload", "-o", "json", "-t", tc.network, "-n", "200", "-c", "3", tc.addr}, &out, &errOut)
			if code != exitOK {
				t.Fatalf("exit %d, stderr %q", code, errOut.String())
			}
			var r loadgen.Result
			if err := json.Unmarshal(out.Bytes(), &r); err != nil {
				t.Fatalf("output is not JSON: %v\n%s", err, out.String())
			}
			if r.Calls != 200 || r.Answer != "2049" || r.Network != tc.network || r.Clients != 3 || r.Proc != "getport" {
				t.Errorf("report %+v", r)
			}
		})
	}
}

func TestRunText(t *testing.T) {
	udp, _ := startMapper(t)
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"pmapload", "-n", "50", udp}, &out, &errOut); code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
	for _, want := range []string{"calls/s", "p50", "p99", "answer      2049", "stopped by count"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestRunFailures(t *testing.T) {
	udp, _ := startMapper(t)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"outside target", []string{"-n", "1", "10.0.0.1"}, exitFail, "outside 127.0.0.0/8"},
		{"name", []string{"-n", "1", "example.com"}, exitFail, "not an IP address"},
		{"two targets", []string{udp, udp}, exitUsage, "one target"},
		{"bad proc", []string{"-P", "callit", udp}, exitUsage, "unknown procedure"},
		{"bad output", []string{"-o", "xml", udp}, exitUsage, "--output"},
		{"bad flag", []string{"--nope", udp}, exitUsage, "nope"},
		{"zero clients", []string{"-c", "0", udp}, exitUsage, "positive"},
		{"too many clients", []string{"-c", "5000", "-n", "1", udp}, exitFail, "clients 5000"},
		{"getaddr not served", []string{"-P", "getaddr", "-n", "5", udp}, exitFail, "errors"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), append([]string{"pmapload"}, tc.args...), &out, &errOut)
			if code != tc.code || !strings.Contains(out.String()+errOut.String(), tc.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d and %q", code, out.String(), errOut.String(), tc.code, tc.want)
			}
		})
	}
}
