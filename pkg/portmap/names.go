package portmap

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
)

// DefaultNamesPath is where the system keeps its program-name database.
const DefaultNamesPath = "/etc/rpc"

// maxNamesLine bounds one line of an /etc/rpc file. Real lines are under 100
// bytes; 64 KiB is bufio.Scanner's default and stops a runaway line from
// growing a buffer without end.
const maxNamesLine = 64 << 10

// NameEntry is one line of the rpc(5) database: a program's name, number and
// aliases.
type NameEntry struct {
	Name    string
	Number  uint32
	Aliases []string
}

// Names maps RPC program numbers to names and back, as getrpcbynumber(3) and
// getrpcbyname(3) do over /etc/rpc. Where a number or name appears more than
// once the first entry wins, and names compare case-sensitively, as in glibc.
// A Names is never modified after it is built and is safe for concurrent use;
// the nil *Names knows no programs.
type Names struct {
	entries  []NameEntry
	byNumber map[uint32]string
	byName   map[string]uint32
}

// NewNames builds a Names from entries, which it copies.
func NewNames(entries []NameEntry) *Names {
	n := &Names{
		entries:  make([]NameEntry, 0, len(entries)),
		byNumber: make(map[uint32]string, len(entries)),
		byName:   make(map[string]uint32, 2*len(entries)),
	}
	for _, e := range entries {
		n.add(NameEntry{Name: e.Name, Number: e.Number, Aliases: append([]string(nil), e.Aliases...)})
	}
	return n
}

// add indexes e after the entries already held; earlier ones win.
func (n *Names) add(e NameEntry) {
	n.entries = append(n.entries, e)
	if _, dup := n.byNumber[e.Number]; !dup {
		n.byNumber[e.Number] = e.Name
	}
	for _, s := range append([]string{e.Name}, e.Aliases...) {
		if _, dup := n.byName[s]; !dup {
			n.byName[s] = e.Number
		}
	}
}

// Name returns the name of program prog.
func (n *Names) Name(prog uint32) (string, bool) {
	if n == nil {
		return "", false
	}
	s, ok := n.byNumber[prog]
	return s, ok
}

// Number returns the number of the program called nameOrAlias.
func (n *Names) Number(nameOrAlias string) (uint32, bool) {
	if n == nil {
		return 0, false
	}
	v, ok := n.byName[nameOrAlias]
	return v, ok
}

// Resolve reads a program as rpcinfo accepts it on its command line: a decimal
// number, or else a name or alias.
func (n *Names) Resolve(s string) (uint32, bool) {
	if v, err := strconv.ParseUint(s, 10, 32); err == nil {
		return uint32(v), true
	}
	return n.Number(s)
}

// Entries returns a copy of the entries in the order they were read.
func (n *Names) Entries() []NameEntry {
	if n == nil {
		return nil
	}
	out := make([]NameEntry, len(n.entries))
	for i, e := range n.entries {
		out[i] = NameEntry{Name: e.Name, Number: e.Number, Aliases: append([]string(nil), e.Aliases...)}
	}
	return out
}

// Len returns the number of entries.
func (n *Names) Len() int {
	if n == nil {
		return 0
	}
	return len(n.entries)
}

// NamesError reports a malformed line of an /etc/rpc file.
type NamesError struct {
	Line   int    // 1-based line number
	Text   string // the line as read
	Reason string
}

// Error describes the line and what is wrong with it.
func (e *NamesError) Error() string {
	return fmt.Sprintf("portmap: rpc names line %d: %s: %q", e.Line, e.Reason, e.Text)
}

// ParseNames reads the rpc(5) format: on each line a program name, its decimal
// number and any aliases, separated by spaces or tabs; '#' starts a comment
// that runs to the end of the line; blank lines are ignored.
//
// Like glibc, which skips what it cannot read, ParseNames always returns a
// usable *Names holding every well-formed line. The error, if any, is the first
// malformed line as a *NamesError (a name without a number, or a number that
// is not a decimal 0 to 4294967295), or the reader's error.
func ParseNames(r io.Reader) (*Names, error) {
	n := NewNames(nil)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxNamesLine)
	var first error
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		body, _, _ := strings.Cut(text, "#")
		f := strings.FieldsFunc(body, func(r rune) bool { return r == ' ' || r == '\t' || r == '\r' || r == '\v' || r == '\f' })
		if len(f) == 0 {
			continue
		}
		var reason string
		if len(f) < 2 {
			reason = "program " + strconv.Quote(f[0]) + " has no number"
		} else if v, err := strconv.ParseUint(f[1], 10, 32); err != nil {
			reason = "bad program number " + strconv.Quote(f[1])
		} else {
			e := NameEntry{Name: f[0], Number: uint32(v)}
			if len(f) > 2 {
				e.Aliases = f[2:]
			}
			n.add(e)
			continue
		}
		if first == nil {
			first = &NamesError{Line: line, Text: text, Reason: reason}
		}
	}
	if err := sc.Err(); err != nil && first == nil {
		first = fmt.Errorf("portmap: reading rpc names: %w", err)
	}
	return n, first
}

// LoadNames reads the rpc(5) file at path. An error opening or reading it
// wraps the os error (test with errors.Is(err, fs.ErrNotExist)) and comes with
// a nil *Names; a malformed line comes with the entries that did parse, as
// from [ParseNames].
func LoadNames(path string) (*Names, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("portmap: %w", err)
	}
	defer f.Close()
	return ParseNames(f)
}

// BuiltinNames returns the built-in table: every program of Debian's /etc/rpc.
func BuiltinNames() *Names { return builtinOnce() }

var builtinOnce = sync.OnceValue(func() *Names { return NewNames(builtinEntries()) })

// DefaultNames returns the system's program names: /etc/rpc, read once and
// cached for the life of the process, with its malformed lines skipped; or the
// built-in table when that file cannot be read or holds no entry.
func DefaultNames() *Names { return defaultOnce() }

var defaultOnce = sync.OnceValue(func() *Names { return loadOrBuiltin(DefaultNamesPath) })

// loadOrBuiltin is DefaultNames's policy, apart from the caching.
func loadOrBuiltin(path string) *Names {
	n, _ := LoadNames(path)
	if n.Len() == 0 {
		return BuiltinNames()
	}
	return n
}
