package server

import (
	"reflect"
	"testing"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
)

// TestGetstat checks GETSTAT after a known exchange against the statistics
// rpcbind keeps for it: per-procedure counts (none past a version's last
// procedure), successful SETs and UNSETs, lookups by the netid of the
// requested prot (v2) or of the arriving transport (v3, v4), GETVERSADDR and
// GETADDRLIST counted as lookups, lists newest first, and rpcbind's indirect
// count that starts at 1.
func TestGetstat(t *testing.T) {
	ts := startServer(t, nil)
	registerSeed(t, ts) // 20 v3 SETs
	udpOnly := []step{
		{name: "v2 NULL", vers: 2, proc: 0},
		{name: "v2 SET", privileged: true, vers: 2, proc: 1, args: mapArgs(100099, 1, 6, 4242)},
		{name: "v2 SET bad prot", privileged: true, vers: 2, proc: 1, args: mapArgs(100099, 1, 99, 1)},
		{name: "v2 GETPORT found", vers: 2, proc: 3, args: mapArgs(100099, 1, 6, 0)},
		{name: "v2 GETPORT missing", vers: 2, proc: 3, args: mapArgs(100999, 1, 17, 0)},
		{name: "v2 GETPORT bad prot", vers: 2, proc: 3, args: mapArgs(100099, 1, 99, 0)},
		{name: "v2 proc 7", vers: 2, proc: 7, status: rpc.ProcUnavail},
		{name: "v2 UNSET", privileged: true, vers: 2, proc: 2, args: mapArgs(100099, 1, 6, 0)},
		{name: "v2 CALLIT status", vers: 2, proc: 5, args: rmtArgs(100024, 1, 0, nil), silent: true},
		{name: "v2 CALLIT nfs proc 1", vers: 2, proc: 5, args: rmtArgs(100003, 3, 1, nil), status: rpc.AuthError, why: rpc.AuthTooWeak},
		{name: "v3 GETADDR nfs", vers: 3, proc: 3, args: rpcbArgs(100003, 3, "tcp", "", "")},
		{name: "v3 GETADDR missing", vers: 3, proc: 3, args: rpcbArgs(100999, 1, "udp", "", "")},
		{name: "v3 GETADDR nfs again", vers: 3, proc: 3, args: rpcbArgs(100003, 3, "", "", "")},
		{name: "v4 GETADDR mountd", vers: 4, proc: 3, args: rpcbArgs(100005, 3, "udp", "", "")},
		{name: "v4 GETVERSADDR nlockmgr", vers: 4, proc: 9, args: rpcbArgs(100021, 4, "tcp", "", "")},
		{name: "v4 GETVERSADDR nfs v9", vers: 4, proc: 9, args: rpcbArgs(100003, 9, "", "", "")},
		{name: "v4 GETADDRLIST nfs", vers: 4, proc: 11, args: rpcbArgs(100003, 3, "", "", "")},
		{name: "v4 INDIRECT missing", vers: 4, proc: 10, args: rmtArgs(100999, 1, 0, nil), status: rpc.ProgUnavail},
		{name: "v4 INDIRECT missing again", vers: 4, proc: 10, args: rmtArgs(100999, 1, 0, nil), status: rpc.ProgUnavail},
		{name: "v4 BCAST status", vers: 4, proc: 5, args: rmtArgs(100024, 1, 0, nil), silent: true},
		{name: "v4 BCAST status again", vers: 4, proc: 5, args: rmtArgs(100024, 1, 0, nil), silent: true},
	}
	for i := range udpOnly {
		udpOnly[i].via = viaUDP
	}
	run(t, ts, udpOnly)

	d := ts.dial(t, viaTCP, false).call(4, 12, nil).ok(t)
	var got portmap.StatByVers
	got.Decode(d)
	if d.Err() != nil || d.Remaining() != 0 {
		t.Fatalf("GETSTAT reply: %v, %d bytes left", d.Err(), d.Remaining())
	}
	var want portmap.StatByVers
	want[0] = portmap.Stat{
		Info:      [13]int32{0: 1, 1: 2, 2: 1, 3: 3, 5: 2},
		SetInfo:   1,
		UnsetInfo: 1,
		AddrInfo: []portmap.AddrStat{
			{Prog: 100999, Vers: 1, Failure: 1, Netid: "udp"},
			{Prog: 100099, Vers: 1, Success: 1, Netid: "tcp"},
		},
		RmtInfo: []portmap.RmtCallStat{{Prog: 100024, Vers: 1, Success: 1, Indirect: 1, Netid: "udp"}},
	}
	want[1] = portmap.Stat{
		Info:    [13]int32{1: 20, 3: 3},
		SetInfo: 20,
		AddrInfo: []portmap.AddrStat{
			{Prog: 100999, Vers: 1, Failure: 1, Netid: "udp"},
			{Prog: 100003, Vers: 3, Success: 2, Netid: "udp"},
		},
	}
	want[2] = portmap.Stat{
		Info: [13]int32{3: 1, 5: 2, 9: 2, 10: 2, 11: 1, 12: 1},
		AddrInfo: []portmap.AddrStat{
			{Prog: 100003, Vers: 3, Success: 1, Netid: "udp"},
			{Prog: 100003, Vers: 9, Failure: 1, Netid: "udp"},
			{Prog: 100021, Vers: 4, Success: 1, Netid: "udp"},
			{Prog: 100005, Vers: 3, Success: 1, Netid: "udp"},
		},
		RmtInfo: []portmap.RmtCallStat{
			{Prog: 100024, Vers: 1, Success: 2, Indirect: 1, Netid: "udp"},
			{Prog: 100999, Vers: 1, Failure: 2, Indirect: 2, Netid: "udp"},
		},
	}
	for v := range want {
		if !reflect.DeepEqual(got[v], want[v]) {
			t.Errorf("version %d statistics:\n got %+v\nwant %+v", v+2, got[v], want[v])
		}
	}
	// rpcinfo -m shows GETADDR as success/total: GETVERSADDR and
	// GETADDRLIST add to the first and not the second (m.out's "5/4").
	var success int32
	for _, a := range got[2].AddrInfo {
		success += a.Success
	}
	if success != 3 || got[2].Info[portmap.RpcbGetaddr] != 1 {
		t.Errorf("v4 GETADDR %d/%d, want 3/1", success, got[2].Info[portmap.RpcbGetaddr])
	}
	if s := ts.srv.Stats(); !reflect.DeepEqual(s[1], got[1]) {
		t.Errorf("Server.Stats differs from GETSTAT: %+v", s[1])
	}
}

// TestStatListCap checks that each list keeps the newest MaxStatEntries.
func TestStatListCap(t *testing.T) {
	var s stats
	for i := uint32(0); i < MaxStatEntries+10; i++ {
		s.addr(portmap.V3, 1000+i, 1, "udp", i%2 == 0)
		s.rmtcall(portmap.V4, 1000+i, 1, 0, "udp", true, false)
	}
	s.addr(portmap.V3, 1000+MaxStatEntries+9, 1, "udp", false) // the newest, again
	got := s.snapshot()
	a, r := got[1].AddrInfo, got[2].RmtInfo
	if len(a) != MaxStatEntries || len(r) != MaxStatEntries {
		t.Fatalf("lists of %d and %d entries, want %d", len(a), len(r), MaxStatEntries)
	}
	if a[0].Prog != 1000+MaxStatEntries+9 || a[0].Success != 0 || a[0].Failure != 2 {
		t.Errorf("newest entry %+v", a[0])
	}
	if last := a[len(a)-1].Prog; last != 1010 {
		t.Errorf("oldest entry kept is program %d, want 1010", last)
	}
	if s.ver[1].addrs.get(addrKey{1009, 1, "udp"}) != nil {
		t.Error("a dropped entry is still indexed")
	}
}
