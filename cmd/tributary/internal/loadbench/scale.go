package loadbench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// ModeScale runs a series of points, each a Run of PointMode (backlog by default) with one
// dimension (routes, topics, tenants, chain length, payload size) changed from a baseline, or
// every combination; see RunScale.
const ModeScale = "scale"

// Dimensions are the dimensions a scale run varies, in the order RunScale varies them.
var Dimensions = []string{"routes", "topics", "tenants", "chain", "payload"}

// Point is one scaling point: the value of each dimension.
type Point struct {
	Routes  int `json:"routes"`
	Topics  int `json:"topics"`
	Tenants int `json:"tenants"`
	Chain   int `json:"chain"`
	Payload int `json:"payload_bytes"`
}

// get returns the value of dimension dim.
func (p *Point) get(dim string) int { return *p.field(dim) }

func (p *Point) field(dim string) *int {
	switch dim {
	case "routes":
		return &p.Routes
	case "topics":
		return &p.Topics
	case "tenants":
		return &p.Tenants
	case "chain":
		return &p.Chain
	}
	return &p.Payload
}

// String names the point, e.g. "routes 1000, topics 1000, tenants 0, chain 0, payload 180".
func (p Point) String() string {
	var parts []string
	for _, d := range Dimensions {
		parts = append(parts, d+" "+strconv.Itoa(p.get(d)))
	}
	return strings.Join(parts, ", ")
}

// ScaleOptions configures RunScale.
type ScaleOptions struct {
	// Base is every point's options: broker, Kafka, gateway (GatewaySubprocess), count,
	// QoS, publishers, settle, timeout (per point). Each point sets Mode to PointMode and its
	// Routes, Topics, Tenants, FirstPartyChain and PayloadBytes.
	Base Options
	// PointMode is ModeBacklog (default: each point drains a backlog of Base.Count
	// messages) or ModeRate (each point publishes Base.Rate msg/s for Base.Duration, for
	// latency).
	PointMode string
	// Values lists, per dimension (a name of Dimensions), the values to run; the first is
	// the baseline's. A dimension without values keeps Base's.
	Values map[string][]int
	// Grid runs every combination of the values instead of one dimension at a time.
	Grid bool
	// Rounds runs every point this many times, the points in turn, and reports medians.
	// Defaults to 1.
	Rounds int
	// Progress receives a line per point run; nil shows none. ProgressTTY also shows each
	// run's own progress line.
	Progress    io.Writer
	ProgressTTY bool
}

// ScaleRow is what one point measured, over its rounds.
type ScaleRow struct {
	Point Point `json:"point"`
	// Varied names the dimension changed from the baseline: "" for the baseline, "grid" in a
	// grid.
	Varied string `json:"varied"`
	// Rate is the drain rate (backlog points: first record to last) or the throughput (rate
	// points), in messages per second; the median of the rounds, with their lowest and
	// highest.
	Rate    float64 `json:"rate_msg_s"`
	RateMin float64 `json:"rate_min_msg_s"`
	RateMax float64 `json:"rate_max_msg_s"`
	// CPUPer100k is the gateway's CPU seconds per 100k messages (backlog: from the first
	// record to the last), median of the rounds.
	CPUPer100k float64 `json:"cpu_seconds_per_100k"`
	// StartSeconds is the median time from the gateway's start to the first record (backlog
	// points): loading the configuration, compiling plugins, connecting, subscribing.
	StartSeconds float64 `json:"start_seconds,omitempty"`
	// PeakRSSBytes is the highest peak resident set (VmHWM) of the gateway process over the
	// rounds.
	PeakRSSBytes int64 `json:"peak_rss_bytes"`
	// P99Ms is the p99 publish-to-Kafka latency (rate points only), median of the rounds.
	P99Ms float64 `json:"p99_ms,omitempty"`
	// RateRatio and CPURatio compare Rate and CPUPer100k with the baseline's.
	RateRatio float64 `json:"rate_ratio"`
	CPURatio  float64 `json:"cpu_ratio"`
	// Lost and Duplicated add up over the rounds.
	Lost       int64 `json:"lost"`
	Duplicated int64 `json:"duplicated"`
	// Results are the rounds' full results.
	Results []*Result `json:"results"`
}

// ScaleResult is what RunScale measured: a row per point, the baseline first.
type ScaleResult struct {
	PointMode  string  `json:"point_mode"`
	Count      int64   `json:"count,omitempty"`
	Rate       float64 `json:"rate,omitempty"`
	Duration   string  `json:"duration,omitempty"`
	QoS        int     `json:"qos"`
	Publishers int     `json:"publishers"`
	Rounds     int     `json:"rounds"`
	Grid       bool    `json:"grid"`
	Broker     string  `json:"broker"`
	// Schema is the to.value_schema format every point's routes encode with; "" for none.
	Schema string     `json:"schema,omitempty"`
	Rows   []ScaleRow `json:"rows"`
	// Complete is false when the run stopped (Ctrl-C, an error) before every point ran.
	Complete bool `json:"complete"`
}

// ScalePoints returns the points so would run, the baseline first, and what each varies.
func ScalePoints(so ScaleOptions) ([]Point, []string) {
	b := so.Base
	base := Point{Routes: b.Routes, Topics: b.Topics, Tenants: b.Tenants, Chain: b.FirstPartyChain, Payload: b.PayloadBytes}
	for _, d := range Dimensions {
		if v := so.Values[d]; len(v) > 0 {
			*base.field(d) = v[0]
		}
	}
	points, varied := []Point{base}, []string{""}
	if so.Grid {
		points = []Point{{}}
		for _, d := range Dimensions {
			vals := so.Values[d]
			if len(vals) == 0 {
				vals = []int{base.get(d)}
			}
			var next []Point
			for _, p := range points {
				for _, v := range vals {
					q := p
					*q.field(d) = v
					if !slices.Contains(next, q) {
						next = append(next, q)
					}
				}
			}
			points = next
		}
		varied = make([]string, len(points))
		for i := 1; i < len(points); i++ {
			varied[i] = "grid"
		}
		return points, varied
	}
	for _, d := range Dimensions {
		for _, v := range so.Values[d] {
			p := base
			*p.field(d) = v
			if !slices.Contains(points, p) {
				points, varied = append(points, p), append(varied, d)
			}
		}
	}
	return points, varied
}

// pointOptions returns the options of one run of point p.
func (so *ScaleOptions) pointOptions(p Point) Options {
	o := so.Base
	o.Mode = so.PointMode
	o.Routes, o.Topics, o.Tenants, o.FirstPartyChain, o.PayloadBytes = p.Routes, p.Topics, p.Tenants, p.Chain, p.Payload
	o.Progress = nil
	if so.ProgressTTY {
		o.Progress, o.ProgressTTY = so.Progress, true
	}
	return o
}

// Check reports every invalid option, checking each point's options.
func (so *ScaleOptions) Check() error {
	var errs []error
	if so.PointMode != ModeBacklog && so.PointMode != ModeRate {
		errs = append(errs, fmt.Errorf("point mode %q: want %s or %s", so.PointMode, ModeBacklog, ModeRate))
	}
	if so.Base.Gateway != GatewaySubprocess {
		errs = append(errs, errors.New("gateway: mode scale runs the gateway as a subprocess, to measure its CPU and memory alone"))
	}
	if so.Rounds < 1 {
		errs = append(errs, fmt.Errorf("rounds %d: want at least 1", so.Rounds))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	points, _ := ScalePoints(*so)
	for _, p := range points {
		o := so.pointOptions(p)
		if err := o.Check(); err != nil {
			return fmt.Errorf("point %s: %w", p, err)
		}
	}
	return nil
}

// RunScale runs every point of so (ScalePoints) Rounds times, each a Run of its own (its own
// broker, Kafka and gateway subprocess), and returns a row per point with the medians and
// the ratios to the baseline (the first point). When ctx ends or a run fails, it returns the
// rows measured so far (Complete false) with the error.
func RunScale(ctx context.Context, so ScaleOptions) (*ScaleResult, error) {
	if so.PointMode == "" {
		so.PointMode = ModeBacklog
	}
	if so.Rounds == 0 {
		so.Rounds = 1
	}
	if err := so.Check(); err != nil {
		return nil, err
	}
	points, varied := ScalePoints(so)
	res := &ScaleResult{PointMode: so.PointMode, QoS: int(so.Base.QoS), Publishers: so.Base.Publishers, Schema: so.Base.Schema,
		Rounds: so.Rounds, Grid: so.Grid}
	if so.PointMode == ModeBacklog {
		res.Count = so.Base.Count
	} else {
		res.Rate, res.Duration = so.Base.Rate, so.Base.Duration.String()
	}
	rows := make([]ScaleRow, len(points))
	for i, p := range points {
		rows[i] = ScaleRow{Point: p, Varied: varied[i]}
	}
	progress := so.Progress
	if progress == nil {
		progress = io.Discard
	}
	if slices.ContainsFunc(points, func(p Point) bool { return p.Chain > 0 }) {
		// Build the chain's plugins once, with their progress shown, before the first point.
		dir, err := buildFirstParty(ctx, so.Base.PluginCache, progress)
		if err != nil {
			return nil, err
		}
		so.Base.PluginCache = dir
	}
	total, n := len(points)*so.Rounds, 0
	finish := func(err error) (*ScaleResult, error) {
		res.Complete = err == nil
		for i := range rows {
			if len(rows[i].Results) > 0 {
				rows[i].summarize(so.PointMode)
			}
		}
		for i := range rows {
			if len(rows[i].Results) > 0 {
				res.Rows = append(res.Rows, rows[i])
			}
		}
		if len(res.Rows) > 0 && len(rows[0].Results) > 0 {
			base := rows[0]
			for i := range res.Rows {
				r := &res.Rows[i]
				if base.Rate > 0 {
					r.RateRatio = r.Rate / base.Rate
				}
				if base.CPUPer100k > 0 {
					r.CPURatio = r.CPUPer100k / base.CPUPer100k
				}
			}
		}
		return res, err
	}
	for round := range so.Rounds {
		for i, p := range points {
			n++
			start := time.Now()
			fmt.Fprintf(progress, "point %d/%d: %s%s ...\n", n, total, p, roundText(round, so.Rounds))
			r, err := Run(ctx, so.pointOptions(p))
			if err != nil {
				if ctx.Err() != nil {
					err = fmt.Errorf("stopped at point %s: %w", p, err)
				} else {
					err = fmt.Errorf("point %s: %w", p, err)
				}
				return finish(err)
			}
			if ctx.Err() != nil {
				// Run stops waiting for records when ctx ends: the point is incomplete.
				return finish(fmt.Errorf("stopped at point %s: %w", p, ctx.Err()))
			}
			rows[i].Results = append(rows[i].Results, r)
			fmt.Fprintf(progress, "point %d/%d: %.0f msg/s, %.3f CPU-s per 100k, peak RSS %.1f MiB%s (%s)\n",
				n, total, pointRate(r, so.PointMode), pointCPU(r, so.PointMode), float64(r.PeakRSSBytes)/(1<<20),
				lossText(r), time.Since(start).Round(100*time.Millisecond))
		}
	}
	return finish(nil)
}

func roundText(round, rounds int) string {
	if rounds == 1 {
		return ""
	}
	return fmt.Sprintf(" (round %d of %d)", round+1, rounds)
}

func lossText(r *Result) string {
	if r.Lost == 0 && r.Duplicated == 0 {
		return ""
	}
	return fmt.Sprintf(", %d lost, %d duplicated", r.Lost, r.Duplicated)
}

// pointRate is the rate a point reports: the drain rate of a backlog, the throughput of a
// rate run.
func pointRate(r *Result, mode string) float64 {
	if mode == ModeBacklog {
		return r.DrainRate
	}
	return r.Throughput
}

// pointCPU is the CPU a point reports: the drain's own for a backlog (falling back to the
// whole window's), the window's for a rate run.
func pointCPU(r *Result, mode string) float64 {
	if mode == ModeBacklog && r.DrainCPUSecondsPer100k > 0 {
		return r.DrainCPUSecondsPer100k
	}
	return r.CPUSecondsPer100k
}

// summarize sets the row's figures from its results.
func (row *ScaleRow) summarize(mode string) {
	var rates, cpus, p99s, starts []float64
	row.PeakRSSBytes, row.Lost, row.Duplicated = 0, 0, 0
	for _, r := range row.Results {
		rates = append(rates, pointRate(r, mode))
		cpus = append(cpus, pointCPU(r, mode))
		p99s = append(p99s, r.Latency.P99)
		starts = append(starts, r.StartSeconds)
		row.PeakRSSBytes = max(row.PeakRSSBytes, r.PeakRSSBytes)
		row.Lost += r.Lost
		row.Duplicated += r.Duplicated
	}
	row.Rate, row.RateMin, row.RateMax = median(rates), slices.Min(rates), slices.Max(rates)
	row.CPUPer100k = median(cpus)
	if mode == ModeRate {
		row.P99Ms = median(p99s)
	} else {
		row.StartSeconds = median(starts)
	}
}

// median returns the median of xs (the mean of the middle two for an even count).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Formats for ScaleResult.Write.
const (
	FormatText     = "text"
	FormatMarkdown = "markdown"
	FormatJSON     = "json"
)

// Write writes the result as format: FormatText (an aligned table), FormatMarkdown (a pipe
// table) or FormatJSON. The text and markdown forms end with the cost of each dimension per
// unit, from the baseline to its largest value.
func (r *ScaleResult) Write(w io.Writer, format string) error {
	if format == FormatJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	header := []string{"point", "routes", "topics", "tenants", "chain", "payload B"}
	rateCol := "drain msg/s"
	if r.PointMode == ModeRate {
		rateCol = "throughput msg/s"
	}
	header = append(header, rateCol, "× base", "CPU-s/100k", "× base", "peak RSS MiB")
	if r.PointMode == ModeRate {
		header = append(header, "p99 ms")
	} else {
		header = append(header, "start s")
	}
	header = append(header, "lost", "dup")
	var lines [][]string
	for _, row := range r.Rows {
		p := row.Point
		name := row.Varied
		if name == "" {
			name = "baseline"
		}
		rate := fmt.Sprintf("%.0f", row.Rate)
		if r.Rounds > 1 {
			rate += fmt.Sprintf(" (%.0f–%.0f)", row.RateMin, row.RateMax)
		}
		cells := []string{name, strconv.Itoa(p.Routes), strconv.Itoa(p.Topics), strconv.Itoa(p.Tenants),
			strconv.Itoa(p.Chain), strconv.Itoa(p.Payload), rate, fmt.Sprintf("%.2f", row.RateRatio),
			fmt.Sprintf("%.3f", row.CPUPer100k), fmt.Sprintf("%.2f", row.CPURatio), fmt.Sprintf("%.1f", float64(row.PeakRSSBytes)/(1<<20))}
		if r.PointMode == ModeRate {
			cells = append(cells, fmt.Sprintf("%.2f", row.P99Ms))
		} else {
			cells = append(cells, fmt.Sprintf("%.2f", row.StartSeconds))
		}
		cells = append(cells, strconv.FormatInt(row.Lost, 10), strconv.FormatInt(row.Duplicated, 10))
		lines = append(lines, cells)
	}
	var err error
	if format == FormatMarkdown {
		err = writeMarkdown(w, header, lines)
	} else {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		for _, l := range append([][]string{header}, lines...) {
			fmt.Fprintln(tw, strings.Join(l, "\t")+"\t")
		}
		err = tw.Flush()
	}
	if err != nil {
		return fmt.Errorf("writing the scale table: %w", err)
	}
	_, err = io.WriteString(w, r.footer(format == FormatMarkdown))
	return err
}

func writeMarkdown(w io.Writer, header []string, lines [][]string) error {
	var b strings.Builder
	b.WriteString("| " + strings.Join(header, " | ") + " |\n|")
	for range header {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, l := range lines {
		b.WriteString("| " + strings.Join(l, " | ") + " |\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// footer says how the table was measured and, for one-dimension-at-a-time runs, the cost of
// each dimension per unit.
func (r *ScaleResult) footer(markdown bool) string {
	var b strings.Builder
	nl := "\n"
	if markdown {
		nl = "\n\n"
	}
	b.WriteString(nl)
	if r.PointMode == ModeBacklog {
		fmt.Fprintf(&b, "Each point: a backlog of %d QoS %d messages (%d publishers) queued for the gateway's sessions, then drained; "+
			"drain msg/s and CPU-s/100k (the gateway process's) run from the first record read back to the last; "+
			"peak RSS is the gateway's VmHWM; start s is from the gateway's start to the first record "+
			"(configuration, plugin compilation, connections, subscriptions).", r.Count, r.QoS, r.Publishers)
	} else {
		fmt.Fprintf(&b, "Each point: %.0f msg/s of QoS %d messages for %s (%d publishers); p99 is publish to the record read back from Kafka; "+
			"CPU-s/100k is the gateway process's; peak RSS its VmHWM.", r.Rate, r.QoS, r.Duration, r.Publishers)
	}
	if r.Schema != "" {
		fmt.Fprintf(&b, " Every route encodes its values as %s through an in-process Schema Registry.", r.Schema)
	}
	if len(r.Rows) > 0 && r.Rows[0].Varied == "" && r.Rows[0].CPUPer100k > 0 {
		fmt.Fprintf(&b, " At the baseline, one fully used core moves about %.0f msg/s (100k / CPU-s per 100k).", 100_000/r.Rows[0].CPUPer100k)
	}
	if r.Rounds > 1 {
		fmt.Fprintf(&b, " Medians of %d rounds (the points in turn), the range of the rate in brackets; peak RSS the highest.", r.Rounds)
	}
	b.WriteString(nl)
	if !r.Complete {
		b.WriteString("Stopped before every point ran: the rows above are those measured." + nl)
	}
	for _, row := range r.Rows {
		for _, res := range row.Results {
			if res.Lost > 0 || res.Received == 0 {
				for _, n := range res.Notes {
					fmt.Fprintf(&b, "Point %s: %s.%s", row.Point, n, nl)
				}
			}
		}
	}
	if lines := r.unitCosts(); len(lines) > 0 {
		b.WriteString("Cost per unit, from the baseline to the largest value:" + nl)
		for _, l := range lines {
			if markdown {
				b.WriteString("- " + l + "\n")
			} else {
				b.WriteString("  " + l + "\n")
			}
		}
	}
	return b.String()
}

// unitCosts returns, for each dimension varied one at a time, the extra gateway CPU per
// message and peak memory per unit of it (per 1,000 routes or topics, per tenant, per stage,
// per KiB of payload), from the baseline to the dimension's largest value.
func (r *ScaleResult) unitCosts() []string {
	if r.Grid || len(r.Rows) < 2 || r.Rows[0].Varied != "" {
		return nil
	}
	base := r.Rows[0]
	units := map[string]struct {
		per   float64
		label string
	}{
		"routes": {1000, "per 1,000 routes"}, "topics": {1000, "per 1,000 topics"}, "tenants": {1, "per tenant"},
		"chain": {1, "per chain stage"}, "payload": {1024, "per KiB of payload"},
	}
	var out []string
	for _, d := range Dimensions {
		var top *ScaleRow
		for i := range r.Rows {
			row := &r.Rows[i]
			if row.Varied == d && (top == nil || row.Point.get(d) > top.Point.get(d)) {
				top = row
			}
		}
		if top == nil {
			continue
		}
		u := units[d]
		if d == "routes" || d == "topics" {
			// Per 1,000 only when the step spans that many: a projection would amplify noise.
			for u.per > 1 && float64(top.Point.get(d)) < u.per {
				u.per /= 10
			}
			u.label = fmt.Sprintf("per %d %s", int(u.per), d)
			if u.per == 1000 {
				u.label = "per 1,000 " + d
			}
		}
		delta := float64(top.Point.get(d)-base.Point.get(d)) / u.per
		if delta <= 0 {
			continue
		}
		// CPU-s per 100k messages is 10 µs per message per unit.
		cpuUS := (top.CPUPer100k - base.CPUPer100k) * 10 / delta
		rssMiB := float64(top.PeakRSSBytes-base.PeakRSSBytes) / (1 << 20) / delta
		out = append(out, fmt.Sprintf("%s %s: %+.2f µs of gateway CPU per message, %+.1f MiB peak RSS (%d -> %d)",
			d, u.label, cpuUS, rssMiB, base.Point.get(d), top.Point.get(d)))
	}
	return out
}
