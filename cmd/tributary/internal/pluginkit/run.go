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

// Automatic warm-up and timing (TestOptions.Warmup and Repeat left at 0): the warm-up runs
// the inputs until autoWarmupMessages have gone through, the timing until both
// autoTimedMessages and autoTimedFor are reached, or autoTimedMax has passed.
const (
	autoWarmupMessages = 1000
	autoTimedMessages  = 10000
	autoTimedFor       = 200 * time.Millisecond
	autoTimedMax       = 5 * time.Second
)

// TestOptions configures Test.
type TestOptions struct {
	// Config is the JSON object handed to the plugin's init. nil means "{}".
	Config []byte
	// Route is the route name the messages carry. Defaults to DefaultRoute.
	Route string
	// Limits bound the plugin instance, as a gateway would (CallTimeout is --call-timeout).
	Limits wasmhost.Limits
	// MaxMessageBytes dead-letters inputs whose payload is larger, with kind
	// message_too_large, before the plugin sees them, as a tenant's limits.max_message_bytes
	// does. 0 means no cap.
	MaxMessageBytes int
	// Batch is the number of inputs per plugin call. Defaults to DefaultBatch; 1 sends
	// them one by one.
	Batch int
	// Warmup runs all inputs this many times after the first run, untimed, so that the
	// timing sees a warmed instance. 0 means enough runs for 1000 messages (at least one).
	Warmup int
	// Repeat times this many runs of all inputs after the warm-up. 0 means automatic: runs
	// until 10000 messages and 200 ms, or 5 s, have passed.
	Repeat int
	// Logs, when set, records the plugin's log lines of the first run and counts those of
	// the warm-up and timed runs (see LogCapture). The host running the plugin must log
	// through it.
	Logs *LogCapture
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
	// TooLarge marks the inputs dead-lettered as message_too_large (TestOptions.MaxMessageBytes)
	// without running the plugin; their Results entry is empty.
	TooLarge []bool
	// Outputs, Filtered and DeadLetters count the first run's outcomes: outputs produced,
	// inputs filtered out, inputs dead-lettered.
	Outputs, Filtered, DeadLetters int
	// StartUp is the time to instantiate the module and run its init (the compile time is
	// the Plugin's CompileTime).
	StartUp time.Duration
	// FirstRun is the time the first run of the inputs spent in the plugin chain: a cold
	// instance, whose first calls also grow its memory.
	FirstRun time.Duration
	// WarmupRuns is how many untimed runs of the inputs (TimedMessages of them) followed the
	// first.
	WarmupRuns int
	// Batch is the number of inputs per plugin call.
	Batch int
	// TimedMessages is how many inputs the warm-up and timed runs send: those the first run
	// did not dead-letter.
	TimedMessages int
	// Runs is how many timed runs of those inputs followed the warm-up; Elapsed is the time
	// they spent in the plugin chain.
	Runs    int
	Elapsed time.Duration
	// Logs are the plugin's log lines of the first run, when TestOptions.Logs was set;
	// LaterLogLines counts those of the warm-up and timed runs, which are not kept.
	Logs          []LogLine
	LaterLogLines int
}

// sent returns how many inputs reach the plugin in one run.
func (r *Report) sent() int {
	n := len(r.Inputs)
	for _, tl := range r.TooLarge {
		if tl {
			n--
		}
	}
	return n
}

// NsPerMessage returns the average time per input message over the timed runs (after the
// warm-up), in nanoseconds.
func (r *Report) NsPerMessage() float64 {
	n := r.Runs * r.TimedMessages
	if n == 0 {
		return 0
	}
	return float64(r.Elapsed.Nanoseconds()) / float64(n)
}

// FirstRunNsPerMessage returns the average time per input message of the first, cold run,
// in nanoseconds.
func (r *Report) FirstRunNsPerMessage() float64 {
	n := r.sent()
	if n == 0 {
		return 0
	}
	return float64(r.FirstRun.Nanoseconds()) / float64(n)
}

// Test runs inputs through plugin exactly as a one-stage route of the gateway would: a
// wasmhost.Pool of one instance, initialised with opts.Config, behind a wasmhost.Chain, in
// batches of opts.Batch messages. A call that fails for a batch is retried message by message
// on a fresh instance (the chain's rule), so each failure lands on the message that caused it.
//
// The inputs run once for the results (the first run, also timed as a cold instance), then
// opts.Warmup times untimed, then opts.Repeat times timed: NsPerMessage is what a warmed
// instance costs per message, without start-up (Report.StartUp) or compilation. Test sets
// each input's Message.Route, and its ArrivedAtMs when zero, in place.
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
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logs != nil {
		opts.Logs.record()
		defer opts.Logs.discard()
	}
	t0 := time.Now()
	pool, err := wasmhost.NewPool(ctx, host, plugin, opts.Config, opts.Limits, 1)
	if err != nil {
		return nil, err
	}
	startUp := time.Since(t0)
	chain := wasmhost.NewChain([]*wasmhost.Pool{pool})
	defer chain.Close(context.WithoutCancel(ctx))

	now := opts.Now().UnixMilli()
	rep := &Report{Plugin: plugin, Inputs: inputs, StartUp: startUp, Batch: opts.Batch, TooLarge: make([]bool, len(inputs))}
	msgs := make([]abi.Message, 0, len(inputs))
	for i := range inputs {
		m := &inputs[i].Message
		m.Route = opts.Route
		if m.ArrivedAtMs == 0 {
			m.ArrivedAtMs = now
		}
		if opts.MaxMessageBytes > 0 && len(m.Payload) > opts.MaxMessageBytes {
			rep.TooLarge[i] = true
			continue
		}
		msgs = append(msgs, *m)
	}
	run := func(msgs []abi.Message, keep bool) (time.Duration, error) {
		var spent time.Duration
		for start := 0; start < len(msgs); start += opts.Batch {
			batch := msgs[start:min(start+opts.Batch, len(msgs))]
			t0 := time.Now()
			res := chain.Process(ctx, batch)
			spent += time.Since(t0)
			if keep {
				rep.Results = append(rep.Results, res...)
			}
		}
		if err := ctx.Err(); err != nil {
			return spent, fmt.Errorf("plugin test of %s interrupted: %w", plugin.Name(), err)
		}
		return spent, nil
	}
	if rep.FirstRun, err = run(msgs, true); err != nil {
		return nil, err
	}
	if opts.Logs != nil {
		rep.Logs = opts.Logs.endFirstRun()
	}
	// Spread the first run's results over the inputs, leaving the too large ones empty. The
	// later runs leave out the messages that dead-lettered: each would cost a new instance (or
	// a whole call_timeout), which is no part of what a message costs a serving route.
	results := make([]wasmhost.ChainResult, len(inputs))
	var timed []abi.Message
	for i, j := 0, 0; i < len(inputs); i++ {
		if !rep.TooLarge[i] {
			results[i] = rep.Results[j]
			if results[i].Err == nil {
				timed = append(timed, msgs[j])
			}
			j++
		}
	}
	rep.Results, rep.TimedMessages = results, len(timed)
	if len(timed) > 0 {
		warmup := opts.Warmup
		if warmup <= 0 {
			warmup = max(1, autoWarmupMessages/len(timed))
		}
		for ; rep.WarmupRuns < warmup; rep.WarmupRuns++ {
			if _, err := run(timed, false); err != nil {
				return nil, err
			}
		}
		begin := time.Now()
		for {
			if opts.Repeat > 0 && rep.Runs >= opts.Repeat {
				break
			}
			if opts.Repeat <= 0 && rep.Runs > 0 {
				done := rep.Runs * len(timed)
				if done >= autoTimedMessages && rep.Elapsed >= autoTimedFor || time.Since(begin) >= autoTimedMax {
					break
				}
			}
			spent, err := run(timed, false)
			if err != nil {
				return nil, err
			}
			rep.Elapsed += spent
			rep.Runs++
		}
	}
	if opts.Logs != nil {
		rep.LaterLogLines = opts.Logs.Later()
	}
	for i, r := range rep.Results {
		switch {
		case rep.TooLarge[i], r.Err != nil:
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
// headers), "filtered", or its dead letter (kind and error); the plugin's log lines of the
// first run, at every level; a summary line; then the timing: start-up, the first (cold) run
// and a warmed instance, per message.
//
// Payloads and keys are printed as they are when they are printable UTF-8 on one line, Go-quoted
// otherwise. A Kafka topic or key the plugin did not set is shown as what the gateway uses then.
func (r *Report) Print(w io.Writer) {
	for i, in := range r.Inputs {
		res := r.Results[i]
		fmt.Fprintf(w, "#%d (line %d) %s %s: ", i+1, in.Line, in.Message.Topic, brief(in.Message.Payload))
		switch {
		case r.TooLarge != nil && r.TooLarge[i]:
			fmt.Fprintf(w, "dead letter\n    kind:  message_too_large\n    error: payload of %d bytes exceeds --max-message-bytes\n", len(in.Message.Payload))
			continue
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
	if len(r.Logs) > 0 {
		fmt.Fprintf(w, "plugin log (first run, every level):\n")
		for _, l := range r.Logs {
			if l.Dropped > 0 {
				fmt.Fprintf(w, "  (%d lines dropped by the host's rate limit: bursts of 100, then 50 a second)\n", l.Dropped)
			}
			src := ""
			if l.Source != "log" && l.Source != "" {
				src = " [" + l.Source + "]"
			}
			fmt.Fprintf(w, "  %-5s%s %s\n", l.Level, src, l.Line)
		}
		if r.LaterLogLines > 0 {
			fmt.Fprintf(w, "  (the warm-up and timed runs logged %d more lines that passed the rate limit; not shown)\n", r.LaterLogLines)
		}
	}
	fmt.Fprintf(w, "summary: %d inputs, %d outputs, %d filtered, %d dead letters\n",
		len(r.Inputs), r.Outputs, r.Filtered, r.DeadLetters)
	fmt.Fprintf(w, "timing:\n")
	if r.Plugin != nil {
		fmt.Fprintf(w, "  compile    %s (or load from the compile cache)\n", roundDuration(r.Plugin.CompileTime()))
	}
	fmt.Fprintf(w, "  start-up   %s (instantiate the module, run its init)\n", roundDuration(r.StartUp))
	fmt.Fprintf(w, "  first run  %s/message (cold instance, %d messages)\n", perMessage(r.FirstRunNsPerMessage()), r.sent())
	if r.Runs > 0 {
		ns := r.NsPerMessage()
		fmt.Fprintf(w, "  warmed     %s/message, %.0f messages/s (average over %d runs of %d messages after %d warm-up runs)\n",
			perMessage(ns), 1e9/ns, r.Runs, r.TimedMessages, r.WarmupRuns)
		if r.TimedMessages < r.sent() {
			fmt.Fprintf(w, "  (the warm-up and timed runs leave out the %d messages that dead-lettered)\n", r.sent()-r.TimedMessages)
		}
		if n := r.TimedMessages; n < r.Batch && n < DefaultBatch {
			fmt.Fprintf(w, "  (%d messages make calls of %d; a busy route calls with up to %d (flow.max_batch), sharing\n"+
				"   each call's cost among more: repeat lines in --input to see it)\n", n, n, min(r.Batch, DefaultBatch))
		}
	}
}

// roundDuration rounds d to about 3 or 4 significant digits for printing.
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= 100*time.Millisecond:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// perMessage formats a time in nanoseconds as ns, µs or ms with about 3 significant digits.
func perMessage(ns float64) string {
	v, unit := ns, "ns"
	switch {
	case ns >= 1e6:
		v, unit = ns/1e6, "ms"
	case ns >= 1e3:
		v, unit = ns/1e3, "µs"
	}
	switch {
	case v < 10 && unit != "ns":
		return fmt.Sprintf("%.2f %s", v, unit)
	case v < 100 && unit != "ns":
		return fmt.Sprintf("%.1f %s", v, unit)
	}
	return fmt.Sprintf("%.0f %s", v, unit)
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
