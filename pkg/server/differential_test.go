package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"testing"

	"github.com/portmap-toolkit/pmap/internal/testsupport"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

// probe is one raw call of the differential test.
type probe struct {
	name       string
	via        string // viaUDP, viaTCP, viaUDP6, viaTCP6, viaUnix
	privileged bool
	vers, proc uint32
	cred       rpc.OpaqueAuth
	args       []byte
}

// differentialProbes exercise the rules of docs/server.md on which this
// server and rpcbind must agree byte for byte. The cases where they differ
// on purpose (docs/server.md, "Departures") are left out here and tested
// against this server alone.
func differentialProbes() []probe {
	sin := []byte{2, 0, 8, 1, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}
	sin6 := make([]byte, 28)
	binary.LittleEndian.PutUint16(sin6, 10)
	binary.BigEndian.PutUint16(sin6[2:], 2049)
	sin6[23] = 1
	sun := append(append([]byte{1, 0}, "/run/x.sock"...), make([]byte, 97)...)
	nb := func(b []byte) []byte { return portmap.Netbuf{MaxLen: uint32(len(b)), Buf: b}.Append(nil) }
	str := func(s string) []byte { return xdr.AppendString(nil, s) }
	short := mapArgs(100003, 3, 6, 0)[:8]
	flavor := func(f rpc.AuthFlavor, body ...byte) rpc.OpaqueAuth { return rpc.OpaqueAuth{Flavor: f, Body: body} }
	return []probe{
		{name: "v3 SET netid TCP", via: viaUDP, privileged: true, vers: 3, proc: 1, args: rpcbArgs(300001, 1, "TCP", "0.0.0.0.1.1", "")},
		{name: "v3 SET udp", via: viaUDP, privileged: true, vers: 3, proc: 1, args: rpcbArgs(300001, 1, "udp", "0.0.0.0.1.2", "")},
		{name: "v3 SET tcp other address", via: viaUDP, privileged: true, vers: 3, proc: 1, args: rpcbArgs(300001, 1, "tcp", "0.0.0.0.1.3", "")},
		{name: "v4 SET unprivileged", via: viaUDP, vers: 4, proc: 1, args: rpcbArgs(300004, 1, "udp", "0.0.0.0.1.4", "x")},
		{name: "v3 SET over TCP unprivileged", via: viaTCP, vers: 3, proc: 1, args: rpcbArgs(300006, 1, "tcp", "0.0.0.0.1.6", "")},
		{name: "v3 SET udp6 over udp6", via: viaUDP6, privileged: true, vers: 3, proc: 1, args: rpcbArgs(300007, 1, "udp6", "::.1.7", "")},
		{name: "v2 SET prot 99", via: viaUDP, privileged: true, vers: 2, proc: 1, args: mapArgs(300005, 1, 99, 5)},
		{name: "v2 SET port 70000", via: viaTCP, privileged: true, vers: 2, proc: 1, args: mapArgs(300008, 1, 17, 70000)},
		{name: "v2 SET over unix", via: viaUnix, vers: 2, proc: 1, args: mapArgs(300009, 1, 6, 9)},
		{name: "v3 GETADDR finds TCP over tcp", via: viaTCP, vers: 3, proc: 3, args: rpcbArgs(300001, 1, "", "", "")},
		{name: "v2 GETPORT of TCP", via: viaUDP, vers: 2, proc: 3, args: mapArgs(300001, 1, 6, 0)},
		{name: "v2 GETPORT port 70000", via: viaUDP, vers: 2, proc: 3, args: mapArgs(300008, 1, 17, 0)},
		{name: "v4 GETADDR over udp6, udp only", via: viaUDP6, vers: 4, proc: 3, args: rpcbArgs(300001, 1, "udp", "", "")},
		{name: "v4 GETADDR udp6 wildcard", via: viaUDP6, vers: 4, proc: 3, args: rpcbArgs(300007, 1, "", "", "")},
		{name: "v4 GETVERSADDR missing version", via: viaUDP, vers: 4, proc: 9, args: rpcbArgs(300001, 2, "", "", "")},
		{name: "v4 GETADDR version fallback", via: viaUDP, vers: 4, proc: 3, args: rpcbArgs(300001, 2, "", "", "")},
		{name: "v4 GETADDR over unix", via: viaUnix, vers: 4, proc: 3, args: rpcbArgs(portmap.Program, 4, "", "", "")},
		{name: "v4 GETADDR v2 over unix", via: viaUnix, vers: 4, proc: 3, args: rpcbArgs(portmap.Program, 2, "", "", "")},
		{name: "v4 GETADDRLIST over unix", via: viaUnix, vers: 4, proc: 11, args: rpcbArgs(portmap.Program, 4, "", "", "")},
		{name: "v4 GETADDRLIST over tcp6", via: viaTCP6, vers: 4, proc: 11, args: rpcbArgs(portmap.Program, 3, "", "", "")},
		{name: "v4 GETADDRLIST over udp", via: viaUDP, vers: 4, proc: 11, args: rpcbArgs(portmap.Program, 2, "", "", "")},
		{name: "v2 CALLIT nfs proc 1", via: viaUDP, vers: 2, proc: 5, args: rmtArgs(100003, 3, 1, nil)},
		{name: "v3 CALLIT ypserv ALL", via: viaUDP, vers: 3, proc: 5, args: rmtArgs(100004, 2, 8, nil)},
		{name: "v2 CALLIT registered", via: viaUDP, vers: 2, proc: 5, args: rmtArgs(300001, 1, 0, nil)},
		{name: "v4 BCAST registered", via: viaUDP, vers: 4, proc: 5, args: rmtArgs(300001, 1, 0, nil)},
		{name: "v4 INDIRECT unregistered", via: viaUDP, vers: 4, proc: 10, args: rmtArgs(100005, 9, 0, nil)},
		{name: "v4 INDIRECT missing version", via: viaUDP, vers: 4, proc: 10, args: rmtArgs(300001, 7, 0, nil)},
		{name: "v4 INDIRECT registered", via: viaUDP, vers: 4, proc: 10, args: rmtArgs(300001, 1, 0, nil)},
		{name: "v4 INDIRECT over TCP", via: viaTCP, vers: 4, proc: 10, args: rmtArgs(300001, 1, 0, nil)},
		{name: "v3 UNSET of superuser's by unknown", via: viaUDP, vers: 3, proc: 2, args: rpcbArgs(300001, 1, "", "", "")},
		{name: "v2 UNSET of superuser's by unknown", via: viaTCP, vers: 2, proc: 2, args: mapArgs(300009, 1, 6, 0)},
		{name: "v4 UNSET by owner", via: viaTCP, vers: 4, proc: 2, args: rpcbArgs(300004, 1, "udp", "", "")},
		{name: "AUTH_SHORT", via: viaUDP, vers: 2, proc: 0, cred: flavor(rpc.AuthShort)},
		{name: "flavor 99", via: viaTCP, vers: 3, proc: 0, cred: flavor(99, 1, 2, 3, 4)},
		{name: "AUTH_SYS garbage", via: viaUDP, vers: 2, proc: 0, cred: flavor(rpc.AuthSys, 0, 0, 0, 1)},
		{name: "TADDR2UADDR sin over udp", via: viaUDP, vers: 3, proc: 8, args: nb(sin)},
		{name: "TADDR2UADDR sin6 over udp", via: viaUDP, vers: 3, proc: 8, args: nb(sin6)},
		{name: "TADDR2UADDR sin6 over udp6", via: viaUDP6, vers: 3, proc: 8, args: nb(sin6)},
		{name: "TADDR2UADDR short", via: viaUDP, vers: 4, proc: 8, args: nb(sin[:8])},
		{name: "TADDR2UADDR over unix", via: viaUnix, vers: 3, proc: 8, args: nb(sun)},
		{name: "UADDR2TADDR over udp6", via: viaUDP6, vers: 3, proc: 7, args: str("::1.8.1")},
		{name: "UADDR2TADDR over unix", via: viaUnix, vers: 4, proc: 7, args: str("/run/x.sock")},
		{name: "UADDR2TADDR garbage over tcp", via: viaTCP, vers: 3, proc: 7, args: str("nonsense")},
		{name: "v2 proc 7", via: viaUDP, vers: 2, proc: 7},
		{name: "v3 proc 9", via: viaUDP, vers: 3, proc: 9},
		{name: "v4 proc 13", via: viaTCP, vers: 4, proc: 13},
		{name: "v2 GETPORT short over TCP", via: viaTCP, vers: 2, proc: 3, args: short},
		{name: "v2 DUMP", via: viaTCP, vers: 2, proc: 4},
		{name: "v4 DUMP over unix", via: viaUnix, vers: 4, proc: 4},
		{name: "v3 DUMP over tcp6", via: viaTCP6, vers: 3, proc: 4},
		{name: "v4 GETSTAT", via: viaTCP, vers: 4, proc: 12},
	}
}

// TestDifferential sends the same raw calls, with the same xids, to Debian's
// rpcbind and to this server, each alone on port 111 and /run/rpcbind.sock in
// the test's namespace, and requires the same replies byte for byte (or the
// same silence), GETSTAT's at the end included.
func TestDifferential(t *testing.T) {
	if !testsupport.Isolate(t) {
		return
	}
	probes := differentialProbes()
	exchange := func() [][]byte {
		targets := map[string]string{viaUDP: "127.0.0.1:111", viaTCP: "127.0.0.1:111",
			viaUDP6: "[::1]:111", viaTCP6: "[::1]:111", viaUnix: DefaultSocketPath}
		out := make([][]byte, len(probes))
		for i, p := range probes {
			c := dialTarget(t, p.via, targets[p.via], p.privileged)
			h := rpc.CallHeader{XID: 0xd1ff0000 + uint32(i), RPCVers: 2, Prog: portmap.Program, Vers: p.vers, Proc: p.proc, Cred: p.cred}
			out[i] = c.raw(append(h.Append(nil), p.args...), silenceWait)
			c.conn.Close()
		}
		return out
	}

	rb := testsupport.StartRpcbind(t)
	want := exchange()
	rb.Stop()
	os.Remove(DefaultSocketPath) // rpcbind leaves it behind

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- New().ListenAndServe(ctx) }()
	testsupport.WaitPort(t, "unix", DefaultSocketPath)
	testsupport.WaitPort(t, "tcp", "127.0.0.1:111")
	testsupport.WaitPort(t, "udp", "127.0.0.1:111")
	testsupport.WaitPort(t, "tcp", "[::1]:111")
	got := exchange()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("ListenAndServe: %v", err)
	}

	for i, p := range probes {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("%s:\n rpcbind  %s\n portmapd %s", p.name, hexOrSilence(want[i]), hexOrSilence(got[i]))
		}
	}
}

func hexOrSilence(b []byte) string {
	if b == nil {
		return "(no reply)"
	}
	return fmt.Sprintf("%x", b)
}
