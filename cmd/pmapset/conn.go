package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/portmap-toolkit/pmap/internal/cliutil"
	"github.com/portmap-toolkit/pmap/internal/regfile"
	"github.com/portmap-toolkit/pmap/pkg/client"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

const (
	// window is how many calls pmapset keeps in flight on its connection:
	// enough to hide the round trip (64 SETs of under 100 bytes each fit in
	// any socket buffer, so neither side ever blocks on the other), few
	// enough that a mapper handling a connection's calls one at a time, as
	// rpcbind does, never holds a long queue.
	window = 64

	// maxReply caps one reply from the mapper, as pkg/client does: a DUMP
	// of 100,000 rpcbind entries with IPv6 addresses is under 10 MiB. Other
	// replies are a few bytes.
	maxReply = client.DefaultMaxReply
)

// mapper is one connection to the port mapper, over which every call of a
// run goes, in the order they are made.
type mapper struct {
	rc      *rpc.Client
	wc      *watchConn
	where   string         // for messages
	timeout time.Duration  // of each call
	vers    uint32         // highest version the mapper speaks: 4, 3 or 2
	names   *portmap.Names // service names for what dump returns
}

// watchConn is a connection that counts the records written on it. The rpc
// client writes each call as one record with one Write, so once the count
// passes what it was when a call started, that call is on the wire and the
// next one may follow it.
type watchConn struct {
	net.Conn
	mu      sync.Mutex
	writes  uint64
	changed chan struct{} // closed and replaced at each write
}

func newWatchConn(c net.Conn) *watchConn {
	return &watchConn{Conn: c, changed: make(chan struct{})}
}

// Write writes p and counts the write, failed or not.
func (w *watchConn) Write(p []byte) (int, error) {
	n, err := w.Conn.Write(p)
	w.mu.Lock()
	w.writes++
	close(w.changed)
	w.changed = make(chan struct{})
	w.mu.Unlock()
	return n, err
}

// count returns the number of writes so far.
func (w *watchConn) count() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.writes
}

// waitPast waits until more than n writes have been made, or done is closed.
func (w *watchConn) waitPast(n uint64, done <-chan struct{}) {
	for {
		w.mu.Lock()
		if w.writes > n {
			w.mu.Unlock()
			return
		}
		ch := w.changed
		w.mu.Unlock()
		select {
		case <-ch:
		case <-done:
			return
		}
	}
}

// dialMapper connects to t's mapper.
func dialMapper(ctx context.Context, t cliutil.Mapper, timeout time.Duration) (*mapper, error) {
	network, addr, where := t.Addr()
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(dctx, network, addr)
	if err != nil {
		return nil, &rpc.Error{Status: rpc.SystemError, Err: err, Network: network, Addr: addr}
	}
	wc := newWatchConn(conn)
	return &mapper{rc: rpc.NewClient(wc, &rpc.Options{MaxReply: maxReply}), wc: wc, where: where, timeout: timeout, names: portmap.DefaultNames()}, nil
}

// Close closes the connection.
func (m *mapper) Close() error { return m.rc.Close() }

// call makes one call within the per-call timeout.
func (m *mapper) call(ctx context.Context, vers, proc uint32, args []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	return m.rc.Call(ctx, portmap.Program, vers, proc, args)
}

// dump returns the mapper's registrations: an rpcbind DUMP of version 4, or 3
// when the mapper has no version 4, or the portmap v2 DUMP when it speaks only
// version 2. It records the version in m.vers.
func (m *mapper) dump(ctx context.Context) ([]regfile.Entry, error) {
	for _, vers := range []uint32{portmap.V4, portmap.V3} {
		if m.vers != 0 && m.vers < vers {
			continue
		}
		res, err := m.call(ctx, vers, portmap.RpcbDump, nil)
		var re *rpc.Error
		if errors.As(err, &re) && re.Status == rpc.ProgVersMismatch {
			continue
		}
		if err != nil {
			return nil, err
		}
		d := xdr.NewDecoder(res)
		l := portmap.DecodeRPCBList(d, nil, portmap.MaxListEntries)
		if err := d.Err(); err != nil {
			return nil, &rpc.Error{Status: rpc.CantDecodeRes, Err: err, Prog: portmap.Program, Vers: vers, Proc: portmap.RpcbDump}
		}
		m.vers = vers
		es := make([]regfile.Entry, len(l))
		for i, r := range l {
			name, _ := m.names.Name(r.Prog)
			es[i] = regfile.RPCBEntry(r, name)
		}
		return es, nil
	}
	res, err := m.call(ctx, portmap.V2, portmap.PmapDump, nil)
	if err != nil {
		return nil, err
	}
	d := xdr.NewDecoder(res)
	l := portmap.DecodeMappingList(d, nil, portmap.MaxListEntries)
	if err := d.Err(); err != nil {
		return nil, &rpc.Error{Status: rpc.CantDecodeRes, Err: err, Prog: portmap.Program, Vers: portmap.V2, Proc: portmap.PmapDump}
	}
	m.vers = portmap.V2
	es := make([]regfile.Entry, len(l))
	for i, mp := range l {
		name, _ := m.names.Name(mp.Prog)
		es[i] = regfile.MappingEntry(mp, name)
	}
	return es, nil
}

// op is one change to make: a SET or an UNSET of an entry.
type op struct {
	unset bool
	e     regfile.Entry
}

// errV2Only is the reason an rpcbind entry cannot go to a v2-only mapper.
var errV2Only = errors.New("the port mapper speaks only portmap version 2, which has no netids")

// request returns the version, procedure and arguments of o for a mapper
// of version m.vers: v2 SET for a mapping (as pmap_set does), rpcbind v3 SET
// (as libtirpc's rpcb_set does) for an rpcbind entry, and for UNSET, rpcbind
// v3 UNSET of the entry's netid, which leaves the entry's other protocol
// alone (v2 UNSET removes tcp and udp together), except on a v2-only mapper.
func (m *mapper) request(o op) (vers, proc uint32, args []byte, err error) {
	if m.vers == portmap.V2 {
		if !o.e.IsMapping() {
			return 0, 0, nil, errV2Only
		}
		proc = portmap.PmapSet
		if o.unset {
			proc = portmap.PmapUnset
		}
		return portmap.V2, proc, o.e.Mapping().Append(nil), nil
	}
	if o.unset {
		r := o.e.RPCB()
		if r.Netid == "" {
			return 0, 0, nil, fmt.Errorf("protocol %d has no netid to unset", o.e.Prot)
		}
		r.Addr, r.Owner = "", ""
		return portmap.V3, portmap.RpcbUnset, r.Append(nil), nil
	}
	if o.e.IsMapping() {
		return portmap.V2, portmap.PmapSet, o.e.Mapping().Append(nil), nil
	}
	return portmap.V3, portmap.RpcbSet, o.e.RPCB().Append(nil), nil
}

// result is the outcome of one op: the mapper's yes or no, or why there is
// neither.
type result struct {
	ok  bool
	err error
}

// run makes the calls of ops over the one connection, up to window of them
// in flight, each written only after the one before it, so that they reach
// the mapper in the order of ops. It returns a result per op. Once the
// connection fails, the ops not yet sent fail with the same error.
func (m *mapper) run(ctx context.Context, ops []op) []result {
	res := make([]result, len(ops))
	slots := make(chan struct{}, window)
	var wg sync.WaitGroup
	var dead error
	for i, o := range ops {
		if dead != nil {
			res[i] = result{err: dead}
			continue
		}
		vers, proc, args, err := m.request(o)
		if err != nil {
			res[i] = result{err: err}
			continue
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			dead = &rpc.Error{Status: rpc.TimedOut, Err: ctx.Err()}
			res[i] = result{err: dead}
			continue
		}
		done := make(chan struct{})
		written := m.wc.count()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			defer close(done)
			out, err := m.call(ctx, vers, proc, args)
			if err == nil {
				d := xdr.NewDecoder(out)
				ok := d.Bool()
				if err = d.Err(); err != nil {
					err = &rpc.Error{Status: rpc.CantDecodeRes, Err: err}
				}
				res[i].ok = ok
			}
			res[i].err = err
		}()
		// Wait until this call is written (or over) before the next starts.
		m.wc.waitPast(written, done)
		select {
		case <-done:
			if isConnFailure(res[i].err) {
				dead = res[i].err
			}
		default:
		}
	}
	wg.Wait()
	return res
}

// isConnFailure reports whether err means the connection can carry no more
// calls, rather than that the mapper answered one call with an error.
func isConnFailure(err error) bool {
	var re *rpc.Error
	if !errors.As(err, &re) {
		return false
	}
	switch re.Status {
	case rpc.CantSend, rpc.CantRecv, rpc.TimedOut, rpc.SystemError:
		return true
	}
	return false
}
