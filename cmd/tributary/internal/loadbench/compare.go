package loadbench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// SchemaComparison is what CompareSchema measured: the same run without a schema and with
// Options.Schema, in alternating rounds.
type SchemaComparison struct {
	// Schema is the format compared with raw values.
	Schema string `json:"schema"`
	// Mode is the runs' mode: backlog (drain figures) or rate (whole-window figures).
	Mode string `json:"mode"`
	// Without and With hold each round's result, in order.
	Without []*Result `json:"without_schema"`
	With    []*Result `json:"with_schema"`
	// CPUWithout and CPUWith are the medians of the gateway's CPU seconds per 100k messages
	// (the drain's own in backlog mode), RateWithout and RateWith of the drain rate (backlog)
	// or throughput (rate), in msg/s.
	CPUWithout  float64 `json:"cpu_seconds_per_100k_without"`
	CPUWith     float64 `json:"cpu_seconds_per_100k_with"`
	RateWithout float64 `json:"rate_msg_s_without"`
	RateWith    float64 `json:"rate_msg_s_with"`
	// EncodingMicros is the encoding's cost: (CPUWith - CPUWithout) in µs of CPU per message.
	EncodingMicros float64 `json:"encoding_cpu_us_per_message"`
}

// CompareSchema runs o rounds times without a schema and with o.Schema, alternating (without
// first), and compares the gateway's CPU per message. It needs a gateway subprocess (so that
// the CPU measured is the gateway's alone, not the bench's decoding) and mode backlog or rate.
// each, if not nil, is called after every run. A run that loses or duplicates messages is
// kept in the result and noted; an error of Run ends the comparison with the rounds so far.
func CompareSchema(ctx context.Context, o Options, rounds int, each func(round int, r *Result)) (*SchemaComparison, error) {
	if o.Schema == "" {
		return nil, errors.New("schema compare: no schema to compare with (--schema)")
	}
	if o.Gateway != GatewaySubprocess {
		return nil, fmt.Errorf("schema compare: gateway %s: want %s, so that the CPU measured is the gateway's alone", o.Gateway, GatewaySubprocess)
	}
	if o.Mode != ModeBacklog && o.Mode != ModeRate {
		return nil, fmt.Errorf("schema compare: mode %s: want %s or %s", o.Mode, ModeBacklog, ModeRate)
	}
	if rounds < 1 {
		return nil, fmt.Errorf("schema compare: rounds %d: want at least 1", rounds)
	}
	c := &SchemaComparison{Schema: o.Schema, Mode: o.Mode}
	for i := range rounds {
		for _, schema := range []string{"", o.Schema} {
			oo := o
			oo.Schema = schema
			r, err := Run(ctx, oo)
			if err != nil {
				c.summarise()
				return c, fmt.Errorf("schema compare round %d (schema %s): %w", i+1, orNone(schema), err)
			}
			if schema == "" {
				c.Without = append(c.Without, r)
			} else {
				c.With = append(c.With, r)
			}
			if each != nil {
				each(i, r)
			}
		}
	}
	c.summarise()
	return c, nil
}

func orNone(schema string) string {
	if schema == "" {
		return "none"
	}
	return schema
}

// figures returns r's CPU seconds per 100k messages and rate for the comparison.
func (c *SchemaComparison) figures(r *Result) (cpu, rate float64) {
	if c.Mode == ModeBacklog {
		return r.DrainCPUSecondsPer100k, r.DrainRate
	}
	return r.CPUSecondsPer100k, r.Throughput
}

func (c *SchemaComparison) summarise() {
	med := func(rs []*Result) (cpu, rate float64) {
		var cpus, rates []float64
		for _, r := range rs {
			c, r := c.figures(r)
			cpus, rates = append(cpus, c), append(rates, r)
		}
		return median(cpus), median(rates)
	}
	c.CPUWithout, c.RateWithout = med(c.Without)
	c.CPUWith, c.RateWith = med(c.With)
	// s per 100k messages to µs per message: x * 1e6 / 1e5.
	c.EncodingMicros = (c.CPUWith - c.CPUWithout) * 10
}

// WriteTable writes the comparison: each side's medians and rounds, any lost or duplicated
// messages, and the encoding's cost.
func (c *SchemaComparison) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	what, rate := "drain cpu", "drain rate"
	if c.Mode == ModeRate {
		what, rate = "cpu", "throughput"
	}
	var setup string
	if len(c.Without) > 0 {
		r := c.Without[0]
		setup = fmt.Sprintf("%s, QoS %d, %d topics, %d-byte payloads, %d messages per run, gateway %s", r.Mode, r.QoS, r.Topics, r.PayloadBytes, r.Published, r.Gateway)
	}
	fmt.Fprintf(tw, "run\t%s\n", setup)
	side := func(name string, rs []*Result, cpu, rt float64) {
		var cpus, rates, bad []string
		for i, r := range rs {
			cc, rr := c.figures(r)
			cpus, rates = append(cpus, fmt.Sprintf("%.3f", cc)), append(rates, fmt.Sprintf("%.0f", rr))
			if r.Lost > 0 || r.Duplicated > 0 || r.Foreign > 0 {
				bad = append(bad, fmt.Sprintf("round %d: %d lost, %d duplicated, %d foreign", i+1, r.Lost, r.Duplicated, r.Foreign))
			}
		}
		fmt.Fprintf(tw, "%s\t%s %.3f s per 100k messages, %s %.0f msg/s (medians of %d rounds; cpu %s; rate %s)\n",
			name, what, cpu, rate, rt, len(rs), strings.Join(cpus, " "), strings.Join(rates, " "))
		for _, b := range bad {
			fmt.Fprintf(tw, "note\t%s %s\n", name, b)
		}
	}
	side("no schema", c.Without, c.CPUWithout, c.RateWithout)
	label := c.Schema
	if len(c.With) > 0 && c.With[0].Schema != nil {
		label = fmt.Sprintf("%s (id %d)", c.Schema, c.With[0].Schema.ID)
	}
	side(label, c.With, c.CPUWith, c.RateWith)
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing the comparison table: %w", err)
	}
	_, err := fmt.Fprintf(w, "encoding cost: %+.2f µs CPU per message vs no schema (the gateway process's %s, medians)\n", c.EncodingMicros, what)
	return err
}
