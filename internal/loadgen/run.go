package loadgen

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portmap-toolkit/pmap/pkg/rpc"
)

// Run connects the clients, drives the port mapper until the first bound of
// cfg (or the end of ctx), and reports. It fails before any call for a bad
// configuration, a target outside the allowed networks, or a client that
// cannot connect; failures of calls are counted in the result instead.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	t, err := cfg.check()
	if err != nil {
		return nil, err
	}
	if t.Engine == EngineRaw {
		return runRaw(ctx, t)
	}
	return runRPC(ctx, t)
}

// budget hands out the calls of a run: take reports whether one more call
// may start, done records one that ended and reports whether all have.
type budget struct {
	left atomic.Int64 // calls not yet started
	open atomic.Int64 // calls not yet ended
}

func newBudget(n int64) *budget {
	b := &budget{}
	b.left.Store(n)
	b.open.Store(n)
	return b
}

func (b *budget) take() bool { return b.left.Add(-1) >= 0 }

// done records the end of a call and reports whether it was the last.
func (b *budget) done() bool { return b.open.Add(-1) == 0 }

// runRPC runs the clients as goroutines over pkg/rpc clients: Window
// goroutines share each client (and its socket).
func runRPC(ctx context.Context, t *target) (*Result, error) {
	dialCtx, cancelDial := context.WithTimeout(ctx, t.Timeout)
	defer cancelDial()
	// Never retransmit within a call: a lost call is a timeout.
	opts := &rpc.Options{Retransmit: t.Timeout + time.Second, MaxReply: MaxReply}
	clients := make([]*rpc.Client, 0, t.Clients)
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	for range t.Clients {
		c, err := rpc.Dial(dialCtx, t.Network, t.addr.String(), opts)
		if err != nil {
			return nil, err
		}
		clients = append(clients, c)
	}

	args := t.args()
	prog, vers, proc := uint32(100000), t.Vers, t.Proc.number()
	b := newBudget(t.count)
	runCtx, stop := context.WithTimeout(ctx, t.limit)
	defer stop()
	var allDone atomic.Bool
	workers := make([]stats, t.Clients*t.Window)
	var wg sync.WaitGroup
	start, cpu0 := time.Now(), cpuTime()
	for i := range workers {
		c, s := clients[i/t.Window], &workers[i]
		wg.Go(func() {
			for runCtx.Err() == nil && b.take() {
				callCtx, cancel := context.WithTimeout(runCtx, t.Timeout)
				sent := time.Now()
				res, err := c.Call(callCtx, prog, vers, proc, args)
				lat := time.Since(sent)
				cancel()
				switch {
				case err == nil:
					s.ok++
					s.hist.add(lat)
					s.replyBytes += int64(len(res)) + 24 // the reply header
					if t.isEmpty(res) {
						s.empty++
					}
					if s.answer == "" {
						s.answer = t.answer(res)
					}
				case runCtx.Err() != nil && errors.Is(err, rpc.ErrTimedOut):
					s.unfinished++
					continue // the run ended under it: not one of the counted calls
				case errors.Is(err, rpc.ErrTimedOut):
					s.timeouts++
				default:
					s.fail(err)
				}
				if b.done() {
					allDone.Store(true)
					stop()
				}
			}
		})
	}
	wg.Wait()
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	var total stats
	for i := range workers {
		total.merge(&workers[i])
	}
	why := StopDuration
	switch {
	case allDone.Load():
		why = StopCount
	case ctx.Err() != nil:
		why = StopContext
	}
	return t.result(&total, elapsed, cpu, why, 0), nil
}
