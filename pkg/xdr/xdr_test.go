package xdr

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

func TestAppendPrimitives(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want []byte
	}{
		{"uint32", AppendUint32(nil, 0x01020304), []byte{1, 2, 3, 4}},
		{"int32 -1", AppendInt32(nil, -1), []byte{0xff, 0xff, 0xff, 0xff}},
		{"uint64", AppendUint64(nil, 0x0102030405060708), []byte{1, 2, 3, 4, 5, 6, 7, 8}},
		{"int64 min", AppendInt64(nil, math.MinInt64), []byte{0x80, 0, 0, 0, 0, 0, 0, 0}},
		{"true", AppendBool(nil, true), []byte{0, 0, 0, 1}},
		{"false", AppendBool(nil, false), []byte{0, 0, 0, 0}},
		{"fixed opaque 3", AppendFixedOpaque(nil, []byte{9, 8, 7}), []byte{9, 8, 7, 0}},
		{"fixed opaque 4", AppendFixedOpaque(nil, []byte{9, 8, 7, 6}), []byte{9, 8, 7, 6}},
		{"opaque 1", AppendOpaque(nil, []byte{0xaa}), []byte{0, 0, 0, 1, 0xaa, 0, 0, 0}},
		{"opaque empty", AppendOpaque(nil, nil), []byte{0, 0, 0, 0}},
		{"string 5", AppendString(nil, "hello"), []byte{0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o', 0, 0, 0}},
		{"string 2", AppendString(nil, "ab"), []byte{0, 0, 0, 2, 'a', 'b', 0, 0}},
		{"appends", AppendUint32([]byte{0xee}, 7), []byte{0xee, 0, 0, 0, 7}},
		{"string func 5", AppendStringFunc([]byte{0xee}, func(b []byte) []byte { return append(b, "hello"...) }), []byte{0xee, 0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o', 0, 0, 0}},
		{"string func 4", AppendStringFunc(nil, func(b []byte) []byte { return append(b, "tcp6"...) }), []byte{0, 0, 0, 4, 't', 'c', 'p', '6'}},
		{"string func empty", AppendStringFunc(nil, func(b []byte) []byte { return b }), []byte{0, 0, 0, 0}},
	}
	for _, tt := range tests {
		if !bytes.Equal(tt.got, tt.want) {
			t.Errorf("%s: got % x, want % x", tt.name, tt.got, tt.want)
		}
	}
}

func TestDecodeRoundTrip(t *testing.T) {
	var b []byte
	b = AppendUint32(b, 4242)
	b = AppendInt32(b, -7)
	b = AppendUint64(b, math.MaxUint64)
	b = AppendInt64(b, -1<<40)
	b = AppendBool(b, true)
	b = AppendString(b, "tcp6")
	b = AppendOpaque(b, []byte{1, 2, 3, 4, 5})
	b = AppendFixedOpaque(b, []byte{7, 7})
	b = AppendUint32(b, 2) // array of 2 uints
	b = AppendUint32(b, 10)
	b = AppendUint32(b, 20)
	b = AppendBool(b, true) // list: 1 element then end
	b = AppendUint32(b, 99)
	b = AppendBool(b, false)

	d := NewDecoder(b)
	if v := d.Uint32(); v != 4242 {
		t.Errorf("uint32 = %d", v)
	}
	if v := d.Int32(); v != -7 {
		t.Errorf("int32 = %d", v)
	}
	if v := d.Uint64(); v != math.MaxUint64 {
		t.Errorf("uint64 = %d", v)
	}
	if v := d.Int64(); v != -1<<40 {
		t.Errorf("int64 = %d", v)
	}
	if !d.Bool() {
		t.Error("bool = false")
	}
	if v := d.String(255); v != "tcp6" {
		t.Errorf("string = %q", v)
	}
	if v := d.Opaque(400); !bytes.Equal(v, []byte{1, 2, 3, 4, 5}) {
		t.Errorf("opaque = % x", v)
	}
	if v := d.FixedOpaque(2); !bytes.Equal(v, []byte{7, 7}) {
		t.Errorf("fixed opaque = % x", v)
	}
	n := d.ArrayLen(16, 4)
	var arr []uint32
	for range n {
		arr = append(arr, d.Uint32())
	}
	if len(arr) != 2 || arr[0] != 10 || arr[1] != 20 {
		t.Errorf("array = %v", arr)
	}
	var list []uint32
	for d.ListNext(len(list), 10) {
		list = append(list, d.Uint32())
	}
	if len(list) != 1 || list[0] != 99 {
		t.Errorf("list = %v", list)
	}
	if err := d.Err(); err != nil {
		t.Fatal(err)
	}
	if d.Remaining() != 0 || d.Offset() != len(b) {
		t.Errorf("remaining %d offset %d of %d", d.Remaining(), d.Offset(), len(b))
	}
}

func TestDecodeErrors(t *testing.T) {
	huge := AppendUint32(nil, math.MaxUint32) // a declared length of 4 GiB
	huge = append(huge, make([]byte, 36)...)  // in a 40-byte input
	tests := []struct {
		name   string
		in     []byte
		read   func(d *Decoder)
		cause  error
		op     string
		offset int
	}{
		{"short uint32", []byte{1, 2, 3}, func(d *Decoder) { d.Uint32() }, ErrShort, "uint32", 0},
		{"short uint64", []byte{1, 2, 3, 4}, func(d *Decoder) { d.Uint64() }, ErrShort, "uint64", 0},
		{"bad bool", []byte{0, 0, 0, 2}, func(d *Decoder) { d.Bool() }, ErrBadBool, "bool", 0},
		{"4GiB opaque in 40 bytes, no max", huge, func(d *Decoder) { d.Opaque(-1) }, ErrShort, "opaque length", 0},
		{"4GiB opaque over max", huge, func(d *Decoder) { d.Opaque(400) }, ErrTooLong, "opaque length", 0},
		{"string over max", AppendString(nil, "abcdef"), func(d *Decoder) { d.String(5) }, ErrTooLong, "string length", 0},
		{"string short body", []byte{0, 0, 0, 8, 'a', 'b'}, func(d *Decoder) { d.String(-1) }, ErrShort, "string length", 0},
		{"missing padding", []byte{0, 0, 0, 1, 'a'}, func(d *Decoder) { d.String(-1) }, ErrShort, "fixed opaque", 4},
		{"array over input", huge, func(d *Decoder) { d.ArrayLen(-1, 4) }, ErrShort, "array count", 0},
		{"array over max", AppendUint32(nil, 17), func(d *Decoder) { d.ArrayLen(16, 4) }, ErrTooLong, "array count", 0},
		{"list over max", append(AppendBool(AppendUint32(AppendBool(nil, true), 1), true), 0, 0, 0, 2),
			func(d *Decoder) {
				n := 0
				for d.ListNext(n, 1) {
					d.Uint32()
					n++
				}
			}, ErrTooLong, "list length", 8},
		{"second read after error", []byte{0, 0, 0, 1, 9}, func(d *Decoder) { d.Uint32(); d.Uint32(); d.Uint32() }, ErrShort, "uint32", 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder(tt.in)
			tt.read(d)
			err := d.Err()
			var xe *Error
			if !errors.As(err, &xe) {
				t.Fatalf("error %v is not *xdr.Error", err)
			}
			if !errors.Is(err, tt.cause) {
				t.Errorf("cause = %v, want %v", xe.Err, tt.cause)
			}
			if xe.Op != tt.op || xe.Offset != tt.offset {
				t.Errorf("op %q offset %d, want %q %d (%v)", xe.Op, xe.Offset, tt.op, tt.offset, err)
			}
			if xe.Error() == "" || xe.Error()[:5] != "xdr: " {
				t.Errorf("message %q", xe.Error())
			}
		})
	}
}

func TestErrorMessages(t *testing.T) {
	d := NewDecoder(AppendUint32(nil, 1000))
	d.Opaque(400)
	if got, want := d.Err().Error(), "xdr: opaque length at offset 0: length 1000 exceeds limit 400"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	d = NewDecoder([]byte{0, 0})
	d.Uint32()
	if got, want := d.Err().Error(), "xdr: uint32 at offset 0: short input: need 4 bytes, 2 remain"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestFixedReadsDoNotAllocate(t *testing.T) {
	var b []byte
	b = AppendUint32(b, 1)
	b = AppendInt32(b, -1)
	b = AppendUint64(b, 2)
	b = AppendBool(b, true)
	b = AppendString(b, "udp")
	b = AppendOpaque(b, []byte{1, 2})
	var d Decoder
	allocs := testing.AllocsPerRun(100, func() {
		d.Reset(b, 0)
		d.Uint32()
		d.Int32()
		d.Uint64()
		d.Bool()
		d.StringBytes(10)
		d.Opaque(10)
		if d.Err() != nil {
			t.Fatal(d.Err())
		}
	})
	if allocs != 0 {
		t.Errorf("fixed-size reads allocate %v times per run", allocs)
	}
	// A length beyond the input is refused without allocating a buffer for it.
	huge := AppendUint32(nil, math.MaxUint32)
	allocs = testing.AllocsPerRun(100, func() {
		d.Reset(huge, 0)
		d.StringBytes(-1)
	})
	if allocs > 1 { // the *Error itself
		t.Errorf("refusing a 4 GiB length allocated %v times", allocs)
	}
}

func TestPad(t *testing.T) {
	for n, want := range []int{0, 3, 2, 1, 0, 3} {
		if got := Pad(n); got != want {
			t.Errorf("Pad(%d) = %d, want %d", n, got, want)
		}
	}
}
