package server

import (
	"sync"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

// MaxStatEntries caps each of the address-lookup and remote-call lists of one
// version's statistics: 4096, rpcbind's MAX_STAT_BUCKETS. Each distinct
// (program, version, netid) a caller asks about adds an entry, so without a
// cap anyone could grow the mapper's memory by asking for made-up programs;
// beyond it the oldest entry is dropped, as rpcbind drops it.
const MaxStatEntries = 4096

// highProc is the highest procedure counted in each version's statistics,
// rpcbind's rpcb_highproc_2/3/4: a call to a higher procedure is not counted.
var highProc = [3]uint32{portmap.PmapCallit, portmap.RpcbTaddr2uaddr, portmap.RpcbGetstat}

// stats keeps the statistics of GETSTAT (RFC 1833 §2.2.12) as rpcbind keeps
// them: per version, a count per procedure, the successful SETs and UNSETs,
// and two lists, newest first, of address lookups and remote calls with
// their successes and failures.
type stats struct {
	mu  sync.Mutex
	ver [3]verStats
}

type verStats struct {
	info       [portmap.StatHighProc]int32
	set, unset int32
	addrs      statList[addrKey, portmap.AddrStat]
	rmts       statList[rmtKey, portmap.RmtCallStat]
}

type addrKey struct {
	prog, vers uint32
	netid      string
}

type rmtKey struct {
	prog, vers, proc uint32
	netid            string
}

// statList is a list, newest first, of at most MaxStatEntries values with an
// index by key, so that counting a call costs the same however long it is.
type statList[K comparable, V any] struct {
	index      map[K]*statNode[K, V]
	head, tail *statNode[K, V] // head is the newest
}

type statNode[K comparable, V any] struct {
	key        K
	val        V
	prev, next *statNode[K, V]
}

// get returns the value of k, or nil.
func (l *statList[K, V]) get(k K) *V {
	if n, ok := l.index[k]; ok {
		return &n.val
	}
	return nil
}

// push adds v under k at the front, dropping the oldest entry beyond
// MaxStatEntries.
func (l *statList[K, V]) push(k K, v V) {
	if l.index == nil {
		l.index = make(map[K]*statNode[K, V])
	}
	n := &statNode[K, V]{key: k, val: v, next: l.head}
	if l.head != nil {
		l.head.prev = n
	} else {
		l.tail = n
	}
	l.head = n
	l.index[k] = n
	if len(l.index) > MaxStatEntries {
		old := l.tail
		l.tail = old.prev
		l.tail.next = nil
		delete(l.index, old.key)
	}
}

// values returns the values, newest first.
func (l *statList[K, V]) values() []V {
	if l.head == nil {
		return nil
	}
	out := make([]V, 0, len(l.index))
	for n := l.head; n != nil; n = n.next {
		out = append(out, n.val)
	}
	return out
}

// vi returns the index of version vers in the statistics (0 for v2).
func vi(vers uint32) int { return int(vers - portmap.V2) }

// proc counts a call to procedure proc of version vers (rpcbs_procinfo).
func (s *stats) proc(vers, proc uint32) {
	if proc > highProc[vi(vers)] {
		return
	}
	s.mu.Lock()
	s.ver[vi(vers)].info[proc]++
	s.mu.Unlock()
}

// set counts a SET's outcome: only successes are kept (rpcbs_set).
func (s *stats) set(vers uint32, ok bool) {
	if !ok {
		return
	}
	s.mu.Lock()
	s.ver[vi(vers)].set++
	s.mu.Unlock()
}

// unset counts an UNSET's outcome: only successes are kept (rpcbs_unset).
func (s *stats) unset(vers uint32, ok bool) {
	if !ok {
		return
	}
	s.mu.Lock()
	s.ver[vi(vers)].unset++
	s.mu.Unlock()
}

// addr counts an address lookup (GETPORT, GETADDR, GETVERSADDR,
// GETADDRLIST) of (prog, pvers) answered over netid (rpcbs_getaddr).
func (s *stats) addr(vers, prog, pvers uint32, netid string, found bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := &s.ver[vi(vers)].addrs
	k := addrKey{prog, pvers, netid}
	if v := l.get(k); v != nil {
		if found {
			v.Success++
		} else {
			v.Failure++
		}
		return
	}
	v := portmap.AddrStat{Prog: prog, Vers: pvers, Netid: netid}
	if found {
		v.Success = 1
	} else {
		v.Failure = 1
	}
	l.push(k, v)
}

// rmtcall counts a CALLIT, BCAST or INDIRECT to (prog, pvers, proc) over netid
// (rpcbs_rmtcall). found is whether the program and version are registered
// on netid. rpcbind counts indirect calls only on an existing entry and
// starts every new entry's indirect count at 1; so does this.
func (s *stats) rmtcall(vers, prog, pvers, proc uint32, netid string, found, indirect bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := &s.ver[vi(vers)].rmts
	k := rmtKey{prog, pvers, proc, netid}
	if v := l.get(k); v != nil {
		if found {
			v.Success++
		} else {
			v.Failure++
		}
		if indirect {
			v.Indirect++
		}
		return
	}
	v := portmap.RmtCallStat{Prog: prog, Vers: pvers, Proc: proc, Netid: netid, Indirect: 1}
	if found {
		v.Success = 1
	} else {
		v.Failure = 1
	}
	l.push(k, v)
}

// snapshot returns a copy of the statistics, the result of GETSTAT.
func (s *stats) snapshot() portmap.StatByVers {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out portmap.StatByVers
	for i := range s.ver {
		v := &s.ver[i]
		out[i] = portmap.Stat{
			Info:      v.info,
			SetInfo:   v.set,
			UnsetInfo: v.unset,
			AddrInfo:  v.addrs.values(),
			RmtInfo:   v.rmts.values(),
		}
	}
	return out
}
