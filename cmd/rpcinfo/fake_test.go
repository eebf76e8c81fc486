package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/internal/testsupport"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

// A fake port mapper answers both rpcinfos with the same canned data, so
// that what rpcbind would never send can be compared: statistics that do not
// move between the two runs, versions served in odd ranges (which make
// rpcinfo fall back to version 4, to version 2, or find nothing), strings
// with NUL bytes, semantics and families no netconfig has, and error
// replies.

// fakeMapper serves mux as the port mapper on 127.0.0.1:111 and [::1]:111
// over TCP and UDP and on /run/rpcbind.sock, until stop is called.
func fakeMapper(t *testing.T, mux *rpc.Mux) (stop func()) {
	t.Helper()
	return fakeMapperAt(t, mux, "111", true)
}

// fakeMapperAt serves mux on port of the loopback addresses, and on
// /run/rpcbind.sock if unix is set.
func fakeMapperAt(t *testing.T, mux *rpc.Mux, port string, unix bool) (stop func()) {
	t.Helper()
	srv := &rpc.Server{Handler: mux, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	streams := [][2]string{{"tcp4", "127.0.0.1:" + port}, {"tcp6", "[::1]:" + port}}
	if unix {
		streams = append(streams, [2]string{"unix", testsupport.RpcbindSocket})
	}
	for _, a := range streams {
		l, err := net.Listen(a[0], a[1])
		if err != nil {
			t.Fatal(err)
		}
		go srv.Serve(l)
	}
	for _, a := range [][2]string{{"udp4", "127.0.0.1:" + port}, {"udp6", "[::1]:" + port}} {
		pc, err := net.ListenPacket(a[0], a[1])
		if err != nil {
			t.Fatal(err)
		}
		go srv.ServePacket(pc)
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, rpc.ErrServerClosed) {
			t.Errorf("shutdown: %v", err)
		}
		os.Remove(testsupport.RpcbindSocket)
	}
	t.Cleanup(stop)
	return stop
}

// answer registers a handler returning fixed results, or failing with err.
func answer(m *rpc.Mux, vers, proc uint32, res []byte, err error) {
	m.HandleFunc(portmap.Program, vers, proc, func(_ context.Context, _ *rpc.Request, out []byte) ([]byte, error) {
		if err != nil {
			return nil, err
		}
		return append(out, res...), nil
	})
}

// getaddr registers GETADDR (or GETPORT in version 2) answering the
// mapper's own address for program 100000 and nothing for the others.
func getaddr(m *rpc.Mux, vers uint32) { getaddrAt(m, vers, portmap.Port) }

// getaddrAt is getaddr for a mapper on port.
func getaddrAt(m *rpc.Mux, vers uint32, port uint16) {
	m.HandleFunc(portmap.Program, vers, portmap.RpcbGetaddr, func(_ context.Context, req *rpc.Request, out []byte) ([]byte, error) {
		d := xdr.NewDecoder(req.Args)
		if vers == portmap.V2 {
			var q portmap.Mapping
			q.Decode(d)
			if q.Prog == portmap.Program {
				return xdr.AppendUint32(out, uint32(port)), nil
			}
			return xdr.AppendUint32(out, 0), nil
		}
		var q portmap.RPCB
		q.Decode(d)
		if q.Prog != portmap.Program {
			return xdr.AppendString(out, ""), nil
		}
		host := netip.MustParseAddr("127.0.0.1")
		if strings.HasSuffix(q.Netid, "6") {
			host = netip.IPv6Loopback()
		}
		return xdr.AppendString(out, portmap.FormatUaddr(netip.AddrPortFrom(host, port))), nil
	})
}

// null registers NULL in each version.
func null(m *rpc.Mux, versions ...uint32) {
	for _, v := range versions {
		answer(m, v, portmap.ProcNull, nil, nil)
	}
}

// oddRegistrations is a DUMP rpcbind would never send.
var oddRegistrations = []portmap.RPCB{
	{Prog: 100000, Vers: 4, Netid: "tcp", Addr: "0.0.0.0.0.111", Owner: "superuser"},
	{Prog: 7, Vers: 1, Netid: "udp\x00hidden", Addr: "10.0.0.1.0.7\x00junk", Owner: "root\x00x"},
	{Prog: 7, Vers: 2, Netid: "udp", Addr: "", Owner: ""},
	{Prog: 100005, Vers: 3, Netid: "a-netid-longer-than-its-column-of-nine", Addr: "an-address-longer-than-its-column-of-twenty-two", Owner: "nobody-at-all"},
	{Prog: 100005, Vers: 2147483648, Netid: "tcp", Addr: "127.0.0.1.8.1", Owner: "1000"},
	{Prog: 100005, Vers: 2147483648, Netid: "udp", Addr: "127.0.0.1.8.1", Owner: "1000"},
	{Prog: 4294967295, Vers: 1, Netid: "sctp", Addr: "héllo wörld", Owner: "ünïcode"},
}

// oddEntries is a GETADDRLIST answer rpcbind would never send.
var oddEntries = []portmap.Entry{
	{Maddr: "127.0.0.1.8.1", Netid: "tcp", Semantics: portmap.SemanticsCOTS, Protofmly: "inet", Proto: "tcp"},
	{Maddr: "x", Netid: "y", Semantics: 9, Protofmly: "a-family-name-longer-than-the-column", Proto: "p"},
	{Maddr: "an-address-longer-than-twenty-four-bytes", Netid: "", Semantics: portmap.SemanticsCLTS, Protofmly: "", Proto: ""},
	{Maddr: "nul\x00after", Netid: "udp", Semantics: 4, Protofmly: "inet\x00x", Proto: "udp"},
}

// oddStats is a GETSTAT answer with counters rpcbind would take years to
// reach, negative ones, and every list.
func oddStats() portmap.StatByVers {
	var st portmap.StatByVers
	st[0] = portmap.Stat{
		Info:      [portmap.StatHighProc]int32{12345678, 7, 0, 3, -5, 2},
		SetInfo:   2147483647,
		UnsetInfo: -1,
		AddrInfo: []portmap.AddrStat{{Prog: 100003, Vers: 3, Success: 123456789012 % 2147483647, Failure: 2, Netid: "tcp"},
			{Prog: 4294967295, Vers: 4294967295, Success: -1, Failure: 0, Netid: "udp\x00x"}},
		RmtInfo: []portmap.RmtCallStat{{Prog: 100024, Vers: 1, Proc: 4294967295, Success: 1, Failure: 0, Indirect: 9, Netid: "udp"}},
	}
	st[1] = portmap.Stat{
		Info:     [portmap.StatHighProc]int32{1, 2, 3, 0, 5, 6, 7, 8, 9},
		SetInfo:  2,
		RmtInfo:  []portmap.RmtCallStat{{Prog: 99, Vers: 2, Proc: 3, Success: 4, Failure: 5, Indirect: 6, Netid: "a-long-netid-name"}},
		AddrInfo: []portmap.AddrStat{{Prog: 100021, Vers: 4, Success: 1, Failure: 1, Netid: "tcp6"}},
	}
	st[2] = portmap.Stat{
		Info:     [portmap.StatHighProc]int32{0, 0, 0, 2147483647, 0, 0, 0, 0, 0, 1, 1, 1, 99999999},
		AddrInfo: []portmap.AddrStat{{Prog: 100000, Vers: 2, Success: 3, Failure: 4, Netid: "local"}},
		RmtInfo:  []portmap.RmtCallStat{{Prog: 100005, Vers: 3, Proc: 0, Success: 0, Failure: 1, Indirect: 1, Netid: "udp"}},
	}
	return st
}

// TestInteropFakeMapper compares the two against fake port mappers.
func TestInteropFakeMapper(t *testing.T) {
	if !testsupport.Isolate(t) {
		return
	}
	testsupport.Require(t, "rpcinfo")
	stats := oddStats()
	scenarios := []struct {
		name  string
		setup func(m *rpc.Mux)
		cases []string
	}{
		{"statistics", func(m *rpc.Mux) {
			null(m, 2, 3, 4)
			getaddr(m, 4)
			answer(m, 4, portmap.RpcbGetstat, stats.Append(nil), nil)
		}, []string{"-m", "-m 127.0.0.1", "-m ::1", "-m localhost", "-m 127.0.0.1 extra words"}},
		{"version 4 only", func(m *rpc.Mux) {
			null(m, 4)
			getaddr(m, 4)
			answer(m, 4, portmap.RpcbDump, portmap.AppendRPCBList(nil, oddRegistrations), nil)
			answer(m, 4, portmap.RpcbGetaddrlist, portmap.AppendEntryList(nil, oddEntries), nil)
		}, []string{"", "127.0.0.1", "::1", "-s", "-s 127.0.0.1", "-l 127.0.0.1 100005 3", "-l ::1 7 1",
			"-m", "-p", "-p 127.0.0.1", "-t 127.0.0.1 100000", "-T tcp 127.0.0.1 100000 4"}},
		{"version 2 only", func(m *rpc.Mux) {
			null(m, 2)
			getaddr(m, 2)
			answer(m, 2, portmap.PmapDump, portmap.AppendMappingList(nil, []portmap.Mapping{
				{Prog: 100000, Vers: 2, Prot: portmap.IPProtoTCP, Port: 111},
				{Prog: 7, Vers: 1, Prot: 99, Port: 70000},
				{Prog: 7, Vers: 2, Prot: 4294967295, Port: 4294967295},
				{Prog: 100003, Vers: 3, Prot: portmap.IPProtoUDP, Port: 2049},
			}), nil)
		}, []string{"", "127.0.0.1", "-s", "-s 127.0.0.1", "-p", "-p 127.0.0.1", "-m", "-m 127.0.0.1",
			"-l 127.0.0.1 100003 3", "-t 127.0.0.1 100000", "-u 127.0.0.1 100000 2"}},
		{"versions 5 to 7", func(m *rpc.Mux) {
			null(m, 5, 7)
		}, []string{"", "127.0.0.1", "-s 127.0.0.1", "-p", "-p 127.0.0.1", "-m 127.0.0.1", "-l 127.0.0.1 1 1"}},
		{"no port mapper program", func(m *rpc.Mux) {
			m.HandleFunc(9, 1, 0, func(context.Context, *rpc.Request, []byte) ([]byte, error) { return nil, nil })
		}, []string{"", "127.0.0.1", "-s", "-p", "-p 127.0.0.1", "-m", "-l 127.0.0.1 1 1",
			"-t 127.0.0.1 100000", "-u 127.0.0.1 100000 2", "-T udp 127.0.0.1 100000"}},
		{"error replies", func(m *rpc.Mux) {
			null(m, 2, 3, 4)
			getaddr(m, 4)
			answer(m, 3, portmap.RpcbDump, nil, rpc.ErrSystemErr)
			answer(m, 4, portmap.RpcbGetstat, nil, rpc.ErrGarbageArgs)
			answer(m, 4, portmap.RpcbGetaddrlist, nil, rpc.AuthErrorReply(rpc.AuthTooWeak))
			answer(m, 2, portmap.PmapDump, []byte{0, 0, 0, 1, 0, 0}, nil) // truncated
		}, []string{"", "127.0.0.1", "-s", "-m", "-m 127.0.0.1", "-l 127.0.0.1 1 1", "-p", "-p 127.0.0.1"}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			m := new(rpc.Mux)
			sc.setup(m)
			stop := fakeMapper(t, m)
			defer stop()
			compareAll(t, sc.cases)
		})
	}
}

// TestPortOption runs the modes against a mapper on port 1111 with --port.
func TestPortOption(t *testing.T) {
	if !testsupport.Isolate(t) {
		return
	}
	m := new(rpc.Mux)
	null(m, 2, 3, 4)
	getaddrAt(m, 4, 1111)
	regs := []portmap.RPCB{{Prog: 100000, Vers: 4, Netid: "tcp", Addr: "0.0.0.0.4.87", Owner: "superuser"}}
	answer(m, 3, portmap.RpcbDump, portmap.AppendRPCBList(nil, regs), nil)
	answer(m, 2, portmap.PmapDump, portmap.AppendMappingList(nil, []portmap.Mapping{{Prog: 100000, Vers: 2, Prot: portmap.IPProtoTCP, Port: 1111}}), nil)
	answer(m, 4, portmap.RpcbGetaddrlist, portmap.AppendEntryList(nil, []portmap.Entry{{Maddr: "127.0.0.1.4.87", Netid: "tcp", Semantics: 3, Protofmly: "inet", Proto: "tcp"}}), nil)
	fakeMapperAt(t, m, "1111", false)
	for _, c := range []struct{ args, out string }{
		{"--port 1111 127.0.0.1", "   program version netid     address                service    owner\n" +
			"    100000    4    tcp       0.0.0.0.4.87           portmapper superuser\n"},
		{"--port 1111 -p ::1", "   program vers proto   port  service\n    100000    2   tcp   1111  portmapper\n"},
		{"--port 1111 -l 127.0.0.1 100000 4", "   program vers  tp_family/name/class    address\t\t  service\n" +
			"    100000  4    inet/tcp/cots_ord       127.0.0.1.4.87           portmapper   \n"},
		{"--port 1111 -T udp 127.0.0.1 100000", "program 100000 version 2 ready and waiting\n" +
			"program 100000 version 3 ready and waiting\nprogram 100000 version 4 ready and waiting\n"},
		{"--port=1111 -t 127.0.0.1 100000 4", "program 100000 version 4 ready and waiting\n"},
	} {
		got := runOurs(t, nil, strings.Fields(c.args)...)
		if got.rc != 0 || got.out != c.out || got.err != "" {
			t.Errorf("rpcinfo %s: %v\nwant stdout:\n%s", c.args, got, c.out)
		}
	}
	if got := runOurs(t, nil, "-p", "127.0.0.1"); got.rc != 1 || got.err != "127.0.0.1: RPC: Remote system error - Connection refused\n" {
		t.Errorf("without --port: %v", got)
	}
}
