package main

import (
	"sort"

	"github.com/portmap-toolkit/pmap/internal/regfile"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

// mode is what pmapset does with the file's entries.
type mode int

const (
	modeSet   mode = iota // register them (the default)
	modeUnset             // --unset: remove them
	modeSync              // --sync: make the mapper hold exactly them
)

// plan is what a run will do, worked out from the file's entries and the
// mapper's registrations before anything changes.
type plan struct {
	mode     mode
	skip     []regfile.Entry // file entries of program 100000, left alone
	held     []regfile.Entry // file entries the mapper holds already
	add      []regfile.Entry // file entries to SET, in file order
	remove   []regfile.Entry // mapper entries to UNSET, in listing order
	absent   []regfile.Entry // --unset: file entries the mapper does not hold
	conflict []conflict      // file entries whose slot holds another address
}

// conflict pairs a file entry with the registration that fills its slot.
type conflict struct {
	want, have regfile.Entry
}

// holds reports whether the mapper's entry have is the file's entry want:
// the same slot (program, version, netid without regard to case) and the same
// address. A mapping is compared in the v2 view, by port, as rpcinfo -p
// shows it: rpcbind stores its address as 0.0.0.0.p1.p2, but a registration
// made over rpcbind with another host part lists the same in that view.
func holds(have, want regfile.Entry) bool {
	if have.Key() != want.Key() {
		return false
	}
	switch {
	case !want.IsMapping() && !have.IsMapping():
		return have.Addr == want.Addr
	case want.IsMapping() && have.IsMapping():
		return have.Port == want.Port
	}
	// One of each: compare ports (the slot's netid is tcp or udp).
	hp, ok1 := entryPort(have)
	wp, ok2 := entryPort(want)
	return ok1 && ok2 && hp == wp
}

// entryPort returns the port of a mapping, or of an IPv4 rpcbind entry.
func entryPort(e regfile.Entry) (uint32, bool) {
	if e.IsMapping() {
		return e.Port, true
	}
	ap, err := portmap.ParseUaddr(e.Netid, e.Addr)
	if err != nil || !ap.Addr().Is4() {
		return 0, false
	}
	return uint32(ap.Port()), true
}

// makePlan works out what mode m does with the file's entries given the
// mapper's current registrations (cur) and the highest version the mapper
// speaks (vers).
func makePlan(m mode, file, cur []regfile.Entry, vers uint32) plan {
	p := plan{mode: m}
	bySlot := make(map[regfile.Key]regfile.Entry, len(cur))
	for _, c := range cur {
		if _, dup := bySlot[c.Key()]; !dup {
			bySlot[c.Key()] = c
		}
	}
	wanted := make(map[regfile.Key]regfile.Entry, len(file))
	seen := make(map[regfile.Key]bool, len(file))
	for _, f := range file {
		if f.Prog == portmap.Program {
			p.skip = append(p.skip, f)
			continue
		}
		k := f.Key()
		if seen[k] { // the same entry again (the parser refuses other addresses)
			continue
		}
		seen[k] = true
		wanted[k] = f
		c, filled := bySlot[k]
		switch {
		case filled && holds(c, f):
			if m == modeUnset {
				p.remove = append(p.remove, c)
			} else {
				p.held = append(p.held, f)
			}
		case filled && m != modeSync:
			p.conflict = append(p.conflict, conflict{want: f, have: c})
		case m == modeUnset:
			p.absent = append(p.absent, f)
		default:
			p.add = append(p.add, f)
		}
	}
	if m != modeSync {
		return p
	}
	for _, c := range cur {
		if c.Prog == portmap.Program {
			continue
		}
		if f, ok := wanted[c.Key()]; ok && holds(c, f) {
			continue
		}
		p.remove = append(p.remove, c)
	}
	if vers == portmap.V2 {
		p.v2Collateral()
	}
	return p
}

// v2Collateral accounts for v2 UNSET removing both the tcp and the udp
// mapping of a (program, version): a held entry sharing a removed entry's
// program and version is removed with it and must be added again.
func (p *plan) v2Collateral() {
	type pv struct{ prog, vers uint32 }
	gone := make(map[pv]bool, len(p.remove))
	for _, r := range p.remove {
		gone[pv{r.Prog, r.Vers}] = true
	}
	kept := p.held[:0]
	var readd []regfile.Entry
	for _, h := range p.held {
		if gone[pv{h.Prog, h.Vers}] {
			readd = append(readd, h)
		} else {
			kept = append(kept, h)
		}
	}
	p.held = kept
	p.add = append(p.add, readd...)
	sort.SliceStable(p.add, func(i, j int) bool { return p.add[i].Line < p.add[j].Line })
}
