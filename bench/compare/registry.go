package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
	"github.com/portmap-toolkit/pmap/pkg/xdr"
)

const (
	// bigSize is the registrations of the large registry: the figure of
	// issue #10.
	bigSize = 10_000

	// fillerBase is the first program number of the filler registrations:
	// the start of the range RFC 5531 appendix B leaves to users, where no
	// real service lives.
	fillerBase = 0x20000000

	// fillerPortBase is the first port of the fillers; they need not be in
	// use, a port mapper never checks.
	fillerPortBase = 10000

	// registerInFlight is how many SET calls the registrar keeps in flight
	// on its one connection: enough to hide the round trip, few enough that
	// a mapper answering in order never holds many.
	registerInFlight = 32

	// callTimeout bounds each call of the registrar and of the checks.
	callTimeout = 10 * time.Second
)

// registry is a list of v2 mappings in registration order, and the keys the
// lookups ask for.
type registry struct {
	name    string
	entries []portmap.Mapping
	keyProg uint32 // looked up by GETPORT and GETADDR
	keyVers uint32
	file    string // the entries in pmap_dump form
}

// readSeed reads the seed registry (testdata/seed-registrations.txt): lines
// of program, version, protocol and port.
func readSeed(path string) ([]portmap.Mapping, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var l []portmap.Mapping
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		m, err := parseMapping(fields)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, n, err)
		}
		l = append(l, m)
	}
	return l, sc.Err()
}

// parseMapping reads program, version, protocol and port.
func parseMapping(f []string) (portmap.Mapping, error) {
	if len(f) < 4 {
		return portmap.Mapping{}, errors.New("want program, version, protocol and port")
	}
	var n [3]uint64
	for i, s := range []string{f[0], f[1], f[3]} {
		v, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return portmap.Mapping{}, err
		}
		n[i] = v
	}
	prot, ok := portmap.ParseProt(f[2])
	if !ok {
		return portmap.Mapping{}, fmt.Errorf("protocol %q", f[2])
	}
	return portmap.Mapping{Prog: uint32(n[0]), Vers: uint32(n[1]), Prot: prot, Port: uint32(n[2])}, nil
}

// seedRegistry is the seed's table; the key is NFS version 3.
func seedRegistry(seed []portmap.Mapping) *registry {
	return &registry{name: "seed", entries: seed, keyProg: 100003, keyVers: 3}
}

// bigRegistry is the seed's table followed by fillers, bigSize entries in
// all: pairs of udp and tcp entries of programs fillerBase, fillerBase+1,
// ...; the last pair is the key, so it is registered last.
func bigRegistry(seed []portmap.Mapping) *registry {
	l := append([]portmap.Mapping(nil), seed...)
	var prog uint32
	for i := 0; len(l) < bigSize; i++ {
		prog = fillerBase + uint32(i)
		port := uint32(fillerPortBase + i%50000)
		l = append(l, portmap.Mapping{Prog: prog, Vers: 1, Prot: portmap.IPProtoUDP, Port: port})
		if len(l) < bigSize {
			l = append(l, portmap.Mapping{Prog: prog, Vers: 1, Prot: portmap.IPProtoTCP, Port: port})
		}
	}
	return &registry{name: "10k", entries: l, keyProg: prog, keyVers: 1}
}

// keyEntries is how many entries at the end of the registry hold the key:
// those the registrar sends one at a time, after all the others.
func (r *registry) keyEntries() int {
	n := 0
	for i := len(r.entries) - 1; i >= 0 && r.entries[i].Prog == r.keyProg && r.entries[i].Vers == r.keyVers; i-- {
		n++
	}
	return n
}

// writeFile writes the registry in pmap_dump form ("%10u %4u %5s %6u  %s"),
// which pmapset and pmapsetloop read.
func (r *registry) writeFile(path string) error {
	var b strings.Builder
	for _, m := range r.entries {
		fmt.Fprintf(&b, "%10d %4d %5s %6d  \n", m.Prog, m.Vers, portmap.ProtName(m.Prot), m.Port)
	}
	r.file = path
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// register makes every entry of r with v2 SET (RFC 1833 §3.2) over one TCP
// connection to addr: all but the key's entries pipelined, registerInFlight
// at a time, then the key's one by one, so that they are registered last.
func register(ctx context.Context, addr string, r *registry) error {
	c, err := rpc.Dial(ctx, "tcp", addr, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	var failed atomic.Int64
	var firstErr atomic.Value
	set := func(m portmap.Mapping) {
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		defer cancel()
		res, err := c.Call(cctx, portmap.Program, portmap.V2, portmap.PmapSet, m.Append(nil))
		if err == nil {
			d := xdr.NewDecoder(res)
			if ok := d.Bool(); d.Err() != nil || !ok {
				err = fmt.Errorf("SET %d %d %s %d answered FALSE", m.Prog, m.Vers, portmap.ProtName(m.Prot), m.Port)
			}
		}
		if err != nil {
			failed.Add(1)
			firstErr.CompareAndSwap(nil, err)
		}
	}
	bulk := r.entries[:len(r.entries)-r.keyEntries()]
	work := make(chan portmap.Mapping)
	var wg sync.WaitGroup
	for range registerInFlight {
		wg.Go(func() {
			for m := range work {
				set(m)
			}
		})
	}
	for _, m := range bulk {
		work <- m
	}
	close(work)
	wg.Wait()
	for _, m := range r.entries[len(bulk):] {
		set(m)
	}
	if n := failed.Load(); n > 0 {
		return fmt.Errorf("%d of %d registrations failed, the first: %v", n, len(r.entries), firstErr.Load())
	}
	return nil
}

// dumpCount returns how many v2 mappings the mapper at addr lists (a v2
// DUMP over TCP, RFC 1833 §3.2).
func dumpCount(ctx context.Context, addr string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	c, err := rpc.Dial(ctx, "tcp", addr, nil)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	res, err := c.Call(ctx, portmap.Program, portmap.V2, portmap.PmapDump, nil)
	if err != nil {
		return 0, err
	}
	d := xdr.NewDecoder(res)
	l := portmap.DecodeMappingList(d, nil, portmap.MaxListEntries)
	return len(l), d.Err()
}

// ping calls NULL v2 over TCP at addr.
func ping(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	c, err := rpc.Dial(ctx, "tcp", addr, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Call(ctx, portmap.Program, portmap.V2, portmap.ProcNull, nil)
	return err
}
