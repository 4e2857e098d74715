package config_test

import (
	"strings"
	"testing"

	"github.com/tributary-gw/tributary/gateway/config"
)

// TestProtocol311 reads mqtt.protocol in the spellings a user writes and refuses, naming the
// key, what MQTT 3.1.1 cannot do.
func TestProtocol311(t *testing.T) {
	for _, v := range []string{"3.1.1", `"3.1.1"`, "311", "5", `"5"`} {
		cfg, err := config.LoadBytes([]byte("mqtt: {protocol: "+v+"}\n"+minimal), nil)
		if err != nil {
			t.Fatalf("protocol %s: %v", v, err)
		}
		if want := strings.Trim(v, `"`) != "5"; cfg.MQTT.Is311() != want {
			t.Errorf("protocol %s: Is311 = %v", v, cfg.MQTT.Is311())
		}
	}
	if cfg, err := config.LoadBytes([]byte(minimal), nil); err != nil || cfg.MQTT.Is311() || cfg.MQTT.Protocol != config.Protocol5 {
		t.Fatalf("default protocol: %+v, %v", cfg.MQTT.Protocol, err)
	}
	cfg, err := config.LoadBytes([]byte(minimal), []string{"TRIBUTARY_MQTT__PROTOCOL=3.1.1"})
	if err != nil || !cfg.MQTT.Is311() {
		t.Fatalf("protocol from the environment: %v", err)
	}

	refused := []struct {
		name, doc, key, says string
	}{
		{"unknown version", "mqtt: {protocol: 4}\n" + minimal, "mqtt.protocol", "not one of 5, 3.1.1"},
		{"clean start", "mqtt: {protocol: 3.1.1, clean_start: true}\n" + minimal, "mqtt.clean_start", "MQTT v5 only"},
		{"session expiry", "mqtt: {protocol: 3.1.1, session_expiry: 2h}\n" + minimal, "mqtt.session_expiry", "MQTT v5 only"},
		{"receive maximum", "mqtt: {protocol: 3.1.1, receive_maximum: 10}\n" + minimal, "mqtt.receive_maximum", "MQTT v5 only"},
		{"ack interval", "mqtt: {protocol: 3.1.1, ack_interval: 1ms}\n" + minimal, "mqtt.ack_interval", "MQTT v5 client only"},
		{"user property in a key", `
mqtt: {protocol: 3.1.1}
plugins: {dir: testdata/plugins}
routes:
  - name: r
    from: ["a/#"]
    to: {topic: t, key: '{{.Property "site"}}'}
`, "routes[0] (r).to.key", "user properties"},
		{"overlapping filters across routes", `
mqtt: {protocol: 3.1.1}
plugins: {dir: testdata/plugins}
routes:
  - name: r
    from: ["a/#"]
    to: {topic: t}
  - name: s
    from: ["b/x", "a/+/temp"]
    to: {topic: u}
`, "routes[1] (s).from[1]", `overlaps "a/#" (routes[0].from[0], route "r")`},
		{"overlapping filters in a tenant", `
mqtt: {protocol: 3.1.1}
plugins: {dir: testdata/plugins}
tenants:
  inline:
    - name: acme
      mqtt_prefixes: [acme/]
      kafka_prefixes: [acme.]
      routes:
        - name: r
          from: ["acme/+/t", "acme/x/+"]
          to: {topic: acme.t}
`, "tenants.inline[0] (acme).routes[0] (r).from[1]", "overlaps"},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			_, err := config.LoadBytes([]byte(c.doc), nil)
			if err == nil {
				t.Fatal("loaded")
			}
			if !strings.Contains(err.Error(), c.key+": ") || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("error %q does not name %s with %q", err, c.key, c.says)
			}
		})
	}

	// The same filter on two routes is one subscription; disjoint filters are fine; v5 takes
	// overlapping ones; and each tenant is its own session.
	for name, doc := range map[string]string{
		"same filter twice": `
mqtt: {protocol: 3.1.1}
plugins: {dir: testdata/plugins}
routes:
  - {name: r, from: ["a/#"], to: {topic: t}}
  - {name: s, from: ["a/#", "b/+"], to: {topic: u}}
`,
		"v5 overlapping": `
plugins: {dir: testdata/plugins}
routes:
  - {name: r, from: ["a/#", "a/+"], to: {topic: t}}
`,
		"top level and tenant": `
mqtt: {protocol: 3.1.1}
plugins: {dir: testdata/plugins}
routes:
  - {name: r, from: ["#"], to: {topic: t}}
tenants:
  inline:
    - name: acme
      mqtt_prefixes: [acme/]
      kafka_prefixes: [acme.]
      routes:
        - {name: r, from: ["acme/#"], to: {topic: acme.t}}
`,
	} {
		if _, err := config.LoadBytes([]byte(doc), nil); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
