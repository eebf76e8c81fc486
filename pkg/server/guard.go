package server

import (
	"net/netip"
	"sync"
	"time"

	"github.com/portmap-toolkit/pmap/pkg/rpc"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

// Defaults of the per-source UDP rate limit (Policy.UDPRate, UDPBurst).
const (
	// DefaultUDPRate is how many calls a second, on average, one
	// non-loopback UDP source may make: 50. A host mounting NFS makes a
	// handful of GETPORT calls; a busy NAT gateway in front of many clients
	// stays well below 50 a second; a flood of spoofed calls aimed at one
	// victim is held to it.
	DefaultUDPRate = 50

	// DefaultUDPBurst is how many calls one source may make at once: 100,
	// two seconds' worth, so that a client that starts many lookups
	// together (a boot that mounts a dozen file systems) is not cut short.
	DefaultUDPBurst = 100

	// maxRateSources bounds the sources the limiter tracks: 16,384 buckets
	// of about 50 bytes each, under 1 MiB. When the table is full (a flood
	// from spoofed sources) and no bucket has been idle long enough to be
	// forgotten, new sources share one overflow bucket, so the flood is
	// limited as one source rather than growing the table.
	maxRateSources = 16384

	// rateSweepEvery is how often, at most, a full table is swept for idle
	// buckets: a sweep walks the whole table, so a flood of new sources
	// must not trigger one per call.
	rateSweepEvery = time.Second

	// v6SourceBits is the prefix an IPv6 source is limited by: a /64, the
	// smallest network a host is usually given, so that one host cannot
	// escape the limit by using many of its addresses.
	v6SourceBits = 64

	// minCallLen is the size of the smallest RPC call, a header with two
	// empty AUTH_NONE authenticators and no arguments (RFC 5531 §9): xid,
	// msg_type, rpcvers, prog, vers, proc, and flavor and length of each
	// authenticator.
	minCallLen = 40
)

// callLen returns the size of the call message req was decoded from: its
// header with both authenticators, and its arguments (the rest of the
// message).
func callLen(req *rpc.Request) int {
	h := &req.Header
	return minCallLen + len(h.Cred.Body) + xdr.Pad(len(h.Cred.Body)) +
		len(h.Verf.Body) + xdr.Pad(len(h.Verf.Body)) + len(req.Args)
}

// limiter holds each source to a token bucket: rate tokens a second, at most
// burst saved up, one token a call.
type limiter struct {
	rate, burst float64
	now         func() time.Time

	mu        sync.Mutex
	src       map[netip.Addr]*bucket
	overflow  bucket
	lastSweep time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

// newLimiter returns a limiter with the policy's rate and burst, or nil when
// the policy turns the limit off.
func newLimiter(p Policy, now func() time.Time) *limiter {
	if p.NoUDPRateLimit {
		return nil
	}
	rate, burst := p.UDPRate, float64(p.UDPBurst)
	if rate <= 0 {
		rate = DefaultUDPRate
	}
	if burst <= 0 {
		burst = DefaultUDPBurst
	}
	return &limiter{rate: rate, burst: burst, now: now, src: make(map[netip.Addr]*bucket)}
}

// sourceKey is what a source is limited by: an IPv4 address, or the /64 of
// an IPv6 address.
func sourceKey(a netip.Addr) netip.Addr {
	if a.Is4() {
		return a
	}
	p, err := a.Prefix(v6SourceBits)
	if err != nil {
		return a
	}
	return p.Addr()
}

// allow reports whether a call from a may be answered, taking a token.
func (l *limiter) allow(a netip.Addr) bool {
	key := sourceKey(a)
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.src[key]
	if !ok {
		if len(l.src) >= maxRateSources && now.Sub(l.lastSweep) >= rateSweepEvery {
			l.sweep(now)
		}
		if len(l.src) < maxRateSources {
			b = &bucket{tokens: l.burst, last: now}
			l.src[key] = b
		} else {
			b = &l.overflow
		}
	}
	b.refill(now, l.rate, l.burst)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// refill adds the tokens earned since the bucket was last used.
func (b *bucket) refill(now time.Time, rate, burst float64) {
	if b.last.IsZero() {
		b.tokens, b.last = burst, now
		return
	}
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(burst, b.tokens+d.Seconds()*rate)
		b.last = now
	}
}

// sweep forgets the buckets that have been idle long enough to be full
// again: a new bucket for their source would be the same.
func (l *limiter) sweep(now time.Time) {
	l.lastSweep = now
	full := time.Duration(l.burst / l.rate * float64(time.Second))
	for k, b := range l.src {
		if now.Sub(b.last) >= full {
			delete(l.src, k)
		}
	}
}
