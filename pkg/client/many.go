package client

import (
	"context"
	"fmt"
	"math/bits"
	"net"
	"net/netip"
	"strings"
	"sync"

	"github.com/portmap-toolkit/pmap/pkg/rpc"
)

// Limits of a query of many hosts.
const (
	// DefaultParallel is how many hosts are asked at once when the caller
	// does not say. A listing holds one or two sockets per host, so 32 hosts
	// stay far below the usual limit of 1,024 open files, and 32 port
	// mappers that answer in a millisecond each are no load for the network
	// or for this process.
	DefaultParallel = 32

	// MaxRangeAddrs caps the addresses one CIDR range may stand for:
	// 4,096, an IPv4 /20 (or an IPv6 /116). That covers the subnets an
	// administrator scans (a /22 is 1,024 addresses), while a range wider
	// than that is nearly always a mistyped prefix length (a /8 for a /24)
	// that would probe millions of addresses.
	MaxRangeAddrs = 4096

	// MaxTargets caps the hosts of one query, ranges and names together:
	// sixteen full ranges. The per-host results are kept until they can be
	// printed in order, so this also bounds the memory of a query.
	MaxTargets = 16 * MaxRangeAddrs
)

// Target is one host of a query of many: a host named on the command line,
// or one address of a CIDR range.
type Target struct {
	// Host is the host as given (a name, or an address without brackets),
	// or the address of a range in its canonical form.
	Host string
	// Addr is the host's address when Host is an address literal or comes
	// from a range; the zero Addr for a name.
	Addr netip.Addr
	// Ranged tells that the address comes from a range: such an address is
	// asked only if its port mapper answers a [Sweep], while a named host is
	// asked whatever happens.
	Ranged bool
}

// IsMany reports whether a host argument names more than one host: a
// comma-separated list, or a CIDR range. Neither can be a host name or an
// address literal (a path such as /run/rpcbind.sock is no range).
func IsMany(arg string) bool {
	if strings.Contains(arg, ",") {
		return true
	}
	_, err := netip.ParsePrefix(arg)
	return err == nil
}

// ParseTargets reads host arguments: host names, IPv4 and IPv6 addresses
// (brackets optional), CIDR ranges ("192.0.2.0/24", "fd00::/120"), any of
// them in comma-separated lists. A range stands for every address in it,
// its network and broadcast addresses included, in ascending order; a range
// wider than MaxRangeAddrs is an error, as is a query of more than
// MaxTargets hosts. A host given twice is kept once, at its first place.
func ParseTargets(args []string) ([]Target, error) {
	var out []Target
	seen := make(map[string]bool)
	add := func(t Target) error {
		if seen[t.Host] {
			return nil
		}
		if len(out) >= MaxTargets {
			return fmt.Errorf("client: more than %d hosts in one query", MaxTargets)
		}
		seen[t.Host] = true
		out = append(out, t)
		return nil
	}
	for _, arg := range args {
		for _, h := range strings.Split(arg, ",") {
			if h == "" {
				return nil, fmt.Errorf("client: empty host in %q", arg)
			}
			if !strings.Contains(h, "/") {
				h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
				t := Target{Host: h}
				if a, err := netip.ParseAddr(h); err == nil {
					t.Addr = a.Unmap()
					t.Host = t.Addr.String()
				}
				if err := add(t); err != nil {
					return nil, err
				}
				continue
			}
			p, err := netip.ParsePrefix(h)
			if err != nil {
				return nil, fmt.Errorf("client: bad range %q: want an address and a prefix length, such as 192.0.2.0/24", h)
			}
			p = p.Masked()
			hostBits := p.Addr().BitLen() - p.Bits()
			if hostBits > bits.Len(MaxRangeAddrs)-1 {
				return nil, fmt.Errorf("client: range %s is wider than %d addresses (a /%d of IPv4)", p, MaxRangeAddrs,
					32-(bits.Len(MaxRangeAddrs)-1))
			}
			a := p.Addr()
			for range 1 << hostBits {
				if err := add(Target{Host: a.String(), Addr: a, Ranged: true}); err != nil {
					return nil, err
				}
				a = a.Next()
			}
		}
	}
	return out, nil
}

// ForEach calls do(ctx, i) for every i in [0, n), at most parallel at a time
// (DefaultParallel when parallel <= 0), and hands each result to emit in
// the order of i, as soon as it and every result before it are ready, so
// that a caller can print many hosts' answers in the order it was given
// them while they are still coming. emit is never called concurrently.
// ForEach returns once every result is emitted. When ctx ends the calls not
// yet made are still made, with the ended context, so that every result says
// why it is empty.
func ForEach[R any](ctx context.Context, n, parallel int, do func(ctx context.Context, i int) R, emit func(i int, r R)) {
	if parallel <= 0 {
		parallel = DefaultParallel
	}
	var (
		mu      sync.Mutex
		results = make([]R, n)
		ready   = make([]bool, n)
		next    int // the next result to emit
		wg      sync.WaitGroup
		sem     = make(chan struct{}, parallel)
	)
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			r := do(ctx, i)
			mu.Lock()
			defer mu.Unlock()
			results[i], ready[i] = r, true
			for next < n && ready[next] {
				emit(next, results[next])
				var zero R
				results[next] = zero // emitted: let it go
				next++
			}
		})
	}
	wg.Wait()
}

// Sweep calls procedure 0 (NULL) of version vers of program prog over UDP
// at port of every address of addrs, all from one socket per address family
// in the way of a broadcast (retransmitted on the UDP schedule of opts), and
// calls found once for each address that answers, with any reply: a program
// that refuses the version still proves that something serves the program
// there. found is never called concurrently. Sweep returns when every
// address has answered or ctx ends, so a sweep where some never answer takes
// ctx's whole time, however many addresses there are; it returns an error
// only when it could not send at all.
//
// rpcinfo sweeps a CIDR range with NULL of the port mapper before asking
// the addresses that answered for their listings, so that a range where most
// addresses are silent takes about one timeout rather than one per address.
func Sweep(ctx context.Context, addrs []netip.Addr, port int, prog, vers uint32, opts *rpc.Options, found func(netip.Addr)) error {
	var v4, v6 []netip.Addr
	for _, a := range addrs {
		if a = a.Unmap(); a.Is4() {
			v4 = append(v4, a)
		} else {
			v6 = append(v6, a)
		}
	}
	var mu sync.Mutex
	report := func(a netip.Addr) {
		mu.Lock()
		defer mu.Unlock()
		found(a)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, fam := range [][]netip.Addr{v4, v6} {
		if len(fam) == 0 {
			continue
		}
		wg.Go(func() { errs[i] = sweepFamily(ctx, fam, port, prog, vers, opts, report) })
	}
	wg.Wait()
	if errs[0] != nil {
		return errs[0]
	}
	return errs[1]
}

// sweepFamily is Sweep for addresses of one family.
func sweepFamily(ctx context.Context, addrs []netip.Addr, port int, prog, vers uint32, opts *rpc.Options, found func(netip.Addr)) error {
	network, local := "udp4", "0.0.0.0:0"
	if addrs[0].Is6() {
		network, local = "udp6", "[::]:0"
	}
	conn, err := net.ListenPacket(network, local)
	if err != nil {
		return &rpc.Error{Status: rpc.CantSend, Network: network, Prog: prog, Vers: vers, Err: err}
	}
	defer conn.Close()
	pending := make(map[netip.Addr]bool, len(addrs))
	dests := make([]net.Addr, 0, len(addrs))
	for _, a := range addrs {
		pending[a] = true
		dests = append(dests, net.UDPAddrFromAddrPort(netip.AddrPortFrom(a, uint16(port))))
	}
	return rpc.Broadcast(ctx, conn, dests, prog, vers, 0, nil, opts, func(from net.Addr, _ []byte, _ error) bool {
		ua, ok := from.(*net.UDPAddr)
		if !ok {
			return true
		}
		a := ua.AddrPort().Addr().Unmap()
		if pending[a] {
			delete(pending, a)
			found(a)
		}
		return len(pending) > 0
	})
}
