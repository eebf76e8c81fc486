package loadgen

import (
	"math/bits"
	"time"
)

// Histogram layout: values (nanoseconds) below 2*subBuckets are counted
// exactly; above, each power of two is split into subBuckets buckets, so a
// percentile is off by at most 1/subBuckets (about 3%) of its value.
const (
	subBits    = 5
	subBuckets = 1 << subBits
	// histBuckets covers every int64: the largest has bits.Len64 = 63.
	histBuckets = (63-subBits)*subBuckets + subBuckets
)

// histogram counts latencies in log-linear buckets: fixed size, no
// allocation per sample, mergeable.
type histogram struct {
	counts [histBuckets]uint64
	n      uint64
	sum    uint64 // nanoseconds
	max    int64
}

// bucket returns the bucket of v nanoseconds (v >= 0).
func bucket(v int64) int {
	if v < 2*subBuckets {
		return int(v)
	}
	e := bits.Len64(uint64(v)) - (subBits + 1)
	return e*subBuckets + int(v>>e)
}

// lowest returns the least value bucket i counts, and its width.
func lowest(i int) (v, width int64) {
	if i < 2*subBuckets {
		return int64(i), 1
	}
	e := i/subBuckets - 1
	m := int64(i - e*subBuckets)
	return m << e, 1 << e
}

// add counts one latency.
func (h *histogram) add(d time.Duration) {
	v := int64(d)
	if v < 0 {
		v = 0
	}
	h.counts[bucket(v)]++
	h.n++
	h.sum += uint64(v)
	if v > h.max {
		h.max = v
	}
}

// merge adds o's counts to h.
func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	h.max = max(h.max, o.max)
}

// quantile returns the latency below which a fraction q (0 < q <= 1) of the
// samples lie: the middle of the bucket holding the sample of rank
// ceil(q*n), never more than the largest sample. Zero when there is none.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q * float64(h.n))
	if float64(rank) < q*float64(h.n) {
		rank++
	}
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		if seen += c; seen >= rank {
			v, w := lowest(i)
			return time.Duration(min(v+w/2, h.max))
		}
	}
	return time.Duration(h.max)
}

// mean returns the average latency.
func (h *histogram) mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / h.n)
}
