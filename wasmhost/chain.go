package wasmhost

import (
	"context"
	"errors"
	"slices"

	"github.com/tributary-gw/tributary/sdk/abi"
)

// ChainResult is the outcome of one input message of [Chain.Process].
//
// Exactly one of these holds: Err is set (the message goes to dead letters
// unchanged, and Outputs is nil); Outputs is empty (a stage filtered it
// out); Outputs holds what the last stage produced, in order.
type ChainResult struct {
	Outputs []abi.Message
	Err     *PluginError
}

// Chain runs a batch through ordered stages: stage k's outputs (see
// abi.Output.Apply) are stage k+1's inputs, all surviving messages of the
// batch in one call per stage.
//
// A Chain is safe for concurrent use; each Process call borrows one
// instance per stage at a time.
type Chain struct {
	stages []*Pool
}

// NewChain makes a chain of stages; a stage's index is its position, which
// is what PluginError.Stage and the Observer report. A Pool handle must
// belong to one chain stage only ([Pool.Share] makes another on the same
// instances). The chain owns the handles: Close closes them.
func NewChain(stages []*Pool) *Chain {
	for i, p := range stages {
		p.stage.Store(int32(i))
	}
	return &Chain{stages: append([]*Pool(nil), stages...)}
}

// Stages returns the chain's pools in order.
func (c *Chain) Stages() []*Pool { return append([]*Pool(nil), c.stages...) }

// Process runs batch through the chain and returns one result per input
// message, in input order. It never returns an error of its own: a failure
// is reported on the messages it concerns.
//
// A message a stage rejects, or whose call traps, times out, runs out of
// memory or breaks the ABI, gets Err with Stage set, and anything derived
// from it is dropped. When a call of several messages fails, each of them is
// retried alone on a fresh instance, so one poison message does not take its
// neighbours with it. When ctx ends, the remaining messages get an Err
// wrapping ctx's error (Kind Timeout): callers shutting down should test
// errors.Is(err, context.Canceled) and not dead-letter those.
//
// An empty chain returns each message unchanged as its only output. Outputs
// share Topic, Properties and unchanged fields with the input messages and
// own their Payload, Key and Headers.
func (c *Chain) Process(ctx context.Context, batch []abi.Message) []ChainResult {
	res := make([]ChainResult, len(batch))
	cur := batch
	origin := make([]int, len(batch))
	for i := range origin {
		origin[i] = i
	}
	for k, pool := range c.stages {
		if len(cur) == 0 {
			break
		}
		next := make([]abi.Message, 0, len(cur))
		nextOrigin := make([]int, 0, len(cur))
		c.runStage(ctx, k, pool, cur, origin, res, &next, &nextOrigin, true)
		// A message rejected at this stage drops its siblings' outputs too.
		keep := 0
		for i := range next {
			if res[nextOrigin[i]].Err == nil {
				next[keep], nextOrigin[keep] = next[i], nextOrigin[i]
				keep++
			}
		}
		cur, origin = next[:keep], nextOrigin[:keep]
	}
	if len(c.stages) == 0 {
		cur = slices.Clone(batch)
	}
	// Outputs of one input are contiguous in cur (stages keep input order):
	// hand each input its run of cur, without copying.
	for i := 0; i < len(cur); {
		j := i + 1
		for j < len(cur) && origin[j] == origin[i] {
			j++
		}
		if r := &res[origin[i]]; r.Err == nil {
			r.Outputs = cur[i:j:j]
		}
		i = j
	}
	return res
}

// runStage makes one call of stage k for cur (whose origins are origin) and
// appends the outputs to next. On a call failure of several messages it
// retries them one by one when isolate is set.
func (c *Chain) runStage(ctx context.Context, k int, pool *Pool, cur []abi.Message, origin []int,
	res []ChainResult, next *[]abi.Message, nextOrigin *[]int, isolate bool) {
	mark := len(*next)
	err := pool.Do(ctx, func(in *Instance) error {
		rs, err := in.Handle(ctx, cur)
		if err != nil {
			return err
		}
		arena := make([]byte, 0, len(in.out)) // outputs alias in.out: copy them
		keep := func(b []byte) []byte {
			start := len(arena)
			arena = append(arena, b...)
			return arena[start:len(arena):len(arena)]
		}
		for j, r := range rs {
			o := origin[j]
			if r.Failed {
				if res[o].Err == nil {
					res[o].Err = &PluginError{Plugin: pool.plugin.name, Version: pool.plugin.entry.hash,
						Stage: k, Kind: Rejected, Err: errRejected(r.Err)}
				}
				continue
			}
			for _, out := range r.Outputs {
				m := out.Apply(cur[j])
				if out.Flags&abi.PayloadUnchanged == 0 {
					m.Payload = keep(out.Payload)
				}
				if out.Flags&abi.SetKey != 0 {
					m.Key = keep(out.Key)
				}
				if out.Flags&abi.SetHeaders != 0 {
					m.Headers = append([]abi.Property(nil), out.Headers...)
				}
				*next = append(*next, m)
				*nextOrigin = append(*nextOrigin, o)
			}
		}
		return nil
	})
	if err == nil {
		return
	}
	*next, *nextOrigin = (*next)[:mark], (*nextOrigin)[:mark]
	pe, ok := AsPluginError(err)
	if !ok {
		pe = &PluginError{Plugin: pool.plugin.name, Version: pool.plugin.entry.hash, Kind: Timeout, Err: err}
		if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			pe.Kind = Trap // pool closed, or a replacement failed to start
		}
	}
	pe = pe.withStage(k)
	if isolate && len(cur) > 1 && ok && ctx.Err() == nil {
		for j := range cur {
			c.runStage(ctx, k, pool, cur[j:j+1], origin[j:j+1], res, next, nextOrigin, false)
		}
		return
	}
	for _, o := range origin {
		if res[o].Err == nil {
			res[o].Err = pe
		}
	}
}

// Close closes every stage's pool, waiting for borrowed instances until ctx
// is done, and returns the errors joined.
func (c *Chain) Close(ctx context.Context) error {
	var errs []error
	for _, p := range c.stages {
		errs = append(errs, p.Close(ctx))
	}
	return errors.Join(errs...)
}
