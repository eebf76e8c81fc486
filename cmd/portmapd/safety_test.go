package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/internal/testsupport"
	"github.com/portmap-toolkit/pmap/pkg/client"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
	"github.com/portmap-toolkit/pmap/pkg/server"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

// Timing of the datagram exchanges from the peer: a reply on the test
// bridge comes within a millisecond; extra datagrams of one answer (a
// reflector may send several) follow at once.
const (
	firstReplyWait = 500 * time.Millisecond
	extraReplyWait = 100 * time.Millisecond
)

// udpProbe is one call sent from the peer over UDP.
type udpProbe struct {
	name       string
	vers, proc uint32
	prog       uint32 // 0: the port mapper
	cred       rpc.OpaqueAuth
	args       []byte
}

// peerProbes are calls of every procedure of every version, and a few bad
// ones, each as small as the procedure allows (AUTH_NONE, short arguments):
// what a spoofer sends to draw the largest replies.
func peerProbes() []udpProbe {
	rpcb := func(prog, vers uint32, netid string) []byte {
		return portmap.RPCB{Prog: prog, Vers: vers, Netid: netid}.Append(nil)
	}
	sin := []byte{2, 0, 0, 111, 192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0}
	return []udpProbe{
		{name: "v2 NULL", vers: 2, proc: 0},
		{name: "v2 GETPORT nfs", vers: 2, proc: 3, args: portmap.Mapping{Prog: 100003, Vers: 3, Prot: 17}.Append(nil)},
		{name: "v2 DUMP", vers: 2, proc: 4},
		{name: "v2 CALLIT nfs NULL", vers: 2, proc: 5, args: portmap.RmtCallArgs{Prog: 100003, Vers: 3}.Append(nil)},
		{name: "v3 NULL", vers: 3, proc: 0},
		{name: "v3 GETADDR nfs", vers: 3, proc: 3, args: rpcb(100003, 3, "udp")},
		{name: "v3 DUMP", vers: 3, proc: 4},
		{name: "v3 GETTIME", vers: 3, proc: 6},
		{name: "v3 UADDR2TADDR", vers: 3, proc: 7, args: xdr.AppendString(nil, "192.0.2.1.0.111")},
		{name: "v3 TADDR2UADDR", vers: 3, proc: 8, args: portmap.Netbuf{MaxLen: 16, Buf: sin}.Append(nil)},
		{name: "v4 DUMP", vers: 4, proc: 4},
		{name: "v4 GETVERSADDR nfs", vers: 4, proc: 9, args: rpcb(100003, 3, "udp")},
		{name: "v4 INDIRECT nfs NULL", vers: 4, proc: 10, args: portmap.RmtCallArgs{Prog: 100003, Vers: 3}.Append(nil)},
		{name: "v4 GETADDRLIST nfs", vers: 4, proc: 11, args: rpcb(100003, 3, "udp")},
		{name: "v4 GETSTAT", vers: 4, proc: 12},
		{name: "version 5", vers: 5, proc: 0},
		{name: "program 100001", prog: 100001, vers: 1, proc: 0},
		{name: "v2 procedure 99", vers: 2, proc: 99},
		{name: "AUTH_SHORT", vers: 2, proc: 0, cred: rpc.OpaqueAuth{Flavor: rpc.AuthShort}},
	}
}

// exchangeResult is what came back to one datagram: every datagram from
// the mapper's address within the window, whatever port it came from.
type exchangeResult struct {
	request, reply, datagrams int
	status                    string
}

// udpExchange sends msg from an unconnected UDP socket of the calling
// thread's namespace to to, and counts what comes back from to's address.
func udpExchange(to *net.UDPAddr, msg []byte) (exchangeResult, error) {
	r := exchangeResult{request: len(msg), status: "silent"}
	pc, err := net.ListenPacket("udp4", ":0")
	if err != nil {
		return r, err
	}
	defer pc.Close()
	if _, err := pc.WriteTo(msg, to); err != nil {
		return r, err
	}
	buf := make([]byte, 1<<16)
	pc.SetReadDeadline(time.Now().Add(firstReplyWait))
	for {
		n, from, err := pc.ReadFrom(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return r, nil
		}
		if err != nil {
			return r, err
		}
		if !from.(*net.UDPAddr).IP.Equal(to.IP) {
			continue
		}
		if r.datagrams == 0 {
			r.status = replyText(buf[:n])
			pc.SetReadDeadline(time.Now().Add(extraReplyWait))
		}
		r.datagrams++
		r.reply += n
	}
}

// replyText names a reply's status.
func replyText(m []byte) string {
	var h rpc.ReplyHeader
	d := xdr.NewDecoder(m)
	h.Decode(d)
	switch {
	case d.Err() != nil:
		return "garbled"
	case h.Stat == rpc.MsgDenied && h.Reject == rpc.RejectAuthError:
		return "AUTH_ERROR " + h.Auth.String()
	case h.Stat == rpc.MsgDenied:
		return h.Reject.String()
	}
	return h.Accept.String()
}

// figures are what TestSafetyFromPeer measures of one mapper.
type figures struct {
	mapper      string
	remoteSet   []string // the answers to SET and UNSET from the peer
	probes      []exchangeResult
	tcpDump     [3]int      // v2, v3, v4 DUMP over TCP from the peer: bytes of results
	tcpFull     bool        // those listings equal the loopback ones
	clientDump  int         // registrations pkg/client's Dump over UDP returned to the peer
	burst       floodResult // NULL calls sent from the peer at 1000 a second
	paced       floodResult // NULL calls sent from the peer at 200 a second, after the burst
	loopback    floodResult // NULL calls sent from 127.0.0.1 at 1000 a second
	rpcinfoPeer []string    // rpcinfo run on the peer: exit status of each
}

// measure runs the peer's side of TestSafetyFromPeer against the mapper
// listening on port 111 of the test namespace.
func measure(t *testing.T, name string, peer *testsupport.Host) figures {
	t.Helper()
	f := figures{mapper: name}
	mapper := &net.UDPAddr{IP: testsupport.LocalAddr.AsSlice(), Port: 111}
	tcpAddr := mapper.String()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := peer.Do(func() error {
		// Changes from a remote address, over UDP and TCP.
		for _, c := range []struct {
			network    string
			vers, proc uint32
			args       []byte
		}{
			{"udp", 2, 1, portmap.Mapping{Prog: 390000, Vers: 1, Prot: 17, Port: 900}.Append(nil)},
			{"udp", 3, 1, portmap.RPCB{Prog: 390001, Vers: 1, Netid: "udp", Addr: "192.0.2.2.3.132"}.Append(nil)},
			{"tcp", 4, 1, portmap.RPCB{Prog: 390002, Vers: 1, Netid: "tcp", Addr: "192.0.2.2.3.132"}.Append(nil)},
			{"udp", 4, 2, portmap.RPCB{Prog: 100003, Vers: 3, Netid: "udp"}.Append(nil)},
			{"tcp", 2, 2, portmap.Mapping{Prog: 100003, Vers: 3}.Append(nil)},
		} {
			_, err := rpcCall(ctx, c.network, tcpAddr, c.vers, c.proc, c.args)
			var e *rpc.Error
			switch {
			case errors.As(err, &e) && e.Status == rpc.AuthError:
				f.remoteSet = append(f.remoteSet, "AUTH_ERROR "+e.Why.String())
			case err != nil:
				f.remoteSet = append(f.remoteSet, err.Error())
			default:
				f.remoteSet = append(f.remoteSet, "accepted")
			}
		}
		// Every procedure over UDP.
		for i, p := range peerProbes() {
			prog := p.prog
			if prog == 0 {
				prog = portmap.Program
			}
			h := rpc.CallHeader{XID: 0x5afe0000 + uint32(i), RPCVers: 2, Prog: prog, Vers: p.vers, Proc: p.proc, Cred: p.cred}
			r, err := udpExchange(mapper, append(h.Append(nil), p.args...))
			if err != nil {
				return err
			}
			f.probes = append(f.probes, r)
		}
		// The listings over TCP.
		for i, v := range []uint32{2, 3, 4} {
			res, err := rpcCall(ctx, "tcp", tcpAddr, v, portmap.PmapDump, nil)
			if err != nil {
				return fmt.Errorf("v%d DUMP over TCP: %w", v, err)
			}
			f.tcpDump[i] = len(res)
		}
		// pkg/client's Dump, asked to use UDP.
		c := client.New(testsupport.LocalAddr.String(), &client.Options{Network: "udp"})
		defer c.Close()
		l, err := c.Dump(ctx, portmap.V3)
		if err != nil {
			return fmt.Errorf("client Dump over UDP: %w", err)
		}
		f.clientDump = len(l)
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	// The listings from the loopback, to compare.
	f.tcpFull = true
	for i, v := range []uint32{2, 3, 4} {
		if n := len(call(t, "tcp", "127.0.0.1:111", v, portmap.PmapDump, nil)); n != f.tcpDump[i] {
			f.tcpFull = false
		}
	}
	f.rpcinfoPeer = rpcinfoFromPeer(t, peer)
	// Last, as it empties the peer's bucket: the rate limit.
	if err := peer.Do(func() error {
		var err error
		if f.burst, err = flood(mapper, 400, time.Millisecond); err != nil {
			return err
		}
		f.paced, err = flood(mapper, 200, 5*time.Millisecond)
		return err
	}); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var err2 error
	if f.loopback, err2 = flood(&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 111}, 400, time.Millisecond); err2 != nil {
		t.Fatal(err2)
	}
	return f
}

// floodResult is what flood measured.
type floodResult struct {
	sent, answered    int
	start, last, done time.Time // first call sent, last call sent, collection over
}

// flood sends n NULL calls from one socket, every gap (0: back to back),
// and counts the replies that come back.
func flood(to *net.UDPAddr, n int, gap time.Duration) (floodResult, error) {
	r := floodResult{sent: n}
	pc, err := net.ListenPacket("udp4", ":0")
	if err != nil {
		return r, err
	}
	defer pc.Close()
	pc.(*net.UDPConn).SetReadBuffer(1 << 20)
	done := make(chan int, 1)
	go func() {
		buf := make([]byte, 1<<16)
		got := 0
		for {
			pc.SetReadDeadline(time.Now().Add(firstReplyWait))
			if _, _, err := pc.ReadFrom(buf); err != nil {
				done <- got
				return
			}
			got++
		}
	}()
	r.start = time.Now()
	for i := range n {
		h := rpc.CallHeader{XID: 0xf1000000 + uint32(i), RPCVers: 2, Prog: portmap.Program, Vers: 2}
		if _, err := pc.WriteTo(h.Append(nil), to); err != nil {
			return r, err
		}
		if gap > 0 {
			time.Sleep(gap)
		}
	}
	r.last = time.Now()
	r.answered = <-done
	r.done = time.Now()
	return r, nil
}

// rpcinfoFromPeer runs Debian's rpcinfo on the peer against the mapper,
// in the modes an administrator uses across a network, and returns how
// each ended.
func rpcinfoFromPeer(t *testing.T, peer *testsupport.Host) []string {
	t.Helper()
	var out []string
	for _, args := range [][]string{
		{"-p", "192.0.2.1"},
		{"192.0.2.1"},
		{"-s", "192.0.2.1"},
		{"-m", "192.0.2.1"},
		{"-l", "192.0.2.1", "100003", "3"},
		{"-u", "192.0.2.1", "portmapper"},
		{"-t", "192.0.2.1", "portmapper"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
		cmd := peer.Command("rpcinfo", args...)
		cmd = exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		cancel()
		res := "exit 0"
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			res = fmt.Sprintf("exit %d: %s", ee.ExitCode(), strings.TrimSpace(stderr.String()))
		} else if err != nil {
			t.Fatal(err)
		}
		out = append(out, "rpcinfo "+strings.Join(args, " ")+": "+res)
	}
	return out
}

// seedMapper registers the seed table through the local socket, as root.
func seedMapper(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, m := range seedMappings(t) {
		netid, _ := portmap.NetidForProt(m.Prot)
		r := portmap.RPCB{Prog: m.Prog, Vers: m.Vers, Netid: netid, Addr: uaddrOf(int(m.Port))}
		if ok, err := setOver(ctx, "unix", server.DefaultSocketPath, portmap.RpcbSet, r); !ok || err != nil {
			t.Fatalf("SET %v: %v, %v", r, ok, err)
		}
	}
}

// seedMappings reads testdata/seed-registrations.txt at the module root.
func seedMappings(t *testing.T) []portmap.Mapping {
	t.Helper()
	var out []portmap.Mapping
	args := seedArgs(t)
	for i := 0; i+4 < len(args); i += 5 {
		var m portmap.Mapping
		fmt.Sscan(args[i+1], &m.Prog)
		fmt.Sscan(args[i+2], &m.Vers)
		m.Prot, _ = portmap.ParseProt(args[i+3])
		fmt.Sscan(args[i+4], &m.Port)
		out = append(out, m)
	}
	return out
}

// TestSafetyFromPeer measures Debian's rpcbind and portmapd with its
// defaults, each alone on port 111 of the test namespace holding the seed
// table, from a second namespace joined by a veth pair (a source that is
// not on the loopback): changes are refused to the peer by both; from
// portmapd no UDP reply to the peer is larger than its call, the listings
// over TCP come in full, pkg/client's Dump over UDP still gets the whole
// list (it moves to TCP on SYSTEM_ERR), the peer's UDP calls are held to
// the rate limit while the loopback's are not. The figures of both are
// logged as the table of docs/security.md ("Reflection").
func TestSafetyFromPeer(t *testing.T) {
	if !testsupport.Isolate(t) {
		return
	}
	testsupport.Require(t, "rpcbind", "rpcinfo")
	bin := filepath.Join(testsupport.BuildGo(t, "./cmd/portmapd"), "portmapd")
	peer := testsupport.Peer(t, "remote")

	rb := testsupport.StartRpcbind(t)
	seedMapper(t)
	want := measure(t, "rpcbind", peer)
	rb.Stop()
	os.Remove(server.DefaultSocketPath)

	pm := testsupport.Start(t, bin, "-f")
	pm.WaitPort(t, "unix", server.DefaultSocketPath)
	pm.WaitPort(t, "tcp", "127.0.0.1:111")
	pm.WaitPort(t, "udp", "127.0.0.1:111")
	seedMapper(t)
	got := measure(t, "portmapd", peer)
	pm.Stop()

	report(t, peerProbes(), want, got)

	for _, f := range []figures{want, got} {
		for i, s := range f.remoteSet {
			if s != "AUTH_ERROR AUTH_TOOWEAK" {
				t.Errorf("%s: change %d from the peer: %s, want AUTH_ERROR AUTH_TOOWEAK", f.mapper, i, s)
			}
		}
		if !f.tcpFull {
			t.Errorf("%s: the listings over TCP from the peer differ from the loopback's: %v", f.mapper, f.tcpDump)
		}
		if f.clientDump != len(seedMappings(t))+12 {
			t.Errorf("%s: pkg/client's Dump over UDP returned %d registrations", f.mapper, f.clientDump)
		}
	}
	for i, r := range got.probes {
		if r.reply > r.request || r.datagrams > 1 {
			t.Errorf("portmapd: %s: %d bytes in %d datagrams to a %d-byte call", peerProbes()[i].name, r.reply, r.datagrams, r.request)
		}
	}
	for _, i := range []int{2, 6, 10, 14} { // the listings and GETSTAT
		if got.probes[i].status != "SYSTEM_ERR" {
			t.Errorf("portmapd: %s from the peer: %s, want SYSTEM_ERR", peerProbes()[i].name, got.probes[i].status)
		}
	}
	// The limit is an upper bound: at most DefaultUDPBurst answers and
	// what the bucket earns while the burst is sent, then what it earned
	// since (DefaultUDPRate a second). Fewer may come back when the machine
	// is loaded and datagrams are lost, as they are to rpcbind then, but
	// at least half. The loopback is not limited: it gets more answers
	// than any limited source could.
	rate := float64(server.DefaultUDPRate)
	during := got.burst.last.Sub(got.burst.start).Seconds() * rate
	if n := float64(got.burst.answered); n < server.DefaultUDPBurst/2 || n > server.DefaultUDPBurst+during+2 {
		t.Errorf("portmapd answered %v of %d calls sent from the peer over %v, want at most %.0f",
			n, got.burst.sent, got.burst.last.Sub(got.burst.start).Round(time.Millisecond), server.DefaultUDPBurst+during)
	}
	earned := got.paced.last.Sub(got.burst.last).Seconds() * rate
	if n := float64(got.paced.answered); n > earned+2 || n < earned/2 {
		t.Errorf("portmapd answered %v of %d calls sent at 200 a second, want at most %.0f (%.0f a second for %v)",
			n, got.paced.sent, earned, rate, got.paced.last.Sub(got.burst.last).Round(time.Millisecond))
	}
	if n, limited := float64(got.loopback.answered), server.DefaultUDPBurst+got.loopback.last.Sub(got.loopback.start).Seconds()*rate; n < limited+20 {
		t.Errorf("portmapd answered %v of %d calls from the loopback: no more than a limited source would get (%.0f)", n, got.loopback.sent, limited)
	}
	if !reflect.DeepEqual(got.rpcinfoPeer, want.rpcinfoPeer) {
		t.Errorf("rpcinfo from the peer:\nrpcbind  %q\nportmapd %q", want.rpcinfoPeer, got.rpcinfoPeer)
	}
}

// report logs the figures as a Markdown table.
func report(t *testing.T, probes []udpProbe, mappers ...figures) {
	var b strings.Builder
	fmt.Fprintf(&b, "\n| call from the peer over UDP | request | %s |\n|---|---|%s\n", headers(mappers), strings.Repeat("---|", len(mappers)))
	for i, p := range probes {
		fmt.Fprintf(&b, "| %s | %d |", p.name, mappers[0].probes[i].request)
		for _, f := range mappers {
			r := f.probes[i]
			if r.datagrams == 0 {
				b.WriteString(" silent |")
				continue
			}
			fmt.Fprintf(&b, " %d %s (%.1fx) |", r.reply, r.status, float64(r.reply)/float64(r.request))
		}
		b.WriteString("\n")
	}
	row := func(name string, f func(figures) string) {
		fmt.Fprintf(&b, "| %s | |", name)
		for _, m := range mappers {
			fmt.Fprintf(&b, " %s |", f(m))
		}
		b.WriteString("\n")
	}
	row("SET/UNSET from the peer (v2, v3, v4 over UDP and TCP)", func(f figures) string {
		return strings.Join(dedup(f.remoteSet), ", ")
	})
	row("v2 / v3 / v4 DUMP over TCP from the peer (bytes of results)", func(f figures) string {
		return fmt.Sprintf("%d / %d / %d, complete: %v", f.tcpDump[0], f.tcpDump[1], f.tcpDump[2], f.tcpFull)
	})
	row("pkg/client Dump over UDP from the peer", func(f figures) string { return fmt.Sprintf("%d registrations", f.clientDump) })
	row("NULL calls at 1000 a second from the peer: answered", func(f figures) string {
		return fmt.Sprintf("%d of %d in %.1f s", f.burst.answered, f.burst.sent, f.burst.last.Sub(f.burst.start).Seconds())
	})
	row("then NULL calls at 200 a second from the peer: answered", func(f figures) string {
		return fmt.Sprintf("%d of %d in %.1f s", f.paced.answered, f.paced.sent, f.paced.last.Sub(f.burst.last).Seconds())
	})
	row("NULL calls at 1000 a second from 127.0.0.1: answered", func(f figures) string {
		return fmt.Sprintf("%d of %d", f.loopback.answered, f.loopback.sent)
	})
	for i := range mappers[0].rpcinfoPeer {
		name, _, _ := strings.Cut(mappers[0].rpcinfoPeer[i], ":")
		row("`"+name+"` on the peer", func(f figures) string {
			_, res, _ := strings.Cut(f.rpcinfoPeer[i], ": ")
			return res
		})
	}
	t.Log(b.String())
}

func headers(ms []figures) string {
	var names []string
	for _, m := range ms {
		names = append(names, m.mapper)
	}
	return strings.Join(names, " | ")
}

func dedup(ss []string) []string {
	var out []string
	for _, s := range ss {
		if len(out) == 0 || out[len(out)-1] != s {
			out = append(out, s)
		}
	}
	return out
}
