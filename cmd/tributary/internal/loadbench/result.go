package loadbench

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Result is what one run measured. It marshals to JSON with the field names below.
type Result struct {
	Mode         string  `json:"mode"`
	Gateway      string  `json:"gateway"`
	Protocol     string  `json:"mqtt_protocol"` // the gateway's mqtt.protocol
	Broker       string  `json:"broker"`
	Kafka        string  `json:"kafka"`
	KafkaTopic   string  `json:"kafka_topic"`
	QoS          int     `json:"qos"`
	Topics       int     `json:"topics"`
	Publishers   int     `json:"publishers"`
	PayloadBytes int     `json:"payload_bytes"`
	TargetRate   float64 `json:"target_rate,omitempty"`
	// Routes is the routes per MQTT session, Tenants the tenants (0: top-level routes).
	Routes  int `json:"routes"`
	Tenants int `json:"tenants"`
	// Chain names the plugins of every route's chain; FirstPartyChain counts its
	// first-party stages (FirstPartyPlugins in order).
	Chain           []string `json:"chain,omitempty"`
	FirstPartyChain int      `json:"first_party_chain,omitempty"`
	// Schema describes the values' schema; nil when the values are the payload as is.
	Schema *SchemaInfo `json:"schema,omitempty"`

	// Published is what the broker acknowledged (QoS 1/2) or was sent (QoS 0).
	Published int64 `json:"published"`
	// Received counts distinct (topic, seq) read back from Kafka.
	Received int64 `json:"received"`
	// Lost were published but never read back; Duplicated are extra copies of received ones;
	// Foreign are records in the topic that are not this run's messages.
	Lost       int64 `json:"lost"`
	Duplicated int64 `json:"duplicated"`
	Foreign    int64 `json:"foreign"`

	// Window is the measured interval: from the start of publishing (from the gateway's start
	// in backlog mode) to the last record read back.
	WindowSeconds float64 `json:"window_seconds"`
	// Throughput is Received / Window, in messages per second.
	Throughput float64 `json:"throughput_msg_s"`
	// DrainRate, in backlog mode, is Received over the time from the first record read back to
	// the last: the drain itself, without the gateway's start (process, connections, plugin
	// compilation).
	DrainRate float64 `json:"drain_rate_msg_s,omitempty"`
	// StartSeconds, in backlog mode, is the time from the gateway's start to the first record
	// read back: its process, configuration, plugin compilation, connections and
	// subscriptions.
	StartSeconds float64 `json:"start_seconds,omitempty"`
	// PublishRate is the rate the publishers achieved (not meaningful in backlog mode).
	PublishRate float64 `json:"publish_rate_msg_s"`

	// Latency is publish to Kafka record, as seen by the benchmark's consumer.
	Latency Latency `json:"latency_ms"`

	// CPUSeconds is the CPU time (user + system) over the window of CPUScope.
	CPUSeconds        float64 `json:"cpu_seconds"`
	CPUSecondsPer100k float64 `json:"cpu_seconds_per_100k"`
	// DrainCPUSecondsPer100k, in backlog mode, counts the CPU time from the first record read
	// back to the last: the drain's own cost, without the gateway's start.
	DrainCPUSecondsPer100k float64 `json:"drain_cpu_seconds_per_100k,omitempty"`
	// PeakRSSBytes is the peak resident set (VmHWM) of CPUScope.
	PeakRSSBytes int64  `json:"peak_rss_bytes"`
	CPUScope     string `json:"cpu_scope"`

	Notes []string `json:"notes,omitempty"`

	// Soak holds what ModeSoak measured; nil in the other modes.
	Soak *SoakResult `json:"soak,omitempty"`
	// Reverse holds what ModeReverse's reverse leg measured (the fields above are its forward
	// leg's); nil in the other modes.
	Reverse *ReverseResult `json:"reverse,omitempty"`
}

// SchemaInfo is the schema a run's routes encoded their values with.
type SchemaInfo struct {
	// Format is avro, protobuf or json_schema.
	Format string `json:"format"`
	// Subject is the first Kafka topic's value subject (with tenants, each has its own).
	Subject string `json:"subject"`
	// ID is the schema's registry id, checked in every record read back.
	ID int `json:"id"`
	// Registry is the URL of the in-process registry the run started.
	Registry string `json:"registry"`
}

// Latency holds percentiles in milliseconds.
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// WriteTable writes r as a two-column table.
func (r *Result) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, format string, args ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, args...)...) }
	qos := fmt.Sprintf("QoS %d", r.QoS)
	if r.Soak != nil {
		qos = "QoS 1 (every fifth topic QoS 2)"
	}
	setup := fmt.Sprintf("%s, %s, %d topics, %d publishers, %d-byte payloads", r.Mode, qos, r.Topics, r.Publishers, r.PayloadBytes)
	if r.TargetRate > 0 {
		setup += fmt.Sprintf(", target %.0f msg/s", r.TargetRate)
	}
	row("run", "%s", setup)
	if r.Routes > 1 || r.Tenants > 0 || len(r.Chain) > 0 || r.FirstPartyChain > 0 {
		row("gateway setup", "%s", r.setupText())
	}
	row("gateway", "%s, MQTT %s", r.Gateway, r.Protocol)
	row("broker", "%s", r.Broker)
	row("kafka", "%s (topic %s)", r.Kafka, r.KafkaTopic)
	if r.Schema != nil {
		row("schema", "%s, subject %s, id %d (in-process registry; records decoded and checked)", r.Schema.Format, r.Schema.Subject, r.Schema.ID)
	}
	if r.Soak != nil {
		r.Soak.writeTable(row)
		for _, n := range r.Notes {
			row("note", "%s", n)
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("writing the result table: %w", err)
		}
		return nil
	}
	row("published", "%d", r.Published)
	row("received", "%d", r.Received)
	row("lost", "%d", r.Lost)
	row("duplicated", "%d", r.Duplicated)
	if r.Foreign > 0 {
		row("foreign records", "%d", r.Foreign)
	}
	row("window", "%.3f s", r.WindowSeconds)
	row("throughput", "%.0f msg/s", r.Throughput)
	if r.Mode != ModeBacklog && r.Mode != ModeReverse {
		row("publish rate", "%.0f msg/s", r.PublishRate)
	}
	if r.StartSeconds > 0 {
		row("gateway start", "%.3f s (to the first record read back)", r.StartSeconds)
	}
	if r.DrainRate > 0 {
		row("drain rate", "%.0f msg/s (first record to last: without the gateway's start)", r.DrainRate)
	}
	l := r.Latency
	row("latency ms", "p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f", l.P50, l.P90, l.P99, l.P999, l.Max)
	if r.CPUScope != "" {
		row("cpu", "%.2f s, %.3f s per 100k messages (%s)", r.CPUSeconds, r.CPUSecondsPer100k, r.CPUScope)
		if r.DrainCPUSecondsPer100k > 0 {
			row("drain cpu", "%.3f s per 100k messages (first record to last: without the gateway's start)", r.DrainCPUSecondsPer100k)
		}
		row("peak memory", "%.1f MiB (%s)", float64(r.PeakRSSBytes)/(1<<20), r.CPUScope)
	}
	if r.Reverse != nil {
		r.Reverse.writeTable(row)
	}
	for _, n := range r.Notes {
		row("note", "%s", n)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing the result table: %w", err)
	}
	return nil
}

// setupText describes the gateway's routes, tenants and chains.
func (r *Result) setupText() string {
	s := fmt.Sprintf("%d routes", r.Routes)
	if r.Tenants > 0 {
		s = fmt.Sprintf("%d tenants, %d routes each", r.Tenants, r.Routes)
	}
	switch {
	case len(r.Chain) > 0:
		s += ", chain " + strings.Join(r.Chain, " -> ")
	case r.FirstPartyChain > 0:
		var names []string
		for i := range r.FirstPartyChain {
			names = append(names, FirstPartyPlugins[i%len(FirstPartyPlugins)])
		}
		s += ", chain " + strings.Join(names, " -> ")
	}
	return s
}

// String returns the table.
func (r *Result) String() string {
	var b strings.Builder
	_ = r.WriteTable(&b)
	return b.String()
}
