package config_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tributary-gw/tributary/gateway/config"
)

func FuzzLoadBytes(f *testing.F) {
	f.Add([]byte(minimal), "")
	f.Add([]byte(minimal+"mqtt: {session_expiry: 5x, bogus: 1}\n"), "TRIBUTARY_MQTT__CLIENT_ID=x")
	f.Add([]byte("routes: [{name: r, from: [a/#/b], qos: 3, to: {topic: 'x.{{.Segment 1}}', key: '{{.Property \"k\"}}'}}]\n"), "TRIBUTARY_KAFKA__BROKERS=a:1,b:2")
	f.Add([]byte("routes: [{name: r, from: a, to: {topic: t}, chain: [{plugin: celsius, config: {a: [1, 2.5, {b: null}]}}]}]\nplugins: {dir: testdata/plugins}\n"), "TRIBUTARY_ROUTES__0__QOS=1")
	f.Add([]byte("a: &a [*a, *a]\n"), "")
	f.Add([]byte("mqtt: [\n"), "TRIBUTARY_MQTT_URL=x")
	f.Fuzz(func(t *testing.T, doc []byte, envVar string) {
		// Secret files are read from disk; keep the fuzzer away from arbitrary paths.
		if bytes.Contains(doc, []byte("_file")) || strings.Contains(envVar, "_FILE") {
			return
		}
		cfg, err := config.LoadBytes(doc, []string{envVar})
		if err != nil {
			if cfg != nil {
				t.Fatalf("LoadBytes returned a config together with %v", err)
			}
			if strings.Contains(err.Error(), "panic") {
				t.Fatalf("error mentions a panic: %v", err)
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("Load accepted a config that Validate rejects: %v", err)
		}
		out, err := cfg.Redacted()
		if err != nil {
			t.Fatalf("Redacted: %v", err)
		}
		if cfg.MQTT.Password != "" || cfg.Kafka.SASL.Password != "" {
			return // secrets do not survive the round trip, by design
		}
		again, err := config.LoadBytes(out, nil)
		if err != nil {
			t.Fatalf("loading Redacted output failed: %v\ninput:\n%s\noutput:\n%s", err, doc, out)
		}
		out2, err := again.Redacted()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, out2) {
			t.Fatalf("Redacted output is not stable across a reload:\n%s\n---\n%s", out, out2)
		}
	})
}
