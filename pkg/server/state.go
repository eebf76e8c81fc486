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
//	version  uint32   1
//	length   uint32   the length of the body
//	checksum uint32   CRC-32C (Castagnoli) of the body
//
// then the body: the registrations as an rpcblist (RFC 1833 §2.1), the
// encoding of rpcbind's DUMP results and of its own warm-start file
// rpcbind.xdr. The file is only ever replaced whole (a temporary file in the
// same directory, written and flushed, then renamed over it, then the
// directory flushed), so a reader sees the old file or the new one, never a
// mix; the length and checksum catch anything else.
const (
	stateMagic     = "PMST"
	stateVersion   = 1
	stateHeaderLen = 16

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

// decodeState reads a state file's content; max bounds the registrations.
func decodeState(data []byte, max int) ([]portmap.RPCB, error) {
	switch {
	case len(data) < stateHeaderLen:
		return nil, corruptf("%d bytes, shorter than the %d-byte header", len(data), stateHeaderLen)
	case string(data[:4]) != stateMagic:
		return nil, corruptf("does not start with %q: not a portmapd state file", stateMagic)
	}
	if v := binary.BigEndian.Uint32(data[4:]); v != stateVersion {
		return nil, corruptf("format version %d, want %d", v, stateVersion)
	}
	body := data[stateHeaderLen:]
	if n := binary.BigEndian.Uint32(data[8:]); int64(n) != int64(len(body)) {
		return nil, corruptf("header says %d bytes of registrations, file holds %d", n, len(body))
	}
	if sum := crc32.Checksum(body, crcTable); sum != binary.BigEndian.Uint32(data[12:]) {
		return nil, corruptf("checksum %08x, header says %08x", sum, binary.BigEndian.Uint32(data[12:]))
	}
	return decodeRPCBFile(body, max)
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

// loadState reads the state file at path: nil for a file that does not
// exist yet. Temporary files a crash left beside it are removed first. A
// corrupt file is renamed aside and reported as a *StateError; so is one
// that cannot be read.
func loadState(path string, max int, now time.Time) ([]portmap.RPCB, error) {
	removeTemps(path)
	data, err := readBounded(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err == nil {
		var recs []portmap.RPCB
		if recs, err = decodeState(data, max); err == nil {
			return recs, nil
		}
	}
	return nil, setAside(path, err, now)
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

// writeState replaces the state file at path with recs, atomically and
// durably: a temporary file in the same directory is written and flushed
// to disk, renamed over path, and the directory is flushed so that the
// rename itself survives a crash. The file is readable by its owner only
// (os.CreateTemp's mode 0600), as rpcbind's warm-start files are. On failure
// path is left as it was, unless only the final directory flush failed.
func writeState(path string, recs []portmap.RPCB) error {
	return writeFileAtomic(path, encodeState(recs))
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
