package audit

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
)

// DefaultParallel is how many hosts (audit) or targets (discovery) are worked
// on at once. An audit of one host holds up to about 20 sockets at a time
// (its probes, the direct calls of the forwarding check), so 16 hosts stay
// well under the usual limit of 1,024 open files, while a list where most
// hosts never answer still takes about one timeout per 16 of them.
const DefaultParallel = 16

// forEach calls fn(ctx, i) for every i in [0, n), at most parallel at a time
// (DefaultParallel when parallel <= 0), and returns when all have returned.
// Once ctx ends, the calls not yet started are still made, with the ended
// context, so that every result says why it is empty.
func forEach(ctx context.Context, n, parallel int, fn func(ctx context.Context, i int)) {
	if parallel <= 0 {
		parallel = DefaultParallel
	}
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			fn(ctx, i)
		})
	}
	wg.Wait()
}

// reporter calls fn, if not nil, with one result at a time.
type reporter[T any] struct {
	mu sync.Mutex
	fn func(T)
}

func (r *reporter[T]) report(v T) {
	if r.fn == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fn(v)
}

// splitTarget splits "host", "host:port", "[v6]" or "[v6]:port" into a host
// and a port, using defPort when none is given. A bare IPv6 literal ("::1")
// is a host.
func splitTarget(s string, defPort int) (string, int, error) {
	if s == "" {
		return "", 0, fmt.Errorf("audit: empty target")
	}
	host, portText, err := net.SplitHostPort(s)
	if err != nil {
		bare := strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
		if _, perr := netip.ParseAddr(bare); perr == nil || !strings.Contains(s, ":") {
			return bare, defPort, nil
		}
		return "", 0, fmt.Errorf("audit: target %q: %w", s, err)
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil || port == 0 || host == "" {
		return "", 0, fmt.Errorf("audit: target %q: want host, host:port or [ipv6]:port", s)
	}
	return host, int(port), nil
}

// resolve returns the address to probe for host: the host itself if it is
// an IP literal, otherwise the first IPv4 address the resolver gives, or the
// first address if there is no IPv4 one.
func resolve(ctx context.Context, host string) (netip.Addr, error) {
	h := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if a, err := netip.ParseAddr(h); err == nil {
		return a.Unmap(), nil
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", h)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("audit: resolving %q: %w", host, err)
	}
	for _, a := range addrs {
		if a.Unmap().Is4() {
			return a.Unmap(), nil
		}
	}
	if len(addrs) == 0 {
		return netip.Addr{}, fmt.Errorf("audit: resolving %q: no address", host)
	}
	return addrs[0], nil
}
