package audit

import (
	"context"
	"sync"
	"time"
)

// pacer spaces events at least interval apart: each wait reserves the next
// free slot and sleeps until it. A zero interval never waits. It is safe for
// concurrent use.
type pacer struct {
	interval time.Duration
	mu       sync.Mutex
	next     time.Time
}

// newPacer returns a pacer for rate events per second; rate <= 0 means no
// limit.
func newPacer(rate float64) *pacer {
	p := &pacer{}
	if rate > 0 {
		p.interval = time.Duration(float64(time.Second) / rate)
	}
	return p
}

// wait blocks until the caller's slot, or until ctx ends (its error).
func (p *pacer) wait(ctx context.Context) error {
	if p.interval <= 0 {
		return ctx.Err()
	}
	p.mu.Lock()
	now := time.Now()
	slot := p.next
	if slot.Before(now) {
		slot = now
	}
	p.next = slot.Add(p.interval)
	p.mu.Unlock()
	d := time.Until(slot)
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
