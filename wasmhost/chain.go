package wasmhost

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

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
// Between stages the batch stays encoded: each output of stage k becomes a
// message of stage k+1's input frame by copying bytes (see handoff.go), and
// only the last stage's outputs are decoded.
//
// An empty chain returns each message unchanged as its only output. Outputs
// share with their input message Topic, Properties and every field no stage
// replaced (a Payload, Key or Headers no stage set is the input's own); the
// fields a stage set are the outputs' own.
func (c *Chain) Process(ctx context.Context, batch []abi.Message) []ChainResult {
	res := make([]ChainResult, len(batch))
	if len(c.stages) == 0 {
		outs := slices.Clone(batch)
		for i := range res {
			res[i].Outputs = outs[i : i+1 : i+1]
		}
		return res
	}
	s := scratchPool.Get().(*scratch)
	defer s.release()
	s.res, s.outs = res, outputs{batch: batch, msgs: make([]abi.Message, 0, len(batch))}
	s.cur.reset()
	for i := range batch {
		s.cur.appendMessage(&batch[i], i)
	}
	s.cur.finish()
	for k, pool := range c.stages {
		if len(s.cur.recs) == 0 {
			break
		}
		s.last = k == len(c.stages)-1
		s.failed = false
		s.next.reset()
		c.runStage(ctx, k, pool, &s.cur, s, true)
		if s.last {
			break
		}
		if s.failed { // a message rejected at this stage drops its siblings' outputs too
			s.next.keepIf(func(o int) bool { return res[o].Err == nil })
		}
		s.next.finish()
		s.cur, s.next = s.next, s.cur
	}
	// Outputs of one input are contiguous (stages keep input order): hand
	// each input its run of them, without copying.
	outs, origin := s.outs.msgs, s.outs.origin
	for i := 0; i < len(outs); {
		j := i + 1
		for j < len(outs) && origin[j] == origin[i] {
			j++
		}
		if r := &res[origin[i]]; r.Err == nil {
			r.Outputs = outs[i:j:j]
		}
		i = j
	}
	return res
}

// scratch is the working memory of one Process call: two frames used in
// turn as a stage's input and the next one's, a frame for retrying one
// message, the last stage's outputs and the results.
type scratch struct {
	cur, next, one frame
	outs           outputs
	res            []ChainResult
	rejected       [][2]int // of a call: the record of cur and the error field of each rejection
	last           bool     // the stage running is the chain's last
	failed         bool     // a message failed at the stage running
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// release returns s to the pool, dropping what it must not keep: the
// results and outputs (the caller's) and frames grown beyond reason.
func (s *scratch) release() {
	s.res, s.outs = nil, outputs{}
	for _, f := range []*frame{&s.cur, &s.next, &s.one} {
		if cap(f.b) > maxScratchFrame {
			*f = frame{}
		}
	}
	scratchPool.Put(s)
}

// maxScratchFrame bounds the frame memory a pooled scratch keeps.
const maxScratchFrame = 1 << 20

// runStage makes one call of stage k for the messages of cur and appends
// their outputs to s.next, or to s.outs at the last stage. On a call
// failure of several messages it retries them one by one when isolate is
// set.
func (c *Chain) runStage(ctx context.Context, k int, pool *Pool, cur *frame, s *scratch, isolate bool) {
	markB, markRecs, markOuts := len(s.next.b), len(s.next.recs), len(s.outs.msgs)
	err := pool.Do(ctx, func(in *Instance) error {
		return in.handleFrame(ctx, cur.b, len(cur.recs), func(out []byte) error {
			return s.handOff(in, k, cur, out)
		})
	})
	if err == nil {
		return
	}
	s.next.b, s.next.recs = s.next.b[:markB], s.next.recs[:markRecs]
	s.outs.truncate(markOuts)
	pe, ok := AsPluginError(err)
	if !ok {
		pe = &PluginError{Plugin: pool.plugin.name, Version: pool.plugin.entry.hash, Kind: Timeout, Err: err}
		if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			pe.Kind = Trap // pool closed, or a replacement failed to start
		}
	}
	pe = pe.withStage(k)
	if isolate && len(cur.recs) > 1 && ok && ctx.Err() == nil {
		for j := range cur.recs {
			s.one.single(cur, j)
			c.runStage(ctx, k, pool, &s.one, s, false)
		}
		return
	}
	for _, r := range cur.recs {
		if s.res[r.origin].Err == nil {
			s.res[r.origin].Err = pe
			s.failed = true
		}
	}
}

// handOff reads the result frame res of stage k for the messages of cur,
// in guest memory, and appends each output to s.next (or s.outs at the last
// stage). A malformed frame appends nothing and returns the BadResult error
// abi.DecodeResults gives for it.
func (s *scratch) handOff(in *Instance, k int, cur *frame, res []byte) error {
	if !s.scan(cur, res, in.lim.MaxFanOut) {
		_, err := abi.DecodeResults(res, len(cur.recs), in.lim.MaxFanOut, nil)
		if err == nil { // cannot happen: both follow ABI.md §4
			err = fmt.Errorf("%w: refused by the host's check", abi.ErrMalformed)
		}
		return in.fail(BadResult, err)
	}
	for _, rj := range s.rejected {
		s.reject(in, k, cur.recs[rj[0]].origin, fieldBytes(res, rj[1]))
	}
	return nil
}

// scan reads the result frame res for the messages of cur, accepting what
// abi.DecodeResults accepts, appends each output to s.next (or s.outs at
// the last stage) and lists the rejections in s.rejected. It reports false
// for a malformed frame, having appended nothing.
func (s *scratch) scan(cur *frame, res []byte, maxFanOut int) bool {
	markB, markRecs, markOuts := len(s.next.b), len(s.next.recs), len(s.outs.msgs)
	s.rejected = s.rejected[:0]
	rd := resultReader{b: res}
	ok := rd.header(len(cur.recs))
	for j := 0; ok && j < len(cur.recs); j++ {
		var status byte
		if status, ok = rd.u8(); !ok {
			break
		}
		switch status {
		case 0:
			var n int
			if n, ok = rd.count(1); !ok || (maxFanOut > 0 && n > maxFanOut) {
				ok = false
				break
			}
			r := &cur.recs[j]
			for range n {
				var o output
				if ok = rd.output(&o); !ok {
					break
				}
				if s.last {
					s.outs.add(cur, r, res, &o)
				} else {
					s.next.appendOutput(cur, r, res, &o)
				}
			}
		case 1:
			var f [2]int
			if f, ok = rd.field(); ok {
				s.rejected = append(s.rejected, [2]int{j, f[0]})
			}
		default:
			ok = false
		}
	}
	if !ok || !rd.done() {
		s.next.b, s.next.recs = s.next.b[:markB], s.next.recs[:markRecs]
		s.outs.truncate(markOuts)
		s.rejected = s.rejected[:0]
		return false
	}
	return true
}

// reject records the guest's rejection of a message of origin.
func (s *scratch) reject(in *Instance, k int, origin int, text []byte) {
	if s.res[origin].Err == nil {
		s.res[origin].Err = &PluginError{Plugin: in.plugin.name, Version: in.plugin.entry.hash,
			Stage: k, Kind: Rejected, Err: errRejected(text)}
		s.failed = true
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
