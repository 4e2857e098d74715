package devview

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-gw/tributary/cmd/tributary/internal/devstack"
)

func TestRender(t *testing.T) {
	base := Frame{
		Elapsed:       75 * time.Second,
		Interval:      2 * time.Second,
		Published:     140,
		PrevPublished: 100,
		Stats: Stats{
			MQTTConnected: true,
			InFlight:      3,
			Unrouted:      1,
			Routes: []RouteStats{
				{Name: "building-sensors-raw", In: 140, Out: 138, Filtered: 0, DeadLettered: 2},
				{Name: "new-route", In: 10, Out: 10},
			},
		},
		Prev: Stats{Routes: []RouteStats{{Name: "building-sensors-raw", In: 100, Out: 98}}},
	}
	tests := []struct {
		name    string
		edit    func(*Frame)
		want    []string
		notWant []string
	}{
		{
			name: "counters and rates",
			want: []string{
				"--- 00:01:15 | mqtt connected | in flight 3 | unrouted 1 | fleet published 140 (20.0/s) | read back 0\n",
				"\n  route                  in  out  filtered  dead-lettered  in/s  out/s\n",
				"\n  building-sensors-raw  140  138         0              2  20.0   20.0\n",
				"\n  new-route              10   10         0              0   5.0    5.0\n", // missing from Prev: counts from zero
			},
		},
		{
			name: "serving versions: shown first, then when a reload swaps one",
			edit: func(f *Frame) {
				f.Stats.Routes = []RouteStats{
					{Name: "building-sensors-raw", Stages: []Stage{{"units", "1111111111112222"}, {"filter", "333333333333"}}},
					{Name: "new-route", Stages: []Stage{{"units", "4444444444445555"}}},
				}
				f.Prev.Routes = []RouteStats{{Name: "building-sensors-raw", Stages: []Stage{{"units", "1111111111112222"}, {"filter", "333333333333"}}}}
				f.Stats.Routes = append(f.Stats.Routes, RouteStats{Name: "swapped", Stages: []Stage{{"units", "bbbbbbbbbbbb"}}})
				f.Prev.Routes = append(f.Prev.Routes, RouteStats{Name: "swapped", Stages: []Stage{{"units", "aaaaaaaaaaaa"}}})
			},
			want:    []string{"\n  new-route serves units@444444444444\n", "\n  swapped serves units@bbbbbbbbbbbb\n"},
			notWant: []string{"building-sensors-raw serves"},
		},
		{
			name:    "disconnected, fleet done, no interval",
			edit:    func(f *Frame) { f.Stats.MQTTConnected = false; f.FleetDone = true; f.Interval = 0 },
			want:    []string{"mqtt DISCONNECTED", "fleet published 140 (done)", "  -  "},
			notWant: []string{"/s)"},
		},
		{
			name: "samples",
			edit: func(f *Frame) {
				f.Consumed = 7
				f.Samples = []Sample{{
					Topic: "mqtt_building_sensors_raw", Partition: 2, Offset: 41,
					Key:     []byte("building/floor1/room101/sensor/s000/temperature"),
					Headers: []Header{{"mqtt.topic", []byte("building/floor1/room101/sensor/s000/temperature")}, {"mqtt.qos", []byte("1")}, {"mqtt.retain", []byte("false")}, {"content-type", []byte("application/json")}, {"extra", nil}},
					Value:   []byte(`{"value":21.5}`),
				}, {
					Topic: "bin", Key: []byte{0, 1}, Value: bytes.Repeat([]byte("x"), 500),
				}}
			},
			want: []string{
				"read back 7",
				"  kafka mqtt_building_sensors_raw[2]@41 key=building/floor1/room101/sensor/s000/temperature mqtt.qos=1 mqtt.retain=false content-type=application/json (+1 headers)\n        {\"value\":21.5}\n",
				`key="\x00\x01"`,
				"        " + strings.Repeat("x", maxValueLen) + "…\n",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := base
			if tc.edit != nil {
				tc.edit(&f)
			}
			var b bytes.Buffer
			if err := Render(&b, f); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(out, w) {
					t.Errorf("output has %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestPrintable(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"plain", 10, "plain"},
		{"", 10, `""`},
		{"line\nbreak", 20, `"line\nbreak"`},
		{"abcdef", 3, "abc…"},
		{"héllo", 2, "h…"}, // é is two bytes: do not split it
		{"\xff\xfe", 10, `"\xff\xfe"`},
	}
	for _, tc := range tests {
		if got := printable([]byte(tc.in), tc.max); got != tc.want {
			t.Errorf("printable(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
}

func TestSampler(t *testing.T) {
	t0 := time.Unix(1000, 0)
	s := sampler{every: 500 * time.Millisecond}
	steps := []struct {
		at   time.Duration
		want bool
	}{{0, true}, {100 * time.Millisecond, false}, {499 * time.Millisecond, false}, {500 * time.Millisecond, true}, {900 * time.Millisecond, false}, {2 * time.Second, true}}
	for _, st := range steps {
		if got := s.keep(t0.Add(st.at)); got != st.want {
			t.Errorf("keep at +%v = %v, want %v", st.at, got, st.want)
		}
	}
	off := sampler{off: true}
	if off.keep(t0) {
		t.Error("a sampler that is off kept a sample")
	}
}

func TestTap(t *testing.T) {
	if _, err := NewTap(nil, []string{"t"}, 1); err == nil {
		t.Error("NewTap without brokers returned nil error")
	}
	k, _, err := devstack.StartKafka(0, false, "a", "b")
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	prod, err := kgo.NewClient(kgo.SeedBrokers(k.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	const n = 50
	var recs []*kgo.Record
	for i := range n {
		topic := []string{"a", "b"}[i%2]
		recs = append(recs, &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", i), Value: []byte("v"),
			Headers: []kgo.RecordHeader{{Key: "mqtt.qos", Value: []byte("1")}}})
	}
	if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	tap, err := NewTap([]string{k.Addr()}, []string{"a", "b"}, 1) // at most one sample a second
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	runCtx, stop := context.WithCancel(ctx)
	go func() { done <- tap.Run(runCtx) }()
	for tap.Consumed() < n {
		if ctx.Err() != nil {
			t.Fatalf("tap consumed %d of %d records", tap.Consumed(), n)
		}
		time.Sleep(10 * time.Millisecond) // polling with a deadline
	}
	samples := tap.Take()
	// All 50 records arrive within far less than a second of each other in one or two
	// fetches, so the sampler admits very few; the bound is what matters.
	if len(samples) == 0 || len(samples) > maxPendingSamples {
		t.Fatalf("took %d samples, want 1..%d", len(samples), maxPendingSamples)
	}
	s := samples[0]
	if (s.Topic != "a" && s.Topic != "b") || !strings.HasPrefix(string(s.Key), "k") || len(s.Headers) != 1 || s.Headers[0].Key != "mqtt.qos" {
		t.Errorf("sample %+v does not look like a produced record", s)
	}
	if again := tap.Take(); len(again) != 0 {
		t.Errorf("second Take returned %d samples, want 0", len(again))
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run after cancel = %v, want nil", err)
	}
	tap.Close()
}
