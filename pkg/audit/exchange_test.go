package audit

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/pkg/rpc"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

// datagram is one datagram a raw reflector sends back for a request.
type datagram struct {
	kind    string // "reply": a SUCCESS reply to the request; "stray": a reply to another xid; "junk": bytes
	size    int    // result bytes of a reply, or the size of junk
	foreign bool   // sent from 127.0.0.2 rather than the address called
}

// rawReflector answers each datagram on 127.0.0.1 with what plan returns for
// the n-th request (0-based), sent from its own socket or, for foreign
// datagrams, from 127.0.0.2. It counts the requests it saw.
func rawReflector(t *testing.T, plan func(n int) []datagram) (netip.AddrPort, *atomic.Int64) {
	t.Helper()
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	other, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)})
	if err != nil {
		pc.Close()
		t.Fatal(err)
	}
	var seen atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			if n < 4 {
				continue
			}
			xid := binary.BigEndian.Uint32(buf)
			for _, d := range plan(int(seen.Add(1) - 1)) {
				var b []byte
				switch d.kind {
				case "reply", "stray":
					h := rpc.ReplyHeader{XID: xid, Stat: rpc.MsgAccepted, Accept: rpc.AcceptSuccess}
					if d.kind == "stray" {
						h.XID++
					}
					b = append(h.Append(nil), make([]byte, d.size)...)
				default:
					b = bytes.Repeat([]byte{0xee}, d.size)
				}
				conn := pc
				if d.foreign {
					conn = other
				}
				conn.WriteToUDPAddrPort(b, from)
			}
		}
	}()
	t.Cleanup(func() {
		pc.Close()
		other.Close()
		<-done
	})
	return pc.LocalAddr().(*net.UDPAddr).AddrPort(), &seen
}

func TestMeasure(t *testing.T) {
	t.Parallel()
	const req = UDPHeaderLen + callHeaderLen // one DUMP call as counted
	reply := func(size int) int { return UDPHeaderLen + replyHeaderLen + size }
	tests := []struct {
		name     string
		plan     func(n int) []datagram
		attempts int

		wantStatus   string
		wantSent     int
		wantDgrams   int
		wantBytes    int
		wantForeign  int
		wantAnswered bool
	}{
		{
			name:       "one reply",
			plan:       func(int) []datagram { return []datagram{{kind: "reply", size: 1812}} },
			attempts:   2,
			wantStatus: "SUCCESS", wantSent: 1, wantDgrams: 1, wantBytes: reply(1812), wantAnswered: true,
		},
		{
			name: "every datagram of a multi-datagram answer",
			plan: func(int) []datagram {
				return []datagram{{kind: "reply", size: 100}, {kind: "reply", size: 100}, {kind: "junk", size: 1000}, {kind: "stray", size: 8}}
			},
			attempts:   2,
			wantStatus: "SUCCESS", wantSent: 1, wantDgrams: 4,
			wantBytes:    reply(100) + reply(100) + UDPHeaderLen + 1000 + reply(8),
			wantAnswered: true,
		},
		{
			name: "first request lost: both sends counted",
			plan: func(n int) []datagram {
				if n == 0 {
					return nil
				}
				return []datagram{{kind: "reply", size: 500}}
			},
			attempts:   2,
			wantStatus: "SUCCESS", wantSent: 2, wantDgrams: 1, wantBytes: reply(500), wantAnswered: true,
		},
		{
			name:       "silent: every attempt sent",
			plan:       func(int) []datagram { return nil },
			attempts:   3,
			wantStatus: StatusSilent, wantSent: 3,
		},
		{
			name:       "only junk and strays: garbled, still counted",
			plan:       func(int) []datagram { return []datagram{{kind: "junk", size: 3}, {kind: "stray", size: 40}} },
			attempts:   2,
			wantStatus: StatusGarbled, wantSent: 1, wantDgrams: 2, wantBytes: UDPHeaderLen + 3 + reply(40),
		},
		{
			name: "datagrams from another address are not the host's",
			plan: func(int) []datagram {
				return []datagram{{kind: "junk", size: 4000, foreign: true}, {kind: "reply", size: 4}}
			},
			attempts:   2,
			wantStatus: "SUCCESS", wantSent: 1, wantDgrams: 1, wantBytes: reply(4), wantForeign: 1,
			wantAnswered: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dst, seen := rawReflector(t, tt.plan)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			ex := measure(ctx, dst, 100000, 3, 4, nil, measureConfig{window: testWindow, attempts: tt.attempts})
			if ex.Status != tt.wantStatus || ex.RequestDatagrams != tt.wantSent || ex.ReplyDatagrams != tt.wantDgrams ||
				ex.ReplyBytes != tt.wantBytes || ex.ForeignDatagrams != tt.wantForeign || ex.Answered() != tt.wantAnswered {
				t.Errorf("got status %q, %d sent, %d datagrams, %d bytes, %d foreign, answered %v;\n"+
					"want %q, %d, %d, %d, %d, %v", ex.Status, ex.RequestDatagrams, ex.ReplyDatagrams, ex.ReplyBytes,
					ex.ForeignDatagrams, ex.Answered(), tt.wantStatus, tt.wantSent, tt.wantDgrams, tt.wantBytes, tt.wantForeign, tt.wantAnswered)
			}
			if got := int(seen.Load()); got != tt.wantSent {
				t.Errorf("the reflector saw %d requests, the exchange counted %d sent", got, tt.wantSent)
			}
			if ex.RequestBytes != tt.wantSent*req {
				t.Errorf("request bytes %d, want %d", ex.RequestBytes, tt.wantSent*req)
			}
			wantFactor := float64(tt.wantBytes) / float64(tt.wantSent*req)
			wantPayload := float64(tt.wantBytes-UDPHeaderLen*tt.wantDgrams) / float64(tt.wantSent*callHeaderLen)
			if ex.Factor != wantFactor || ex.PayloadFactor != wantPayload {
				t.Errorf("factors %v and %v, want %v and %v", ex.Factor, ex.PayloadFactor, wantFactor, wantPayload)
			}
			if tt.wantAnswered && ex.RTTMillis <= 0 {
				t.Errorf("no round-trip time for an answered exchange")
			}
		})
	}
}

func TestMeasureKeepsTheFirstReply(t *testing.T) {
	t.Parallel()
	dst, _ := rawReflector(t, func(int) []datagram { return []datagram{{kind: "stray", size: 4}, {kind: "reply", size: 12}} })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ex := measure(ctx, dst, 100000, 4, 12, nil, measureConfig{window: testWindow, attempts: 1})
	if ex.Status != "SUCCESS" || len(ex.results) != 12 || ex.hdr.Stat != rpc.MsgAccepted {
		t.Errorf("status %q, %d result bytes kept, want SUCCESS and the reply's 12", ex.Status, len(ex.results))
	}
}

func TestMeasureSendsTheCall(t *testing.T) {
	t.Parallel()
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	got := make(chan []byte, 1)
	go func() {
		buf := make([]byte, 512)
		n, _, err := pc.ReadFromUDPAddrPort(buf)
		if err == nil {
			got <- bytes.Clone(buf[:n])
		}
		close(got)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	args := []byte{0, 0, 0, 7}
	measure(ctx, pc.LocalAddr().(*net.UDPAddr).AddrPort(), 100000, 2, 5, args, measureConfig{window: 50 * time.Millisecond, attempts: 1})
	msg := <-got
	var h rpc.CallHeader
	d := xdr.NewDecoder(msg)
	h.Decode(d)
	if d.Err() != nil || h.RPCVers != 2 || h.Prog != 100000 || h.Vers != 2 || h.Proc != 5 ||
		h.Cred.Flavor != rpc.AuthNone || len(h.Cred.Body) != 0 || !bytes.Equal(d.Rest(), args) {
		t.Errorf("the call sent was %x (%+v, %v)", msg, h, d.Err())
	}
}

func TestMeasureEndsWithTheContext(t *testing.T) {
	t.Parallel()
	dst, _ := rawReflector(t, func(int) []datagram { return nil })
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	ex := measure(ctx, dst, 100000, 2, 4, nil, measureConfig{window: time.Minute, attempts: 5})
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("measure took %v after its context ended", d)
	}
	if ex.RequestDatagrams != 1 || ex.Status != StatusSilent || ex.Error == "" {
		t.Errorf("got %d sent, status %q, error %q; want 1, silent and the context's error", ex.RequestDatagrams, ex.Status, ex.Error)
	}

	ex = measure(ctx, dst, 100000, 2, 4, nil, measureConfig{window: time.Second, attempts: 1})
	if ex.RequestDatagrams != 0 || ex.Status != StatusError {
		t.Errorf("with an ended context: %d sent, status %q; want nothing sent and an error", ex.RequestDatagrams, ex.Status)
	}
}
