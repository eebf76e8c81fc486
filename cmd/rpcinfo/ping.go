package main

import (
	"context"
	"net/netip"
	"path/filepath"

	"github.com/portmap-toolkit/pmap/internal/render"
	"github.com/portmap-toolkit/pmap/pkg/client"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
)

// maxVers is the highest version, which rpcinfo tries when a program answers
// version 0.
const maxVers = ^uint32(0)

// maxPings caps the versions one discovery calls. A program that claims a
// range wider than this is broken or hostile: Debian's rpcinfo would call
// every version of it, up to four billion.
const maxPings = client.MaxPingVersions

// target is a service to ping: a Go network and an address for it.
type target struct {
	network string // "udp4", "tcp6", "unix", ...
	address string // "host:port" or a socket path
}

// protoNetids returns the netconfig entries of a protocol, in order: "tcp"
// gives tcp and tcp6.
func protoNetids(proto string) []netconf {
	var out []netconf
	for _, n := range netconfigs {
		if n.proto == proto {
			out = append(out, n)
		}
	}
	return out
}

// ipGetclient finds version vers of program prog on host the way rpcinfo's
// ip_getclient does: for each transport of netids in turn, ask the host's
// mapper over that transport; a host without an address of the transport's
// family moves on to the next. Any other failure, or an unknown host, is
// printed as "host: RPC: ..." and ends the run. The client of the service is
// made (for TCP, its connection), as clnt_tli_create makes it, with opts
// (nil for the defaults).
func (r *runner) ipGetclient(ctx context.Context, host string, netids []netconf, prog, vers uint32, opts *rpc.Options) (target, *rpc.Client, error) {
	var last error = unknownHost(host, nil)
	for _, n := range netids {
		t, err := r.lookup(ctx, host, n, prog, vers)
		if err == nil {
			rc, err := r.dial(ctx, t, opts)
			if err != nil {
				return target{}, nil, r.fail("%s: %s", host, createText(err))
			}
			return t, rc, nil
		}
		if status(err) != rpc.UnknownHost {
			return target{}, nil, r.fail("%s: %s", host, createText(err))
		}
		last = err
	}
	return target{}, nil, r.fail("%s: %s", host, createText(last))
}

// lookup asks the mapper of host for the address of (prog, vers) over
// transport n, as libtirpc's rpcb_getaddr does, and returns the service's
// address. Over the unix transport it asks the local mapper, whatever the
// host; when the socket cannot be reached, libtirpc falls back to TCP on the
// loopback, whose failure is the one reported.
func (r *runner) lookup(ctx context.Context, host string, n netconf, prog, vers uint32) (target, error) {
	ctx, cancel := r.callCtx(ctx, listTimeout)
	defer cancel()
	if n.proto == "-" && !n.local() {
		return target{}, &rpc.Error{Status: rpc.UnknownProto}
	}
	var c *client.Client
	if n.local() {
		c = r.localClient()
	} else {
		addr, err := resolve(ctx, host, n.ipFamily())
		if err != nil {
			return target{}, err
		}
		c = r.ipClient(addr, n.goNetwork())
	}
	defer c.Close()
	ua, err := c.Lookup(ctx, prog, vers, n.canonical())
	if e := asRPCError(err); err != nil && e.Status == rpc.ProgVersMismatch {
		// A mapper newer than version 4: libtirpc gives up without
		// setting an error, and rpcinfo reports the status it had,
		// RPC_SUCCESS.
		err = &rpc.Error{Status: rpc.Success}
	}
	if err != nil {
		if n.local() && isConnectFailure(err) {
			if terr := r.loopbackConnect(ctx); terr != nil {
				return target{}, terr
			}
		}
		return target{}, err
	}
	network, address, err := portmap.DialAddress(n.canonical(), ua)
	if err != nil {
		return target{}, &rpc.Error{Status: rpc.UnknownAddr, Err: err}
	}
	if network != "unix" {
		network = n.goNetwork()
	}
	return target{network, address}, nil
}

// loopbackConnect tries the mapper's TCP port on the loopback, where
// libtirpc turns when the unix socket fails; its error, if any, is what
// libtirpc reports.
func (r *runner) loopbackConnect(ctx context.Context) error {
	m := &mapper{netid: "tcp", target: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(r.mapperPort()))}
	return m.connect(ctx)
}

// dial makes the client of a service with opts (nil for the defaults),
// connecting to it over a stream transport as libtirpc's clnt_tli_create
// does.
func (r *runner) dial(ctx context.Context, t target, opts *rpc.Options) (*rpc.Client, error) {
	ctx, cancel := r.callCtx(ctx, listTimeout)
	defer cancel()
	return rpc.Dial(ctx, t.network, t.address, opts)
}

// ipPing is rpcinfo [-n portnum] -u|-t host prognum [versnum]. Unlike
// Debian's rpcinfo, which ignores it, -n pings the service at that port
// without asking the mapper, as rpcinfo's manual says.
func (r *runner) ipPing(ctx context.Context, proto string) error {
	args := r.req.args
	if len(args) < 2 || len(args) > 3 {
		return r.usage()
	}
	host := args[0]
	prog, err := progNumber(args[1], r.names)
	if err != nil {
		return r.fail("%s", err)
	}
	var vers uint64
	if len(args) == 3 {
		if vers, err = versNumber(args[2]); err != nil {
			return r.fail("%s", err)
		}
	}
	var rc *rpc.Client
	if r.req.port != 0 {
		rc, err = r.directClient(ctx, host, proto, r.req.port)
	} else {
		_, rc, err = r.ipGetclient(ctx, host, protoNetids(proto), uint32(prog), uint32(vers), nil)
	}
	if err != nil {
		return err
	}
	defer rc.Close()
	r.out.SetHost(host)
	// rpcinfo prints these numbers as the C unsigned longs it holds: the
	// program as read, a version given on the command line sign-extended.
	return r.pingVersions(ctx, rc, uint32(prog), prog, len(args) == 3, uint32(vers), vers)
}

// directClient is the client of the service at host:port over proto, for
// -n: at the host's first IPv4 address, else its first IPv6 address.
func (r *runner) directClient(ctx context.Context, host, proto string, port uint16) (*rpc.Client, error) {
	for _, n := range protoNetids(proto) {
		addr, err := resolve(ctx, host, n.ipFamily())
		if err != nil {
			continue
		}
		rc, err := r.dial(ctx, target{n.goNetwork(), netip.AddrPortFrom(addr, port).String()}, nil)
		if err != nil {
			return nil, r.fail("%s: %s", host, createText(err))
		}
		return rc, nil
	}
	return nil, r.fail("%s: %s", host, createText(unknownHost(host, nil)))
}

// progPing is rpcinfo -T netid host prognum [versnum]. Without -T, Debian's
// rpcinfo prints its usage; this one does what rpcinfo's manual says and
// uses the first transport of NETPATH (or of netconfig) through which the
// host's mapper knows the program.
func (r *runner) progPing(ctx context.Context) error {
	args := r.req.args
	if len(args) < 2 || len(args) > 3 {
		return r.usage()
	}
	prog, err := progNumber(args[1], r.names)
	if err != nil {
		return r.fail("%s", err)
	}
	var vers uint64
	if len(args) == 3 {
		if vers, err = versNumber(args[2]); err != nil {
			return r.fail("%s", err)
		}
	}
	var candidates []netconf
	if r.req.hasNetid {
		n, ok := getnetconfigent(r.req.netid)
		if !ok {
			return r.fail("rpcinfo: Could not find %s", r.req.netid)
		}
		candidates = []netconf{n}
	} else {
		candidates = netpath(r.getenv("NETPATH"))
	}
	rc, err := r.tpCreate(ctx, args[0], candidates, uint32(prog), uint32(vers))
	if err != nil {
		return r.fail("rpcinfo: %s", createText(err))
	}
	defer rc.Close()
	r.out.SetHost(args[0])
	// -T keeps the numbers in 32-bit variables: they print as sent.
	return r.pingVersions(ctx, rc, uint32(prog), uint64(uint32(prog)), len(args) == 3, uint32(vers), uint64(uint32(vers)))
}

// tpCreate finds the service through the first of candidates that works, as
// libtirpc's clnt_create does for a list of transports (clnt_tp_create for
// one): it remembers the most telling failure, an unknown host or address
// only when there is no other.
func (r *runner) tpCreate(ctx context.Context, host string, candidates []netconf, prog, vers uint32) (*rpc.Client, error) {
	var saved, last error
	for _, n := range candidates {
		t, err := r.lookup(ctx, host, n, prog, vers)
		var rc *rpc.Client
		if err == nil {
			rc, err = r.dial(ctx, t, nil)
		}
		if err == nil {
			return rc, nil
		}
		last = err
		if st := status(err); st != rpc.N2AXlateFailure && st != rpc.UnknownHost {
			saved = err
		}
	}
	switch {
	case saved != nil:
		return nil, saved
	case last != nil:
		return nil, last
	}
	return nil, &rpc.Error{Status: rpc.UnknownProto}
}

// addrPing is rpcinfo -a serv_address -T netid prognum [versnum]: the
// service at a universal address, without asking its mapper.
func (r *runner) addrPing(ctx context.Context) error {
	args := r.req.args
	if len(args) < 1 || len(args) > 2 || !r.req.hasNetid {
		return r.usage()
	}
	n, ok := getnetconfigent(r.req.netid)
	if !ok {
		return r.fail("rpcinfo: Could not find %s", r.req.netid)
	}
	prog, err := progNumber(args[0], r.names)
	if err != nil {
		return r.fail("%s", err)
	}
	var vers uint64
	if len(args) == 2 {
		if vers, err = versNumber(args[1]); err != nil {
			return r.fail("%s", err)
		}
	}
	network, address, err := portmap.DialAddress(n.canonical(), r.req.address)
	if err != nil || (n.proto == "-" && !n.local()) { // rawip has no address format
		// errx(1, "rpcinfo: no address for client handle"): errx adds the
		// program's short name.
		return r.fail("%s: rpcinfo: no address for client handle", filepath.Base(r.prog))
	}
	if network != "unix" {
		network = n.goNetwork()
	}
	rc, err := r.dial(ctx, target{network, address}, nil)
	if err != nil {
		return r.fail("rpcinfo: %s", createText(err))
	}
	defer rc.Close()
	return r.pingVersions(ctx, rc, uint32(prog), uint64(uint32(prog)), len(args) == 2, uint32(vers), uint64(uint32(vers)))
}

// pingVersions pings program prog through rc as rpcinfo does. With a version it
// calls that version. Without one it calls version 0, which a program
// refuses with PROG_MISMATCH and the range of versions it serves, then calls
// each version of the range; a program that answers version 0 is asked
// version 4294967295 the same way, and one that answers both serves them
// all. progShown and versShown are the numbers rpcinfo prints for the
// program and the given version.
func (r *runner) pingVersions(ctx context.Context, rc *rpc.Client, prog uint32, progShown uint64, hasVers bool, vers uint32, versShown uint64) error {
	null := func(v uint32) error {
		cctx, cancel := r.callCtx(ctx, pingTimeout)
		defer cancel()
		_, err := rc.Call(cctx, prog, v, 0, nil)
		return err
	}
	defer r.out.FlushPings()

	if hasVers {
		if !r.pstatus(progShown, versShown, null(vers)) {
			return errFailed
		}
		return nil
	}
	var low, high uint32
	err := null(0)
	if err == nil {
		err = null(maxVers)
		if err == nil {
			low, high = 0, maxVers
		} else if status(err) != rpc.ProgVersMismatch {
			r.pstatus(progShown, uint64(maxVers), err)
			return errFailed
		}
	} else if status(err) != rpc.ProgVersMismatch {
		r.pstatus(progShown, 0, err)
		return errFailed
	}
	if err != nil {
		e := asRPCError(err)
		low, high = e.Low, e.High
	}
	failure := false
	if low <= high && uint64(high)-uint64(low) >= maxPings {
		r.fail("rpcinfo: program %d claims versions %d to %d; calling the first %d", prog, low, high, maxPings)
		high = low + maxPings - 1
		failure = true
	}
	for v := uint64(low); v <= uint64(high); v++ {
		if !r.pstatus(progShown, v, null(uint32(v))) {
			failure = true
		}
	}
	if failure {
		return errFailed
	}
	return nil
}

// pstatus reports one ping as rpcinfo's pstatus does: the cause of a
// failure on standard error ("rpcinfo: RPC: ..."), then "program P version
// V ready and waiting" or "... is not available". In the table and JSON forms
// the cause goes into the output instead. It returns whether the program
// answered.
func (r *runner) pstatus(prog, vers uint64, err error) bool {
	p := render.Ping{Prog: prog, Vers: vers}
	if err != nil {
		p.Err = callText(err)
		if r.cfg.format == render.Classic {
			r.fail("rpcinfo: %s", p.Err)
		}
	}
	if werr := r.out.Ping(p); werr != nil && err == nil {
		return false
	}
	return err == nil
}
