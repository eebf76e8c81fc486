package rpc

import (
	"context"
	"sync"
)

// Mux is a [Handler] that dispatches calls by (program, version, procedure).
// A call to an unknown program is answered PROG_UNAVAIL; to a known program
// but unknown version, PROG_MISMATCH with the lowest and highest registered
// versions; to an unknown procedure, PROC_UNAVAIL. The zero value is an empty
// Mux ready to use; it is safe for concurrent use.
type Mux struct {
	mu    sync.RWMutex
	progs map[uint32]map[uint32]map[uint32]Handler // prog -> vers -> proc
}

// Handle registers h for procedure proc of version vers of program prog,
// replacing any earlier handler. It panics if h is nil.
func (m *Mux) Handle(prog, vers, proc uint32, h Handler) {
	if h == nil {
		panic("rpc: Mux.Handle with a nil handler")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.progs == nil {
		m.progs = make(map[uint32]map[uint32]map[uint32]Handler)
	}
	vs := m.progs[prog]
	if vs == nil {
		vs = make(map[uint32]map[uint32]Handler)
		m.progs[prog] = vs
	}
	ps := vs[vers]
	if ps == nil {
		ps = make(map[uint32]Handler)
		vs[vers] = ps
	}
	ps[proc] = h
}

// HandleFunc registers f as the handler of (prog, vers, proc).
func (m *Mux) HandleFunc(prog, vers, proc uint32, f func(ctx context.Context, req *Request, res []byte) ([]byte, error)) {
	m.Handle(prog, vers, proc, HandlerFunc(f))
}

// lookup returns the handler of h's procedure, or the error to answer.
func (m *Mux) lookup(h *CallHeader) (Handler, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	vs, ok := m.progs[h.Prog]
	if !ok {
		return nil, ErrProgUnavail
	}
	ps, ok := vs[h.Vers]
	if !ok {
		e := &Error{Status: ProgVersMismatch, Low: ^uint32(0)}
		for v := range vs {
			e.Low, e.High = min(e.Low, v), max(e.High, v)
		}
		return nil, e
	}
	hd, ok := ps[h.Proc]
	if !ok {
		return nil, ErrProcUnavail
	}
	return hd, nil
}

// ServeRPC dispatches req to the handler registered for it.
func (m *Mux) ServeRPC(ctx context.Context, req *Request, res []byte) ([]byte, error) {
	h, err := m.lookup(&req.Header)
	if err != nil {
		return nil, err
	}
	return h.ServeRPC(ctx, req, res)
}
