package main

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"

	"github.com/portmap-toolkit/pmap/pkg/client"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
)

// netconf is one entry of the netconfig(5) database that libtirpc reads.
type netconf struct {
	netid   string
	family  string // portmap.FamilyInet, FamilyInet6, FamilyLoopback
	proto   string // "udp", "tcp" or "-"
	visible bool   // flag "v": part of the default NETPATH
}

// netconfigs is Debian's /etc/netconfig, in its order. "rawip" is listed but
// unusable; "unix" is the old name of "local".
var netconfigs = []netconf{
	{"udp", portmap.FamilyInet, "udp", true},
	{"tcp", portmap.FamilyInet, "tcp", true},
	{"udp6", portmap.FamilyInet6, "udp", true},
	{"tcp6", portmap.FamilyInet6, "tcp", true},
	{"rawip", portmap.FamilyInet, "-", false},
	{"local", portmap.FamilyLoopback, "-", false},
	{"unix", portmap.FamilyLoopback, "-", false},
}

// getnetconfigent finds a netid, case-sensitively as libtirpc does.
func getnetconfigent(netid string) (netconf, bool) {
	for _, n := range netconfigs {
		if n.netid == netid {
			return n, true
		}
	}
	return netconf{}, false
}

// local reports whether n reaches the mapper over its unix socket.
func (n netconf) local() bool { return n.family == portmap.FamilyLoopback }

// ipFamily is the resolver's network for n's family: "ip4" or "ip6".
func (n netconf) ipFamily() string {
	if n.family == portmap.FamilyInet6 {
		return "ip6"
	}
	return "ip4"
}

// goNetwork is the Go network of n: "udp4", "tcp4", "udp6", "tcp6" or "unix".
func (n netconf) goNetwork() string {
	switch {
	case n.local():
		return "unix"
	case n.family == portmap.FamilyInet6:
		return n.proto + "6"
	}
	return n.proto + "4"
}

// canonical is the netid the port mapper knows n by ("local" for "unix").
func (n netconf) canonical() string {
	if n.local() {
		return portmap.NetidLocal
	}
	return n.netid
}

// netpath returns the transports libtirpc's NETPATH selects: those named by
// the NETPATH variable (colon-separated, unknown ones skipped) or, when it is
// unset or empty, the visible entries of netconfig in order.
func netpath(env string) []netconf {
	var out []netconf
	if env != "" {
		for _, id := range strings.Split(env, ":") {
			if n, ok := getnetconfigent(id); ok {
				out = append(out, n)
			}
		}
		return out
	}
	for _, n := range netconfigs {
		if n.visible {
			out = append(out, n)
		}
	}
	return out
}

// unknownHost is the error of a host with no address of the wanted family.
func unknownHost(host string, err error) error {
	return &rpc.Error{Status: rpc.UnknownHost, Addr: host, Err: err}
}

// resolve returns the first address of host for family "ip4", "ip6" or "ip"
// (either), as getaddrinfo would: an address literal of the other family, a
// name without such an address or a name that does not resolve is
// UnknownHost.
func resolve(ctx context.Context, host, family string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		a = a.Unmap()
		if family == "ip" || (family == "ip4") == a.Is4() {
			return a, nil
		}
		return netip.Addr{}, unknownHost(host, errors.New("address of the other family"))
	}
	if host == "" || strings.ContainsAny(host, "/ ") {
		return netip.Addr{}, unknownHost(host, errors.New("not a host name"))
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, family, host)
	if err != nil || len(addrs) == 0 {
		return netip.Addr{}, unknownHost(host, err)
	}
	return addrs[0].Unmap(), nil
}

// mapperPort is the port of the port mapper: --port, or 111.
func (r *runner) mapperPort() int {
	if r.cfg.port != 0 {
		return r.cfg.port
	}
	return portmap.Port
}

// localClient returns a client of the local mapper over its unix socket.
func (r *runner) localClient() *client.Client {
	return client.Local(&client.Options{Socket: r.cfg.socket, Port: r.cfg.port})
}

// ipClient returns a client of the mapper at address a over network
// ("udp4", "tcp6", ...).
func (r *runner) ipClient(a netip.Addr, network string) *client.Client {
	return client.New(a.String(), &client.Options{Port: r.mapperPort(), Network: network})
}

// isConnectFailure reports whether err is a failure to reach the server
// (a refused or unreachable connection, a missing socket) rather than an
// answer: a system error with a cause, which a SYSTEM_ERR reply never has.
func isConnectFailure(err error) bool {
	e := asRPCError(err)
	return e.Status == rpc.SystemError && e.Err != nil
}
