package server

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"time"

	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
)

// Pruning (Server.PruneInterval) asks each registered service whether it is
// still there and removes the registrations of those that are not.
const (
	// pruneTimeout bounds one NULL call to a registered service: a service
	// on this host answers in milliseconds; one that takes two seconds to
	// answer NULL is counted as a miss, but removed only after pruneMisses.
	pruneTimeout = 2 * time.Second

	// pruneMisses is how many rounds in a row a service must fail to answer
	// before its registration is removed, so that one lost datagram or one
	// busy moment does not unregister a live service.
	pruneMisses = 2

	// pruneParallel bounds the NULL calls of one round in flight at once.
	pruneParallel = 8
)

// pruneLoop runs a pruning round every PruneInterval until ctx ends.
func (s *Server) pruneLoop(ctx context.Context) {
	t := time.NewTicker(s.PruneInterval)
	defer t.Stop()
	misses := make(map[portmap.RPCB]int)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.pruneRound(ctx, misses)
	}
}

// pruneRound calls every registered service on this host once, and removes
// those that have now missed pruneMisses rounds in a row. misses carries the
// counts from round to round; registrations that are gone are forgotten.
func (s *Server) pruneRound(ctx context.Context, misses map[portmap.RPCB]int) {
	recs := s.reg.userRecords()
	alive := make([]bool, len(recs))
	sem := make(chan struct{}, pruneParallel)
	var wg sync.WaitGroup
	for i, rec := range recs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			alive[i] = s.svc.answers(ctx, rec)
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return
	}
	seen := make(map[portmap.RPCB]bool, len(recs))
	for i, rec := range recs {
		seen[rec] = true
		if alive[i] {
			delete(misses, rec)
			continue
		}
		misses[rec]++
		if misses[rec] < pruneMisses {
			continue
		}
		delete(misses, rec)
		ok, err := s.reg.apply(ctx, func() bool { return s.reg.pruneLocked(rec) }, nil)
		switch {
		case err != nil:
			s.svc.log.Warn("server: could not remove a dead registration", "prog", rec.Prog, "vers", rec.Vers, "netid", rec.Netid, "addr", rec.Addr, "err", err)
		case ok:
			s.svc.log.Info("server: removed the registration of a service that stopped answering", "prog", rec.Prog, "vers", rec.Vers, "netid", rec.Netid, "addr", rec.Addr, "owner", rec.Owner)
		}
	}
	for rec := range misses {
		if !seen[rec] {
			delete(misses, rec)
		}
	}
}

// answers reports whether the service of a registration answers a call to
// its NULL procedure. Any RPC reply counts, an error included (the program
// is there to say no); silence, a refused connection or an ICMP port
// unreachable do not. A registration this server cannot check (another
// host's address, a netid it does not know) counts as alive.
func (s *service) answers(ctx context.Context, rec portmap.RPCB) bool {
	network, addr, ok := s.pingTarget(rec)
	if !ok {
		return true
	}
	ctx, cancel := context.WithTimeout(ctx, pruneTimeout)
	defer cancel()
	c, err := rpc.Dial(ctx, network, addr, nil)
	if err == nil {
		defer c.Close()
		_, err = c.Call(ctx, rec.Prog, rec.Vers, nullProc, nil)
	}
	var e *rpc.Error
	if err == nil || !errors.As(err, &e) {
		return err == nil
	}
	switch e.Status {
	case rpc.VersMismatch, rpc.AuthError, rpc.ProgUnavail, rpc.ProgVersMismatch,
		rpc.ProcUnavail, rpc.CantDecodeArgs, rpc.CantDecodeRes:
		return true
	case rpc.SystemError:
		return e.Err == nil // a SYSTEM_ERR reply, not a failed connect
	}
	return false
}

// pingTarget returns where to call a registration's service: its address,
// with a wildcard host as this host's loopback address; only services on
// this host are checked.
func (s *service) pingTarget(rec portmap.RPCB) (network, addr string, ok bool) {
	n, known := portmap.LookupNetid(rec.Netid)
	if !known {
		return "", "", false
	}
	if n.IsLocal() {
		return "unix", rec.Addr, rec.Addr != ""
	}
	ap, err := portmap.ParseUaddr(n.Name, rec.Addr)
	if err != nil || ap.Port() == 0 {
		return "", "", false
	}
	a := ap.Addr()
	switch {
	case a.IsUnspecified() && a.Is4():
		a = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	case a.IsUnspecified():
		a = netip.IPv6Loopback()
	case !s.local.has(a):
		return "", "", false
	}
	return n.Proto, netip.AddrPortFrom(a, ap.Port()).String(), true
}
