package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/portmap-toolkit/pmap/internal/regfile"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

// entries parses a registration file for a test.
func entries(t *testing.T, s string) []regfile.Entry {
	t.Helper()
	es, err := regfile.Parse(strings.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// lines returns the lines of entries, for comparing plans.
func lines(es []regfile.Entry) []string {
	var l []string
	for _, e := range es {
		l = append(l, line(e))
	}
	return l
}

func TestHolds(t *testing.T) {
	tests := []struct {
		have, want string
		holds      bool
	}{
		{"1 1 tcp 2049", "1 1 TCP 2049", true},
		{"1 1 tcp 2049", "1 1 tcp 2050", false},
		{"1 1 tcp 2049", "1 1 udp 2049", false},
		{"1 1 tcp 0.0.0.0.8.1 unknown", "1 1 tcp 2049", true},
		{"1 1 tcp 127.0.0.1.8.1 unknown", "1 1 tcp 2049", true}, // the v2 view shows no host
		{"1 1 tcp 2049", "1 1 tcp 0.0.0.0.8.1 superuser", true},
		{"1 1 tcp 0.0.0.0.8.1 unknown", "1 1 TCP 0.0.0.0.8.1 superuser", true}, // owners aside
		{"1 1 tcp 0.0.0.0.8.1 unknown", "1 1 tcp 127.0.0.1.8.1 unknown", false},
		{"1 1 tcp6 ::.8.1 x", "1 1 tcp6 ::.8.1 y", true},
		{"1 1 tcp6 ::.8.1 x", "1 2 tcp6 ::.8.1 x", false},
		{"1 1 local /a x", "1 1 unix /a x", false}, // different netids
		{"1 1 132 5", "1 1 132 5", true},
	}
	for _, tt := range tests {
		have, want := entries(t, tt.have)[0], entries(t, tt.want)[0]
		if got := holds(have, want); got != tt.holds {
			t.Errorf("holds(%q, %q) = %v, want %v", tt.have, tt.want, got, tt.holds)
		}
	}
}

func TestMakePlan(t *testing.T) {
	cur := "" +
		"100000 2 tcp 111\n" +
		"100003 3 tcp 0.0.0.0.8.1 unknown\n" + // in the file
		"100003 3 udp 0.0.0.0.8.1 unknown\n" + // not in the file
		"100005 1 tcp6 ::.2.133 unknown\n" // in the file at another address
	file := "" +
		"100000 2 tcp 9999\n" +
		"100003 3 tcp 2049\n" +
		"100003 3 tcp 2049 again\n" +
		"100005 1 tcp6 ::.2.134 unknown\n" +
		"100021 1 udp 32770\n"
	type want struct {
		skip, held, add, remove, absent, conflict []string
	}
	tests := []struct {
		name string
		mode mode
		vers uint32
		want want
	}{
		{"set", modeSet, portmap.V4, want{
			skip:     []string{"100000    2   tcp   9999"},
			held:     []string{"100003    3   tcp   2049"},
			add:      []string{"100021    1   udp  32770"},
			conflict: []string{"100005    1  tcp6 ::.2.134                unknown"},
		}},
		{"unset", modeUnset, portmap.V4, want{
			skip:     []string{"100000    2   tcp   9999"},
			remove:   []string{"100003    3   tcp 0.0.0.0.8.1             unknown"},
			absent:   []string{"100021    1   udp  32770"},
			conflict: []string{"100005    1  tcp6 ::.2.134                unknown"},
		}},
		{"sync", modeSync, portmap.V4, want{
			skip: []string{"100000    2   tcp   9999"},
			held: []string{"100003    3   tcp   2049"},
			add:  []string{"100005    1  tcp6 ::.2.134                unknown", "100021    1   udp  32770"},
			remove: []string{
				"100003    3   udp 0.0.0.0.8.1             unknown",
				"100005    1  tcp6 ::.2.133                unknown",
			},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := makePlan(tt.mode, entries(t, file), entries(t, cur), tt.vers)
			var conflicts []string
			for _, c := range p.conflict {
				conflicts = append(conflicts, line(c.want))
			}
			got := want{lines(p.skip), lines(p.held), lines(p.add), lines(p.remove), lines(p.absent), conflicts}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("plan =\n%#v\nwant\n%#v", got, tt.want)
			}
		})
	}
}

// TestMakePlanV2Collateral checks that --sync on a v2-only mapper adds back
// a wanted mapping that the v2 UNSET of its sibling protocol takes along.
func TestMakePlanV2Collateral(t *testing.T) {
	cur := "100003 3 tcp 2049\n100003 3 udp 2050\n100005 1 udp 644\n"
	file := "100003 3 tcp 2049\n100003 3 udp 2049\n100005 1 udp 644\n"
	p := makePlan(modeSync, entries(t, file), entries(t, cur), portmap.V2)
	if got, want := lines(p.remove), []string{"100003    3   udp   2050"}; !reflect.DeepEqual(got, want) {
		t.Errorf("remove = %q, want %q", got, want)
	}
	if got, want := lines(p.add), []string{"100003    3   tcp   2049", "100003    3   udp   2049"}; !reflect.DeepEqual(got, want) {
		t.Errorf("add = %q, want %q (tcp goes with udp's v2 UNSET)", got, want)
	}
	if got, want := lines(p.held), []string{"100005    1   udp    644"}; !reflect.DeepEqual(got, want) {
		t.Errorf("held = %q, want %q", got, want)
	}
}

func TestOutOfOrder(t *testing.T) {
	added := entries(t, "1 1 tcp 1\n2 1 tcp 1\n3 1 tcp 1\n")
	tests := []struct {
		cur           string
		before, after int
		ok            bool
	}{
		{"1 1 tcp 1\n9 9 tcp 9\n2 1 tcp 1\n3 1 tcp 1\n", 0, 0, true},
		{"1 1 tcp 1\n3 1 tcp 1\n", 0, 0, true}, // one gone: no order to judge
		{"2 1 tcp 1\n1 1 tcp 1\n3 1 tcp 1\n", 2, 1, false},
		{"1 1 tcp 1\n3 1 tcp 1\n2 1 tcp 1\n", 3, 2, false},
	}
	for _, tt := range tests {
		b, a, ok := outOfOrder(added, entries(t, tt.cur))
		if b != tt.before || a != tt.after || ok != tt.ok {
			t.Errorf("outOfOrder(%q) = %d, %d, %v; want %d, %d, %v", tt.cur, b, a, ok, tt.before, tt.after, tt.ok)
		}
	}
}

func TestLineRanges(t *testing.T) {
	tests := []struct {
		in   []int
		want string
	}{
		{[]int{7}, "line 7"},
		{[]int{1, 2}, "lines 1-2"},
		{[]int{1, 2, 3, 5, 7, 8}, "lines 1-3, 5, 7-8"},
	}
	for _, tt := range tests {
		if got := lineRanges(tt.in); got != tt.want {
			t.Errorf("lineRanges(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
