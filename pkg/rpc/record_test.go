package rpc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"testing"
	"testing/iotest"

	"github.com/portmap-toolkit/pmap/internal/vectors"
)

// fragments encodes rec as a record split at the given fragment sizes (the
// last fragment takes the rest).
func fragments(rec []byte, sizes ...int) []byte {
	var out []byte
	for i, n := range sizes {
		if i == len(sizes)-1 || n > len(rec) {
			n = len(rec)
		}
		h := uint32(n)
		if n == len(rec) {
			h |= lastFragment
		}
		out = binary.BigEndian.AppendUint32(out, h)
		out = append(out, rec[:n]...)
		rec = rec[n:]
		if h&lastFragment != 0 {
			break
		}
	}
	return out
}

func TestReadRecordFragments(t *testing.T) {
	rec := vectors.Load("v3_dump").Reply // 1,836 bytes
	ones := make([]int, len(rec))
	for i := range ones {
		ones[i] = 1
	}
	tests := []struct {
		name  string
		input []byte
	}{
		{"one fragment", fragments(rec, len(rec))},
		{"two fragments", fragments(rec, 1000, 0)},
		{"many fragments", fragments(rec, 100, 200, 300, 4, 8, 500, 0)},
		{"1-byte fragments", fragments(rec, ones...)},
		{"empty fragments between", append(append(binary.BigEndian.AppendUint32(nil, 0), binary.BigEndian.AppendUint32(nil, 0)...), fragments(rec, 10, 0)...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A reader that returns one byte at a time exercises partial reads.
			for _, r := range []io.Reader{bytes.NewReader(tt.input), iotest.OneByteReader(bytes.NewReader(tt.input))} {
				prefix := []byte("keep")
				got, err := ReadRecord(r, prefix, len(rec))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, append([]byte("keep"), rec...)) {
					t.Fatalf("record differs (len %d, want %d)", len(got), len(rec)+4)
				}
				if _, err := ReadRecord(r, nil, 0); err != io.EOF {
					t.Errorf("after the record: err = %v, want io.EOF", err)
				}
			}
		})
	}
}

func TestReadRecordErrors(t *testing.T) {
	rec := bytes.Repeat([]byte{1}, 100)
	tests := []struct {
		name  string
		input []byte
		max   int
		want  error
	}{
		{"over cap in one fragment", fragments(rec, 100), 99, ErrRecordTooLong},
		{"over cap across fragments", fragments(rec, 60, 0), 99, ErrRecordTooLong},
		{"at cap", fragments(rec, 60, 0), 100, nil},
		{"truncated header", []byte{0x80, 0}, 0, io.ErrUnexpectedEOF},
		{"truncated body", fragments(rec, 100)[:50], 0, io.ErrUnexpectedEOF},
		{"no last fragment", append(binary.BigEndian.AppendUint32(nil, 100), rec...), 0, io.ErrUnexpectedEOF},
		{"eof between fragments", fragments(rec, 50, 0)[:54], 0, io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadRecord(bytes.NewReader(tt.input), []byte("x"), tt.max)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if err != nil && string(got) != "x" {
				t.Errorf("on error the buffer is %q, want it as passed", got)
			}
		})
	}
}

// claimingReader sends a fragment header claiming n bytes, then zeros forever.
type claimingReader struct {
	hdr  []byte
	read int64
}

func newClaimingReader(n uint32) *claimingReader {
	return &claimingReader{hdr: binary.BigEndian.AppendUint32(nil, n)}
}

func (r *claimingReader) Read(p []byte) (int, error) {
	n := copy(p, r.hdr)
	r.hdr = r.hdr[n:]
	clear(p[n:])
	r.read += int64(len(p))
	return len(p), nil
}

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// TestReadRecordRefusesBeforeAllocating: a peer that claims a 2 GiB record is
// refused on reading the fragment header, having cost nothing.
func TestReadRecordRefusesBeforeAllocating(t *testing.T) {
	r := newClaimingReader(lastFragment | MaxFragment) // 2 GiB - 1
	var err error
	n := allocated(func() { _, err = ReadRecord(r, nil, 0) })
	if !errors.Is(err, ErrRecordTooLong) {
		t.Fatalf("err = %v, want ErrRecordTooLong", err)
	}
	if n > 16<<10 { // a read chunk would be 64 KiB

		t.Errorf("refusing allocated %d bytes", n)
	}
	if r.read > 4 {
		t.Errorf("read %d bytes past the header", r.read-4)
	}
}

// TestReadRecordGrowsWithData: under a generous cap, a record that claims
// 2 GiB and then ends after 1 MiB costs memory in proportion to what arrived.
func TestReadRecordGrowsWithData(t *testing.T) {
	in := io.MultiReader(bytes.NewReader(binary.BigEndian.AppendUint32(nil, lastFragment|MaxFragment)),
		io.LimitReader(newClaimingReader(0), 1<<20))
	var err error
	n := allocated(func() { _, err = ReadRecord(in, nil, MaxFragment) })
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v, want io.ErrUnexpectedEOF", err)
	}
	if n > 8<<20 {
		t.Errorf("1 MiB of a claimed 2 GiB record allocated %d bytes", n)
	}
}

// recordingWriter records each Write.
type recordingWriter struct{ writes [][]byte }

func (w *recordingWriter) Write(p []byte) (int, error) {
	w.writes = append(w.writes, bytes.Clone(p))
	return len(p), nil
}

func TestWriteRecord(t *testing.T) {
	rec := bytes.Repeat([]byte("abcdefg"), 100) // 700 bytes
	tests := []struct {
		fragSize int
		frags    int
	}{
		{0, 1}, {-1, 1}, {700, 1}, {1000, 1}, {699, 2}, {350, 2}, {100, 7}, {64, 11}, {1, 700},
	}
	for _, tt := range tests {
		w := &recordingWriter{}
		if err := WriteRecord(w, rec, tt.fragSize); err != nil {
			t.Fatal(err)
		}
		if len(w.writes) != 1 {
			t.Errorf("fragSize %d: %d writes, want 1", tt.fragSize, len(w.writes))
		}
		out := bytes.Join(w.writes, nil)
		// Walk the fragments.
		var frags int
		for p := out; len(p) > 0; frags++ {
			h := binary.BigEndian.Uint32(p)
			n := int(h &^ lastFragment)
			if tt.fragSize > 0 && n > tt.fragSize {
				t.Errorf("fragSize %d: fragment of %d bytes", tt.fragSize, n)
			}
			p = p[4+n:]
			if (h&lastFragment != 0) != (len(p) == 0) {
				t.Errorf("fragSize %d: last-fragment bit wrong at fragment %d", tt.fragSize, frags)
			}
		}
		if frags != tt.frags || len(out) != len(rec)+4*tt.frags {
			t.Errorf("fragSize %d: %d fragments, %d bytes; want %d fragments", tt.fragSize, frags, len(out), tt.frags)
		}
		got, err := ReadRecord(bytes.NewReader(out), nil, 0)
		if err != nil || !bytes.Equal(got, rec) {
			t.Errorf("fragSize %d: read back %d bytes, %v", tt.fragSize, len(got), err)
		}
	}
	// An empty record is one empty last fragment.
	w := &recordingWriter{}
	if err := WriteRecord(w, nil, 10); err != nil || !bytes.Equal(w.writes[0], []byte{0x80, 0, 0, 0}) {
		t.Errorf("empty record written as %x, %v", w.writes, err)
	}
}

// TestReadRecordEmptyFragments: a few empty fragments are lawful; endless ones
// are refused after MaxEmptyFragments instead of holding the reader.
func TestReadRecordEmptyFragments(t *testing.T) {
	empties := func(n int) []byte {
		var b []byte
		for range n {
			b = binary.BigEndian.AppendUint32(b, 0)
		}
		return b
	}
	ok := append(empties(MaxEmptyFragments), 0x80, 0, 0, 1, 'x')
	if rec, err := ReadRecord(bytes.NewReader(ok), nil, 100); err != nil || string(rec) != "x" {
		t.Errorf("%d empty fragments then data: %q, %v", MaxEmptyFragments, rec, err)
	}
	bad := empties(MaxEmptyFragments + 1)
	if _, err := ReadRecord(bytes.NewReader(bad), nil, 100); !errors.Is(err, ErrRecordTooLong) {
		t.Errorf("%d empty fragments: %v, want ErrRecordTooLong", MaxEmptyFragments+1, err)
	}
}

// TestReadRecordLarge: a record many chunks long, in fragments of odd sizes,
// comes back whole after what buf already held.
func TestReadRecordLarge(t *testing.T) {
	rec := make([]byte, 5*readChunk+12345)
	for i := range rec {
		rec[i] = byte(i * 7)
	}
	var wire bytes.Buffer
	if err := WriteRecord(&wire, rec, readChunk/3+1); err != nil {
		t.Fatal(err)
	}
	got, err := ReadRecord(&wire, []byte("prefix"), len(rec))
	if err != nil {
		t.Fatal(err)
	}
	if string(got[:6]) != "prefix" || !bytes.Equal(got[6:], rec) {
		t.Errorf("record of %d bytes came back as %d bytes, different", len(rec), len(got)-6)
	}
}
