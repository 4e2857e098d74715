package loadbench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/tributary-gw/tributary/cmd/tributary/internal/devrun"
)

// layout places the benchmark's topics on the gateway under test: which MQTT session (the
// top-level routes, or a tenant) and which route each topic index belongs to, the topic's
// name, each route's filter and each session's Kafka topic. Every topic matches exactly one
// route's filter.
//
// Topic index t belongs to session t % S (S sessions: one per tenant, or the top-level
// routes), and within it to route (t / S) % R. Its name is
//
//	PREFIX[/tKK][/rJJJJ]/devNNNNN/telemetry
//
// with the tenant level when there are tenants and the route level when there is more than
// one route; route J's filter is PREFIX[/tKK]/rJJJJ/+/telemetry, or PREFIX[/tKK]/# for a
// single route.
type layout struct {
	o          *Options
	kafkaBase  string // the Kafka topic of the top-level routes; tenants add ".tKK"
	tenantDigs int
	routeDigs  int
}

func newLayout(o *Options, kafkaBase string) layout {
	return layout{o: o, kafkaBase: kafkaBase, tenantDigs: len(strconv.Itoa(max(o.Tenants-1, 9))),
		routeDigs: len(strconv.Itoa(max(o.Routes-1, 999)))}
}

// sessions returns how many MQTT sessions the gateway has: one per tenant, or one.
func (l layout) sessions() int { return max(l.o.Tenants, 1) }

// tenant returns the name of tenant k (its folder), or "" without tenants.
func (l layout) tenant(k int) string {
	if l.o.Tenants == 0 {
		return ""
	}
	return fmt.Sprintf("t%0*d", l.tenantDigs, k)
}

// prefix returns the topic prefix of session k: PREFIX, or PREFIX/tKK.
func (l layout) prefix(k int) string {
	if l.o.Tenants == 0 {
		return l.o.TopicPrefix
	}
	return l.o.TopicPrefix + "/" + l.tenant(k)
}

// topic returns the MQTT topic of topic index t.
func (l layout) topic(t int) string {
	s := l.sessions()
	p := l.prefix(t % s)
	if l.o.Routes > 1 {
		p += fmt.Sprintf("/r%0*d", l.routeDigs, (t/s)%l.o.Routes)
	}
	return p + fmt.Sprintf("/dev%05d/telemetry", t)
}

// filter returns the filter of route j of session k.
func (l layout) filter(k, j int) string {
	if l.o.Routes == 1 {
		return l.prefix(k) + "/#"
	}
	return fmt.Sprintf("%s/r%0*d/+/telemetry", l.prefix(k), l.routeDigs, j)
}

// filters returns the filters of session k's routes, in route order.
func (l layout) filters(k int) []string {
	out := make([]string, l.o.Routes)
	for j := range out {
		out[j] = l.filter(k, j)
	}
	return out
}

// clientID returns the MQTT client id of session k, as the gateway derives it.
func (l layout) clientID(k int) string {
	if l.o.Tenants == 0 {
		return l.o.ClientID
	}
	return l.o.ClientID + "." + l.tenant(k)
}

// kafkaTopic returns the Kafka topic every route of session k writes to.
func (l layout) kafkaTopic(k int) string {
	if l.o.Tenants == 0 {
		return l.kafkaBase
	}
	return l.kafkaBase + "." + l.tenant(k)
}

// kafkaTopics returns every session's Kafka topic.
func (l layout) kafkaTopics() []string {
	out := make([]string, l.sessions())
	for k := range out {
		out[k] = l.kafkaTopic(k)
	}
	return out
}

// FirstPartyPlugins are the first-party plugins a chain of Options.FirstPartyChain stages
// runs, in order, repeated for longer chains: the building-sensors example's chain.
var FirstPartyPlugins = []string{"topic-fields", "units", "filter"}

// firstPartyStage returns stage i of a first-party chain for session k: the plugin and its
// configuration (YAML flow style). Every stage keeps every benchmark message and its
// identifying fields: topic-fields adds the topic's levels as fields, units converts the
// reading from Celsius to Fahrenheit (a no-op when repeated), filter keeps messages that have
// a sequence number and a plausible temperature (all of the benchmark's).
func (l layout) firstPartyStage(k, i int) (plugin, config string) {
	plugin = FirstPartyPlugins[i%len(FirstPartyPlugins)]
	switch plugin {
	case "topic-fields":
		var levels []string
		for range strings.Split(l.prefix(k), "/") {
			levels = append(levels, "+")
		}
		if l.o.Routes > 1 {
			levels = append(levels, "r{route}")
		}
		levels = append(levels, "dev{device}", "{kind}")
		return plugin, fmt.Sprintf("{pattern: %s, no_match: pass}", strconv.Quote(strings.Join(levels, "/")))
	case "units":
		return plugin, "{conversions: [{field: value, unit_field: unit, to: fahrenheit, round: 2}]}"
	default:
		return plugin, `{keep: {all: [{field: seq, op: exists}, {any: [{field: unit, op: "!=", value: fahrenheit}, {all: [{field: value, op: ">=", value: -40}, {field: value, op: "<=", value: 140}]}]}]}}`
	}
}

// writeRoutes writes the YAML of session k's routes, indented by indent spaces.
func (l layout) writeRoutes(b *bytes.Buffer, k int, indent string) {
	q := strconv.Quote
	for j := range l.o.Routes {
		fmt.Fprintf(b, "%s- name: %s\n%s  from: [%s]\n%s  qos: %d\n", indent, q(fmt.Sprintf("r%0*d", l.routeDigs, j)),
			indent, q(l.filter(k, j)), indent, l.o.QoS)
		if n := len(l.o.Chain) + l.o.FirstPartyChain; n > 0 {
			fmt.Fprintf(b, "%s  chain:\n", indent)
			for i, p := range l.o.Chain {
				fmt.Fprintf(b, "%s    - plugin: %s\n", indent, q(p))
				if i < len(l.o.ChainConfigs) && l.o.ChainConfigs[i] != nil {
					fmt.Fprintf(b, "%s      config: %s\n", indent, l.o.ChainConfigs[i])
				}
			}
			for i := range l.o.FirstPartyChain {
				p, cfg := l.firstPartyStage(k, i)
				fmt.Fprintf(b, "%s    - plugin: %s\n%s      config: %s\n", indent, q(p), indent, cfg)
			}
		}
		fmt.Fprintf(b, "%s  to:\n%s    topic: %s\n%s    envelope: none\n", indent, indent, q(l.kafkaTopic(k)), indent)
		if l.o.Schema != "" {
			fmt.Fprintf(b, "%s    value_schema:\n%s      format: %s\n%s      subject: %s\n", indent, indent, q(l.o.Schema),
				indent, q(schemaSubject(l.kafkaTopic(k))))
		}
	}
}

// writeTenants writes one folder per tenant under dir/tenants, each with its tenant.yaml:
// namespace PREFIX/tKK/ and Kafka topics starting with the session's Kafka topic, and its
// routes. It returns the tenants folder.
func (l layout) writeTenants(dir string) (string, error) {
	root := filepath.Join(dir, "tenants")
	q := strconv.Quote
	for k := range l.o.Tenants {
		var b bytes.Buffer
		fmt.Fprintf(&b, "# Written by tributary bench: tenant %d of %d.\nmqtt_prefixes: [%s]\nkafka_prefixes: [%s]\nroutes:\n",
			k+1, l.o.Tenants, q(l.prefix(k)+"/"), q(l.kafkaTopic(k)))
		l.writeRoutes(&b, k, "  ")
		folder := filepath.Join(root, l.tenant(k))
		if err := os.MkdirAll(folder, 0o755); err != nil {
			return "", fmt.Errorf("tenant folder %s: %w", folder, err)
		}
		path := filepath.Join(folder, "tenant.yaml")
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			return "", fmt.Errorf("tenant file %s: %w", path, err)
		}
	}
	return root, nil
}

// buildFirstParty builds the first-party plugins (FirstPartyPlugins) into cache, or the user
// cache folder's tributary/bench-plugins when cache is empty, unless they are built already,
// and returns the folder holding NAME.wasm. Progress lines go to out.
func buildFirstParty(ctx context.Context, cache string, out io.Writer) (string, error) {
	dir, err := devrun.BuildFirstParty(ctx, FirstPartyPlugins, "", cache, "bench-plugins", out)
	if err != nil {
		return "", fmt.Errorf("building the first-party plugins for the chain: %w", err)
	}
	return dir, nil
}
