package flow

import (
	"context"
	"errors"
	"fmt"

	"github.com/tributary-gw/tributary/gateway/internal/kafkasink"
	"github.com/tributary-gw/tributary/sdk/abi"
	"github.com/tributary-gw/tributary/wasmhost"
)

// Sink is where a shard hands each message's outputs and dead letters (a *kafkasink.Sink).
// Each call adds the records it takes to m.Delivery before it returns; it may block while the
// producer's buffer is full, which is backpressure too.
type Sink interface {
	Produce(ctx context.Context, r *kafkasink.Route, m *kafkasink.Message, o *kafkasink.Output)
	DeadLetter(ctx context.Context, r *kafkasink.Route, m *kafkasink.Message, why *kafkasink.Reason)
	// DeadLetterOversized dead-letters m when its payload is over the route's
	// limits.max_message_bytes and reports whether it did.
	DeadLetterOversized(ctx context.Context, r *kafkasink.Route, m *kafkasink.Message) bool
}

var _ Sink = (*kafkasink.Sink)(nil)

// shard is one ordered worker of a flow: the messages of the MQTT topics that hash to it, in
// arrival order, processed in batches of what is ready, up to maxBatch. Only its own goroutine
// (run) reads its queue and touches chained.
type shard struct {
	in       chan *message // closed by Flow.CloseIntake under the write side of intakeMu
	maxBatch int
	sink     Sink
	calls    context.Context // plugin calls run under it (Config.Calls)
	chained  []chainBatch    // reused by process
}

// chainBatch gathers one route's messages of a shard batch for one call of its chain.
type chainBatch struct {
	r    *Route
	msgs []*message
}

// run processes the shard's messages in arrival order, in batches of what is ready, until its
// queue is closed and empty.
func (s *shard) run() {
	batch := make([]*message, 0, s.maxBatch)
	for m := range s.in {
		batch = append(batch[:0], m)
	fill:
		for len(batch) < s.maxBatch {
			select {
			case m, ok := <-s.in:
				if !ok {
					break fill
				}
				batch = append(batch, m)
			default:
				break fill
			}
		}
		s.process(batch)
		clear(batch)
	}
}

// process sends a batch of the shard's messages through their routes. Routes without plugins
// produce at once; each route with a chain gets the batch's messages in one Process call.
// Either way one topic's messages keep their order on every route.
func (s *shard) process(batch []*message) {
	ctx := context.Background()
	chained := s.chained[:0]
	for _, m := range batch {
		for _, r := range m.routes {
			r.In.Add(1)
			if s.sink.DeadLetterOversized(ctx, r.Sink, &m.Message) {
				m.delivery.Done() // the route's token
				r.active.Add(-1)
				continue
			}
			if r.Chain == nil {
				s.sink.Produce(ctx, r.Sink, &m.Message, &kafkasink.Output{Payload: m.Payload})
				m.delivery.Done() // the route's token
				r.active.Add(-1)
				continue
			}
			i := 0
			for i < len(chained) && chained[i].r != r {
				i++
			}
			if i == len(chained) {
				chained = append(chained, chainBatch{r: r})
			}
			chained[i].msgs = append(chained[i].msgs, m)
		}
	}
	for _, cb := range chained {
		s.runChain(ctx, cb.r, cb.msgs)
	}
	clear(chained) // drop the references to this batch's routes and messages
	s.chained = chained
}

// runChain sends one shard's messages of route r through its plugin chain and produces the
// results in order: outputs as records, rejections and failures as dead letters.
func (s *shard) runChain(ctx context.Context, r *Route, msgs []*message) {
	in := make([]abi.Message, len(msgs))
	for i, m := range msgs {
		in[i] = m.abiMessage(r)
	}
	results := r.Chain.Process(s.calls, in)
	for i, res := range results {
		m := msgs[i]
		switch {
		case res.Err != nil && s.calls.Err() != nil && errors.Is(res.Err, context.Canceled):
			// Stopped by a drain that ran out of time: not the plugin's fault and not
			// acknowledged, so the broker redelivers the message to the next session.
			continue
		case res.Err != nil:
			s.sink.DeadLetter(ctx, r.Sink, &m.Message, pluginReason(res.Err))
		case len(res.Outputs) == 0:
			r.Filtered.Add(1)
		default:
			for j := range res.Outputs {
				o := kafkasink.OutputOf(&res.Outputs[j])
				s.sink.Produce(ctx, r.Sink, &m.Message, &o)
			}
		}
		m.delivery.Done() // the route's token
	}
	r.active.Add(-int64(len(msgs)))
}

// pluginReason is the dead-letter reason for a plugin failure.
func pluginReason(e *wasmhost.PluginError) *kafkasink.Reason {
	return &kafkasink.Reason{Kind: e.Kind.String(), Err: fmt.Sprint(e.Err), Stage: e.Stage,
		Plugin: e.Plugin, Version: e.Version}
}
