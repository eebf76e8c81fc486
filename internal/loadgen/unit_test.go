package loadgen

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portmap-toolkit/pmap/internal/vectors"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
)

// TestHistogram checks the percentiles against the exact ones of random
// samples spread over six orders of magnitude: within one bucket's width.
func TestHistogram(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 7, 1000, 100_000} {
		var h histogram
		samples := make([]int64, n)
		for i := range samples {
			samples[i] = int64(float64(time.Microsecond) * pow10(r.Float64()*6))
			h.add(time.Duration(samples[i]))
		}
		slices.Sort(samples)
		for _, q := range []float64{0.5, 0.9, 0.99, 1} {
			rank := int(q*float64(n)+0.999999) - 1
			exact := samples[max(rank, 0)]
			got := int64(h.quantile(q))
			if diff := abs(got - exact); float64(diff) > float64(exact)/subBuckets+1 {
				t.Errorf("n=%d q=%v: %d, exact %d (off by %d)", n, q, got, exact, diff)
			}
		}
		if h.max != samples[n-1] || h.n != uint64(n) {
			t.Errorf("n=%d: max %d count %d, want %d %d", n, h.max, h.n, samples[n-1], n)
		}
	}
	var empty histogram
	if empty.quantile(0.5) != 0 || empty.mean() != 0 {
		t.Error("an empty histogram has non-zero percentiles")
	}
}

// TestBuckets checks that bucket and lowest agree on every boundary.
func TestBuckets(t *testing.T) {
	prev := -1
	for _, v := range []int64{0, 1, 63, 64, 65, 127, 128, 1000, 1 << 20, 1<<20 + 1, 1 << 40, 1<<63 - 1} {
		i := bucket(v)
		if i < prev || i >= histBuckets {
			t.Errorf("bucket(%d) = %d after %d (of %d)", v, i, prev, histBuckets)
		}
		prev = i
		lo, w := lowest(i)
		if v < lo || v-lo >= w {
			t.Errorf("value %d in bucket %d of [%d, %d+%d)", v, i, lo, lo, w)
		}
	}
}

func pow10(x float64) float64 {
	v := 1.0
	for ; x >= 1; x-- {
		v *= 10
	}
	return v * (1 + x*9) // close enough to 10^x for a spread of values
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// TestRecordReader feeds records of one and of several fragments in pieces
// of every size and checks that each comes out whole and in order.
func TestRecordReader(t *testing.T) {
	var stream []byte
	var want [][]byte
	for i, size := range []int{0, 1, 28, 100, 70_000} {
		rec := bytes.Repeat([]byte{byte(i + 1)}, size)
		want = append(want, rec)
		frags := 1 + i%3
		for f := 0; f < frags; f++ {
			part := rec[f*len(rec)/frags : (f+1)*len(rec)/frags]
			mark := uint32(len(part))
			if f == frags-1 {
				mark |= lastFragment
			}
			stream = binary.BigEndian.AppendUint32(stream, mark)
			stream = append(stream, part...)
		}
	}
	for _, piece := range []int{1, 3, 4, 5, 4096, len(stream)} {
		var r recordReader
		var got [][]byte
		for off := 0; off < len(stream); {
			n := copy(r.space(), stream[off:min(off+piece, len(stream))])
			off += n
			r.filled(n)
			for {
				rec, ok, err := r.next()
				if err != nil {
					t.Fatalf("piece %d: %v", piece, err)
				}
				if !ok {
					break
				}
				got = append(got, bytes.Clone(rec))
			}
		}
		if len(got) != len(want) {
			t.Fatalf("piece %d: %d records, want %d", piece, len(got), len(want))
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Errorf("piece %d: record %d of %d bytes, want %d", piece, i, len(got[i]), len(want[i]))
			}
		}
	}
}

func TestRecordReaderTooLarge(t *testing.T) {
	var r recordReader
	n := copy(r.space(), binary.BigEndian.AppendUint32(nil, lastFragment|(MaxReply+1)))
	r.filled(n)
	if _, _, err := r.next(); err == nil || !strings.HasPrefix(err.Error(), "loadgen: ") {
		t.Errorf("a record over MaxReply: %v, want an error", err)
	}
}

// TestMessage checks the pre-encoded calls against the calls Debian's
// rpcinfo and libtirpc sent (internal/vectors), xid aside.
func TestMessage(t *testing.T) {
	tests := []struct {
		vector string
		cfg    Config
	}{
		{"v2_null", Config{Proc: ProcNull, Vers: 2}},
		{"v2_dump", Config{Proc: ProcDump, Vers: 2}},
		{"v3_dump", Config{Proc: ProcDump, Vers: 3}},
		{"v4_dump", Config{Proc: ProcDump, Vers: 4}},
		{"v2_getport_registered", Config{Proc: ProcGetport, Prog: 100003, ProgVers: 3, Netid: "tcp"}},
		{"v3_getaddr", Config{Proc: ProcGetaddr, Vers: 3, Prog: 100003, ProgVers: 3, Netid: "tcp"}},
		{"v4_getaddr", Config{Proc: ProcGetaddr, Vers: 4, Prog: 100005, ProgVers: 3, Netid: "udp"}},
	}
	for _, tc := range tests {
		t.Run(tc.vector, func(t *testing.T) {
			v := vectors.Load(tc.vector)
			for _, network := range []string{"udp", "tcp"} {
				cfg := tc.cfg
				cfg.Target, cfg.Network = "127.0.0.1", network
				tg, err := cfg.check()
				if err != nil {
					t.Fatal(err)
				}
				msg, off := tg.message()
				if network == "tcp" {
					if mark := binary.BigEndian.Uint32(msg); mark != lastFragment|uint32(len(msg)-4) {
						t.Errorf("record mark %#x for %d bytes", mark, len(msg)-4)
					}
				}
				got := append([]byte(nil), msg[off:]...)
				call := append([]byte(nil), v.Call...)
				copy(got, call[:4]) // the xid
				if !bytes.Equal(got, call) {
					t.Errorf("%s call\n got %x\nwant %x", network, got, call)
				}
			}
		})
	}
}

// TestCheckReply checks the reply headers the generator accepts and refuses.
func TestCheckReply(t *testing.T) {
	ok := (&rpc.ReplyHeader{XID: 7, Stat: rpc.MsgAccepted, Accept: rpc.AcceptSuccess}).Append(nil)
	ok = append(ok, 0, 0, 8, 1)
	denied := (&rpc.ReplyHeader{XID: 7, Stat: rpc.MsgDenied, Reject: rpc.RejectAuthError, Auth: rpc.AuthTooWeak}).Append(nil)
	mismatch := (&rpc.ReplyHeader{XID: 7, Stat: rpc.MsgAccepted, Accept: rpc.AcceptProgMismatch, Low: 2, High: 4}).Append(nil)
	tests := []struct {
		name string
		msg  []byte
		res  []byte
		err  string
	}{
		{"success", ok, []byte{0, 0, 8, 1}, ""},
		{"auth", denied, nil, "Authentication error"},
		{"mismatch", mismatch, nil, "Program/version mismatch"},
		{"short", ok[:10], nil, "garbled"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := checkReply(tc.msg)
			if tc.err == "" && (err != nil || !bytes.Equal(res, tc.res)) {
				t.Errorf("checkReply = %x, %v; want %x", res, err, tc.res)
			}
			if tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("checkReply: %v, want an error with %q", err, tc.err)
			}
		})
	}
}
