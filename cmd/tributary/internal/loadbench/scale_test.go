package loadbench

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/gatewaytest"
	"github.com/tributary-gw/tributary/gateway/mqtttopic"
)

// TestLayout_EveryTopicMatchesOneRoute checks that each topic matches exactly one route's
// filter over all sessions, and that it is the route of the session layout assigns it to.
func TestLayout_EveryTopicMatchesOneRoute(t *testing.T) {
	for _, tc := range []struct{ routes, tenants, topics int }{{1, 0, 10}, {7, 0, 50}, {1, 3, 30}, {4, 3, 100}, {20, 2, 10}} {
		o := Defaults()
		o.Routes, o.Tenants, o.Topics = tc.routes, tc.tenants, tc.topics
		l := newLayout(&o, "k")
		hits := make([]int, o.Topics)
		for k := range l.sessions() {
			for _, f := range l.filters(k) {
				flt, err := mqtttopic.ParseFilter(f)
				if err != nil {
					t.Fatalf("%+v: filter %q: %v", tc, f, err)
				}
				for topic := range o.Topics {
					if flt.Match(l.topic(topic)) {
						hits[topic]++
						if k != topic%l.sessions() {
							t.Errorf("%+v: topic %s matches session %d's filter %s", tc, l.topic(topic), k, f)
						}
					}
				}
			}
		}
		for topic, n := range hits {
			if n != 1 {
				t.Errorf("%+v: topic %s matches %d routes, want 1", tc, l.topic(topic), n)
			}
		}
	}
}

// TestGatewayConfig_TenantsAndChainsLoad loads a generated configuration with tenants, many
// routes and a first-party chain the way the gateway does: every tenant loads (none held),
// with its routes and stages.
func TestGatewayConfig_TenantsAndChainsLoad(t *testing.T) {
	dir, plugins := t.TempDir(), t.TempDir()
	for _, p := range FirstPartyPlugins {
		if err := os.WriteFile(filepath.Join(plugins, p+".wasm"), []byte("\x00asm\x01\x00\x00\x00"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	o := Defaults()
	o.Routes, o.Tenants, o.FirstPartyChain, o.PluginDir = 5, 3, 4, plugins
	y, err := gatewayConfig(&o, newLayout(&o, "kt"), "tcp://127.0.0.1:1", []string{"127.0.0.1:2"}, "", "127.0.0.1:3", dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadBytes(y, nil)
	if err != nil {
		t.Fatalf("generated configuration does not load: %v\n%s", err, y)
	}
	if b := cfg.BrokenTenants(); len(b) > 0 {
		t.Fatalf("held tenants: %+v", b)
	}
	ts := cfg.AllTenants()
	if len(ts) != 3 {
		t.Fatalf("%d tenants, want 3", len(ts))
	}
	for _, tn := range ts {
		if len(tn.Routes) != 5 {
			t.Errorf("tenant %s: %d routes, want 5", tn.Name, len(tn.Routes))
		}
		for _, r := range tn.Routes {
			var names []string
			for _, st := range r.Chain {
				names = append(names, st.Plugin)
			}
			if got := strings.Join(names, ","); got != "topic-fields,units,filter,topic-fields" {
				t.Errorf("tenant %s route %s: chain %s", tn.Name, r.Name, got)
			}
		}
	}
}

func TestScalePoints(t *testing.T) {
	so := ScaleOptions{Base: Defaults(), Values: map[string][]int{"routes": {1, 100, 1000}, "tenants": {0, 20}, "chain": {0}}}
	points, varied := ScalePoints(so)
	want := []string{
		"routes 1, topics 1000, tenants 0, chain 0, payload 180",
		"routes 100, topics 1000, tenants 0, chain 0, payload 180",
		"routes 1000, topics 1000, tenants 0, chain 0, payload 180",
		"routes 1, topics 1000, tenants 20, chain 0, payload 180",
	}
	if len(points) != len(want) {
		t.Fatalf("points %v, want %v", points, want)
	}
	for i := range want {
		if points[i].String() != want[i] {
			t.Errorf("point %d = %s, want %s", i, points[i], want[i])
		}
	}
	if strings.Join(varied, ",") != ",routes,routes,tenants" {
		t.Errorf("varied = %q", varied)
	}
	so.Grid = true
	points, varied = ScalePoints(so)
	if len(points) != 6 || points[0].String() != want[0] || varied[0] != "" || varied[5] != "grid" {
		t.Errorf("grid points %v (%q), want 3 x 2 with the baseline first", points, varied)
	}
}

// TestRunScale_Small runs three small points (baseline, 8 routes, 2 tenants) end to end with
// Mosquitto, kfake and the gateway as a subprocess, and checks the table has a row per point
// with a rate, nothing lost.
func TestRunScale_Small(t *testing.T) {
	if _, err := os.Stat(DefaultMosquitto); err != nil {
		if os.Getenv("TRIBUTARY_REQUIRE_MOSQUITTO") == "1" {
			t.Fatalf("mosquitto: %v", err)
		}
		t.Skipf("%s not found (apt-get install mosquitto, or set TRIBUTARY_REQUIRE_MOSQUITTO=1 to fail instead)", DefaultMosquitto)
	}
	o := Defaults()
	o.Executable = gatewaytest.BuildBinary(t, "./cmd/tributary")
	o.Gateway, o.Mosquitto, o.Count, o.Publishers, o.Settle, o.Timeout = GatewaySubprocess, true, 2000, 2, 10*time.Second, time.Minute
	var progress bytes.Buffer
	so := ScaleOptions{Base: o, Values: map[string][]int{"routes": {1, 8}, "tenants": {0, 2}, "topics": {40}}, Progress: &progress}
	res, err := RunScale(context.Background(), so)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Complete || len(res.Rows) != 3 {
		t.Fatalf("complete %v, %d rows, want 3:\n%s", res.Complete, len(res.Rows), progress.String())
	}
	for i, wantVaried := range []string{"", "routes", "tenants"} {
		row := res.Rows[i]
		if row.Varied != wantVaried || row.Rate <= 0 || row.CPUPer100k < 0 || row.PeakRSSBytes < 1<<20 || row.Lost != 0 || row.RateRatio <= 0 {
			t.Errorf("row %d (%s): varied %q, rate %.0f, cpu %.3f, peak rss %d, lost %d, ratio %.2f; want %q and a measured, lossless point",
				i, row.Point, row.Varied, row.Rate, row.CPUPer100k, row.PeakRSSBytes, row.Lost, row.RateRatio, wantVaried)
		}
	}
	if res.Rows[0].RateRatio != 1 {
		t.Errorf("baseline ratio %v, want 1", res.Rows[0].RateRatio)
	}
	if n := strings.Count(progress.String(), "msg/s"); n != 3 {
		t.Errorf("%d progress lines with a rate, want 3:\n%s", n, progress.String())
	}
	var text, md, js bytes.Buffer
	for format, buf := range map[string]*bytes.Buffer{FormatText: &text, FormatMarkdown: &md, FormatJSON: &js} {
		if err := res.Write(buf, format); err != nil {
			t.Fatalf("%s: %v", format, err)
		}
	}
	if n := strings.Count(md.String(), "\n| "); n != 3 {
		t.Errorf("markdown table has %d rows after the header, want 3:\n%s", n, md.String())
	}
	for _, want := range []string{"baseline", "routes", "tenants", "drain msg/s", "tenants per tenant:"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text table lacks %q:\n%s", want, text.String())
		}
	}
	var back ScaleResult
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Rows) != 3 {
		t.Errorf("json: %v, %d rows", err, len(back.Rows))
	}
}

// TestScaleResult_UnitCosts checks the per-unit arithmetic of the footer: CPU-s per 100k
// messages is 10 µs per message, divided by the step in the dimension's unit (999 routes
// from 1 to 1,000: 0.999 units of 1,000).
func TestScaleResult_UnitCosts(t *testing.T) {
	row := func(varied string, p Point, cpu float64, rss int64) ScaleRow {
		return ScaleRow{Point: p, Varied: varied, Rate: 1000, CPUPer100k: cpu, PeakRSSBytes: rss << 20}
	}
	base := Point{Routes: 1, Topics: 1000, Payload: 180}
	routes, chain, tenants := base, base, base
	routes.Routes, chain.Chain, tenants.Tenants = 1000, 3, 20
	r := &ScaleResult{PointMode: ModeBacklog, Rounds: 1, Complete: true, Rows: []ScaleRow{
		row("", base, 1.0, 40), row("routes", routes, 3.0, 41), row("chain", chain, 2.5, 340), row("tenants", tenants, 1.2, 140),
	}}
	got := strings.Join(r.unitCosts(), "\n")
	for _, want := range []string{
		"routes per 1,000 routes: +20.02 µs of gateway CPU per message, +1.0 MiB peak RSS (1 -> 1000)",
		"chain per chain stage: +5.00 µs of gateway CPU per message, +100.0 MiB peak RSS (0 -> 3)",
		"tenants per tenant: +0.10 µs of gateway CPU per message, +5.0 MiB peak RSS (0 -> 20)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("unit costs lack %q:\n%s", want, got)
		}
	}
	r.Grid = true
	if c := r.unitCosts(); c != nil {
		t.Errorf("grid: unit costs %q, want none (no one-dimension steps)", c)
	}
}
