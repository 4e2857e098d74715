package devview

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"
)

// Stats is a snapshot of the gateway's counters, as gateway.Stats reports them.
type Stats struct {
	// MQTTConnected says whether the gateway's MQTT session is up.
	MQTTConnected bool
	// InFlight counts messages received but not yet acknowledged.
	InFlight int
	// Unrouted counts messages no route matched.
	Unrouted uint64
	// Routes holds one entry per configured route, in configuration order.
	Routes []RouteStats
}

// RouteStats holds one route's counters, each monotonically increasing.
type RouteStats struct {
	Name         string
	In           uint64 // messages that entered the route's chain
	Out          uint64 // records acknowledged by Kafka
	Filtered     uint64 // messages a plugin dropped on purpose
	DeadLettered uint64 // messages written to the dead-letter topic
	// Stages are the route's chain in force, in order, with the version each serves.
	Stages []Stage
}

// Stage is one stage of a route's chain as it serves now.
type Stage struct {
	// Plugin is the stage's plugin name.
	Plugin string
	// Version is the sha256 hex of the module serving, as the plugin store, the admin API
	// and dead letters name it.
	Version string
}

// chain returns the stages as "plugin@version plugin@version", each version cut to its
// first 12 hex digits (as the gateway's log lines show them).
func (r RouteStats) chain() string {
	parts := make([]string, len(r.Stages))
	for i, st := range r.Stages {
		v := st.Version
		if len(v) > 12 {
			v = v[:12]
		}
		parts[i] = st.Plugin + "@" + v
	}
	return strings.Join(parts, " ")
}

// Header is one Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// Sample is one record read back from Kafka.
type Sample struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       []byte
	Headers   []Header
	Value     []byte
}

// Frame is everything one block of the view shows.
type Frame struct {
	// Elapsed is the time since dev started.
	Elapsed time.Duration
	// Interval is the time since the previous frame; rates are deltas over it. Zero hides rates.
	Interval time.Duration
	// Published and PrevPublished are the fleet's acknowledged publishes now and at the
	// previous frame.
	Published, PrevPublished uint64
	// FleetDone says the fleet has stopped publishing (its --count was reached).
	FleetDone bool
	// Stats and Prev are the gateway's counters now and at the previous frame. A route missing
	// from Prev counts from zero.
	Stats, Prev Stats
	// Samples are records read back from Kafka since the previous frame.
	Samples []Sample
	// Consumed is the number of records read back from Kafka so far, over all route topics.
	Consumed uint64
}

// Sample formatting limits keep one sample to two lines of a normal terminal.
const (
	maxKeyLen    = 64
	maxValueLen  = 160
	maxHeaders   = 3
	maxHeaderLen = 32
)

// Render writes f as one text block to w. It returns the first write error.
func Render(w io.Writer, f Frame) error {
	var b bytes.Buffer
	conn := "mqtt connected"
	if !f.Stats.MQTTConnected {
		conn = "mqtt DISCONNECTED"
	}
	fleet := fmt.Sprintf("fleet published %d", f.Published)
	if f.FleetDone {
		fleet += " (done)"
	} else if r, ok := rate(f.Published, f.PrevPublished, f.Interval); ok {
		fleet += fmt.Sprintf(" (%s/s)", r)
	}
	fmt.Fprintf(&b, "--- %s | %s | in flight %d | unrouted %d | %s | read back %d\n",
		formatElapsed(f.Elapsed), conn, f.Stats.InFlight, f.Stats.Unrouted, fleet, f.Consumed)

	var table bytes.Buffer
	tw := tabwriter.NewWriter(&table, 0, 0, 2, ' ', tabwriter.AlignRight) // padding 2 indents the first column
	width := len("route")
	for _, r := range f.Stats.Routes {
		width = max(width, len(r.Name))
	}
	fmt.Fprintf(tw, "%-*s\tin\tout\tfiltered\tdead-lettered\tin/s\tout/s\t\n", width, "route")
	prev := make(map[string]RouteStats, len(f.Prev.Routes))
	for _, r := range f.Prev.Routes {
		prev[r.Name] = r
	}
	for _, r := range f.Stats.Routes {
		p := prev[r.Name]
		inRate, _ := rate(r.In, p.In, f.Interval)
		outRate, _ := rate(r.Out, p.Out, f.Interval)
		fmt.Fprintf(tw, "%-*s\t%d\t%d\t%d\t%d\t%s\t%s\t\n", width, r.Name, r.In, r.Out, r.Filtered, r.DeadLettered, inRate, outRate)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for line := range strings.Lines(table.String()) { // the last column leaves padding behind
		b.WriteString(strings.TrimRight(line, " \n"))
		b.WriteByte('\n')
	}
	// Each route's chain, with the plugin versions serving: in the first frame, and again
	// whenever a reload swapped in another version.
	for _, r := range f.Stats.Routes {
		p, seen := prev[r.Name]
		if len(r.Stages) > 0 && (!seen || r.chain() != p.chain()) {
			fmt.Fprintf(&b, "  %s serves %s\n", r.Name, r.chain())
		}
	}
	for _, s := range f.Samples {
		writeSample(&b, s)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// writeSample prints a record as "kafka TOPIC[P]@OFFSET key=... h=v ..." and its value on
// the next line.
func writeSample(b *bytes.Buffer, s Sample) {
	fmt.Fprintf(b, "  kafka %s[%d]@%d key=%s", s.Topic, s.Partition, s.Offset, printable(s.Key, maxKeyLen))
	shown := 0
	for i, h := range s.Headers {
		if bytes.Equal(h.Value, s.Key) && len(s.Key) > 0 {
			continue // mqtt.topic repeats the default key; no need to print it twice
		}
		if shown == maxHeaders {
			fmt.Fprintf(b, " (+%d headers)", len(s.Headers)-i)
			break
		}
		fmt.Fprintf(b, " %s=%s", printable([]byte(h.Key), maxHeaderLen), printable(h.Value, maxHeaderLen))
		shown++
	}
	fmt.Fprintf(b, "\n        %s\n", printable(s.Value, maxValueLen))
}

// printable returns v as text safe for a terminal: valid UTF-8 without control characters is
// shown as is, anything else Go-quoted; either way cut to about max bytes with "…".
func printable(v []byte, max int) string {
	cut := len(v) > max
	if cut {
		v = v[:max]
		for len(v) > 0 && !utf8.Valid(v) && len(v) > max-utf8.UTFMax { // do not split a rune
			v = v[:len(v)-1]
		}
	}
	s := string(v)
	if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		s = strconv.Quote(s)
	}
	if len(v) == 0 && !cut {
		return `""`
	}
	if cut {
		s += "…"
	}
	return s
}

// rate formats (now-prev)/interval with one decimal; ok is false when there is no interval.
func rate(now, prev uint64, interval time.Duration) (string, bool) {
	if interval <= 0 || now < prev {
		return "-", false
	}
	return strconv.FormatFloat(float64(now-prev)/interval.Seconds(), 'f', 1, 64), true
}

func formatElapsed(d time.Duration) string {
	d = d.Round(time.Second)
	return fmt.Sprintf("%02d:%02d:%02d", int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60)
}
