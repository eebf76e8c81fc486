package server

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

// The state file (Server.StateFile) holds the registrations other than the
// port mapper's own, in registration order. It is a 16-byte header, all
// big-endian as XDR is (RFC 4506 §4.2):
//
//	magic    4 bytes  "PMST"
//	version  uint32   2 (1: the same without change records)
//	length   uint32   the length of the snapshot
//	checksum uint32   CRC-32C (Castagnoli) of the snapshot
//
// then the snapshot: the registrations as an rpcblist (RFC 1833 §2.1), the
// encoding of rpcbind's DUMP results and of its own warm-start file
// rpcbind.xdr; then the changes made since, appended one record each:
//
//	length   uint32   the length of what follows the checksum
//	checksum uint32   CRC-32C of it
//	op       uint32   1 added, 2 removed
//	rpcb              the registration (RFC 1833 §2.1)
//
// A change is appended and flushed to disk before it is acknowledged, so a
// registration costs one small write. Once the records outweigh the
// snapshot, the file is replaced whole by a new snapshot (a temporary file in
// the same directory, written and flushed, then renamed over it, then the
// directory flushed), so a reader sees the old file or the new one, never a
// mix. A record cut short by a crash fails its checksum; it was never
// acknowledged, and it and anything after it are ignored.
const (
	stateMagic     = "PMST"
	stateVersion   = 2
	stateHeaderLen = 16

	// stateVersionSnapshot is the format before change records: the
	// snapshot alone, which must fill the file.
	stateVersionSnapshot = 1

	// Change records (see above).
	changeHeaderLen = 8 // length and checksum
	opAdd           = 1
	opRemove        = 2

	// maxChangeLen bounds a change record's length field: op and the
	// largest registration the decoder accepts (about 4.7 KB). A larger
	// length is damage, not a record.
	maxChangeLen = 8 << 10

	// maxStateBytes bounds the state file read at start: DefaultMaxRegistrations
	// registrations of the largest size the decoder accepts (netid and owner
	// of 255 bytes, an address of 4096, about 4.7 KB encoded) fit in 512 MiB;
	// a larger file cannot be one this server wrote.
	maxStateBytes = 512 << 20

	// tmpInfix marks the temporary files a write makes beside the state file;
	// one left by a crash mid-write is removed at the next start.
	tmpInfix = ".tmp-"

	// corruptInfix names where a state file that cannot be read is kept.
	corruptInfix = ".corrupt-"

	// stateDirMode is the mode of a state directory the server makes, that
	// of /run/rpcbind: the files in it keep their own, stricter mode.
	stateDirMode = 0o755
)

// crcTable is CRC-32C, which the processor computes in hardware.
var crcTable = crc32.MakeTable(crc32.Castagnoli)

// StateError reports a state file (or one of rpcbind's warm-start files) that
// could not be read at start. When the file was corrupt it has been renamed
// to Aside, so that nothing is lost and the next start begins without it.
type StateError struct {
	Path  string // the file
	Aside string // where the corrupt file now is; "" when it was left in place
	Err   error  // what is wrong with it
}

func (e *StateError) Error() string {
	if e.Aside != "" {
		return fmt.Sprintf("server: state file %s is corrupt (%v); kept it as %s, so the next start begins without it", e.Path, e.Err, e.Aside)
	}
	return fmt.Sprintf("server: state file %s: %v", e.Path, e.Err)
}

func (e *StateError) Unwrap() error { return e.Err }

// errCorrupt marks a file whose content is not what was written.
var errCorrupt = errors.New("corrupt")

func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errCorrupt}, args...)...)
}

// encodeState returns the state file's content for recs.
func encodeState(recs []portmap.RPCB) []byte {
	b := make([]byte, stateHeaderLen, stateHeaderLen+64*len(recs)+4)
	b = portmap.AppendRPCBList(b, recs)
	body := b[stateHeaderLen:]
	copy(b, stateMagic)
	binary.BigEndian.PutUint32(b[4:], stateVersion)
	binary.BigEndian.PutUint32(b[8:], uint32(len(body)))
	binary.BigEndian.PutUint32(b[12:], crc32.Checksum(body, crcTable))
	return b
}

// decodeState reads a state file's content, applying its change records to
// its snapshot; max bounds the registrations.
func decodeState(data []byte, max int) ([]portmap.RPCB, error) {
	st, err := decodeStateLog(data, max)
	return st.recs, err
}

// stateContent is what a state file holds.
type stateContent struct {
	recs    []portmap.RPCB // the registrations, changes applied
	version uint32         // the file's format
	changes int            // change records applied
	good    int            // bytes of the file read as header, snapshot and whole records
	dropped int            // bytes after those: a record cut short by a crash
}

// decodeStateLog reads a state file's content; max bounds the registrations.
// A damaged header or snapshot is an error; a damaged change record ends the
// changes (see the format above) and is counted in dropped.
func decodeStateLog(data []byte, max int) (stateContent, error) {
	var st stateContent
	switch {
	case len(data) < stateHeaderLen:
		return st, corruptf("%d bytes, shorter than the %d-byte header", len(data), stateHeaderLen)
	case string(data[:4]) != stateMagic:
		return st, corruptf("does not start with %q: not a portmapd state file", stateMagic)
	}
	st.version = binary.BigEndian.Uint32(data[4:])
	if st.version != stateVersion && st.version != stateVersionSnapshot {
		return st, corruptf("format version %d, want %d", st.version, stateVersion)
	}
	n := int64(binary.BigEndian.Uint32(data[8:]))
	rest := int64(len(data) - stateHeaderLen)
	if n > rest || (st.version == stateVersionSnapshot && n != rest) {
		return st, corruptf("header says %d bytes of registrations, file holds %d", n, rest)
	}
	body := data[stateHeaderLen : stateHeaderLen+n]
	if sum := crc32.Checksum(body, crcTable); sum != binary.BigEndian.Uint32(data[12:]) {
		return st, corruptf("checksum %08x, header says %08x", sum, binary.BigEndian.Uint32(data[12:]))
	}
	recs, err := decodeRPCBFile(body, max)
	if err != nil {
		return st, err
	}
	st.good = stateHeaderLen + int(n)
	log := data[st.good:]
	if len(log) == 0 {
		st.recs = recs
		return st, nil
	}
	rp := newReplay(recs)
	for len(log) > 0 {
		rec, op, size, ok := decodeChange(log)
		if !ok {
			break
		}
		if op == opAdd && rp.live >= max {
			return st, corruptf("more than %d registrations", max)
		}
		rp.apply(op, rec)
		log = log[size:]
		st.good += size
		st.changes++
	}
	st.dropped = len(log)
	st.recs = rp.result()
	return st, nil
}

// decodeChange reads the change record at the start of b; ok is false when
// b does not start with a whole, intact one.
func decodeChange(b []byte) (rec portmap.RPCB, op uint32, size int, ok bool) {
	if len(b) < changeHeaderLen {
		return rec, 0, 0, false
	}
	n := binary.BigEndian.Uint32(b)
	if n > maxChangeLen || int(n) > len(b)-changeHeaderLen {
		return rec, 0, 0, false
	}
	payload := b[changeHeaderLen : changeHeaderLen+int(n)]
	if crc32.Checksum(payload, crcTable) != binary.BigEndian.Uint32(b[4:]) {
		return rec, 0, 0, false
	}
	d := xdr.NewDecoder(payload)
	op = d.Uint32()
	rec.Decode(d)
	if d.Err() != nil || d.Remaining() != 0 || (op != opAdd && op != opRemove) {
		return rec, 0, 0, false
	}
	return rec, op, changeHeaderLen + int(n), true
}

// appendChange appends the change record of op on rec to b.
func appendChange(b []byte, op uint32, rec portmap.RPCB) []byte {
	at := len(b)
	b = append(b, make([]byte, changeHeaderLen)...)
	b = xdr.AppendUint32(b, op)
	b = rec.Append(b)
	payload := b[at+changeHeaderLen:]
	binary.BigEndian.PutUint32(b[at:], uint32(len(payload)))
	binary.BigEndian.PutUint32(b[at+4:], crc32.Checksum(payload, crcTable))
	return b
}

// replay applies change records to a list of registrations, keeping their
// order: an addition goes last, a removal takes out the registration of the
// same (program, version, netid) (netid in any case, as the registry
// compares).
type replay struct {
	recs []portmap.RPCB
	gone []bool
	at   map[exactKey]int // index in recs of each live registration
	live int
}

func newReplay(recs []portmap.RPCB) *replay {
	rp := &replay{recs: recs, gone: make([]bool, len(recs)), at: make(map[exactKey]int, len(recs))}
	for i, r := range recs {
		rp.at[exactKey{r.Prog, r.Vers, lower(r.Netid)}] = i
	}
	rp.live = len(rp.at)
	return rp
}

func (rp *replay) apply(op uint32, r portmap.RPCB) {
	k := exactKey{r.Prog, r.Vers, lower(r.Netid)}
	if i, ok := rp.at[k]; ok {
		rp.gone[i] = true
		delete(rp.at, k)
		rp.live--
	}
	if op == opAdd {
		rp.at[k] = len(rp.recs)
		rp.recs = append(rp.recs, r)
		rp.gone = append(rp.gone, false)
		rp.live++
	}
}

func (rp *replay) result() []portmap.RPCB {
	out := rp.recs[:0]
	for i, r := range rp.recs {
		if !rp.gone[i] {
			out = append(out, r)
		}
	}
	return out
}

// decodeRPCBFile reads an rpcblist that must fill data exactly.
func decodeRPCBFile(data []byte, max int) ([]portmap.RPCB, error) {
	d := xdr.NewDecoder(data)
	recs := portmap.DecodeRPCBList(d, nil, max)
	if err := d.Err(); err != nil {
		return nil, corruptf("%v", err)
	}
	if n := d.Remaining(); n != 0 {
		return nil, corruptf("%d bytes after the list", n)
	}
	return recs, nil
}

// readBounded reads path whole, refusing one larger than maxStateBytes. A
// missing file is (nil, fs.ErrNotExist).
func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file")
	}
	if fi.Size() > maxStateBytes {
		return nil, corruptf("%d bytes, more than any state this server writes (%d)", fi.Size(), maxStateBytes)
	}
	data := make([]byte, fi.Size())
	if _, err := f.ReadAt(data, 0); err != nil && fi.Size() > 0 {
		return nil, err
	}
	return data, nil
}

// loadState reads the state file at path: an empty content with version 0
// for a file that does not exist yet. Temporary files a crash left beside it
// are removed first. A corrupt file is renamed aside and reported as a
// *StateError; so is one that cannot be read.
func loadState(path string, max int, now time.Time) (stateContent, error) {
	removeTemps(path)
	data, err := readBounded(path)
	if errors.Is(err, fs.ErrNotExist) {
		return stateContent{}, nil
	}
	if err == nil {
		var st stateContent
		if st, err = decodeStateLog(data, max); err == nil {
			return st, nil
		}
	}
	return stateContent{}, setAside(path, err, now)
}

// setAside renames a file that could not be decoded to path.corrupt-TIME and
// returns the *StateError that says so; other errors are returned as they
// are, wrapped.
func setAside(path string, err error, now time.Time) error {
	if !errors.Is(err, errCorrupt) {
		return &StateError{Path: path, Err: err}
	}
	aside := path + corruptInfix + now.UTC().Format("20060102T150405.000000000Z")
	if rerr := os.Rename(path, aside); rerr != nil {
		return &StateError{Path: path, Err: fmt.Errorf("%w; could not keep it aside: %v", err, rerr)}
	}
	syncDir(filepath.Dir(path))
	return &StateError{Path: path, Aside: aside, Err: err}
}

// removeTemps removes the temporary files of interrupted writes of path.
func removeTemps(path string) {
	tmps, _ := filepath.Glob(globEscape(path) + tmpInfix + "*")
	for _, t := range tmps {
		os.Remove(t)
	}
}

// globEscape quotes the characters filepath.Match gives a meaning.
func globEscape(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', '\\':
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return string(b)
}

// rewriteState replaces the state file at path with a snapshot of recs,
// atomically and durably: a temporary file in the same directory is written
// and flushed to disk, renamed over path, and the directory is flushed so
// that the rename itself survives a crash. The file is readable by its owner
// only (os.CreateTemp's mode 0600), as rpcbind's warm-start files are. It
// returns the file's size, what the journal appends after. On failure path
// is left as it was, unless only the final directory flush failed.
func rewriteState(path string, recs []portmap.RPCB) (int64, error) {
	data := encodeState(recs)
	if err := writeFileAtomic(path, data); err != nil {
		return 0, err
	}
	return int64(len(data)), nil
}

func writeFileAtomic(path string, data []byte) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, base+tmpInfix+"*")
	if err != nil {
		return fmt.Errorf("server: writing the state file: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
			err = fmt.Errorf("server: writing the state file %s: %w", path, err)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir flushes a directory, making the renames in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
