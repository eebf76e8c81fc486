package main

import (
	"context"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/internal/testsupport"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
)

// intendedDifferences are the only places where this rpcinfo departs from
// Debian's on purpose, each as docs/rpcinfo.md titles it and with the test
// that shows it. The interop tests leave exactly these cases out.
var intendedDifferences = []struct{ title, test string }{
	{"-n is honoured", "TestDifferenceN"},
	{"host prognum without -T pings", "TestDifferenceNoNetid"},
	{"-T applies to -p, -m and -b", "TestDifferenceNetidModes"},
	{"--timeout", "TestDifferenceTimeout"},
	{"Long options and -o", "TestInfo"},
	{"UDP over IPv6 reports a refused port", "TestDifferenceUDP6Refused"},
	{"-T unix", "TestDifferenceUnix"},
	{"Version discovery ends", "TestDifferenceDiscovery"},
	{"Hostile mappers cannot overflow a buffer", "TestDifferenceHostile"},
	{"No broadcast send warnings", "TestInteropBroadcast"},
	{"Lists and ranges of hosts", "TestDifferenceHostLists"},
	{"Ctrl-C ends a call at once", "TestInterrupt"},
}

// TestDifferencesDocumented checks that docs/rpcinfo.md has a section for
// each intended difference, naming its test.
func TestDifferencesDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/rpcinfo.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range intendedDifferences {
		if !strings.Contains(string(doc), "### "+d.title+"\n") {
			t.Errorf("docs/rpcinfo.md has no section %q", "### "+d.title)
		}
		if !strings.Contains(string(doc), d.test) {
			t.Errorf("docs/rpcinfo.md does not name %s", d.test)
		}
	}
	if n := strings.Count(string(doc), "\n### "); n != len(intendedDifferences) {
		t.Errorf("docs/rpcinfo.md has %d sections of differences, the tests know %d", n, len(intendedDifferences))
	}
}

// TestDifferenceN: -n pings the service at that port without the mapper;
// Debian's rpcinfo ignores -n and asks the mapper.
func TestDifferenceN(t *testing.T) {
	if !testsupport.Isolate(t) {
		return
	}
	testsupport.Require(t, "rpcinfo")
	testsupport.StartRpcbind(t)
	f := testsupport.ServeFake(t, progLive, 1, 2) // not registered
	for _, proto := range []string{"-u", "-t"} {
		port := f.UDP.Port()
		if proto == "-t" {
			port = f.TCP.Port()
		}
		args := []string{"-n", strconv.Itoa(int(port)), proto, "127.0.0.1", "536870913"}
		got := runOurs(t, nil, args...)
		want := "program 536870913 version 1 ready and waiting\nprogram 536870913 version 2 ready and waiting\n"
		if got.rc != 0 || got.out != want || got.err != "" {
			t.Errorf("rpcinfo %q: %v", args, got)
		}
		if d := runDebian(t, nil, args...); d.rc != 1 || d.err != "127.0.0.1: RPC: Program not registered\n" {
			t.Errorf("Debian's rpcinfo %q no longer ignores -n: %v", args, d)
		}
	}
}

// TestDifferenceNoNetid: "rpcinfo host prognum [versnum]" pings over the
// first NETPATH transport that works; Debian's rpcinfo prints its usage.
func TestDifferenceNoNetid(t *testing.T) {
	if !testsupport.Isolate(t) {
		return
	}
	testsupport.Require(t, "rpcinfo")
	testsupport.StartRpcbind(t)
	reg := newRegistrar(t)
	serveAndRegister(t, reg, progLive, 1, 2)
	for _, env := range [][]string{nil, {"NETPATH=tcp"}, {"NETPATH=bogus:udp6:udp"}} {
		got := runOurs(t, env, "127.0.0.1", "536870913")
		if got.rc != 0 || got.out != "program 536870913 version 1 ready and waiting\nprogram 536870913 version 2 ready and waiting\n" {
			t.Errorf("NETPATH %q: %v", env, got)
		}
	}
	if got := runOurs(t, nil, "127.0.0.1", "100999", "1"); got.rc != 1 || got.err != "rpcinfo: RPC: Program not registered\n" {
		t.Errorf("unregistered: %v", got)
	}
	if d := runDebian(t, nil, "127.0.0.1", "536870913"); d.rc != 1 || d.err != usageText {
		t.Errorf("Debian's rpcinfo no longer prints its usage: %v", d)
	}
}

// TestDifferenceNetidModes: -T selects the transport of -p and -m, and of
// -b; Debian's rpcinfo ignores it there.
func TestDifferenceNetidModes(t *testing.T) {
	if !testsupport.Isolate(t) {
		return
	}
	testsupport.Require(t, "rpcinfo")
	testsupport.StartRpcbind(t)
	seed(t, newRegistrar(t))
	plain := runOurs(t, nil, "-p", "127.0.0.1")
	for _, netid := range []string{"udp", "tcp", "udp6"} {
		host := "127.0.0.1"
		if netid == "udp6" {
			host = "::1"
		}
		if got := runOurs(t, nil, "-p", "-T", netid, host); got != plain {
			t.Errorf("-p -T %s: %v\nwant %v", netid, got, plain)
		}
		if got := runOurs(t, nil, "-m", "-T", netid, host); got.rc != 0 || !strings.HasPrefix(got.out, "PORTMAP (version 2) statistics\n") {
			t.Errorf("-m -T %s: %v", netid, got)
		}
	}
	for _, args := range [][]string{{"-p", "-T", "bogus", "127.0.0.1"}, {"-m", "-T", "bogus", "127.0.0.1"}} {
		got := runOurs(t, nil, args...)
		if got.rc != 1 || got.err != "rpcinfo: invalid transport: Netid not found in netconfig database\n" {
			t.Errorf("%q: %v", args, got)
		}
		if d := runDebian(t, nil, args...); d.rc != 0 {
			t.Errorf("Debian's rpcinfo %q no longer ignores -T: %v", args, d)
		}
	}
	if got := runOurs(t, nil, "-b", "-T", "tcp", "100000", "2"); got.rc != 1 || got.err != "rpcinfo: broadcast failed: RPC: Unknown protocol\n" {
		t.Errorf("-b -T tcp: %v", got)
	}
}

// TestDifferenceTimeout: --timeout bounds the whole query; Debian's rpcinfo
// waits 10 seconds for each ping and 60 for a listing.
func TestDifferenceTimeout(t *testing.T) {
	if !testsupport.Isolate(t) {
		return
	}
	testsupport.StartRpcbind(t)
	reg := newRegistrar(t)
	// A program whose UDP port reads nothing and answers nothing.
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	ap := pc.LocalAddr().(*net.UDPAddr).AddrPort()
	reg.v3(portmap.RPCB{Prog: progLive, Vers: 1, Netid: "udp", Addr: portmap.FormatUaddr(ap), Owner: "superuser"})
	for _, args := range [][]string{
		{"--timeout", "300ms", "-u", "127.0.0.1", "536870913", "1"},
		{"--timeout=300ms", "-T", "udp", "127.0.0.1", "536870913", "1"},
		{"--timeout", "300ms", "-a", portmap.FormatUaddr(ap), "-T", "udp", "536870913", "1"},
	} {
		start := time.Now()
		got := runOurs(t, nil, args...)
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("%q took %v", args, took)
		}
		if got.rc != 1 || got.out != "program 536870913 version 1 is not available\n" || got.err != "rpcinfo: RPC: Timed out\n" {
			t.Errorf("%q: %v", args, got)
		}
	}
	if got := runOurs(t, nil, "--timeout", "-1s", "-p"); got.rc != 1 || !strings.Contains(got.err, "--timeout") {
		t.Errorf("negative timeout: %v", got)
	}
}

// TestDifferenceUDP6Refused: a refused UDP port over IPv6 is reported at
// once, as over IPv4; Debian's rpcinfo (libtirpc asks for no ICMPv6 errors)
// waits its 60 seconds and says "Timed out".
func TestDifferenceUDP6Refused(t *testing.T) {
	if !testsupport.Isolate(t) {
		return
	}
	for _, c := range []struct{ args, err string }{
		{"-T udp6 ::1 100000 2", "rpcinfo: RPC: Unable to receive\n"},
		{"-u ::1 100000 2", "::1: RPC: Unable to receive\n"},
		{"-T udp6 ::1", "rpcinfo: can't contact rpcbind: : RPC: Unable to receive; errno = Connection refused\n"},
		{"-a ::1.0.111 -T udp6 100000 2", "rpcinfo: RPC: Unable to receive; errno = Connection refused\n"},
	} {
		start := time.Now()
		got := runOurs(t, nil, strings.Fields(c.args)...)
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("%s took %v", c.args, took)
		}
		if got.rc != 1 || got.err != c.err {
			t.Errorf("%s: %v\nwant stderr %q", c.args, got, c.err)
		}
	}
}

// TestDifferenceUnix: -T unix is -T local, without libtirpc's warning and
// its ten-second pause.
func TestDifferenceUnix(t *testing.T) {
	if !testsupport.Isolate(t) {
		return
	}
	testsupport.StartRpcbind(t)
	start := time.Now()
	got := runOurs(t, nil, "-T", "unix", "127.0.0.1", "100000", "2")
	if took := time.Since(start); took > 5*time.Second || got.rc != 0 || got.err != "" ||
		got.out != "program 100000 version 2 ready and waiting\n" {
		t.Errorf("-T unix (%v): %v", took, got)
	}
}

// TestDifferenceDiscovery: version discovery calls at most 256 versions and
// stops at 4294967295; Debian's rpcinfo would call four billion versions of a
// program that answers every one, and with -T or -a never ends when the
// range reaches 4294967295.
func TestDifferenceDiscovery(t *testing.T) {
	if !testsupport.Isolate(t) {
		return
	}
	testsupport.StartRpcbind(t)
	reg := newRegistrar(t)
	serveAndRegister(t, reg, progTop, 4294967293, 4294967295)
	for _, args := range []string{"-T udp 127.0.0.1 4294967295", "-T tcp 127.0.0.1 4294967295"} {
		got := runOurs(t, nil, strings.Fields(args)...)
		want := "program 4294967295 version 4294967293 ready and waiting\n" +
			"program 4294967295 version 4294967294 ready and waiting\n" +
			"program 4294967295 version 4294967295 ready and waiting\n"
		if got.rc != 0 || got.out != want {
			t.Errorf("%s: %v", args, got)
		}
	}

	// A program that answers every version, 0 and 4294967295 included.
	wise := testsupport.ServeFake(t, progLive, 0, 0)
	wise.Mux.HandleFunc(progLive, 4294967295, 0, func(context.Context, *rpc.Request, []byte) ([]byte, error) { return nil, nil })
	got := runOurs(t, nil, "-a", portmap.FormatUaddr(wise.UDP), "-T", "udp", "536870913")
	lines := strings.Split(strings.TrimSuffix(got.out, "\n"), "\n")
	if got.rc != 1 || len(lines) != maxPings ||
		lines[0] != "program 536870913 version 0 ready and waiting" ||
		lines[1] != "program 536870913 version 1 is not available" ||
		!strings.HasPrefix(got.err, "rpcinfo: program 536870913 claims versions 0 to 4294967295; calling the first 256\n") {
		t.Errorf("a program that answers every version: exit %d, %d lines (%q...), stderr %.200q", got.rc, len(lines), lines[:2], got.err)
	}
}

// TestDifferenceHostile: a mapper that sends netids longer than rpcinfo -s's
// buffer, or protocol names longer than -l's, gets them cut to the buffer;
// Debian's rpcinfo 1.2.6 writes past the end of its stack buffer.
func TestDifferenceHostile(t *testing.T) {
	if !testsupport.Isolate(t) {
		return
	}
	long := strings.Repeat("n", 200)
	m := new(rpc.Mux)
	null(m, 3, 4)
	answer(m, 3, portmap.RpcbDump, portmap.AppendRPCBList(nil, []portmap.RPCB{
		{Prog: 1, Vers: 1, Netid: "a" + long, Addr: "x", Owner: "o"},
		{Prog: 1, Vers: 1, Netid: "b" + long, Addr: "x", Owner: "o"},
	}), nil)
	answer(m, 4, portmap.RpcbGetaddrlist, portmap.AppendEntryList(nil, []portmap.Entry{
		{Maddr: "x", Netid: "udp", Semantics: 1, Protofmly: long, Proto: long},
	}), nil)
	fakeMapper(t, m)
	got := runOurs(t, nil, "-s", "127.0.0.1")
	netids := "b" + long + ",a" + long[:52]
	if want := "         1  1         " + netids + " -           o\n"; got.rc != 0 || !strings.HasSuffix(got.out, want) {
		t.Errorf("-s: %v\nwant the netids cut at 255 bytes: %q", got, want)
	}
	got = runOurs(t, nil, "-l", "127.0.0.1", "1", "1")
	if want := "         1  1    " + long[:127] + "x                        -            \n"; got.rc != 0 || !strings.HasSuffix(got.out, want) {
		t.Errorf("-l: %v\nwant the class cut at 127 bytes: %q", got, want)
	}
}

// TestDifferenceHostLists: a list or a range of hosts asks each; Debian's
// rpcinfo takes it for one host name and cannot resolve it.
func TestDifferenceHostLists(t *testing.T) {
	if !testsupport.Isolate(t) {
		return
	}
	testsupport.Require(t, "rpcinfo")
	testsupport.StartRpcbind(t)
	for _, args := range [][]string{{"-s", "127.0.0.1,::1"}, {"-p", "127.0.0.1/32"}, {"-m", "127.0.0.1,::1"},
		{"127.0.0.1,::1"}, {"-l", "127.0.0.1,::1", "100000", "4"}} {
		debian := runDebian(t, nil, args...)
		ours := runOurs(t, nil, args...)
		if debian.rc != 1 || debian.out != "" {
			t.Errorf("Debian's rpcinfo %q: %v", args, debian)
		}
		if ours.rc != 0 || ours.err != "" || !strings.HasPrefix(ours.out, "127.0.0.1:\n") {
			t.Errorf("rpcinfo %q: %v", args, ours)
		}
		if strings.Contains(args[len(args)-1], ",") || (len(args) > 1 && strings.Contains(args[1], ",")) {
			if !strings.Contains(ours.out, "\n\n::1:\n") {
				t.Errorf("rpcinfo %q does not list ::1: %v", args, ours)
			}
		}
	}
}
