package config_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tributary-gw/tributary/gateway/config"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// minimal is the smallest valid file; plugin paths are relative to the package directory.
const minimal = `
plugins: {dir: testdata/plugins}
routes:
  - name: r
    from: ["a/#"]
    to: {topic: t}
`

// keyErrors returns the *KeyError values inside a joined error, in order.
// absPath is p made absolute against the working directory, as Load resolves paths.
func absPath(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func keyErrors(t *testing.T, err error) []*config.KeyError {
	t.Helper()
	var out []*config.KeyError
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		var ke *config.KeyError
		if !errors.As(err, &ke) {
			t.Errorf("error %q is not a *config.KeyError", err)
			return
		}
		out = append(out, ke)
	}
	walk(err)
	return out
}

// TestLoadExample loads testdata/example.yaml from the package's folder: its relative paths
// (./mqtt-password.txt, ./plugins) are the file's folder's, not the working directory's.
func TestLoadExample(t *testing.T) {
	cfg, err := config.Load("testdata/example.yaml", []string{"TRIBUTARY_KAFKA__SASL__PASSWORD=kafka-secret-9"})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got := cfg.MQTT.Password.Value(); got != "hunter2-mqtt" {
		t.Errorf("mqtt.password from file = %q, want the file's contents without the newline", got)
	}
	if got := cfg.Kafka.SASL.Password.Value(); got != "kafka-secret-9" {
		t.Errorf("kafka.sasl.password from env = %q", got)
	}
	if cfg.MQTT.SessionExpiry != time.Hour || cfg.MQTT.KeepAlive != 30*time.Second {
		t.Errorf("durations: session_expiry %v keep_alive %v", cfg.MQTT.SessionExpiry, cfg.MQTT.KeepAlive)
	}
	if got := cfg.PluginPath("celsius"); got != absPath(t, "testdata/plugins/celsius.wasm") {
		t.Errorf("PluginPath = %q", got)
	}
	want := []config.Route{
		{
			Name: "building-sensors", From: []string{"building/#"}, QoS: 1,
			Chain: []config.Stage{{Plugin: "celsius", Config: map[string]any{"field": "temp"}}},
			To:    config.Destination{Topic: "mqtt_building_sensors_raw", Key: "{{.Topic}}", Envelope: "none"},

			DeadLetter: "mqtt_building_sensors_dlq",
		},
		{
			Name: "per-floor", From: []string{"building/+/alarm", "factory/#"}, QoS: 0,
			To:         config.Destination{Topic: "alarms.{{.Segment 1}}", Key: `{{.Property "device"}}`, Envelope: "json"},
			DeadLetter: "alarms_dlq",
		},
		{
			Name: "defaults", From: []string{"meters/+"}, QoS: 1,
			To:         config.Destination{Topic: "meters", Key: config.DefaultKeyTemplate, Envelope: config.EnvelopeNone},
			DeadLetter: "meters_dlq",
		},
	}
	if !reflect.DeepEqual(cfg.Routes, want) {
		t.Errorf("routes:\n got %+v\nwant %+v", cfg.Routes, want)
	}
}

// TestRedactedGolden compares the printed configuration with testdata/example.golden, where
// "$CONFIG_DIR" stands for the absolute folder of example.yaml that its relative paths were
// resolved against.
func TestRedactedGolden(t *testing.T) {
	cfg, err := config.Load("testdata/example.yaml", []string{
		"TRIBUTARY_KAFKA__SASL__MECHANISM=SCRAM-SHA-512",
		"TRIBUTARY_KAFKA__SASL__USERNAME=gw",
		"TRIBUTARY_KAFKA__SASL__PASSWORD=kafka-secret-9",
		"TRIBUTARY_MQTT__URL=tcp://gw:url-secret-7@127.0.0.1:1883",
		"TRIBUTARY_FLOW__SHARDS=8", // the default depends on GOMAXPROCS
	})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	got, err := cfg.Redacted()
	if err != nil {
		t.Fatalf("Redacted: %v", err)
	}
	for _, secret := range []string{"hunter2-mqtt", "kafka-secret-9", "url-secret-7"} {
		if bytes.Contains(got, []byte(secret)) {
			t.Errorf("Redacted output contains the secret %q", secret)
		}
	}
	got = bytes.ReplaceAll(got, []byte(absPath(t, "testdata")), []byte("$CONFIG_DIR"))
	const golden = "testdata/example.golden"
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Redacted output differs from testdata/%s (go test -update rewrites it):\n%s", golden, got)
	}
}

func TestRedactedRoundTrip(t *testing.T) {
	t.Chdir("testdata")
	cfg, err := config.Load("example.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MQTT.Password, cfg.MQTT.PasswordFile = "", ""
	out, err := cfg.Redacted()
	if err != nil {
		t.Fatal(err)
	}
	again, err := config.LoadBytes(out, nil)
	if err != nil {
		t.Fatalf("loading Redacted output: %v\n%s", err, out)
	}
	if !reflect.DeepEqual(again, cfg) {
		t.Errorf("round trip through Redacted changed the config:\n got %+v\nwant %+v", again, cfg)
	}
}

func TestLoadErrors(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(secretFile, []byte("file-secret-3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		yaml    string
		env     []string
		wantErr []string // each must appear in the error text
	}{
		{name: "unknown top key", yaml: minimal + "mqqt: {}\n", wantErr: []string{"mqqt: unknown key"}},
		{name: "unknown nested key", yaml: minimal + "kafka: {tls: {cafile: x}}\n", wantErr: []string{"kafka.tls.cafile: unknown key"}},
		{
			name:    "unknown route key",
			yaml:    "plugins: {dir: testdata/plugins}\nroutes:\n  - name: r\n    from: [a]\n    to: {topik: x, topic: t}\n",
			wantErr: []string{"routes[0] (r).to.topik: unknown key; did you mean topic?"},
		},
		{name: "bad duration", yaml: minimal + "mqtt: {session_expiry: 5x}\n", wantErr: []string{`mqtt.session_expiry: invalid duration "5x"`}},
		{name: "duration without unit", yaml: minimal + "kafka: {linger: 5}\n", wantErr: []string{"kafka.linger: invalid duration 5: a unit is required"}},
		{name: "negative duration", yaml: minimal + "kafka: {linger: -1s}\n", wantErr: []string{"kafka.linger: -1s must not be negative"}},
		{name: "zero duration", yaml: minimal + "flow: {drain_timeout: 0s}\n", wantErr: []string{"flow.drain_timeout: 0s must be greater than 0"}},
		{name: "zero idle timeout", yaml: strings.Replace(minimal, "{dir: testdata/plugins}", "{dir: testdata/plugins, idle_timeout: 0s}", 1), wantErr: []string{"plugins.idle_timeout: 0s must be greater than 0"}},
		{name: "reconnect order", yaml: minimal + "mqtt: {reconnect_min: 5s, reconnect_max: 1s}\n", wantErr: []string{"mqtt.reconnect_max: 1s is less than mqtt.reconnect_min 5s"}},
		{name: "bad int", yaml: minimal + "flow: {max_batch: lots}\n", wantErr: []string{`flow.max_batch: invalid integer "lots"`}},
		{name: "wrong shape", yaml: minimal + "kafka: {brokers: {a: b}}\n", wantErr: []string{"kafka.brokers[0]: expected string, got a mapping"}},
		{name: "not a mapping", yaml: "- a\n- b\n", wantErr: []string{"config: "}},
		{name: "bad yaml", yaml: "mqtt: [\n", wantErr: []string{"config: line 1: invalid YAML: did not find expected node content"}},
		{name: "misindented key", yaml: "mqtt:\n  url: tcp://h:1883\n client_id: x\n", wantErr: []string{"line 3: invalid YAML: did not find expected key", "3 |  client_id: x"}},
		{name: "unknown top key suggestion", yaml: minimal + "pluginz: {}\n", wantErr: []string{"pluginz: unknown key; did you mean plugins?"}},
		{name: "unknown nested key suggestion", yaml: minimal + "mqtt: {client-id: x}\n", wantErr: []string{"mqtt.client-id: unknown key; did you mean client_id?"}},
		{name: "no routes", yaml: "mqtt: {client_id: x}\n", wantErr: []string{"routes: at least one route is required"}},
		{name: "empty from", yaml: "routes: [{name: r, to: {topic: t}}]\n", wantErr: []string{"routes[0] (r).from: at least one topic filter is required"}},
		{
			name:    "bad filter",
			yaml:    "routes: [{name: temps, from: [ok/#, x, a/#/b], to: {topic: t}}]\n",
			wantErr: []string{`routes[0] (temps).from[2]: invalid topic filter "a/#/b": # must be the last level`},
		},
		{name: "share in filter", yaml: "routes: [{name: r, from: [$share/g/a], to: {topic: t}}]\n", wantErr: []string{"routes[0] (r).from[0]", "mqtt.shared_group"}},
		{
			name:    "duplicate names",
			yaml:    "routes: [{name: r, from: [a], to: {topic: t}}, {name: r, from: [b], to: {topic: u}}]\n",
			wantErr: []string{`routes[1] (r).name: duplicate route name "r", also routes[0]`},
		},
		{name: "empty name", yaml: "routes: [{from: [a], to: {topic: t}}]\n", wantErr: []string{"routes[0].name: required"}},
		{name: "bad name", yaml: "routes: [{name: a/b, from: [a], to: {topic: t}}]\n", wantErr: []string{`routes[0] (a/b).name: invalid route name "a/b"`}},
		{name: "bad qos", yaml: "routes: [{name: r, from: [a], qos: 3, to: {topic: t}}]\n", wantErr: []string{"routes[0] (r).qos: 3 is not 0, 1 or 2"}},
		{name: "qos not a number", yaml: "routes: [{name: r, from: [a], qos: high, to: {topic: t}}]\n", wantErr: []string{`routes[0] (r).qos: invalid integer "high"`}},
		{
			name:    "missing plugin file",
			yaml:    "plugins: {dir: testdata/plugins}\nroutes: [{name: r, from: [a], to: {topic: t}, chain: [{plugin: celsius}, {plugin: nope}]}]\n",
			wantErr: []string{`routes[0] (r).chain[1].plugin: plugin "nope": file ` + absPath(t, "testdata/plugins/nope.wasm") + ` does not exist (plugins.dir "testdata/plugins" is relative to the working directory)`},
		},
		{
			name:    "misspelt plugin",
			yaml:    "plugins: {dir: testdata/plugins}\nroutes: [{name: r, from: [a], to: {topic: t}, chain: [{plugin: celsuis}]}]\n",
			wantErr: []string{`does not exist (plugins.dir "testdata/plugins" is relative to the working directory); did you mean celsius?`},
		},
		{name: "bad plugin name", yaml: "routes: [{name: r, from: [a], to: {topic: t}, chain: [{plugin: ../x}]}]\n", wantErr: []string{`routes[0] (r).chain[0].plugin: invalid plugin name "../x"`}},
		{name: "empty plugin", yaml: "routes: [{name: r, from: [a], to: {topic: t}, chain: [{config: {a: 1}}]}]\n", wantErr: []string{"routes[0] (r).chain[0].plugin: required"}},
		{name: "no topic", yaml: "routes: [{name: r, from: [a]}]\n", wantErr: []string{"routes[0] (r).to.topic: required"}},
		{name: "bad topic template", yaml: "routes: [{name: r, from: [a], to: {topic: 'a{{.Foo}}'}, dead_letter: d}]\n", wantErr: []string{`routes[0] (r).to.topic: invalid template "a{{.Foo}}": col 2`}},
		{name: "bad kafka topic", yaml: "routes: [{name: r, from: [a], to: {topic: 'a b'}}]\n", wantErr: []string{`routes[0] (r).to.topic: invalid Kafka topic "a b"`}},
		{name: "dot topic", yaml: "routes: [{name: r, from: [a], to: {topic: '..'}, dead_letter: d}]\n", wantErr: []string{`invalid Kafka topic "..": "." and ".." are not allowed`}},
		{name: "long topic", yaml: "routes: [{name: r, from: [a], to: {topic: " + strings.Repeat("t", 250) + "}, dead_letter: d}]\n", wantErr: []string{"longer than 249 characters"}},
		{name: "template needs dlq", yaml: "routes: [{name: r, from: [a], to: {topic: 'x.{{.Segment 0}}'}}]\n", wantErr: []string{"routes[0] (r).dead_letter: required when to.topic is a template"}},
		{name: "bad dlq", yaml: "routes: [{name: r, from: [a], to: {topic: t}, dead_letter: 'd/x'}]\n", wantErr: []string{`routes[0] (r).dead_letter: invalid Kafka topic "d/x"`}},
		{name: "bad key template", yaml: "routes: [{name: r, from: [a], to: {topic: t, key: '{{.Topic'}}]\n", wantErr: []string{"routes[0] (r).to.key: invalid template"}},
		{name: "bad envelope", yaml: "routes: [{name: r, from: [a], to: {topic: t, envelope: xml}}]\n", wantErr: []string{`routes[0] (r).to.envelope: "xml" is not one of none, json`}},
		{name: "url scheme", yaml: minimal + "mqtt: {url: 'http://h:1'}\n", wantErr: []string{`mqtt.url: scheme "http" of "http://h:1" is not one of tcp,`}},
		{name: "url host", yaml: minimal + "mqtt: {url: 'tcp://:1883'}\n", wantErr: []string{"mqtt.url: no host"}},
		{name: "empty client id", yaml: minimal + "mqtt: {client_id: ''}\n", wantErr: []string{"mqtt.client_id: required"}},
		{name: "receive maximum", yaml: minimal + "mqtt: {receive_maximum: 70000}\n", wantErr: []string{"mqtt.receive_maximum: 70000 is outside 1..65535"}},
		{name: "share group", yaml: minimal + "mqtt: {shared_group: a/b}\n", wantErr: []string{`mqtt.shared_group: invalid share group "a/b"`}},
		{name: "no brokers", yaml: minimal + "kafka: {brokers: []}\n", wantErr: []string{"kafka.brokers: at least one broker is required"}},
		{name: "bad broker", yaml: minimal + "kafka: {brokers: [ok:9092, nohost]}\n", wantErr: []string{`kafka.brokers[1]: invalid host:port "nohost"`}},
		{name: "compression", yaml: minimal + "kafka: {compression: brotli}\n", wantErr: []string{`kafka.compression: "brotli" is not one of`}},
		{name: "stall timeout", yaml: minimal + "kafka: {stall_timeout: 0s}\n", wantErr: []string{"kafka.stall_timeout: 0s must be greater than 0"}},
		{name: "sasl mechanism", yaml: minimal + "kafka: {sasl: {mechanism: GSSAPI}}\n", wantErr: []string{`kafka.sasl.mechanism: "GSSAPI"`}},
		{name: "sasl username", yaml: minimal + "kafka: {sasl: {mechanism: PLAIN}}\n", wantErr: []string{"kafka.sasl.username: required with kafka.sasl.mechanism PLAIN"}},
		{name: "cert without key", yaml: minimal + "mqtt: {tls: {cert_file: testdata/example.yaml}}\n", wantErr: []string{"mqtt.tls.key_file: required with mqtt.tls.cert_file"}},
		{name: "missing ca file", yaml: minimal + "kafka: {tls: {ca_file: /nonexistent/ca.pem}}\n", wantErr: []string{"kafka.tls.ca_file: stat /nonexistent/ca.pem"}},
		{name: "flow", yaml: minimal + "flow: {shards: 0, max_in_flight: -1, max_in_flight_bytes: 0}\n", wantErr: []string{"flow.shards: 0 must be greater than 0", "flow.max_in_flight: -1 must be greater than 0", "flow.max_in_flight_bytes: 0 must be greater than 0"}},
		{name: "in-flight bytes below a record", yaml: minimal + "flow: {max_in_flight_bytes: 1000}\n", wantErr: []string{"flow.max_in_flight_bytes: 1000 is below kafka.max_record_bytes 1048576"}},
		{name: "log", yaml: minimal + "log: {level: loud, format: xml}\n", wantErr: []string{`log.level: "loud"`, `log.format: "xml"`}},
		{name: "admin listen", yaml: minimal + "admin: {listen: nope}\n", wantErr: []string{`admin.listen: invalid host:port "nope"`}},
		{
			name:    "password and file",
			yaml:    minimal + fmt.Sprintf("mqtt: {password: inline-secret-1, password_file: %s}\n", secretFile),
			wantErr: []string{"mqtt.password: set both mqtt.password and mqtt.password_file; use one"},
		},
		{name: "password file missing", yaml: minimal + "kafka: {sasl: {password_file: /nonexistent/pw}}\n", wantErr: []string{"kafka.sasl.password_file: open /nonexistent/pw"}},
		{name: "password file not regular", yaml: minimal + "mqtt: {password_file: testdata}\n", wantErr: []string{"mqtt.password_file: " + absPath(t, "testdata") + " is not a regular file"}},
		{name: "env unknown key", yaml: minimal, env: []string{"TRIBUTARY_MQTT__CLIENTID=x"}, wantErr: []string{"TRIBUTARY_MQTT__CLIENTID: environment variable names no config key (mqtt.clientid); did you mean mqtt.client_id?"}},
		{name: "env single underscore", yaml: minimal, env: []string{"TRIBUTARY_MQTT_CLIENT_ID=x"}, wantErr: []string{`TRIBUTARY_MQTT_CLIENT_ID: environment variable names no config key: levels are separated by "__"`}},
		{name: "env routes", yaml: minimal, env: []string{"TRIBUTARY_ROUTES__0__NAME=x"}, wantErr: []string{"TRIBUTARY_ROUTES__0__NAME: environment variables cannot set items of routes"}},
		{name: "env section", yaml: minimal, env: []string{"TRIBUTARY_MQTT__TLS=x"}, wantErr: []string{"TRIBUTARY_MQTT__TLS: environment variable names no config key"}},
		{name: "env bad value", yaml: minimal, env: []string{"TRIBUTARY_MQTT__RECEIVE_MAXIMUM=many"}, wantErr: []string{`mqtt.receive_maximum: invalid integer "many" (from environment variable TRIBUTARY_MQTT__RECEIVE_MAXIMUM)`}},
		{name: "env bad duration", yaml: minimal, env: []string{"TRIBUTARY_MQTT__KEEP_ALIVE=5x"}, wantErr: []string{`mqtt.keep_alive: invalid duration "5x" (from environment variable TRIBUTARY_MQTT__KEEP_ALIVE)`}},
		{name: "env bad bool", yaml: minimal, env: []string{"TRIBUTARY_MQTT__CLEAN_START=maybe"}, wantErr: []string{`mqtt.clean_start: invalid boolean "maybe"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.LoadBytes([]byte(tc.yaml), tc.env)
			if err == nil {
				t.Fatalf("LoadBytes succeeded (%+v), want errors %q", cfg, tc.wantErr)
			}
			if cfg != nil {
				t.Errorf("LoadBytes returned a config with an error")
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not contain %q:\n%v", want, err)
				}
			}
			for _, secret := range []string{"inline-secret-1", "file-secret-3"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error text contains the secret %q:\n%v", secret, err)
				}
			}
		})
	}
}

func TestLoadReportsAllErrors(t *testing.T) {
	const doc = `
mqtt:
  session_expiry: 5x
  bogus: 1
kafka:
  compression: brotli
plugins: {dir: testdata/plugins}
routes:
  - name: temps
    from: ["a/#/b"]
    qos: 3
    chain: [{plugin: missing}]
    to: {topik: x, topic: "t.{{.Segment 1}}"}
  - name: temps
    from: [ok]
    to: {topic: t}
`
	_, err := config.LoadBytes([]byte(doc), []string{"TRIBUTARY_LOG__LEVEL=loud"})
	if err == nil {
		t.Fatal("LoadBytes succeeded")
	}
	var got []string
	for _, ke := range keyErrors(t, err) {
		got = append(got, ke.Error())
	}
	want := []string{
		`mqtt.bogus: unknown key`,
		`mqtt.session_expiry: invalid duration "5x"`,
		`routes[0] (temps).to.topik: unknown key; did you mean topic?`,
		`kafka.compression: "brotli" is not one of none, gzip, snappy, lz4, zstd`,
		`log.level: "loud" is not one of debug, info, warn, error`,
		`routes[0] (temps).from[0]: invalid topic filter "a/#/b": # must be the last level`,
		`routes[0] (temps).qos: 3 is not 0, 1 or 2`,
		`routes[0] (temps).chain[0].plugin: plugin "missing": file ` + absPath(t, "testdata/plugins/missing.wasm") + ` does not exist (plugins.dir "testdata/plugins" is relative to the working directory)`,
		`routes[0] (temps).dead_letter: required when to.topic is a template`,
		`routes[1] (temps).name: duplicate route name "temps", also routes[0]`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("errors:\n got %q\nwant %q", got, want)
	}
}

func TestLoadFileErrors(t *testing.T) {
	_, err := config.Load("testdata/nonexistent.yaml", nil)
	if err == nil || !strings.Contains(err.Error(), "config file "+absPath(t, "testdata/nonexistent.yaml")) {
		t.Errorf("missing file: got %v, want an error naming the file", err)
	}
}

func TestRouteDefaults(t *testing.T) {
	tests := []struct {
		name     string
		route    string
		wantQoS  int
		wantDLQ  string
		wantKey  string
		wantEnv  string
		wantFrom []string
	}{
		{name: "absent qos", route: "{name: r, from: [a], to: {topic: t}}", wantQoS: 1, wantDLQ: "t_dlq", wantKey: "{{.Topic}}", wantEnv: "none", wantFrom: []string{"a"}},
		{name: "explicit qos 0", route: "{name: r, from: [a], qos: 0, to: {topic: t}}", wantQoS: 0, wantDLQ: "t_dlq", wantKey: "{{.Topic}}", wantEnv: "none", wantFrom: []string{"a"}},
		{name: "null qos", route: "{name: r, from: [a], qos: ~, to: {topic: t}}", wantQoS: 1, wantDLQ: "t_dlq", wantKey: "{{.Topic}}", wantEnv: "none", wantFrom: []string{"a"}},
		{name: "qos 2 string", route: "{name: r, from: [a], qos: '2', to: {topic: t}}", wantQoS: 2, wantDLQ: "t_dlq", wantKey: "{{.Topic}}", wantEnv: "none", wantFrom: []string{"a"}},
		{name: "explicit fields", route: "{name: r, from: [a], to: {topic: t, key: k, envelope: json}, dead_letter: d}", wantQoS: 1, wantDLQ: "d", wantKey: "k", wantEnv: "json", wantFrom: []string{"a"}},
		{name: "template topic", route: "{name: r, from: [a], to: {topic: 'x.{{.Segment 0}}'}, dead_letter: d}", wantQoS: 1, wantDLQ: "d", wantKey: "{{.Topic}}", wantEnv: "none", wantFrom: []string{"a"}},
		{name: "single filter string", route: "{name: r, from: a/#, to: {topic: t}}", wantQoS: 1, wantDLQ: "t_dlq", wantKey: "{{.Topic}}", wantEnv: "none", wantFrom: []string{"a/#"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.LoadBytes([]byte("routes: ["+tc.route+"]\n"), nil)
			if err != nil {
				t.Fatal(err)
			}
			r := cfg.Routes[0]
			if r.QoS != tc.wantQoS || r.DeadLetter != tc.wantDLQ || r.To.Key != tc.wantKey || r.To.Envelope != tc.wantEnv || !reflect.DeepEqual(r.From, tc.wantFrom) {
				t.Errorf("got qos %d dead_letter %q key %q envelope %q from %q; want %d %q %q %q %q",
					r.QoS, r.DeadLetter, r.To.Key, r.To.Envelope, r.From, tc.wantQoS, tc.wantDLQ, tc.wantKey, tc.wantEnv, tc.wantFrom)
			}
		})
	}
}

func TestEnvMapping(t *testing.T) {
	tests := []struct {
		env   string
		check func(*config.Config) any
		want  any
	}{
		{"TRIBUTARY_MQTT__CLIENT_ID=gw-7", func(c *config.Config) any { return c.MQTT.ClientID }, "gw-7"},
		{"TRIBUTARY_mqtt__client_id=lower", func(c *config.Config) any { return c.MQTT.ClientID }, "lower"},
		{"TRIBUTARY_MQTT__CLEAN_START=true", func(c *config.Config) any { return c.MQTT.CleanStart }, true},
		{"TRIBUTARY_MQTT__SESSION_EXPIRY=90m", func(c *config.Config) any { return c.MQTT.SessionExpiry }, 90 * time.Minute},
		{"TRIBUTARY_MQTT__RECEIVE_MAXIMUM=50", func(c *config.Config) any { return c.MQTT.ReceiveMaximum }, 50},
		{"TRIBUTARY_MQTT__SHARED_GROUP=fleet", func(c *config.Config) any { return c.MQTT.SharedGroup }, "fleet"},
		{"TRIBUTARY_MQTT__TLS__SERVER_NAME=broker.local", func(c *config.Config) any { return c.MQTT.TLS.ServerName }, "broker.local"},
		{"TRIBUTARY_KAFKA__BROKERS=a:9092,b:9092", func(c *config.Config) any { return c.Kafka.Brokers }, []string{"a:9092", "b:9092"}},
		{"TRIBUTARY_KAFKA__BROKERS= a:9092 , ,b:9092,", func(c *config.Config) any { return c.Kafka.Brokers }, []string{"a:9092", "b:9092"}},
		{"TRIBUTARY_KAFKA__BROKERS=solo:1", func(c *config.Config) any { return c.Kafka.Brokers }, []string{"solo:1"}},
		{"TRIBUTARY_KAFKA__COMPRESSION=zstd", func(c *config.Config) any { return c.Kafka.Compression }, "zstd"},
		{"TRIBUTARY_KAFKA__TLS__ENABLED=1", func(c *config.Config) any { return c.Kafka.TLS.Enabled }, true},
		{"TRIBUTARY_KAFKA__SASL__USERNAME=u", func(c *config.Config) any { return c.Kafka.SASL.Username }, "u"},
		{"TRIBUTARY_FLOW__SHARDS=3", func(c *config.Config) any { return c.Flow.Shards }, 3},
		{"TRIBUTARY_LOG__FORMAT=json", func(c *config.Config) any { return c.Log.Format }, "json"},
		{"TRIBUTARY_ADMIN__LISTEN=", func(c *config.Config) any { return c.Admin.Listen }, ""},
		{"TRIBUTARY_PLUGINS__CACHE_DIR=/var/cache/t", func(c *config.Config) any { return c.Plugins.CacheDir }, "/var/cache/t"},
		// Not config variables: no "__" and no section prefix. Left alone.
		{"TRIBUTARY_REQUIRE_MOSQUITTO=1", func(c *config.Config) any { return c.MQTT.ClientID }, "tributary-1"},
		{"OTHER_MQTT__CLIENT_ID=x", func(c *config.Config) any { return c.MQTT.ClientID }, "tributary-1"},
	}
	for _, tc := range tests {
		t.Run(tc.env, func(t *testing.T) {
			cfg, err := config.LoadBytes([]byte(minimal), []string{tc.env})
			if err != nil {
				t.Fatal(err)
			}
			if got := tc.check(cfg); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

func TestEnvOverridesFile(t *testing.T) {
	cfg, err := config.LoadBytes([]byte(minimal+"mqtt: {client_id: from-file, keep_alive: 10s}\n"), []string{"TRIBUTARY_MQTT__CLIENT_ID=from-env"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MQTT.ClientID != "from-env" || cfg.MQTT.KeepAlive != 10*time.Second {
		t.Errorf("client_id %q keep_alive %v: want the env to win and the file to stay for other keys", cfg.MQTT.ClientID, cfg.MQTT.KeepAlive)
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("file-secret-3\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	doc := minimal + fmt.Sprintf("mqtt: {password_file: %s}\nkafka: {sasl: {mechanism: PLAIN, username: u}}\n", pw)
	cfg, err := config.LoadBytes([]byte(doc), []string{"TRIBUTARY_KAFKA__SASL__PASSWORD=env-secret-4"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MQTT.Password.Value() != "file-secret-3" || cfg.Kafka.SASL.Password.Value() != "env-secret-4" {
		t.Fatalf("secrets not loaded: %d and %d bytes", len(cfg.MQTT.Password.Value()), len(cfg.Kafka.SASL.Password.Value()))
	}

	var outputs []string
	red, err := cfg.Redacted()
	if err != nil {
		t.Fatal(err)
	}
	outputs = append(outputs, string(red))
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		outputs = append(outputs, fmt.Sprintf(verb, *cfg), fmt.Sprintf(verb, cfg.Kafka.SASL.Password))
	}
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	outputs = append(outputs, string(js))
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("cfg", "password", cfg.MQTT.Password, "sasl", cfg.Kafka.SASL)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("cfg", "password", cfg.MQTT.Password, "mqtt", cfg.MQTT)
	outputs = append(outputs, logs.String())

	for i, out := range outputs {
		for _, secret := range []string{"file-secret-3", "env-secret-4"} {
			if strings.Contains(out, secret) {
				t.Errorf("output %d contains %q: %s", i, secret, out)
			}
		}
	}
	if !strings.Contains(string(red), "password: '[redacted]'") {
		t.Errorf("Redacted does not show the password as [redacted]:\n%s", red)
	}
	if got := fmt.Sprint(config.Secret("")); got != "" {
		t.Errorf("empty secret prints %q, want empty", got)
	}
}

func TestValidateProgrammatic(t *testing.T) {
	cfg := config.Default()
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "routes: at least one route is required") {
		t.Fatalf("Default().Validate() = %v, want the missing routes reported", err)
	}
	cfg.Routes = []config.Route{{Name: "r", From: []string{"a/+"}, QoS: 1, To: config.Destination{Topic: "t", Key: config.DefaultKeyTemplate, Envelope: config.EnvelopeNone}}}
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate of a complete config: %v", err)
	}
	cfg.MQTT.URL = "tcp://user:pw-secret-5@:1883"
	err = cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "mqtt.url: no host") || strings.Contains(err.Error(), "pw-secret-5") {
		t.Errorf("bad URL with a password: got %v, want a no-host error without the password", err)
	}
}

func TestStageConfigKeepsDottedKeys(t *testing.T) {
	doc := "plugins: {dir: testdata/plugins}\nroutes: [{name: r, from: [a], to: {topic: t}, chain: [{plugin: celsius, config: {\"a.b\": 1, c: {d.e: x}}}]}]\n"
	cfg, err := config.LoadBytes([]byte(doc), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"a.b": 1, "c": map[string]any{"d.e": "x"}}
	if got := cfg.Routes[0].Chain[0].Config; !reflect.DeepEqual(got, want) {
		t.Errorf("stage config = %#v, want %#v (koanf's key delimiter must not split plugin keys)", got, want)
	}
}
