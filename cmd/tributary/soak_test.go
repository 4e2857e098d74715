package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tributary-gw/tributary/cmd/tributary/internal/loadbench"
	"github.com/tributary-gw/tributary/gateway/gatewaytest"
)

// TestBenchCommand_Soak runs `tributary bench --mode soak` for 18s with a fault every 1.5s,
// so each of the eight kinds runs at least once, against real Mosquitto, kfake and a real
// gateway subprocess, and checks that nothing was lost, poison and plugin-fault messages
// were dead-lettered, and every fault kind ran.
func TestBenchCommand_Soak(t *testing.T) {
	if _, err := os.Stat(loadbench.DefaultMosquitto); err != nil {
		if os.Getenv("TRIBUTARY_REQUIRE_MOSQUITTO") == "1" {
			t.Fatalf("mosquitto: %v", err)
		}
		t.Skipf("%s not found (apt-get install mosquitto, or set TRIBUTARY_REQUIRE_MOSQUITTO=1 to fail instead)", loadbench.DefaultMosquitto)
	}
	if testing.Short() {
		t.Skip("an 18s soak; not in -short")
	}
	bin := gatewaytest.BuildBinary(t, "./cmd/tributary")
	orig := benchExecutable
	benchExecutable = func() (string, error) { return bin, nil }
	t.Cleanup(func() { benchExecutable = orig })

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := runMain(ctx, []string{"bench", "--mode", "soak", "--duration", "18s", "--fault-every", "1500ms",
		"--seed", "42", "--rate", "200", "--topics", "40", "--publishers", "2", "--settle", "45s", "--json"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit code %d, stderr:\n%s\nstdout:\n%s", code, stderr.String(), stdout.String())
	}
	var res loadbench.Result
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("stdout is not a JSON result: %v\n%s", err, stdout.String())
	}
	s := res.Soak
	if s == nil {
		t.Fatalf("no soak result:\n%s", stdout.String())
	}
	if s.Lost != 0 || s.Published < 1000 || s.Delivered+s.DeadLettered != s.Published {
		t.Errorf("published %d, delivered %d + %d dead-lettered, lost %d; want all of them back", s.Published, s.Delivered, s.DeadLettered, s.Lost)
	}
	if s.PublishedQoS2 == 0 || s.PoisonPublished < 6 {
		t.Errorf("published %d at QoS 2 and %d poison; want some of each", s.PublishedQoS2, s.PoisonPublished)
	}
	if s.Misrouted != 0 {
		t.Errorf("%d messages misrouted (good ones dead-lettered or bad ones delivered): %v\n%s", s.Misrouted, s.MisroutedBy, stderr.String())
	}
	if want := s.PoisonPublished + sum(s.PluginFaultsPublished); s.DeadLettered != want {
		t.Errorf("dead-lettered %d, want the %d poison and plugin-fault messages", s.DeadLettered, want)
	}
	for _, kind := range []string{"trap", "timeout", "bad_result", "rejected"} {
		if s.DeadLetterRecords[kind] == 0 {
			t.Errorf("no dead letter of kind %s: %v", kind, s.DeadLetterRecords)
		}
	}
	for _, kind := range loadbench.FaultKinds() {
		if s.Faults[kind] == 0 {
			t.Errorf("fault %s never ran: %v", kind, s.Faults)
		}
	}
	if s.PeakRSSBytes < 1<<20 {
		t.Errorf("peak gateway rss %d, want at least 1 MiB", s.PeakRSSBytes)
	}
	if !strings.Contains(stderr.String(), "fault gateway-kill: SIGKILL") {
		t.Errorf("no fault progress line on stderr:\n%s", stderr.String())
	}
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}
