package buildingsensors_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	buildingsensors "github.com/tributary-gw/tributary/examples/building-sensors"
	"github.com/tributary-gw/tributary/gateway/config"
)

// load runs the real loader (strict: unknown keys are errors) with plugins.dir pointing at a
// folder holding an empty NAME.wasm for each first-party plugin the example chains use (the
// loader checks that they exist; compiling them is `tributary validate`'s job).
func load(t *testing.T, b []byte) *config.Config {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"topic-fields", "units", "filter"} {
		if err := os.WriteFile(filepath.Join(dir, name+".wasm"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.LoadBytes(b, []string{"TRIBUTARY_PLUGINS__DIR=" + dir})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return cfg
}

func TestConfigs(t *testing.T) {
	tests := []struct {
		name         string
		yaml         []byte
		route        string
		topic        string
		envelope     string
		deadLetter   string
		wantClientID string
		chain        string // the stages' plugins, space-separated
	}{
		{
			name:         "raw",
			yaml:         buildingsensors.RawConfig(),
			route:        "building-sensors-raw",
			topic:        "mqtt_building_sensors_raw",
			envelope:     config.EnvelopeNone,
			deadLetter:   "mqtt_building_sensors_raw_dlq",
			wantClientID: "tributary-building-sensors",
			chain:        "topic-fields units filter",
		},
		{
			name:         "envelope",
			yaml:         buildingsensors.EnvelopeConfig(),
			route:        "building-sensors-envelope",
			topic:        "mqtt_building_sensors_envelope",
			envelope:     config.EnvelopeJSON,
			deadLetter:   "mqtt_building_sensors_envelope_dlq",
			wantClientID: "tributary-building-sensors-envelope",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := load(t, tc.yaml)
			if len(cfg.Routes) != 1 {
				t.Fatalf("got %d routes, want 1", len(cfg.Routes))
			}
			r := cfg.Routes[0]
			if r.Name != tc.route {
				t.Errorf("route name = %q, want %q", r.Name, tc.route)
			}
			if len(r.From) != 1 || r.From[0] != "building/#" {
				t.Errorf("route from = %q, want [building/#]", r.From)
			}
			if r.QoS != 1 {
				t.Errorf("route qos = %d, want 1", r.QoS)
			}
			if r.To.Topic != tc.topic || r.To.Envelope != tc.envelope || r.To.Key != config.DefaultKeyTemplate {
				t.Errorf("route to = %+v, want topic %q, envelope %q, key %q", r.To, tc.topic, tc.envelope, config.DefaultKeyTemplate)
			}
			if r.DeadLetter != tc.deadLetter {
				t.Errorf("dead_letter = %q, want %q", r.DeadLetter, tc.deadLetter)
			}
			var plugins []string
			for _, st := range r.Chain {
				plugins = append(plugins, st.Plugin)
			}
			if got := strings.Join(plugins, " "); got != tc.chain {
				t.Errorf("chain plugins = %q, want %q", got, tc.chain)
			}
			if cfg.MQTT.ClientID != tc.wantClientID {
				t.Errorf("mqtt.client_id = %q, want %q", cfg.MQTT.ClientID, tc.wantClientID)
			}
			if cfg.MQTT.CleanStart {
				t.Error("mqtt.clean_start = true, want false (persistent session)")
			}
			if got := strings.Join(cfg.Kafka.Brokers, ","); got != "127.0.0.1:9092" {
				t.Errorf("kafka.brokers = %q, want 127.0.0.1:9092", got)
			}
		})
	}
}

func TestConfigsAreCopies(t *testing.T) {
	a := buildingsensors.RawConfig()
	a[0] = 'X'
	if b := buildingsensors.RawConfig(); b[0] == 'X' {
		t.Fatal("RawConfig returned shared bytes; a caller's edit leaked into the next call")
	}
}
