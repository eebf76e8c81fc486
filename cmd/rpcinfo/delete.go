package main

import (
	"context"
	"os"
	"strconv"

	"github.com/portmap-toolkit/pmap/pkg/client"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

// deleteReg is rpcinfo -d [-T netid] prognum versnum: rpcbind version 3
// UNSET on the local mapper, as libtirpc's rpcb_unset makes it (the unix
// socket, else TCP on the loopback). Without -T every transport's
// registration goes. The version is read before the program, as rpcinfo's
// compiled code does.
func (r *runner) deleteReg(ctx context.Context) error {
	args := r.req.args
	if len(args) != 2 {
		return r.usage()
	}
	var netid string
	if r.req.hasNetid {
		n, ok := getnetconfigent(r.req.netid)
		if !ok {
			return r.fail("rpcinfo: netid %s not supported", r.req.netid)
		}
		netid = n.netid
	}
	vers, err := versNumber(args[1])
	if err != nil {
		return r.fail("%s", err)
	}
	prog, err := progNumber(args[0], r.names)
	if err != nil {
		return r.fail("%s", err)
	}
	ctx, cancel := r.callCtx(ctx, listTimeout)
	defer cancel()
	q := portmap.RPCB{Prog: uint32(prog), Vers: uint32(vers), Netid: netid, Owner: strconv.Itoa(os.Geteuid())}
	c := r.localClient()
	ok, err := c.RpcbUnset(ctx, portmap.V3, q)
	c.Close()
	if err != nil && isConnectFailure(err) {
		c = client.New("127.0.0.1", &client.Options{Port: r.mapperPort(), Network: "tcp4"})
		ok, err = c.RpcbUnset(ctx, portmap.V3, q)
		c.Close()
	}
	if err != nil || !ok {
		return r.fail("rpcinfo: Could not delete registration for prog %s version %s", args[0], args[1])
	}
	return nil
}
