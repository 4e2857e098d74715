package pluginkit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tributary-gw/tributary/sdk/abi"
	"github.com/tributary-gw/tributary/wasmhost"
)

// DefaultBatch is how many inputs TestOptions sends per plugin call by default: the gateway's
// default flow.max_batch.
const DefaultBatch = 64

// DefaultRoute is the route name messages carry by default in `plugin test`.
const DefaultRoute = "test"

// TestOptions configures Test.
type TestOptions struct {
	// Config is the JSON object handed to the plugin's init. nil means "{}".
	Config []byte
	// Route is the route name the messages carry. Defaults to DefaultRoute.
	Route string
	// Limits bound the plugin instance, as a gateway would (CallTimeout is --timeout).
	Limits wasmhost.Limits
	// Batch is the number of inputs per plugin call. Defaults to DefaultBatch; 1 sends
	// them one by one.
	Batch int
	// Repeat runs all inputs this many times, for the timing. Defaults to 1.
	Repeat int
	// Now stamps inputs without arrived_at_ms. Defaults to time.Now.
	Now func() time.Time
}

// Report is the outcome of Test.
type Report struct {
	// Plugin is the plugin that ran.
	Plugin *wasmhost.Plugin
	// Inputs are the messages as sent, in order.
	Inputs []Input
	// Results holds one result per input, from the first run.
	Results []wasmhost.ChainResult
	// Outputs, Filtered and DeadLetters count the first run's outcomes: outputs produced,
	// inputs filtered out, inputs dead-lettered.
	Outputs, Filtered, DeadLetters int
	// Runs is how many times the inputs ran; Elapsed is the time spent in the plugin chain
	// over all runs.
	Runs    int
	Elapsed time.Duration
}

// NsPerMessage returns the average time per input message over all runs, in nanoseconds.
func (r *Report) NsPerMessage() float64 {
	n := r.Runs * len(r.Inputs)
	if n == 0 {
		return 0
	}
	return float64(r.Elapsed.Nanoseconds()) / float64(n)
}

// Test runs inputs through plugin exactly as a one-stage route of the gateway would: a
// wasmhost.Pool of one instance, initialised with opts.Config, behind a wasmhost.Chain, in
// batches of opts.Batch messages. A call that fails for a batch is retried message by message
// on a fresh instance (the chain's rule), so each failure lands on the message that caused it.
// The whole input set runs opts.Repeat times; results come from the first run. Test sets each
// input's Message.Route, and its ArrivedAtMs when zero, in place.
//
// # Errors
//
// Only a plugin that cannot be loaded is an error: instantiation failing, or init rejecting
// opts.Config (a *wasmhost.PluginError of Kind Rejected); and ctx ending. Messages that fail
// are reported in the Report as dead letters.
func Test(ctx context.Context, host *wasmhost.Host, plugin *wasmhost.Plugin, inputs []Input, opts TestOptions) (*Report, error) {
	if opts.Route == "" {
		opts.Route = DefaultRoute
	}
	if opts.Batch <= 0 {
		opts.Batch = DefaultBatch
	}
	if opts.Repeat <= 0 {
		opts.Repeat = 1
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	pool, err := wasmhost.NewPool(ctx, host, plugin, opts.Config, opts.Limits, 1)
	if err != nil {
		return nil, err
	}
	chain := wasmhost.NewChain([]*wasmhost.Pool{pool})
	defer chain.Close(context.WithoutCancel(ctx))

	now := opts.Now().UnixMilli()
	msgs := make([]abi.Message, len(inputs))
	for i, in := range inputs {
		msgs[i] = in.Message
		msgs[i].Route = opts.Route
		if msgs[i].ArrivedAtMs == 0 {
			msgs[i].ArrivedAtMs = now
		}
		inputs[i].Message = msgs[i]
	}
	rep := &Report{Plugin: plugin, Inputs: inputs, Results: make([]wasmhost.ChainResult, 0, len(msgs))}
	for run := 0; run < opts.Repeat; run++ {
		for start := 0; start < len(msgs); start += opts.Batch {
			batch := msgs[start:min(start+opts.Batch, len(msgs))]
			t0 := time.Now()
			res := chain.Process(ctx, batch)
			rep.Elapsed += time.Since(t0)
			if run == 0 {
				rep.Results = append(rep.Results, res...)
			}
		}
		rep.Runs++
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("plugin test of %s interrupted: %w", plugin.Name(), err)
		}
	}
	for _, r := range rep.Results {
		switch {
		case r.Err != nil:
			rep.DeadLetters++
		case len(r.Outputs) == 0:
			rep.Filtered++
		default:
			rep.Outputs += len(r.Outputs)
		}
	}
	return rep, nil
}

// Print writes the report for people: per input its outputs (payload, Kafka topic, key,
// headers), "filtered", or its dead letter (kind and error), then a summary line.
//
// Payloads and keys are printed as they are when they are printable UTF-8 on one line, Go-quoted
// otherwise. A Kafka topic or key the plugin did not set is shown as what the gateway uses then.
func (r *Report) Print(w io.Writer) {
	for i, in := range r.Inputs {
		res := r.Results[i]
		fmt.Fprintf(w, "#%d (line %d) %s %s: ", i+1, in.Line, in.Message.Topic, brief(in.Message.Payload))
		switch {
		case res.Err != nil:
			fmt.Fprintf(w, "dead letter\n    kind:  %s\n    error: %s\n", res.Err.Kind, cause(res.Err))
			continue
		case len(res.Outputs) == 0:
			fmt.Fprintln(w, "filtered")
			continue
		case len(res.Outputs) == 1:
			fmt.Fprintln(w, "1 output")
		default:
			fmt.Fprintf(w, "%d outputs\n", len(res.Outputs))
		}
		for j, o := range res.Outputs {
			topic := o.KafkaTopic
			if topic == "" {
				topic = "(the route's topic)"
			}
			key := "(the route's key, by default the MQTT topic)"
			if o.KeySet {
				key = printable(o.Key)
			}
			fmt.Fprintf(w, "  [%d] payload: %s\n      kafka topic: %s\n      key: %s\n", j, printable(o.Payload), topic, key)
			if len(o.Headers) == 0 {
				fmt.Fprintln(w, "      headers: none")
				continue
			}
			hs := make([]string, len(o.Headers))
			for k, h := range o.Headers {
				hs[k] = h.Name + "=" + printable([]byte(h.Value))
			}
			fmt.Fprintf(w, "      headers: %s\n", strings.Join(hs, " "))
		}
	}
	fmt.Fprintf(w, "summary: %d inputs, %d outputs, %d filtered, %d dead letters; %.0f ns/message (average over %d runs of %d messages)\n",
		len(r.Inputs), r.Outputs, r.Filtered, r.DeadLetters, r.NsPerMessage(), r.Runs, len(r.Inputs))
}

// cause returns the plugin error's own text without the "plugin NAME (VERSION) stage N:
// KIND:" prefix, which Print shows apart.
func cause(e *wasmhost.PluginError) string {
	if e.Err == nil {
		return e.Error()
	}
	var pe *wasmhost.PluginError
	if errors.As(e.Err, &pe) && pe != e {
		return pe.Error()
	}
	return e.Err.Error()
}

// brief returns printable(b), shortened to its first 80 bytes and its size when longer: the
// input's payload in a heading, where outputs matter more.
func brief(b []byte) string {
	const max = 80
	if len(b) <= max {
		return printable(b)
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(b[cut]) {
		cut--
	}
	return fmt.Sprintf("%s... (%d bytes)", printable(b[:cut]), len(b))
}

// printable returns b as is when it is non-empty printable UTF-8 without line breaks, and
// Go-quoted otherwise.
func printable(b []byte) string {
	if len(b) == 0 || !utf8.Valid(b) {
		return strconv.Quote(string(b))
	}
	for _, c := range string(b) {
		if !unicode.IsPrint(c) {
			return strconv.Quote(string(b))
		}
	}
	return string(b)
}
