package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

// DefaultSocket is where the local port mapper listens for local callers
// (rpcbind's _PATH_RPCBINDSOCK). Over it the mapper knows the caller's uid, so
// a SET made there is owned by that uid, and by "superuser" for root.
const DefaultSocket = "/run/rpcbind.sock"

// DefaultMaxReply caps the size of one reply, in bytes: 16 MiB. The largest
// replies of the port mapper are the DUMP lists; an rpcb entry of a short
// netid, an IPv6 address and an owner takes about 60 to 100 bytes, so 16 MiB
// holds a registry of well over 100,000 entries (DefaultMaxReply / 100 is
// 167,772), while a server that claims or sends more costs the client no more
// than about twice this at the peak (the record and the decoded list), which
// keeps the tools under 64 MiB against a list that never ends. Memory grows
// only as bytes arrive: a reply that merely claims to be large costs nothing.
const DefaultMaxReply = 16 << 20

// Options configure a [Client]. The zero value (or nil) gives a client that
// calls port 111 over TCP with AUTH_NONE. A client copies its options; changing
// them afterwards has no effect.
type Options struct {
	// Port is the port mapper's port; 0 means 111 (portmap.Port). It
	// applies to UDP and TCP, not to the unix socket.
	Port int

	// Network is the transport of the calls the client makes on its own
	// behalf (every method but Lookup): "udp", "tcp" (the default) or "unix"
	// (the host is ignored and Socket is used). "udp4", "udp6", "tcp4" and
	// "tcp6" force an address family. [Client.Lookup] uses the transport of
	// the netid it is asked about instead.
	Network string

	// Socket is the path of the local mapper's unix socket; "" means
	// DefaultSocket.
	Socket string

	// Retransmit is the first UDP retransmission interval, doubled after
	// each retransmission; 0 means rpc.DefaultRetransmit. A call ends when
	// its context does: give it a deadline.
	Retransmit time.Duration

	// LocalAddr is the local address to send from, for example
	// &net.TCPAddr{Port: 1000} for a privileged source port when running as
	// root (rpcbind then reports the owner of a SET from the loopback as
	// "superuser"). Its IP and port are used for UDP and TCP alike; it is
	// ignored for the unix socket.
	LocalAddr net.Addr

	// Cred is the credential of every call; the zero value is AUTH_NONE.
	Cred rpc.OpaqueAuth

	// MaxEntries caps the length of the lists the client decodes (DUMP,
	// GETADDRLIST); 0 means portmap.MaxListEntries.
	MaxEntries int

	// MaxReply caps the size of one reply in bytes; 0 means
	// DefaultMaxReply. Over UDP a datagram is at most 64 KiB anyway.
	MaxReply int
}

// Client calls the port mapper of one host. Its zero value is not usable:
// make one with [New] or [Local]. A Client opens its connections lazily, one
// per transport it uses, keeps them for later calls, and is safe for
// concurrent use. Close it when done.
type Client struct {
	host       string // as given, without brackets; "" for Local
	local      bool   // made by Local: IP transports go to the loopback
	port       int
	network    string // the transport of the client's own calls
	socket     string
	localAddr  net.Addr
	maxEntries int
	rpcOpts    rpc.Options

	mu     sync.Mutex
	conns  map[endpoint]*rpc.Client
	closed bool
}

// endpoint is where a call goes: a Go network and an address for it.
type endpoint struct {
	network string // "udp", "tcp4", "unix", ...
	address string // "host:port", or a socket path
}

// errClosed is the cause of the error of a call on a closed Client.
var errClosed = errors.New("client: client closed")

// New returns a client for the port mapper of host: a name, an IPv4 address or
// an IPv6 address (brackets optional). It does no I/O; connections are made by
// the first call that needs each.
func New(host string, opts *Options) *Client {
	if len(host) > 1 && host[0] == '[' && host[len(host)-1] == ']' {
		host = host[1 : len(host)-1]
	}
	c := newClient(opts)
	c.host = host
	return c
}

// Local returns a client for the port mapper of this machine over its unix
// socket (opts.Socket, by default DefaultSocket), as libtirpc's rpcb_set and
// rpcinfo without a host do: the mapper then knows the caller's uid and
// records it as the owner of what the caller registers. With opts.Network set
// to "udp" or "tcp" the client's own calls go to 127.0.0.1 instead. Lookup of
// an IP netid asks over the loopback address of the netid's family (127.0.0.1
// or ::1).
func Local(opts *Options) *Client {
	c := newClient(opts)
	c.local = true
	if opts == nil || opts.Network == "" {
		c.network = "unix"
	}
	return c
}

func newClient(opts *Options) *Client {
	var o Options
	if opts != nil {
		o = *opts
	}
	c := &Client{
		port:       o.Port,
		network:    o.Network,
		socket:     o.Socket,
		localAddr:  o.LocalAddr,
		maxEntries: o.MaxEntries,
		rpcOpts: rpc.Options{
			Cred:       o.Cred,
			Retransmit: o.Retransmit,
			MaxReply:   o.MaxReply,
		},
	}
	if c.port <= 0 {
		c.port = portmap.Port
	}
	if c.network == "" {
		c.network = "tcp"
	}
	if c.socket == "" {
		c.socket = DefaultSocket
	}
	if c.maxEntries <= 0 {
		c.maxEntries = portmap.MaxListEntries
	}
	if c.rpcOpts.MaxReply <= 0 {
		c.rpcOpts.MaxReply = DefaultMaxReply
	}
	return c
}

// Host returns the host the client was made for, without brackets; "" for a
// client made by Local.
func (c *Client) Host() string { return c.host }

// Close closes the client's connections; calls in progress fail at once and
// later calls fail with rpc.CantSend.
func (c *Client) Close() error {
	c.mu.Lock()
	conns := c.conns
	c.conns = nil
	c.closed = true
	c.mu.Unlock()
	var errs []error
	for _, rc := range conns {
		if err := rc.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ipHost returns the host to reach over IP: the client's host, or for a Local
// client the loopback address of the wanted family.
func (c *Client) ipHost(v6 bool) string {
	switch {
	case !c.local:
		return c.host
	case v6:
		return "::1"
	}
	return "127.0.0.1"
}

// home returns the endpoint of the client's own calls.
func (c *Client) home() endpoint {
	if c.network == "unix" {
		return endpoint{"unix", c.socket}
	}
	v6 := strings.HasSuffix(c.network, "6")
	return endpoint{c.network, net.JoinHostPort(c.ipHost(v6), strconv.Itoa(c.port))}
}

// netidEndpoint returns the endpoint that reaches the port mapper over the
// transport of netid n.
func (c *Client) netidEndpoint(n portmap.Netid) endpoint {
	if n.IsLocal() {
		return endpoint{"unix", c.socket}
	}
	return endpoint{n.Network, net.JoinHostPort(c.ipHost(n.IsIPv6()), strconv.Itoa(c.port))}
}

// conn returns the connection to ep, dialling it if the client has none.
func (c *Client) conn(ctx context.Context, ep endpoint) (*rpc.Client, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, &rpc.Error{Status: rpc.CantSend, Err: errClosed, Network: ep.network, Addr: ep.address}
	}
	if rc := c.conns[ep]; rc != nil {
		c.mu.Unlock()
		return rc, nil
	}
	c.mu.Unlock()

	opts := c.rpcOpts
	opts.LocalAddr = localAddrFor(ep.network, c.localAddr)
	rc, err := rpc.Dial(ctx, ep.network, ep.address, &opts)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		rc.Close()
		return nil, &rpc.Error{Status: rpc.CantSend, Err: errClosed, Network: ep.network, Addr: ep.address}
	case c.conns[ep] != nil: // another call dialled first: use its connection
		rc.Close()
		return c.conns[ep], nil
	}
	if c.conns == nil {
		c.conns = make(map[endpoint]*rpc.Client)
	}
	c.conns[ep] = rc
	return rc, nil
}

// localAddrFor converts a local address to the type network dials from; it
// returns nil for a unix socket or an address it does not know.
func localAddrFor(network string, a net.Addr) net.Addr {
	var ap netip.AddrPort
	switch a := a.(type) {
	case *net.TCPAddr:
		ap = a.AddrPort()
	case *net.UDPAddr:
		ap = a.AddrPort()
	default:
		return nil
	}
	switch {
	case strings.HasPrefix(network, "udp"):
		return net.UDPAddrFromAddrPort(ap)
	case strings.HasPrefix(network, "tcp"):
		return net.TCPAddrFromAddrPort(ap)
	}
	return nil
}

// call calls procedure proc of version vers of the port mapper at ep with the
// encoded args, and hands the results to dec, whose decoding failure becomes
// a CantDecodeRes error. A nil dec ignores the results.
func (c *Client) call(ctx context.Context, ep endpoint, vers, proc uint32, args []byte, dec func(*xdr.Decoder)) error {
	rc, err := c.conn(ctx, ep)
	if err != nil {
		return withCall(err, ep, portmap.Program, vers, proc)
	}
	res, err := rc.Call(ctx, portmap.Program, vers, proc, args)
	if err != nil {
		return withCall(err, ep, portmap.Program, vers, proc)
	}
	if dec == nil {
		return nil
	}
	d := xdr.NewDecoder(res)
	dec(d)
	if err := d.Err(); err != nil {
		return &rpc.Error{Status: rpc.CantDecodeRes, Err: err, Network: ep.network, Addr: ep.address,
			Prog: portmap.Program, Vers: vers, Proc: proc}
	}
	return nil
}

// withCall returns err as an *rpc.Error that names the call: a copy with the
// network and address filled where they are empty and the program, version
// and procedure set.
func withCall(err error, ep endpoint, prog, vers, proc uint32) *rpc.Error {
	var e rpc.Error
	if re, ok := err.(*rpc.Error); ok {
		e = *re
	} else {
		e = rpc.Error{Status: rpc.Failed, Err: err}
	}
	// A cause that is itself an *rpc.Error of the same status (a failed
	// dial, wrapped twice) would print its status twice: keep the inner cause.
	if inner, ok := e.Err.(*rpc.Error); ok && inner.Status == e.Status {
		e.Err = inner.Err
	}
	if e.Network == "" {
		e.Network = ep.network
	}
	if e.Addr == "" {
		e.Addr = ep.address
	}
	e.Prog, e.Vers, e.Proc = prog, vers, proc
	return &e
}

// badVersion is the error of a method given a version it has no procedure in.
func badVersion(ep endpoint, vers, proc uint32, want string) error {
	return &rpc.Error{Status: rpc.CantEncodeArgs, Network: ep.network, Addr: ep.address,
		Prog: portmap.Program, Vers: vers, Proc: proc,
		Err: fmt.Errorf("client: port mapper version %d has no such procedure; want %s", vers, want)}
}
