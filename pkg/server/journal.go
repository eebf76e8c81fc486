package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

// errJournalClosed refuses changes once the server has shut down.
var errJournalClosed = errors.New("server: the state file is closed: the server has shut down")

// minCompactBytes is the size the change records of the state file may
// reach before it is rewritten as a snapshot, however small the snapshot:
// about a thousand registrations' records, so that a registry being filled
// from nothing is not rewritten at every change. Above it the file is
// rewritten once the records outweigh the snapshot, which keeps the cost of
// rewriting, spread over the changes, constant per change.
const minCompactBytes = 64 << 10

// journal makes the registry's changes durable with group commit. A change
// is applied to the registry at once, in the order changes arrive, and
// queued; one goroutine, the committer, takes every change queued, appends
// their records to the state file with one write and one flush, and only
// then lets their callers answer. Changes that arrive while a write is under
// way wait for the next one, so a burst of registrations costs a few writes,
// not one each, and a caller can go on to its next call (rpc.Request's
// Proceed) while its change is being written.
//
// If a write fails (a full disk, a read-only directory, the directory gone),
// every change not yet written is undone, newest first, and gets the error:
// what is in memory is again what is on disk, and nothing stored before is
// lost. Lookups keep being answered meanwhile; they may see a change while
// its write is under way (and see it go if the write fails), but no caller is
// told a change succeeded before it is on disk.
type journal struct {
	path string
	reg  *Registry
	log  *slog.Logger

	// Guarded by reg.mu, with the changes they describe (reg.undo).
	queue  []*pending
	closed bool

	wake chan struct{} // a change is waiting, or the journal is closing
	done chan struct{} // closed when the committer has returned

	// The committer's own.
	size     int64  // bytes of the file written and flushed; 0: rewrite it whole next time
	snapSize int64  // bytes of header and snapshot at the last rewrite
	buf      []byte // the records of a batch

	// beforeWrite, when set (by tests), runs before each write.
	beforeWrite func()

	// Counters for tests and logs.
	submitted atomic.Int64 // changes queued
	writes    atomic.Int64 // writes of the state file that succeeded
	rewrites  atomic.Int64 // of which whole rewrites
	failures  atomic.Int64 // writes that failed
}

// pending is one change waiting for its write.
type pending struct {
	ok   bool
	err  error
	done chan struct{}
}

// newJournal returns a journal for reg writing the state file at path, and
// starts its committer. size is the length of the file as it stands when it
// holds exactly reg's registrations as a snapshot without change records, to
// append to; 0 makes the first write rewrite it whole.
func newJournal(path string, reg *Registry, size int64, log *slog.Logger) *journal {
	j := &journal{
		path: path, reg: reg, log: log, size: size, snapSize: size,
		wake: make(chan struct{}, 1), done: make(chan struct{}),
	}
	go j.run()
	return j
}

// submit applies f, which changes the registry, with the registry's lock
// held, calls proceed (when not nil) once the change is visible, and waits
// until the change is written: it returns f's answer, or the write's error
// (the change is then undone). When ctx ends first it returns ctx's error;
// the change stays applied and may still be written.
func (j *journal) submit(ctx context.Context, f func() bool, proceed func()) (bool, error) {
	r := j.reg
	p := &pending{done: make(chan struct{})}
	r.mu.Lock()
	if j.closed {
		r.mu.Unlock()
		return false, errJournalClosed
	}
	r.recording = true
	p.ok = f()
	r.recording = false
	j.queue = append(j.queue, p)
	r.mu.Unlock()
	j.submitted.Add(1)
	select {
	case j.wake <- struct{}{}:
	default: // the committer is already woken
	}
	if proceed != nil {
		proceed()
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
	j.reg.mu.Lock()
	j.closed = true
	j.reg.mu.Unlock()
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
		if !j.commit() {
			j.reg.mu.Lock()
			closed := j.closed && len(j.queue) == 0
			j.reg.mu.Unlock()
			if closed {
				return
			}
			<-j.wake
		}
	}
}

// commit writes the changes queued and answers their callers. It reports
// false when there was nothing to do.
func (j *journal) commit() bool {
	r := j.reg
	rewrite := j.size == 0 || j.size-j.snapSize > max(j.snapSize, minCompactBytes)
	r.mu.Lock()
	batch := j.queue
	j.queue = nil
	if len(batch) == 0 {
		r.mu.Unlock()
		return false
	}
	changes := r.undo[:len(r.undo):len(r.undo)]
	var snap []portmap.RPCB
	if rewrite && len(changes) > 0 {
		snap = r.userRecordsLocked()
	}
	r.mu.Unlock()

	var err error
	switch {
	case len(changes) == 0: // nothing changed: nothing to write
	case rewrite:
		err = j.rewrite(snap)
	default:
		err = j.appendChanges(changes)
	}

	r.mu.Lock()
	if err == nil {
		// Forget what was written; later changes stay, in order.
		n := copy(r.undo, r.undo[len(changes):])
		clear(r.undo[n:])
		r.undo = r.undo[:n]
	} else {
		// Undo everything not on disk, this batch and what came after it,
		// and fail all of it.
		r.undoLocked()
		batch = append(batch, j.queue...)
		j.queue = nil
	}
	r.mu.Unlock()

	if err != nil {
		j.failures.Add(1)
		j.log.Error("server: a change could not be stored; it was refused and undone, what was stored is kept", "changes", len(batch), "err", err)
	} else if len(changes) > 0 {
		j.writes.Add(1)
	}
	for _, p := range batch {
		if err != nil {
			p.ok, p.err = false, err
		}
		close(p.done)
	}
	return true
}

// rewrite replaces the state file with a snapshot of recs.
func (j *journal) rewrite(recs []portmap.RPCB) error {
	if j.beforeWrite != nil {
		j.beforeWrite()
	}
	size, err := rewriteState(j.path, recs)
	if err != nil {
		j.size = 0
		return err
	}
	j.size, j.snapSize = size, size
	j.rewrites.Add(1)
	return nil
}

// appendChanges appends the records of changes to the state file and
// flushes it. The file is opened for each write, so that a directory made
// read-only or taken away refuses the write as it would refuse a rewrite. On
// failure the file is cut back to what was written before, and the next
// write rewrites it whole.
func (j *journal) appendChanges(changes []delta) (err error) {
	if j.beforeWrite != nil {
		j.beforeWrite()
	}
	b := j.buf[:0]
	for _, d := range changes {
		if d.e.own {
			continue // the mapper's own registrations are not stored
		}
		op := uint32(opRemove)
		if d.add {
			op = opAdd
		}
		b = appendChange(b, op, d.e.rec)
	}
	if cap(b) <= maxKeptBuf {
		j.buf = b
	}
	if len(b) == 0 {
		return nil
	}
	f, err := os.OpenFile(j.path, os.O_WRONLY, 0)
	if err != nil {
		j.size = 0
		return fmt.Errorf("server: writing the state file: %w", err)
	}
	cut := true // whether a failure cuts the file back to j.size
	defer func() {
		if err != nil {
			if cut {
				f.Truncate(j.size) // best effort: a reader ignores a damaged tail
			}
			j.size = 0
			err = fmt.Errorf("server: writing the state file %s: %w", j.path, err)
		}
		if cerr := f.Close(); err == nil && cerr != nil {
			j.size = 0
			err = fmt.Errorf("server: writing the state file %s: %w", j.path, cerr)
		}
	}()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() != j.size {
		cut = false // not ours to cut: the next write replaces it whole
		return fmt.Errorf("%d bytes where %d were written: changed by someone else", fi.Size(), j.size)
	}
	if _, err = f.WriteAt(b, j.size); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	j.size += int64(len(b))
	return nil
}

// maxKeptBuf bounds the record buffer the committer keeps between writes.
const maxKeptBuf = 64 << 10
