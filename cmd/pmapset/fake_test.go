package main

import (
	"bufio"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

// seqMapper is a port mapper of the test's own that reads each connection's
// calls strictly in order, as rpcbind does, and records them: it shows what
// pmapset puts on the wire and how many calls it keeps in flight. It answers
// DUMP with an empty list (or PROG_MISMATCH for rpcbind versions when v2Only)
// and every SET and UNSET with TRUE after delay, replying from goroutines so
// that replies can overtake nothing but calls can pile up. It closes a
// connection after dropAfter SET/UNSET calls when dropAfter > 0. With
// reversed, its rpcbind DUMP lists the SETs it saw, newest first, as a
// mapper that applied them out of order would.
type seqMapper struct {
	delay     time.Duration
	v2Only    bool
	dropAfter int
	reversed  bool

	mu       sync.Mutex
	calls    []seqCall // SET and UNSET calls in arrival order
	inFlight int
	maxIn    int
	port     int
}

// seqCall is one recorded change.
type seqCall struct {
	vers, proc uint32
	m          portmap.Mapping // v2
	r          portmap.RPCB    // v3/v4
}

func startSeqMapper(t *testing.T, sm *seqMapper) *seqMapper {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sm.port = l.Addr().(*net.TCPAddr).Port
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); sm.serve(c) }()
		}
	}()
	return sm
}

func (sm *seqMapper) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	var wmu sync.Mutex
	var replies sync.WaitGroup
	defer replies.Wait()
	changes := 0
	for {
		rec, err := rpc.ReadRecord(br, nil, 0)
		if err != nil {
			return
		}
		var h rpc.CallHeader
		d := xdr.NewDecoder(rec)
		h.Decode(d)
		if d.Err() != nil {
			return
		}
		rh := rpc.ReplyHeader{XID: h.XID, Stat: rpc.MsgAccepted}
		var res []byte
		delay, isChange := time.Duration(0), false
		switch {
		case h.Prog != portmap.Program:
			rh.Accept = rpc.AcceptProgUnavail
		case sm.v2Only && h.Vers != portmap.V2:
			rh.Accept, rh.Low, rh.High = rpc.AcceptProgMismatch, 2, 2
		case h.Proc == portmap.PmapDump: // the same number in every version
			var l []portmap.RPCB
			if sm.reversed && h.Vers != portmap.V2 {
				calls, _ := sm.recorded()
				for i := len(calls) - 1; i >= 0; i-- {
					if c := calls[i]; c.vers == portmap.V2 {
						netid, _ := portmap.NetidForProt(c.m.Prot)
						l = append(l, portmap.RPCB{Prog: c.m.Prog, Vers: c.m.Vers, Netid: netid, Addr: "0.0.0.0.0.1", Owner: "unknown"})
					} else {
						l = append(l, c.r)
					}
				}
			}
			res = portmap.AppendRPCBList(nil, l)
		case h.Proc == portmap.PmapSet || h.Proc == portmap.PmapUnset:
			call := seqCall{vers: h.Vers, proc: h.Proc}
			if h.Vers == portmap.V2 {
				call.m.Decode(d)
			} else {
				call.r.Decode(d)
			}
			changes++
			if sm.dropAfter > 0 && changes > sm.dropAfter {
				return
			}
			sm.mu.Lock()
			sm.calls = append(sm.calls, call)
			sm.inFlight++
			sm.maxIn = max(sm.maxIn, sm.inFlight)
			sm.mu.Unlock()
			res = xdr.AppendBool(nil, true)
			delay, isChange = sm.delay, true
		default:
			rh.Accept = rpc.AcceptProcUnavail
		}
		msg := append(rh.Append(nil), res...)
		replies.Add(1)
		go func() {
			defer replies.Done()
			time.Sleep(delay)
			if isChange {
				sm.mu.Lock()
				sm.inFlight--
				sm.mu.Unlock()
			}
			wmu.Lock()
			defer wmu.Unlock()
			rpc.WriteRecord(c, msg, 0)
		}()
	}
}

// recorded returns the calls seen so far and the most in flight at once.
func (sm *seqMapper) recorded() ([]seqCall, int) {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	return append([]seqCall(nil), sm.calls...), sm.maxIn
}
