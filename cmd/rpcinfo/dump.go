package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/portmap-toolkit/pmap/pkg/client"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

// Prefixes of rpcinfo's messages when the port mapper fails a listing.
const (
	cantRpcbind = "rpcinfo: can't contact rpcbind"
	cantPortmap = "rpcinfo: can't contact portmapper"
)

// reportMapper prints a listing's failure as rpcinfo does: clnt_pcreateerror
// for a mapper it could not reach ("prefix: RPC: ..."), clnt_perror with
// prefix + ": " for a call that failed, which gives rpcinfo's doubled colon
// ("rpcinfo: can't contact rpcbind: : RPC: ...").
func (r *runner) reportMapper(prefix string, err error) error {
	var ce *createError
	if errors.As(err, &ce) {
		return r.fail("%s: %s", prefix, createText(ce.err))
	}
	return r.fail("%s: : %s", prefix, callText(err))
}

// netidOption returns -T's transport, or nil; an unknown netid is reported as
// rpcinfo's nc_perror reports it.
func (r *runner) netidOption() (*netconf, error) {
	if !r.req.hasNetid {
		return nil, nil
	}
	n, ok := getnetconfigent(r.req.netid)
	if !ok {
		return nil, r.fail("rpcinfo: invalid transport: Netid not found in netconfig database")
	}
	return &n, nil
}

// rpcbDump is rpcinfo [host] and rpcinfo -s [host]: rpcbind DUMP, version 3,
// then 4 when the mapper serves 4 and up, or portmap version 2 when it
// serves only 2.
func (r *runner) rpcbDump(ctx context.Context) error {
	args := r.req.args
	if len(args) > 1 {
		return r.usage()
	}
	var netid *netconf
	if len(args) == 1 {
		var err error
		if netid, err = r.netidOption(); err != nil {
			return err
		}
	}
	ctx, cancel := r.callCtx(ctx, listTimeout)
	defer cancel()
	var list []portmap.RPCB
	var reached netip.Addr // where the mapper answered, for --verify
	err := r.withMapper(ctx, first(args), len(args) == 1, netid, func(m *mapper) error {
		reached = m.target.Addr()
		var err error
		list, err = m.c.RpcbDump(ctx, portmap.V3)
		if err == nil {
			return nil
		}
		e := asRPCError(err)
		if e.Status != rpc.ProgVersMismatch && e.Status != rpc.ProgUnavail {
			return err
		}
		switch {
		case e.Low == portmap.V4:
			list, err = m.c.RpcbDump(ctx, portmap.V4)
		case e.High == portmap.V2:
			var ms []portmap.Mapping
			ms, err = m.c.PmapDump(ctx)
			list = rpcbFromMappings(ms)
		default:
			// rpcinfo finds nothing to print: "No remote programs
			// registered."
			list, err = nil, nil
		}
		return err
	})
	if err != nil {
		return r.reportMapper(cantRpcbind, err)
	}
	r.out.SetHost(first(args))
	if r.cfg.verify {
		return r.verify(ctx, first(args), reached, list)
	}
	if r.req.mode == modeDumpShort {
		return r.out.Summary(list)
	}
	return r.out.Registrations(list)
}

// rpcbFromMappings converts a portmap version 2 DUMP as rpcinfo does for its
// listings: netid "udp" or "tcp" (another protocol in "%6ld"), the address
// 0.0.0.0 with the port's low 16 bits, owner "unknown".
func rpcbFromMappings(ms []portmap.Mapping) []portmap.RPCB {
	out := make([]portmap.RPCB, len(ms))
	for i, m := range ms {
		out[i] = client.RPCBFromMapping(m)
		if m.Prot != portmap.IPProtoTCP && m.Prot != portmap.IPProtoUDP {
			out[i].Netid = fmt.Sprintf("%6d", m.Prot)
		}
	}
	return out
}

// stats is rpcinfo -m [host]: rpcbind version 4 GETSTAT. Operands after the
// host are ignored, as rpcinfo ignores them.
func (r *runner) stats(ctx context.Context) error {
	args := r.req.args
	var netid *netconf
	if len(args) > 0 {
		var err error
		if netid, err = r.netidOption(); err != nil {
			return err
		}
	}
	ctx, cancel := r.callCtx(ctx, listTimeout)
	defer cancel()
	var st portmap.StatByVers
	err := r.withMapper(ctx, first(args), len(args) > 0, netid, func(m *mapper) error {
		var err error
		st, err = m.c.Getstat(ctx)
		return err
	})
	if err != nil {
		return r.reportMapper(cantRpcbind, err)
	}
	r.out.SetHost(first(args))
	return r.out.Stats(&st)
}

// addrList is rpcinfo -l [-T netid] host prognum versnum: rpcbind version 4
// GETADDRLIST, asked with the netid and address rpcinfo used to reach the
// mapper. The program and version are read once the mapper is reached, as
// rpcinfo reads them.
func (r *runner) addrList(ctx context.Context) error {
	args := r.req.args
	if len(args) != 3 {
		return r.usage()
	}
	netid, err := r.netidOption()
	if err != nil {
		return err
	}
	ctx, cancel := r.callCtx(ctx, listTimeout)
	defer cancel()
	// rpcinfo reads the program and version once it has reached the
	// mapper: a bad number is reported only then.
	p, perr := progNumber(args[1], r.names)
	var v uint64
	if perr == nil {
		v, perr = versNumber(args[2])
	}
	prog, vers := uint32(p), uint32(v)
	var list []portmap.Entry
	var reached netip.Addr // where the mapper answered, for --verify
	err = r.withMapper(ctx, args[0], true, netid, func(m *mapper) error {
		reached = m.target.Addr()
		if perr != nil {
			if err := m.connect(ctx); err != nil {
				return err
			}
			return perr
		}
		q := portmap.RPCB{Prog: prog, Vers: vers, Netid: m.netid}
		if m.target.IsValid() {
			q.Addr = portmap.FormatUaddr(m.target)
		}
		var err error
		list, err = m.c.Getaddrlist(ctx, q)
		return err
	})
	var ne *numberError
	if errors.As(err, &ne) {
		return r.fail("%s", ne.msg)
	}
	if err != nil {
		return r.reportMapper(cantRpcbind, err)
	}
	r.out.SetHost(args[0])
	if r.cfg.verify {
		regs := make([]portmap.RPCB, len(list))
		for i, e := range list {
			regs[i] = portmap.RPCB{Prog: prog, Vers: vers, Netid: e.Netid, Addr: e.Maddr}
		}
		return r.verify(ctx, args[0], reached, regs)
	}
	return r.out.Addresses(prog, vers, list)
}

// pmapDump is rpcinfo -p [host]: portmap version 2 DUMP, over the local
// socket, or at the address the host's mapper gives for itself over TCP,
// on the connection made to that address (as rpcinfo calls DUMP on the
// client clnt_tli_create made).
func (r *runner) pmapDump(ctx context.Context) error {
	args := r.req.args
	if len(args) > 1 {
		return r.usage()
	}
	ctx, cancel := r.callCtx(ctx, listTimeout)
	defer cancel()
	var list []portmap.Mapping
	var err error
	var reached netip.Addr // where the mapper answered, for --verify
	host := "(null)"       // what rpcinfo's printf makes of its NULL host
	if len(args) == 0 {
		c := r.localClient()
		defer c.Close()
		list, err = c.PmapDump(ctx)
	} else {
		host = args[0]
		netids := protoNetids("tcp")
		if r.req.hasNetid {
			n, ok := getnetconfigent(r.req.netid)
			if !ok {
				return r.fail("rpcinfo: invalid transport: Netid not found in netconfig database")
			}
			netids = []netconf{n}
		}
		t, rc, gerr := r.ipGetclient(ctx, host, netids, portmap.Program, portmap.V2, &dumpOptions)
		if gerr != nil {
			return gerr
		}
		defer rc.Close()
		if ap, perr := netip.ParseAddrPort(t.address); perr == nil {
			reached = ap.Addr().Unmap()
		}
		list, err = pmapDumpOn(ctx, rc, t)
	}
	if err != nil {
		if len(args) == 0 && isConnectFailure(err) {
			return r.fail("%s: %s", cantPortmap, createText(err))
		}
		if st := status(err); st == rpc.ProgVersMismatch || st == rpc.ProgUnavail {
			if asRPCError(err).Low > portmap.V2 {
				return r.fail("%s does not support portmapper.  Try rpcinfo %s instead", host, host)
			}
			return errFailed
		}
		return r.fail("%s: %s", cantPortmap, callText(err))
	}
	r.out.SetHost(first(args))
	if r.cfg.verify {
		return r.verify(ctx, first(args), reached, rpcbFromMappings(list))
	}
	return r.out.Mappings(list)
}

// dumpOptions are the options of the client pmapDump calls DUMP with: the
// reply cap of pkg/client's clients (client.DefaultMaxReply), which made
// this call before.
var dumpOptions = rpc.Options{MaxReply: client.DefaultMaxReply}

// pmapDumpOn calls portmap version 2 DUMP (RFC 1833 §3.2) over rc, the
// client of the mapper at t, and decodes the list as client.PmapDump does,
// with the same cap on its length; a reply that does not decode is a
// CantDecodeRes error.
func pmapDumpOn(ctx context.Context, rc *rpc.Client, t target) ([]portmap.Mapping, error) {
	res, err := rc.Call(ctx, portmap.Program, portmap.V2, portmap.PmapDump, nil)
	if err != nil {
		return nil, err
	}
	d := xdr.NewDecoder(res)
	list := portmap.DecodeMappingList(d, nil, portmap.MaxListEntries)
	if err := d.Err(); err != nil {
		return nil, &rpc.Error{Status: rpc.CantDecodeRes, Err: err, Network: t.network, Addr: t.address,
			Prog: portmap.Program, Vers: portmap.V2, Proc: portmap.PmapDump}
	}
	return list, nil
}

// first returns the first operand, or "".
func first(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}
