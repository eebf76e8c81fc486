package portmap_test

import (
	"bytes"
	"errors"
	"reflect"
	"runtime"
	"testing"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

// encodings returns one encoded value of each wire type, from the vectors and
// hand-made, with the decoder that reads it.
func encodings(t testing.TB) []struct {
	name   string
	b      []byte
	decode func([]byte) error
} {
	dec := func(f func(*xdr.Decoder)) func([]byte) error {
		return func(b []byte) error {
			d := xdr.NewDecoder(b)
			f(d)
			return d.Err()
		}
	}
	var (
		m  portmap.Mapping
		ca portmap.CallArgs
		cr portmap.CallResult
		r  portmap.RPCB
		ra portmap.RmtCallArgs
		rr portmap.RmtCallRes
		nb portmap.Netbuf
		st portmap.StatByVers
	)
	var ml []portmap.Mapping
	var rl []portmap.RPCB
	var el []portmap.Entry
	return []struct {
		name   string
		b      []byte
		decode func([]byte) error
	}{
		{"mapping", args(t, "v2_set"), dec(m.Decode)},
		{"call_args", portmap.CallArgs{Prog: 100003, Vers: 3, Proc: 1, Args: []byte{1, 2, 3, 4, 5}}.Append(nil), dec(ca.Decode)},
		{"call_result", portmap.CallResult{Port: 2049, Res: []byte{9, 8, 7}}.Append(nil), dec(cr.Decode)},
		{"rpcb", args(t, "v3_set"), dec(r.Decode)},
		{"rmtcallargs", portmap.RmtCallArgs{Prog: 100005, Vers: 3, Proc: 0, Args: []byte{0, 0, 0, 1}}.Append(nil), dec(ra.Decode)},
		{"rmtcallres", portmap.RmtCallRes{Addr: "127.0.0.1.2.132", Results: []byte{1}}.Append(nil), dec(rr.Decode)},
		{"netbuf", results(t, "v3_uaddr2taddr"), dec(nb.Decode)},
		{"stat_byvers", results(t, "v4_getstat"), dec(st.Decode)},
		{"pmaplist", results(t, "v2_dump"), dec(func(d *xdr.Decoder) { ml = portmap.DecodeMappingList(d, ml[:0], portmap.MaxListEntries) })},
		{"rpcblist", results(t, "v3_dump"), dec(func(d *xdr.Decoder) { rl = portmap.DecodeRPCBList(d, rl[:0], portmap.MaxListEntries) })},
		{"entry_list", results(t, "v4_getaddrlist"), dec(func(d *xdr.Decoder) { el = portmap.DecodeEntryList(d, el[:0], portmap.MaxListEntries) })},
	}
}

// TestTruncated: every proper prefix of a valid encoding is a short-input
// xdr.Error, never a panic or a success.
func TestTruncated(t *testing.T) {
	for _, e := range encodings(t) {
		t.Run(e.name, func(t *testing.T) {
			if err := e.decode(e.b); err != nil {
				t.Fatalf("whole input: %v", err)
			}
			for n := range len(e.b) {
				err := e.decode(e.b[:n])
				var xe *xdr.Error
				if !errors.As(err, &xe) || !errors.Is(err, xdr.ErrShort) {
					t.Fatalf("prefix of %d/%d bytes: %v, want an xdr.Error for short input", n, len(e.b), err)
				}
			}
		})
	}
}

// TestHugeLengths: a length of 2^32-1 in a small input is refused before
// anything is allocated, with an xdr.Error naming it.
func TestHugeLengths(t *testing.T) {
	huge := []byte{0xff, 0xff, 0xff, 0xff}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	u32 := func(v uint32) []byte { return xdr.AppendUint32(nil, v) }
	var (
		r   portmap.RPCB
		ca  portmap.CallArgs
		cr  portmap.CallResult
		ra  portmap.RmtCallArgs
		rr  portmap.RmtCallRes
		e   portmap.Entry
		nb  portmap.Netbuf
		st  portmap.Stat
		dst = make([]portmap.RPCB, 0, 4)
	)
	tests := []struct {
		name   string
		b      []byte
		decode func(*xdr.Decoder)
	}{
		{"rpcb netid", cat(u32(1), u32(2), huge), r.Decode},
		{"rpcb addr", cat(u32(1), u32(2), u32(3), []byte("tcp\x00"), huge), r.Decode},
		{"rpcb owner", cat(u32(1), u32(2), u32(0), u32(0), huge), r.Decode},
		{"call_args", cat(u32(1), u32(2), u32(3), huge), ca.Decode},
		{"call_result", cat(u32(1), huge), cr.Decode},
		{"rmtcallargs", cat(u32(1), u32(2), u32(3), huge), ra.Decode},
		{"rmtcallres addr", huge, rr.Decode},
		{"rmtcallres results", cat(u32(0), huge), rr.Decode},
		{"entry maddr", huge, e.Decode},
		{"netbuf", cat(u32(16), huge), nb.Decode},
		{"stat addrinfo netid", cat(make([]byte, 15*4), u32(1), u32(1), u32(1), u32(0), u32(0), huge), st.Decode},
		{"rpcblist", cat(u32(1), u32(1), u32(1), huge), func(d *xdr.Decoder) { dst = portmap.DecodeRPCBList(d, dst[:0], portmap.MaxListEntries) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := xdr.NewDecoder(tt.b)
			tt.decode(d)
			if !errors.Is(d.Err(), xdr.ErrTooLong) {
				t.Fatalf("err %v, want an xdr.Error for a length over the limit", d.Err())
			}
			// The error value itself and a short string read before the
			// bad length are allocated; nothing the size of the length is.
			if n := bytesPerRun(func() {
				d.Reset(tt.b, 0)
				tt.decode(d)
			}); n > 256 {
				t.Errorf("%d bytes allocated per decode, want no more than an error's", n)
			}
		})
	}
}

// TestLimits: each bound is exactly its named constant.
func TestLimits(t *testing.T) {
	str := func(n int) []byte { return xdr.AppendString(nil, string(make([]byte, n))) }
	pre := func(b []byte, v ...uint32) []byte {
		var h []byte
		for _, x := range v {
			h = xdr.AppendUint32(h, x)
		}
		return append(h, b...)
	}
	var r portmap.RPCB
	var ca portmap.CallArgs
	var nb portmap.Netbuf
	tests := []struct {
		name   string
		limit  int
		encode func(n int) []byte
		decode func(*xdr.Decoder)
	}{
		{"netid", portmap.MaxNetidLen, func(n int) []byte { return pre(bytes.Join([][]byte{str(n), str(0), str(0)}, nil), 1, 1) }, r.Decode},
		{"owner", portmap.MaxOwnerLen, func(n int) []byte { return pre(str(n), 1, 1, 0, 0) }, r.Decode},
		{"uaddr", portmap.MaxUaddrLen, func(n int) []byte { return pre(append(str(n), str(0)...), 1, 1, 0) }, r.Decode},
		{"call args", portmap.MaxCallDataLen, func(n int) []byte { return pre(str(n), 1, 1, 1) }, ca.Decode},
		{"netbuf", portmap.MaxNetbufLen, func(n int) []byte { return pre(str(n), uint32(n)) }, nb.Decode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := xdr.NewDecoder(tt.encode(tt.limit))
			if tt.decode(d); d.Err() != nil || d.Remaining() != 0 {
				t.Errorf("at the limit %d: %v", tt.limit, d.Err())
			}
			d = xdr.NewDecoder(tt.encode(tt.limit + 1))
			if tt.decode(d); !errors.Is(d.Err(), xdr.ErrTooLong) {
				t.Errorf("one over the limit: %v, want ErrTooLong", d.Err())
			}
		})
	}
}

// TestListMax: a list longer than the caller's max is refused at the first
// entry beyond it, keeping the entries read.
func TestListMax(t *testing.T) {
	l := syntheticMappings(5)
	b := portmap.AppendMappingList(nil, l)
	for _, max := range []int{0, 1, 4, 5, 6} {
		d := xdr.NewDecoder(b)
		got := portmap.DecodeMappingList(d, nil, max)
		if max >= len(l) {
			if d.Err() != nil || !reflect.DeepEqual(got, l) {
				t.Errorf("max %d: %v, %v", max, got, d.Err())
			}
			continue
		}
		if !errors.Is(d.Err(), xdr.ErrTooLong) || len(got) != max {
			t.Errorf("max %d: %d entries, %v; want %d entries and ErrTooLong", max, len(got), d.Err(), max)
		}
	}
	rb := portmap.AppendRPCBList(nil, []portmap.RPCB{{Prog: 1}, {Prog: 2}})
	if d := xdr.NewDecoder(rb); !errors.Is(func() error { portmap.DecodeRPCBList(d, nil, 1); return d.Err() }(), xdr.ErrTooLong) {
		t.Error("rpcblist over max not refused")
	}
	eb := portmap.AppendEntryList(nil, []portmap.Entry{{}, {}})
	if d := xdr.NewDecoder(eb); !errors.Is(func() error { portmap.DecodeEntryList(d, nil, 1); return d.Err() }(), xdr.ErrTooLong) {
		t.Error("entry list over max not refused")
	}
}

// TestLargeRegistry: a registry of 100,000 entries still lists, in both
// forms, within MaxListEntries.
func TestLargeRegistry(t *testing.T) {
	const n = 100_000
	ml := syntheticMappings(n)
	got := roundTrip[mappingList](t, "pmaplist", portmap.AppendMappingList(nil, ml))
	if len(got) != n {
		t.Errorf("pmaplist: %d entries, want %d", len(got), n)
	}
	rl := make([]portmap.RPCB, n)
	for i, m := range ml {
		rl[i] = portmap.RPCB{Prog: m.Prog, Vers: m.Vers, Netid: "tcp6", Addr: "::.4.0", Owner: "superuser"}
	}
	if got := roundTrip[rpcbList](t, "rpcblist", portmap.AppendRPCBList(nil, rl)); len(got) != n {
		t.Errorf("rpcblist: %d entries, want %d", len(got), n)
	}
}

// TestRoundTripValues encodes values of each type, decodes them and compares.
func TestRoundTripValues(t *testing.T) {
	check := func(name string, v, back any, b []byte) {
		t.Helper()
		if !reflect.DeepEqual(v, back) {
			t.Errorf("%s: %+v came back as %+v (wire %x)", name, v, back, b)
		}
	}
	{
		v := portmap.RPCB{Prog: 400000, Vers: 7, Netid: "udp6", Addr: "fe80::1.3.4", Owner: "1000"}
		b := v.Append(nil)
		back, err := decodeAll[portmap.RPCB](b)
		check("rpcb", v, back, b)
		if err != nil {
			t.Error(err)
		}
	}
	{
		v := portmap.Entry{Maddr: "/run/rpcbind.sock", Netid: "local", Semantics: portmap.SemanticsCOTSOrd, Protofmly: "loopback", Proto: "-"}
		b := v.Append(nil)
		back, _ := decodeAll[portmap.Entry](b)
		check("entry", v, back, b)
	}
	{
		v := portmap.RmtCallRes{Addr: "127.0.0.1.8.1", Results: []byte{1, 2, 3, 4, 5, 6}}
		b := v.Append(nil)
		back, _ := decodeAll[portmap.RmtCallRes](b)
		check("rmtcallres", v, back, b)
	}
	{
		v := portmap.Stat{SetInfo: -1, RmtInfo: []portmap.RmtCallStat{{Prog: 1, Vers: 2, Proc: 3, Success: 4, Failure: 5, Indirect: -6, Netid: "tcp"}}}
		v.Info[12] = 99
		b := v.Append(nil)
		back, _ := decodeAll[portmap.Stat](b)
		check("stat", v, back, b)
	}
}

// TestDecodeDoesNotAlias: opaque fields are copied out of the input, into the
// destination's existing storage when it is large enough.
func TestDecodeDoesNotAlias(t *testing.T) {
	b := portmap.CallArgs{Prog: 1, Vers: 1, Proc: 1, Args: []byte{1, 2, 3, 4}}.Append(nil)
	store := make([]byte, 0, 16)
	v := portmap.CallArgs{Args: store}
	v.Decode(xdr.NewDecoder(b))
	for i := range b {
		b[i] = 0xee
	}
	if !bytes.Equal(v.Args, []byte{1, 2, 3, 4}) {
		t.Errorf("Args changed with the input: %x", v.Args)
	}
	if &v.Args[0] != &store[:1][0] {
		t.Error("Args did not reuse the destination's storage")
	}
}

// TestMappingListAllocs: decoding into a pre-sized slice allocates nothing,
// whatever the list's length (the list decoders' promise).
func TestMappingListAllocs(t *testing.T) {
	for _, n := range []int{27, 10_000} {
		b := portmap.AppendMappingList(nil, syntheticMappings(n))
		dst := make([]portmap.Mapping, 0, n)
		d := xdr.NewDecoder(b)
		allocs := testing.AllocsPerRun(20, func() {
			d.Reset(b, 0)
			dst = portmap.DecodeMappingList(d, dst[:0], portmap.MaxListEntries)
		})
		if allocs != 0 || len(dst) != n || d.Err() != nil {
			t.Errorf("%d entries: %v allocations, %d decoded, %v; want 0 allocations", n, allocs, len(dst), d.Err())
		}
		// Encoding into a buffer with room allocates nothing either.
		buf := make([]byte, 0, len(b))
		if a := testing.AllocsPerRun(20, func() { buf = portmap.AppendMappingList(buf[:0], dst) }); a != 0 {
			t.Errorf("%d entries: encoding made %v allocations", n, a)
		}
	}
}

// TestBadBool: a "value follows" marker other than 0 or 1 ends a list with an
// error.
func TestBadBool(t *testing.T) {
	b := portmap.AppendMappingList(nil, syntheticMappings(2))
	b[20] = 2 // the second marker
	d := xdr.NewDecoder(b)
	got := portmap.DecodeMappingList(d, nil, portmap.MaxListEntries)
	if !errors.Is(d.Err(), xdr.ErrBadBool) || len(got) != 1 {
		t.Errorf("%d entries, %v; want 1 entry and ErrBadBool", len(got), d.Err())
	}
}

// bytesPerRun returns the average heap bytes f allocates per call.
func bytesPerRun(f func()) uint64 {
	const runs = 100
	f() // warm up
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / runs
}

// TestRPCBListAllocs: known netids and owners are shared, so a decoded
// rpcblist allocates one string per entry, its address.
func TestRPCBListAllocs(t *testing.T) {
	b := results(t, "v4_dump")
	var d xdr.Decoder
	dst := make([]portmap.RPCB, 0, 64)
	allocs := testing.AllocsPerRun(20, func() {
		d.Reset(b, 0)
		dst = portmap.DecodeRPCBList(&d, dst[:0], portmap.MaxListEntries)
	})
	if d.Err() != nil || allocs > float64(len(dst)) {
		t.Errorf("%v allocations for %d entries (%v), want at most one each", allocs, len(dst), d.Err())
	}
}
