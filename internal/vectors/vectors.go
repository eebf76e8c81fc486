// Package vectors serves the golden request and reply bytes recorded from
// Debian's rpcbind 1.2.6 (testdata/*.hex, described in testdata/INDEX.md) to the
// tests of every package. It is internal and meant for tests.
package vectors

import (
	"embed"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
)

//go:embed testdata/*.hex
var files embed.FS

// Case is one recorded exchange.
type Case struct {
	Name  string
	Call  []byte // the call as sent (record body, without a record mark)
	Reply []byte // the reply, nil where rpcbind stayed silent
}

// Load returns the named case, e.g. "v2_dump"; it panics if the call is missing,
// since the set is fixed and embedded.
func Load(name string) Case {
	c := Case{Name: name, Call: read(name + ".call.hex")}
	if c.Call == nil {
		panic(fmt.Sprintf("vectors: no case %q", name))
	}
	c.Reply = read(name + ".reply.hex")
	return c
}

// All returns every case, sorted by name.
func All() []Case {
	ents, _ := files.ReadDir("testdata")
	var names []string
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".call.hex"); ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	out := make([]Case, len(names))
	for i, n := range names {
		out[i] = Load(n)
	}
	return out
}

func read(file string) []byte {
	raw, err := files.ReadFile("testdata/" + file)
	if err != nil {
		return nil
	}
	b, err := hex.DecodeString(strings.Join(strings.Fields(string(raw)), ""))
	if err != nil {
		panic(fmt.Sprintf("vectors: %s: %v", file, err))
	}
	return b
}
