package main

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"syscall"

	"github.com/portmap-toolkit/pmap/pkg/client"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
)

// How rpcinfo reaches a port mapper for its listings (the default listing,
// -s, -m and -l), and how it words a failure: a mapper it could not reach
// is a "create" error, a call that failed a "call" error.

// createError is a failure to reach the mapper, which libtirpc words with
// clnt_spcreateerror.
type createError struct{ err error }

// Error returns libtirpc's words for the failure.
func (e *createError) Error() string { return createText(e.err) }

// Unwrap returns the failure.
func (e *createError) Unwrap() error { return e.err }

// mapper is a port mapper reached for a listing.
type mapper struct {
	c      *client.Client
	netid  string         // the netid of the transport used (rpcinfo's cl_netid)
	target netip.AddrPort // the mapper's address; invalid over the unix socket
}

// connect checks that the mapper can be reached, as libtirpc does when it
// makes a client: a TCP connection is opened and closed; over UDP and the
// unix socket there is nothing to check.
func (m *mapper) connect(ctx context.Context) error {
	if !m.target.IsValid() || m.netid == "udp" || m.netid == "udp6" {
		return nil
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", m.target.String())
	if err != nil {
		return &rpc.Error{Status: rpc.SystemError, Err: err}
	}
	return conn.Close()
}

// withMapper reaches the port mapper of host for a listing and runs call
// against it, the way rpcinfo does:
//
//   - without a host, over the local unix socket (rpcinfo's local_rpcb);
//   - with a host and no -T (or with -T for a listing that rpcinfo reaches
//     only this way), like clnt_rpcbind_create: the host's first address,
//     over TCP, and over UDP when TCP cannot connect;
//   - with -T, like getclnthandle: the host's first address over that
//     transport only; a unix transport, or a family other than the
//     address's, is an unknown host.
//
// A failure to reach the mapper is returned as a *createError; any other
// error is call's.
func (r *runner) withMapper(ctx context.Context, host string, hasHost bool, netid *netconf, call func(m *mapper) error) error {
	if !hasHost {
		m := &mapper{c: r.localClient(), netid: portmap.NetidLocal}
		defer m.c.Close()
		err := call(m)
		if isConnectFailure(err) {
			return &createError{err}
		}
		return err
	}
	addr, err := resolve(ctx, host, "ip")
	if err != nil {
		// getaddrinfo failed: libtirpc's "name to address translation
		// failed", which it has no words for.
		return &createError{&rpc.Error{Status: rpc.N2AXlateFailure, Err: err}}
	}
	fam := "4"
	if addr.Is6() {
		fam = "6"
	}
	target := netip.AddrPortFrom(addr, uint16(r.mapperPort()))
	try := func(proto string) error {
		m := &mapper{c: r.ipClient(addr, proto+fam), netid: proto + fam, target: target}
		if fam == "4" {
			m.netid = proto
		}
		defer m.c.Close()
		return call(m)
	}
	if netid != nil {
		switch {
		case netid.proto == "-" && !netid.local():
			// libtirpc makes a raw socket it cannot use: ENOTSOCK.
			return &createError{&rpc.Error{Status: rpc.SystemError, Err: syscall.ENOTSOCK}}
		case netid.local(), (netid.family == portmap.FamilyInet6) != addr.Is6():
			return &createError{unknownHost(host, errors.New("transport of another family"))}
		}
		err := try(netid.proto)
		if netid.proto == "tcp" && isConnectFailure(err) {
			return &createError{err}
		}
		return err
	}
	err = try("tcp")
	if isConnectFailure(err) {
		err = try("udp")
	}
	return err
}
