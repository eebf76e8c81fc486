package server

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

// DefaultWarmStartDir is where Debian's rpcbind -w keeps its warm-start
// files, and where portmapd -w looks for them.
const DefaultWarmStartDir = "/run/rpcbind"

// rpcbind's warm-start files, written when rpcbind -w stops and read (then
// removed) when it starts. Each is the XDR encoding of one of its lists,
// exactly as DUMP returns them (checked against Debian's rpcbind 1.2.6,
// which writes them as its user _rpc, mode 0600):
const (
	// RpcbindWarmFile holds the rpcblist (RFC 1833 §2.1): every
	// registration with its netid, address and owner, the mapper's own
	// first.
	RpcbindWarmFile = "rpcbind.xdr"
	// PortmapWarmFile holds the pmaplist (RFC 1833 §3.1): the IPv4 tcp and
	// udp registrations as (program, version, protocol, port).
	PortmapWarmFile = "portmap.xdr"
)

// readWarmStart reads rpcbind's warm-start files in dir: the registrations
// of rpcbind.xdr, then those of portmap.xdr that rpcbind.xdr lacks (as v2
// registrations owned by the superuser, since the pmaplist has no owner).
// It returns the files it read; none is (nil, nil, nil). A file that does not
// decode is renamed aside and reported as a *StateError.
func readWarmStart(dir string, max int, now time.Time) ([]portmap.RPCB, []string, error) {
	var recs []portmap.RPCB
	var files []string
	seen := make(map[exactKey]bool)
	rpath := filepath.Join(dir, RpcbindWarmFile)
	data, err := readBounded(rpath)
	switch {
	case err == nil:
		if recs, err = decodeRPCBFile(data, max); err != nil {
			return nil, nil, setAside(rpath, err, now)
		}
		files = append(files, rpath)
		for _, r := range recs {
			seen[exactKey{r.Prog, r.Vers, lower(r.Netid)}] = true
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, nil, setAside(rpath, err, now)
	}

	ppath := filepath.Join(dir, PortmapWarmFile)
	data, err = readBounded(ppath)
	switch {
	case err == nil:
		d := xdr.NewDecoder(data)
		ms := portmap.DecodeMappingList(d, nil, max)
		if err := d.Err(); err != nil {
			return nil, nil, setAside(ppath, corruptf("%v", err), now)
		}
		if n := d.Remaining(); n != 0 {
			return nil, nil, setAside(ppath, corruptf("%d bytes after the list", n), now)
		}
		files = append(files, ppath)
		for _, m := range ms {
			netid, ok := portmap.NetidForProt(m.Prot)
			if !ok || seen[exactKey{m.Prog, m.Vers, netid}] {
				continue
			}
			seen[exactKey{m.Prog, m.Vers, netid}] = true
			recs = append(recs, portmap.RPCB{
				Prog: m.Prog, Vers: m.Vers, Netid: netid,
				Addr:  "0.0.0.0." + itoa(m.Port>>8&0xff) + "." + itoa(m.Port&0xff),
				Owner: OwnerSuperuser,
			})
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, nil, setAside(ppath, err, now)
	}
	return recs, files, nil
}

// removeWarmStart removes rpcbind's warm-start files once their content is
// in the state file, as rpcbind removes them once read: left in place they
// would be read again at the next start, over newer changes.
func removeWarmStart(files []string) error {
	var errs []error
	for _, f := range files {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if len(files) > 0 {
		syncDir(filepath.Dir(files[0]))
	}
	return errors.Join(errs...)
}
