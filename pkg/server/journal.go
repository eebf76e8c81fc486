package server

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

// errJournalClosed refuses changes once the server has shut down.
var errJournalClosed = errors.New("server: the state file is closed: the server has shut down")

// journal makes the registry's changes durable with group commit: one
// goroutine takes every change waiting, applies them in order, writes the
// state file once for all of them, and only then lets their callers answer.
// Changes that arrive while a write is under way wait for the next one, so
// a burst of registrations costs a few writes, not one each.
//
// If the write fails (a full disk, a read-only directory), the registry is
// put back as it was after the last good write and every change of the
// batch gets the error: what is in memory is what is on disk, and nothing
// stored before is lost. Lookups keep being answered meanwhile; they may see
// a change while its write is under way (and see it go if the write fails),
// but no caller is told a change succeeded before it is on disk.
type journal struct {
	path string
	reg  *Registry
	log  *slog.Logger

	mu     sync.Mutex
	queue  []*pending
	closed bool
	wake   chan struct{} // a change is waiting, or the journal is closing
	done   chan struct{} // closed when the committer has returned

	committed []portmap.RPCB // the registrations on disk; the committer's own

	// Counters for tests and logs.
	submitted atomic.Int64 // changes queued
	writes    atomic.Int64 // state file writes that succeeded
	failures  atomic.Int64 // writes that failed
}

// pending is one change waiting for its write.
type pending struct {
	f    func() bool // the change, run with the registry's lock held
	ok   bool
	err  error
	done chan struct{}
}

// newJournal returns a journal for reg writing path, whose content is
// committed; its committer runs until close.
func newJournal(path string, reg *Registry, committed []portmap.RPCB, log *slog.Logger) *journal {
	j := &journal{
		path: path, reg: reg, log: log, committed: committed,
		wake: make(chan struct{}, 1), done: make(chan struct{}),
	}
	go j.run()
	return j
}

// submit queues f and waits until it is applied and written: it returns f's
// answer, or the write's error (the change is then undone). When ctx ends
// first it returns ctx's error; the change may still be applied and written.
func (j *journal) submit(ctx context.Context, f func() bool) (bool, error) {
	p := &pending{f: f, done: make(chan struct{})}
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return false, errJournalClosed
	}
	j.queue = append(j.queue, p)
	j.submitted.Add(1)
	j.mu.Unlock()
	select {
	case j.wake <- struct{}{}:
	default: // the committer is already woken
	}
	select {
	case <-p.done:
		return p.ok, p.err
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// close refuses new changes, waits until those queued are written, and
// stops the committer.
func (j *journal) close() {
	j.mu.Lock()
	j.closed = true
	j.mu.Unlock()
	select {
	case j.wake <- struct{}{}:
	default:
	}
	<-j.done
}

// run is the committer.
func (j *journal) run() {
	defer close(j.done)
	for {
		j.mu.Lock()
		batch, closed := j.queue, j.closed
		j.queue = nil
		j.mu.Unlock()
		if len(batch) == 0 {
			if closed {
				return
			}
			<-j.wake
			continue
		}
		j.commit(batch)
	}
}

// commit applies a batch, writes the state file if the registry changed,
// and answers the batch's callers.
func (j *journal) commit(batch []*pending) {
	r := j.reg
	r.mu.Lock()
	gen := r.gen
	for _, p := range batch {
		p.ok = p.f()
	}
	var snap []portmap.RPCB
	changed := r.gen != gen
	if changed {
		snap = r.userRecordsLocked()
	}
	r.mu.Unlock()

	var err error
	if changed {
		if err = writeState(j.path, snap); err != nil {
			j.failures.Add(1)
			r.mu.Lock()
			r.restoreLocked(j.committed)
			r.mu.Unlock()
			j.log.Error("server: a change could not be stored; it was refused and undone, what was stored is kept", "changes", len(batch), "err", err)
		} else {
			j.writes.Add(1)
			j.committed = snap
		}
	}
	for _, p := range batch {
		p.err = err
		close(p.done)
	}
}
