package config_test

import (
	"strings"
	"testing"

	"github.com/tributary-gw/tributary/gateway/config"
)

func TestReverseRoutes_Defaults(t *testing.T) {
	cfg, err := config.LoadBytes([]byte(`
reverse_routes:
  - name: commands
    from: [plant.commands]
    to: {topic: "cmd/{{.Key}}/set"}
  - name: notices
    from: [plant.notices]
    group: shared-notices
    to: {topic: notices/all, qos: 0, retain: true}
    dead_letter: plant.notices.dead
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.ReverseRoutes
	if len(r) != 2 {
		t.Fatalf("got %d reverse routes, want 2", len(r))
	}
	if r[0].To.QoS != 1 || r[0].DeadLetter != "plant.commands_dlq" || r[0].MaxInFlight != config.DefaultReverseMaxInFlight {
		t.Errorf("defaults not applied: %+v", r[0])
	}
	if g := r[0].GroupID("tributary", ""); g != "tributary-commands" {
		t.Errorf("default group %q", g)
	}
	if r[1].To.QoS != 0 || !r[1].To.Retain || r[1].DeadLetter != "plant.notices.dead" || r[1].GroupID("tributary", "") != "shared-notices" {
		t.Errorf("explicit values lost: %+v", r[1])
	}
}

func TestReverseRoutes_Errors(t *testing.T) {
	_, err := config.LoadBytes([]byte(`
reverse_routes:
  - name: a
    from: ["bad topic"]
    to: {topic: "cmd/+/x", qos: 3}
  - name: a
    from: [ok]
    to: {topic: "cmd/{{.Topic}}"}
tenants:
  inline:
    - name: acme
      mqtt_prefixes: [acme/]
      kafka_prefixes: [acme.]
      routes: [{name: up, from: [acme/#], to: {topic: acme.up}}]
      reverse_routes:
        - name: down
          from: [globex.commands]
          to: {topic: "{{.Key}}/set"}
          dead_letter: dlq
`), nil)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`reverse_routes[0] (a).from[0]: invalid Kafka topic "bad topic"`,
		`reverse_routes[0] (a).to.topic: invalid MQTT topic "cmd/+/x"`,
		`reverse_routes[0] (a).to.qos: 3 is not 0, 1 or 2`,
		`reverse_routes[1] (a).name: duplicate reverse route name "a"`,
		`reverse_routes[1] (a).to.topic: invalid template`,
		`from[0]: Kafka topic "globex.commands" is outside tenant acme's Kafka namespace`,
		`to.topic: MQTT topic "{{.Key}}/set" is outside tenant acme's MQTT namespace`,
		`dead_letter: Kafka topic "dlq" is outside tenant acme's Kafka namespace`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// TestReverseRoutes_RefusedWith311: reverse routes publish over MQTT v5 sessions of their own,
// so with mqtt.protocol 3.1.1 they are refused at load, naming the key, top level and tenant.
func TestReverseRoutes_RefusedWith311(t *testing.T) {
	_, err := config.LoadBytes([]byte(`
mqtt: {protocol: "3.1.1"}
reverse_routes:
  - {name: down, from: [commands], to: {topic: "cmd/{{.Key}}"}}
tenants:
  inline:
    - name: acme
      mqtt_prefixes: [acme/]
      kafka_prefixes: [acme.]
      routes: [{name: up, from: [acme/#], to: {topic: acme.up}}]
      reverse_routes: [{name: down, from: [acme.commands], to: {topic: "acme/{{.Key}}"}}]
`), nil)
	for _, want := range []string{"reverse_routes: reverse routes publish over MQTT v5", "acme", "mqtt.protocol 3.1.1"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}

// TestReverseRoutes_CountTowardsMaxInstances: a tenant's reverse-route stages share
// limits.max_instances with its routes' stages, so reverse routes cannot take a tenant past
// the instances its operator allowed.
func TestReverseRoutes_CountTowardsMaxInstances(t *testing.T) {
	_, err := config.LoadBytes([]byte(`
plugins: {dir: testdata/plugins}
tenants:
  inline:
    - name: acme
      mqtt_prefixes: [acme/]
      kafka_prefixes: [acme.]
      limits: {max_instances: 1}
      routes: [{name: up, from: [acme/#], chain: [{plugin: p}], to: {topic: acme.up}}]
      reverse_routes: [{name: down, from: [acme.commands], chain: [{plugin: p}], to: {topic: "acme/{{.Key}}"}}]
`), nil)
	if err == nil || !strings.Contains(err.Error(), "1 is fewer than the 2 chain stages") {
		t.Errorf("error %v, want max_instances 1 refused for 2 stages (one of them a reverse route's)", err)
	}
}

// TestReverseRoutes_TenantWithoutRoutes: a tenant may have reverse routes only, as the top
// level may; a tenant with neither is refused, naming it.
func TestReverseRoutes_TenantWithoutRoutes(t *testing.T) {
	tenants := `
tenants:
  inline:
    - name: acme
      mqtt_prefixes: [acme/]
      kafka_prefixes: [acme.]
`
	cfg, err := config.LoadBytes([]byte(tenants+`      reverse_routes: [{name: down, from: [acme.commands], to: {topic: "acme/{{.Key}}"}}]
`), nil)
	if err != nil {
		t.Fatalf("tenant with reverse routes only: %v", err)
	}
	if ts := cfg.AllTenants(); len(ts) != 1 || len(ts[0].Routes) != 0 || len(ts[0].ReverseRoutes) != 1 {
		t.Errorf("tenants loaded: %+v", ts)
	}
	_, err = config.LoadBytes([]byte(tenants), nil)
	if err == nil || !strings.Contains(err.Error(), "tenants.inline[0] (acme).routes: at least one route or reverse route is required") {
		t.Errorf("tenant with neither: error %v", err)
	}
}
