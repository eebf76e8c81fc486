package render

import "github.com/portmap-toolkit/pmap/pkg/portmap"

// ProgramSummary is one line of rpcinfo -s: a program with every version and
// netid it is registered with, and the owner of its first registration.
type ProgramSummary struct {
	Prog     uint32   // the program number
	Versions []uint32 // in reverse order of first appearance in the DUMP
	Netids   []string // in reverse order of first appearance in the DUMP
	Owner    string   // owner of the program's first registration
}

// Summarize groups an rpcbind DUMP by program the way rpcinfo -s does:
// programs in order of first appearance, and each one's versions and netids
// with the most recently seen first (rpcinfo pushes each new one on the front
// of a list), so the seed's nfs, registered as versions 2, 3, 4, reads 4,3,2.
func Summarize(list []portmap.RPCB) []ProgramSummary { return summarize(list, false) }

// summarize is Summarize; with classic set it keeps two behaviours of
// rpcinfo's C code that only the classic form reproduces: a version of 2^31
// or more is never found again (rpcinfo keeps versions in an int and compares
// it, sign-extended, with the unsigned long it reads, so each registration of
// such a version adds it again), and netids compare as C strings, up to their
// first NUL.
func summarize(list []portmap.RPCB, classic bool) []ProgramSummary {
	var out []ProgramSummary
	index := make(map[uint32]int)
	for _, r := range list {
		i, ok := index[r.Prog]
		if !ok {
			i = len(out)
			index[r.Prog] = i
			out = append(out, ProgramSummary{Prog: r.Prog, Owner: r.Owner})
		}
		s := &out[i]
		if !hasVersion(s.Versions, r.Vers, classic) {
			s.Versions = prepend(s.Versions, r.Vers)
		}
		netid := r.Netid
		if classic {
			netid = cstr(netid)
		}
		if !hasNetid(s.Netids, netid) {
			s.Netids = prepend(s.Netids, netid)
		}
	}
	return out
}

// signBit is the first version rpcinfo -s stores as a negative int.
const signBit = 1 << 31

func hasVersion(vs []uint32, v uint32, classic bool) bool {
	if classic && v >= signBit {
		return false
	}
	for _, x := range vs {
		if x == v {
			return true
		}
	}
	return false
}

func hasNetid(ns []string, n string) bool {
	for _, x := range ns {
		if x == n {
			return true
		}
	}
	return false
}

func prepend[T any](s []T, v T) []T {
	s = append(s, v)
	copy(s[1:], s)
	s[0] = v
	return s
}
