package server

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

// DefaultMaxRegistrations caps the registrations a Registry holds: 100,000.
// A busy NFS server registers a few dozen; the cap only stops a local caller
// that loops on SET from growing the mapper's memory without bound, while a
// full registry still lists over TCP (an rpcblist of 100,000 short entries is
// about 6 MiB).
const DefaultMaxRegistrations = 100_000

// Owners the server gives registrations, as rpcbind writes them (RFC 1833
// §2.1 leaves r_owner to the implementation).
const (
	OwnerSuperuser = "superuser" // root over the local socket, or a privileged loopback port
	OwnerUnknown   = "unknown"   // a caller the server cannot identify
)

// Registry is the port mapper's table of registrations (RFC 1833 §2.1, the
// rpcblist): an ordered list, in the order the registrations were made, with
// hash indexes so that a lookup by (program, version, netid) takes the same
// time however many registrations there are. It is safe for concurrent use.
//
// The registry keeps rpcbind's semantics. Netids are compared without regard
// to case. The portmap v2 view ([Registry.DumpV2], [Registry.GetPort]) holds
// the registrations whose netid is exactly "tcp" or "udp" and whose address
// ends in two port parts, as rpcbind's pmaplist does. Addresses and netids are
// stored as given; the registry does not check them.
//
// A server with a state file (Server.StateFile) writes every change to it
// before the change is acknowledged; Set and Unset then wait for the write
// and report false when it fails, the change undone.
type Registry struct {
	mu  sync.RWMutex
	max int

	j atomic.Pointer[journal] // the state file's journal, when there is one

	// With a journal, the changes applied but not yet written to the state
	// file, oldest first: what the journal writes next, and what it undoes
	// when that write fails. Only changes made through the journal are
	// recorded (recording is set while one is applied).
	recording bool
	undo      []delta

	// The indexes. The v2 view needs none of its own: its entries are those
	// of netid "tcp" or "udp" with a port (entry.prot set), so exact finds
	// them by (prog, vers, "tcp"), and pn's chains keep, beside all the
	// entries of (prog, netid), the v2 ones for the version fallback.
	all   chain                   // every entry, in registration order
	exact map[idKey]*entry        // (prog, vers, lower-case netid)
	pv    map[pvKey]*chain        // (prog, vers): GETADDRLIST, UNSET of every netid
	pn    map[pnKey]*progNetidSet // (prog, lower-case netid): version fallback

	// The lower-case netids ever registered, interned: the index keys hold
	// a netid's number rather than its string (8 bytes less in each key of
	// exact and 16 in pn's), and the entries share one copy of each string.
	netids  map[string]netidID
	netidOf []string // by netidID
}

// netidID numbers an interned lower-case netid; see Registry.netids.
type netidID uint32

// The numbers of the netids of the portmap v2 view, interned first by
// NewRegistry, so that GETPORT needs no string lookup.
const (
	idTCP netidID = iota
	idUDP
)

type (
	// exactKey is (prog, vers, lower-case netid) by string, for the callers
	// that have no registry (reading warm-start files).
	exactKey struct {
		prog, vers uint32
		netid      string
	}
	idKey struct {
		prog, vers uint32
		netid      netidID
	}
	pvKey struct{ prog, vers uint32 }
	pnKey struct {
		prog  uint32
		netid netidID
	}
)

// Lists an entry belongs to; each has its own links in the entry.
const (
	listAll = iota
	listPV
	listPN
	listV2
	numLists
)

// entry is one registration and its place in the registry's lists. With its
// address string and its share of the index maps it is all a registration
// costs: 144 bytes on 64-bit platforms, a size class of Go's allocator.
type entry struct {
	rec   portmap.RPCB
	prot  uint32  // the v2 view's prot, or 0 when the entry is not in it
	port  uint32  // the v2 view's port
	rank  int32   // order of the mapper's own entries
	netid netidID // rec.Netid in lower case
	own   bool    // registered by the mapper for one of its listeners
	links [numLists]link
}

// progNetidSet is what the registry holds for (prog, lower-case netid): every
// entry, and the subset in the v2 view (netid exactly "tcp" or "udp").
type progNetidSet struct {
	all, v2 chain
}

type link struct{ prev, next *entry }

// delta is one change to the registry: e added, or e removed from where its
// links were. Undone newest first, each puts the lists back exactly as they
// were before it, so a removed entry returns after the same neighbours.
type delta struct {
	e     *entry
	add   bool
	links [numLists]link // e's links just before it was removed
}

// chain is a doubly linked list threaded through the entries' links[i].
type chain struct {
	head, tail *entry
	n          int
}

func (c *chain) pushBack(e *entry, i int) {
	e.links[i] = link{prev: c.tail}
	if c.tail != nil {
		c.tail.links[i].next = e
	} else {
		c.head = e
	}
	c.tail = e
	c.n++
}

// insertAfter puts e after at (at nil: at the front).
func (c *chain) insertAfter(at, e *entry, i int) {
	if at == nil {
		e.links[i] = link{next: c.head}
		if c.head != nil {
			c.head.links[i].prev = e
		} else {
			c.tail = e
		}
		c.head = e
		c.n++
		return
	}
	next := at.links[i].next
	e.links[i] = link{prev: at, next: next}
	at.links[i].next = e
	if next != nil {
		next.links[i].prev = e
	} else {
		c.tail = e
	}
	c.n++
}

func (c *chain) remove(e *entry, i int) {
	l := e.links[i]
	if l.prev != nil {
		l.prev.links[i].next = l.next
	} else {
		c.head = l.next
	}
	if l.next != nil {
		l.next.links[i].prev = l.prev
	} else {
		c.tail = l.prev
	}
	e.links[i] = link{}
	c.n--
}

// NewRegistry returns an empty registry that holds at most max registrations
// (DefaultMaxRegistrations when max <= 0).
func NewRegistry(max int) *Registry {
	if max <= 0 {
		max = DefaultMaxRegistrations
	}
	r := &Registry{
		max:    max,
		exact:  make(map[idKey]*entry),
		pv:     make(map[pvKey]*chain),
		pn:     make(map[pnKey]*progNetidSet),
		netids: make(map[string]netidID),
	}
	r.intern(portmap.NetidTCP) // idTCP
	r.intern(portmap.NetidUDP) // idUDP
	return r
}

// lower returns netid in lower case without allocating for the usual,
// already lower-case netids.
func lower(netid string) string {
	for i := 0; i < len(netid); i++ {
		if c := netid[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(netid)
		}
	}
	return netid
}

// intern returns the number of a lower-case netid and the registry's copy of
// it, numbering it if it is new.
func (r *Registry) intern(s string) (netidID, string) {
	if id, ok := r.netids[s]; ok {
		return id, r.netidOf[id]
	}
	s = strings.Clone(s)
	id := netidID(len(r.netidOf))
	r.netids[s] = id
	r.netidOf = append(r.netidOf, s)
	return id, s
}

// find returns the entry of (prog, vers, netid), netid in any case.
func (r *Registry) find(prog, vers uint32, netid string) (*entry, bool) {
	id, ok := r.netids[lower(netid)]
	if !ok {
		return nil, false
	}
	e, ok := r.exact[idKey{prog, vers, id}]
	return e, ok
}

// Set registers rec, with rpcbind's answer to SET (RFC 1833 §2.2.1): true when
// it was added, or when (prog, vers, netid) is already registered with the
// same address; false when it is registered with another address, or when
// the registry is full. rec.Owner is stored as given: the server, not the
// caller, decides it.
func (r *Registry) Set(rec portmap.RPCB) bool {
	ok, err := r.apply(context.Background(), func() bool { return r.set(rec, false, 0) }, nil)
	return ok && err == nil
}

// apply runs change, which modifies the registry, with the registry's lock
// held, and returns its answer. With a state file, the change is made durable
// first (see journal): the error is then the write's, and the change is
// undone. Without one it never fails.
//
// proceed, when not nil, is called once the change is visible to the
// registry's other callers, before it is written (rpc.Request.Proceed).
func (r *Registry) apply(ctx context.Context, change func() bool, proceed func()) (bool, error) {
	if j := r.j.Load(); j != nil {
		return j.submit(ctx, change, proceed)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return change(), nil
}

// setOwn registers one of the mapper's own entries, keeping the own entries
// at the front of the list in the order of their rank, whatever the order in
// which the listeners start.
func (r *Registry) setOwn(rec portmap.RPCB, rank int32) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.find(rec.Prog, rec.Vers, rec.Netid); ok && e.own {
		return true // a second listener of the netid: the first is registered
	}
	return r.set(rec, true, rank)
}

func (r *Registry) set(rec portmap.RPCB, own bool, rank int32) bool {
	if e, ok := r.find(rec.Prog, rec.Vers, rec.Netid); ok {
		return e.rec.Addr == rec.Addr
	}
	if r.all.n >= r.max {
		return false
	}
	id, ln := r.intern(lower(rec.Netid))
	e := &entry{rec: rec, own: own, rank: rank, netid: id}
	if rec.Netid == ln {
		e.rec.Netid = ln // share the interned string
	}
	if prot, ok := v2Prot(rec.Netid); ok {
		if port, ok := uaddrPort(rec.Addr); ok {
			e.prot, e.port = prot, port
		}
	}

	// The mapper's own entries stay in front, in the order of their rank;
	// the per-key chains keep the main list's order.
	r.all.insertOrdered(e, listAll)
	setFor(r.pv, pvKey{rec.Prog, rec.Vers}).insertOrdered(e, listPV)
	set := setFor(r.pn, pnKey{rec.Prog, id})
	set.all.insertOrdered(e, listPN)
	if e.prot != 0 {
		set.v2.insertOrdered(e, listV2)
	}
	r.exact[idKey{rec.Prog, rec.Vers, id}] = e
	if r.recording {
		r.undo = append(r.undo, delta{e: e, add: true})
	}
	return true
}

// setFor returns m[k], creating it.
func setFor[K comparable, V any](m map[K]*V, k K) *V {
	v, ok := m[k]
	if !ok {
		v = new(V)
		m[k] = v
	}
	return v
}

// insertOrdered appends e to c, except that an own entry goes after the own
// entries of c and before the others, mirroring its place in the main list.
func (c *chain) insertOrdered(e *entry, i int) {
	if !e.own {
		c.pushBack(e, i)
		return
	}
	var at *entry
	for p := c.head; p != nil && p.own && p.rank <= e.rank; p = p.links[i].next {
		at = p
	}
	c.insertAfter(at, e, i)
}

// delete removes e from every list and index.
func (r *Registry) delete(e *entry) {
	rec := e.rec
	if r.recording {
		r.undo = append(r.undo, delta{e: e, links: e.links})
	}
	r.all.remove(e, listAll)
	unchainKey(r.pv, pvKey{rec.Prog, rec.Vers}, e, listPV)
	pk := pnKey{rec.Prog, e.netid}
	set := r.pn[pk]
	set.all.remove(e, listPN)
	if e.prot != 0 {
		set.v2.remove(e, listV2)
	}
	if set.all.n == 0 {
		delete(r.pn, pk)
	}
	delete(r.exact, idKey{rec.Prog, rec.Vers, e.netid})
}

// unchainKey removes e from m[k], and m[k] from m once it is empty.
func unchainKey[K comparable](m map[K]*chain, k K, e *entry, i int) {
	c := m[k]
	c.remove(e, i)
	if c.n == 0 {
		delete(m, k)
	}
}

// Unset removes the registrations of (prog, vers) on netid (every netid when
// netid is empty) on behalf of owner, with rpcbind's answer to UNSET (RFC 1833
// §2.2.2): true when they are gone, including when there were none; false
// when one of them belongs to another owner and owner is not
// OwnerSuperuser. As in rpcbind, the matching registrations that come before
// the first one owner may not remove are removed.
func (r *Registry) Unset(prog, vers uint32, netid, owner string) bool {
	ok, err := r.apply(context.Background(), func() bool { return r.unset(prog, vers, netid, owner) }, nil)
	return ok && err == nil
}

func (r *Registry) unset(prog, vers uint32, netid, owner string) bool {
	if netid != "" {
		e, ok := r.find(prog, vers, netid)
		if !ok {
			return true
		}
		if !mayRemove(e, owner) {
			return false
		}
		r.delete(e)
		return true
	}
	c, ok := r.pv[pvKey{prog, vers}]
	if !ok {
		return true
	}
	for e := c.head; e != nil; {
		next := e.links[listPV].next
		if !mayRemove(e, owner) {
			return false
		}
		r.delete(e) // may delete c once it is empty; next is read before
		e = next
	}
	return true
}

// mayRemove reports whether owner may unset e: the superuser or e's owner.
func mayRemove(e *entry, owner string) bool {
	return owner == OwnerSuperuser || e.rec.Owner == owner
}

// Lookup finds the registration of (prog, vers) on netid (case ignored), as
// rpcbind's GETADDR does (RFC 1833 §2.2.3): when that version is not
// registered on netid and anyVersion is true, it returns the registration of
// the program on netid made last, whatever its version, so that a caller
// learns the program's address and then its versions from PROG_MISMATCH.
func (r *Registry) Lookup(prog, vers uint32, netid string, anyVersion bool) (portmap.RPCB, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	id, ok := r.netids[lower(netid)]
	if !ok {
		return portmap.RPCB{}, false
	}
	if e, ok := r.exact[idKey{prog, vers, id}]; ok {
		return e.rec, true
	}
	if anyVersion {
		if set, ok := r.pn[pnKey{prog, id}]; ok {
			return set.all.tail.rec, true
		}
	}
	return portmap.RPCB{}, false
}

// Versions returns the lowest and highest version of prog registered on
// netid (case ignored), computed as rpcbind does for INDIRECT's
// PROG_MISMATCH; ok is false when prog has no registration on netid.
func (r *Registry) Versions(prog uint32, netid string) (low, high uint32, ok bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	id, ok := r.netids[lower(netid)]
	if !ok {
		return 0, 0, false
	}
	set, ok := r.pn[pnKey{prog, id}]
	if !ok {
		return 0, 0, false
	}
	// rpcbind's find_versions: version 0 counts as "nothing seen yet".
	for e := set.all.head; e != nil; e = e.links[listPN].next {
		switch v := e.rec.Vers; {
		case low == 0:
			low, high = v, v
		case v < low:
			low = v
		case v > high:
			high = v
		}
	}
	return low, high, true
}

// GetPort finds the port of (prog, vers, prot) in the portmap v2 view, as
// rpcbind's PMAPPROC_GETPORT does (RFC 1833 §3.2): when that version is not
// registered it returns the port of the program's registration on prot made
// last. ok is false when the program has none on prot.
func (r *Registry) GetPort(prog, vers, prot uint32) (port uint32, ok bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var netid netidID
	switch prot {
	case portmap.IPProtoTCP:
		netid = idTCP
	case portmap.IPProtoUDP:
		netid = idUDP
	default:
		return 0, false
	}
	// exact holds (prog, vers, "tcp") whatever the netid's case and address;
	// it is in the v2 view only when its prot says so.
	if e, ok := r.exact[idKey{prog, vers, netid}]; ok && e.prot == prot {
		return e.port, true
	}
	if set, ok := r.pn[pnKey{prog, netid}]; ok && set.v2.n > 0 {
		return set.v2.tail.port, true
	}
	return 0, false
}

// Program returns the registrations of (prog, vers) on every netid, in
// registration order: what GETADDRLIST (RFC 1833 §2.2.11) chooses from.
func (r *Registry) Program(prog, vers uint32) []portmap.RPCB {
	r.mu.RLock()
	defer r.mu.RUnlock()
	c, ok := r.pv[pvKey{prog, vers}]
	if !ok {
		return nil
	}
	out := make([]portmap.RPCB, 0, c.n)
	for e := c.head; e != nil; e = e.links[listPV].next {
		out = append(out, e.rec)
	}
	return out
}

// Dump returns every registration in registration order, the mapper's own
// first: the rpcblist of rpcbind's DUMP (RFC 1833 §2.2.4).
func (r *Registry) Dump() []portmap.RPCB {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]portmap.RPCB, 0, r.all.n)
	for e := r.all.head; e != nil; e = e.links[listAll].next {
		out = append(out, e.rec)
	}
	return out
}

// DumpV2 returns the portmap v2 view in registration order: the pmaplist of
// PMAPPROC_DUMP (RFC 1833 §3.2).
func (r *Registry) DumpV2() []portmap.Mapping {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []portmap.Mapping
	for e := r.all.head; e != nil; e = e.links[listAll].next {
		if e.prot != 0 {
			out = append(out, portmap.Mapping{Prog: e.rec.Prog, Vers: e.rec.Vers, Prot: e.prot, Port: e.port})
		}
	}
	return out
}

// userRecordsLocked returns the registrations other than the mapper's own,
// in registration order: what the state file holds.
func (r *Registry) userRecordsLocked() []portmap.RPCB {
	out := make([]portmap.RPCB, 0, r.all.n)
	for e := r.all.head; e != nil; e = e.links[listAll].next {
		if !e.own {
			out = append(out, e.rec)
		}
	}
	return out
}

// userRecords is userRecordsLocked for a caller without the lock.
func (r *Registry) userRecords() []portmap.RPCB {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.userRecordsLocked()
}

// undoLocked reverts every change recorded in r.undo, newest first, and
// empties it: the registry is then as it was after the last good write.
func (r *Registry) undoLocked() {
	for i := len(r.undo) - 1; i >= 0; i-- {
		d := r.undo[i]
		if d.add {
			r.delete(d.e)
		} else {
			r.reinsert(d.e, d.links)
		}
	}
	clear(r.undo) // drop the entries' pointers
	r.undo = r.undo[:0]
}

// reinsert puts a removed entry back where links say it was: after the same
// neighbours in each of its lists. Its neighbours must be as they were when
// it was removed, which undoing newest first ensures.
func (r *Registry) reinsert(e *entry, links [numLists]link) {
	rec := e.rec
	r.all.insertAfter(links[listAll].prev, e, listAll)
	setFor(r.pv, pvKey{rec.Prog, rec.Vers}).insertAfter(links[listPV].prev, e, listPV)
	set := setFor(r.pn, pnKey{rec.Prog, e.netid})
	set.all.insertAfter(links[listPN].prev, e, listPN)
	if e.prot != 0 {
		set.v2.insertAfter(links[listV2].prev, e, listV2)
	}
	r.exact[idKey{rec.Prog, rec.Vers, e.netid}] = e
}

// load adds recs, registrations read from a state or warm-start file, to an
// empty registry, skipping the port mapper's own program (the server
// registers its own entries for the listeners it has now). It returns how
// many were refused (a duplicate, or a registry full).
func (r *Registry) load(recs []portmap.RPCB) (refused int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range recs {
		if rec.Prog == portmap.Program {
			continue
		}
		if _, dup := r.find(rec.Prog, rec.Vers, rec.Netid); dup || !r.set(rec, false, 0) {
			refused++
		}
	}
	return refused
}

// setMax changes the number of registrations the registry holds at most
// (DefaultMaxRegistrations when max <= 0); registrations already beyond it
// stay.
func (r *Registry) setMax(max int) {
	if max <= 0 {
		max = DefaultMaxRegistrations
	}
	r.mu.Lock()
	r.max = max
	r.mu.Unlock()
}

// pruneLocked removes the registration of rec's (prog, vers, netid) if it is
// still rec (same address and owner), as pruning found it, and reports
// whether it did.
func (r *Registry) pruneLocked(rec portmap.RPCB) bool {
	e, ok := r.find(rec.Prog, rec.Vers, rec.Netid)
	if !ok || e.own || e.rec != rec {
		return false
	}
	r.delete(e)
	return true
}

// ownPort reports whether one of the mapper's own registrations has a
// universal address ending in port: the mapper's own listeners, which are
// never the target of a forwarded call.
func (r *Registry) ownPort(port uint32) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for e := r.all.head; e != nil && e.own; e = e.links[listAll].next {
		if p, ok := uaddrPort(e.rec.Addr); ok && p == port {
			return true
		}
	}
	return false
}

// Len returns the number of registrations.
func (r *Registry) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.all.n
}

// appendDump appends the rpcblist encoding of every registration to b
// without copying the registry first.
func (r *Registry) appendDump(b []byte) []byte {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for e := r.all.head; e != nil; e = e.links[listAll].next {
		b = e.rec.Append(xdr.AppendBool(b, true))
	}
	return xdr.AppendBool(b, false)
}

// appendDumpV2 appends the pmaplist encoding of the v2 view to b.
func (r *Registry) appendDumpV2(b []byte) []byte {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for e := r.all.head; e != nil; e = e.links[listAll].next {
		if e.prot != 0 {
			m := portmap.Mapping{Prog: e.rec.Prog, Vers: e.rec.Vers, Prot: e.prot, Port: e.port}
			b = m.Append(xdr.AppendBool(b, true))
		}
	}
	return xdr.AppendBool(b, false)
}

// v2Prot returns the v2 prot of a netid in the v2 view: rpcbind adds an
// entry to its pmaplist only for the netids spelled exactly "tcp" and "udp".
func v2Prot(netid string) (uint32, bool) {
	switch netid {
	case portmap.NetidTCP:
		return portmap.IPProtoTCP, true
	case portmap.NetidUDP:
		return portmap.IPProtoUDP, true
	}
	return 0, false
}

// uaddrPort reads the port of a universal address from its last two
// dot-separated parts as rpcbind's uaddr2port does (p1*256 + p2, each read
// like C's atoi), so that the v2 view shows what rpcbind's shows even for an
// address rpcbind never checked. ok is false with fewer than two dots.
func uaddrPort(uaddr string) (uint32, bool) {
	i := strings.LastIndexByte(uaddr, '.')
	if i < 0 {
		return 0, false
	}
	j := strings.LastIndexByte(uaddr[:i], '.')
	if j < 0 {
		return 0, false
	}
	return uint32(atoi(uaddr[j+1:i])*256 + atoi(uaddr[i+1:])), true
}

// atoi reads an optional sign and the leading decimal digits of s, like C's
// atoi on the values a port part can hold; anything else reads as 0.
func atoi(s string) int32 {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	var n int32
	for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		n = n*10 + int32(s[i]-'0')
	}
	if neg {
		n = -n
	}
	return n
}
