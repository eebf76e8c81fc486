package client

import (
	"context"
	"errors"
	"fmt"

	"github.com/portmap-toolkit/pmap/pkg/rpc"
)

// MaxPingVersions caps the versions [PingVersions] calls. Real programs span a
// handful of versions (NFS 2 to 4, the port mapper 2 to 4); a wider range
// comes from a broken or hostile server, such as one that accepts every
// version, for which rpcinfo would make four billion calls.
const MaxPingVersions = 256

// ErrTooManyVersions is the cause (errors.Is) of the error PingVersions
// returns when a server claims more than MaxPingVersions versions.
var ErrTooManyVersions = errors.New("client: server claims more versions than MaxPingVersions")

// maxVers is the highest version number, which rpcinfo tries after a server
// accepted version 0.
const maxVers = ^uint32(0)

// Ping calls procedure 0 (NULL) of version vers of program prog at addr over
// network ("udp", "tcp", "unix" and the family-specific variants; addr is
// "host:port" or a socket path), as rpcinfo -a, -t, -u and -T do. It returns
// nil when the program answers, and otherwise the *rpc.Error of the call: for
// example ProgVersMismatch with the range the program serves, ProgUnavail, or
// CantRecv with ECONNREFUSED when nothing listens on a UDP port.
func Ping(ctx context.Context, network, addr string, prog, vers uint32, opts *rpc.Options) error {
	rc, err := dial(ctx, network, addr, prog, vers, opts)
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = rc.Call(ctx, prog, vers, 0, nil)
	return err
}

// PingResult is the outcome of calling NULL of one version.
type PingResult struct {
	Vers uint32 // the version called
	Err  error  // nil when it answered; otherwise the call's *rpc.Error
}

// PingVersions finds the versions of program prog at addr and pings each, as
// rpcinfo does when it is given no version: it calls version 0, which a
// program normally refuses with PROG_MISMATCH and the range of versions it
// serves, then calls NULL of each version of that range, in order, over one
// connection. If version 0 answers, it tries version 4294967295 to learn the
// range the same way; if that answers too, the program serves every version.
//
// It returns one result per version called. When the discovery itself fails
// (version 0, or 4294967295 after it, fails with anything but PROG_MISMATCH,
// or the range is empty), it returns that call's result alone, and its error.
// A range of more than MaxPingVersions versions is cut to its first
// MaxPingVersions, and an error wrapping ErrTooManyVersions is returned with
// their results.
func PingVersions(ctx context.Context, network, addr string, prog uint32, opts *rpc.Options) ([]PingResult, error) {
	rc, err := dial(ctx, network, addr, prog, 0, opts)
	if err != nil {
		return []PingResult{{Vers: 0, Err: err}}, err
	}
	defer rc.Close()
	null := func(vers uint32) error {
		_, err := rc.Call(ctx, prog, vers, 0, nil)
		return err
	}

	var low, high uint32
	probe := uint32(0)
	err = null(probe)
	if err == nil {
		probe = maxVers
		err = null(probe)
		if err == nil {
			low, high = 0, maxVers
		}
	}
	if err != nil {
		var e *rpc.Error
		if !errors.As(err, &e) || e.Status != rpc.ProgVersMismatch || e.Low > e.High {
			return []PingResult{{Vers: probe, Err: err}}, err
		}
		low, high = e.Low, e.High
	}

	var tooMany error
	if uint64(high)-uint64(low) >= MaxPingVersions {
		tooMany = &rpc.Error{Status: rpc.Failed, Network: network, Addr: addr, Prog: prog, Vers: low,
			Err: fmt.Errorf("%w: versions %d to %d", ErrTooManyVersions, low, high)}
		high = low + MaxPingVersions - 1
	}
	res := make([]PingResult, 0, high-low+1)
	for v := low; ; v++ {
		res = append(res, PingResult{Vers: v, Err: null(v)})
		if v == high {
			break
		}
	}
	return res, tooMany
}

// dial connects to addr, naming prog and vers in the error if it cannot.
func dial(ctx context.Context, network, addr string, prog, vers uint32, opts *rpc.Options) (*rpc.Client, error) {
	rc, err := rpc.Dial(ctx, network, addr, opts)
	if err != nil {
		return nil, withCall(err, endpoint{network, addr}, prog, vers, 0)
	}
	return rc, nil
}
