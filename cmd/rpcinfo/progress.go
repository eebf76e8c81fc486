package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// A progress bar on standard error while many hosts are asked, redrawn in
// place on one line. rpcinfo shows it only when standard error is a
// terminal (or --progress always), so a pipe or a log file gets nothing.

const (
	// progressDelay is how long a query runs before its bar appears: a
	// quick one (a few live hosts) shows none.
	progressDelay = 300 * time.Millisecond
	// progressTick is how often the bar is redrawn: often enough to look
	// alive, seldom enough to cost nothing.
	progressTick = 100 * time.Millisecond
	// progressWidth is the width of the bar itself, in characters; the
	// whole line stays well within 80 columns.
	progressWidth = 30
)

// progress draws the bar. Its methods may be called on a nil *progress,
// which draws nothing, and from several goroutines.
type progress struct {
	w     io.Writer
	total int
	start time.Time

	mu       sync.Mutex
	finished int  // hosts finished
	live     int  // addresses that answered the sweep
	shown    bool // the bar is on the screen
	ended    bool
	stop     chan struct{}
	ticker   sync.WaitGroup
}

// newProgress starts a bar for total hosts, drawn on w.
func newProgress(w io.Writer, total int) *progress {
	p := &progress{w: w, total: total, start: time.Now(), stop: make(chan struct{})}
	p.ticker.Go(func() {
		select {
		case <-time.After(progressDelay):
		case <-p.stop:
			return
		}
		t := time.NewTicker(progressTick)
		defer t.Stop()
		for {
			p.mu.Lock()
			p.draw()
			p.mu.Unlock()
			select {
			case <-t.C:
			case <-p.stop:
				return
			}
		}
	})
	return p
}

// done counts one host finished.
func (p *progress) done() {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.finished++
	p.mu.Unlock()
}

// answered counts one address that answered the sweep.
func (p *progress) answered() {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.live++
	p.mu.Unlock()
}

// pause runs fn, which writes results, with the bar off the screen, and
// draws it again afterwards.
func (p *progress) pause(fn func()) {
	if p == nil {
		fn()
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	fn()
	if !p.ended && time.Since(p.start) >= progressDelay {
		p.draw()
	}
}

// finish removes the bar for good.
func (p *progress) finish() {
	if p == nil {
		return
	}
	close(p.stop)
	p.ticker.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	p.ended = true
}

// line is the bar's text: "rpcinfo: [#####.....] 312/1024 hosts, 3
// answering, 2.1s".
func (p *progress) line() string {
	filled := 0
	if p.total > 0 {
		filled = p.finished * progressWidth / p.total
	}
	return fmt.Sprintf("rpcinfo: [%s%s] %d/%d hosts, %d answering, %.1fs",
		strings.Repeat("#", filled), strings.Repeat(".", progressWidth-filled),
		p.finished, p.total, p.live, time.Since(p.start).Seconds())
}

// draw writes the bar over the current line; p.mu is held.
func (p *progress) draw() {
	if p.ended {
		return
	}
	fmt.Fprint(p.w, "\r\x1b[K"+p.line())
	p.shown = true
}

// clear erases the bar; p.mu is held.
func (p *progress) clear() {
	if p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.shown = false
	}
}
