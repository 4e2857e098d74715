package kafkasink

import (
	"fmt"
	"strings"

	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/internal/schemaenc"
	"github.com/tributary-gw/tributary/gateway/mqtttopic"
)

// Counters counts a route's records as Kafka acknowledges them. Implementations must be safe
// for concurrent use and must not block: promises call them.
type Counters interface {
	// Produced counts one record acknowledged by Kafka.
	Produced()
	// DeadLettered counts one dead-letter record of kind acknowledged by Kafka.
	DeadLettered(kind string)
}

// Route is the Kafka mapping of one configured route: where and how its messages become
// records, and where its dead letters go. It is immutable once built and safe for concurrent
// use; a reload builds a new one.
type Route struct {
	tenant     string // "" for top-level routes
	name       string
	topic      *mqtttopic.Template // Kafka topic; see staticTopic
	key        *mqtttopic.Template // record key; nil means the MQTT topic (the default)
	keyPayload bool                // key has {{.Payload "path"}} actions
	// missing is to.missing, what a payload field the payload lacks renders as;
	// missingDefault is the TEXT of "default:TEXT", nil otherwise.
	missing        config.MissingField
	missingDefault []byte
	envelope       bool
	deadLetter     string
	counters       Counters
	progress       *Progress
	// ns is the owning tenant's namespace, checked on topics chosen at run time; nil for
	// top-level routes, which may produce anywhere.
	ns *config.Tenant
	// maxMessageBytes is the tenant's limits.max_message_bytes; 0 means no cap.
	maxMessageBytes int

	// staticTopic is the Kafka topic when the topic template has no actions.
	staticTopic string
	// lineage is the value of HeaderLineage on every record; nil: no such header.
	lineage []byte

	// valueConf and keyConf are the route's to.value_schema and to.key_schema; UseSchemas
	// makes valueSchema and keySchema of them. nil encoders: the value or key as is.
	valueConf, keyConf     config.Schema
	valueSchema, keySchema *schemaenc.Encoder
}

// UseSchemas makes the route encode its record values and keys through reg as its
// to.value_schema and to.key_schema say. The gateway calls it, before the route serves, for a
// route with either; reg is the gateway's registry client.
func (r *Route) UseSchemas(reg *schemaenc.Registry) {
	if r.valueConf.IsSet() {
		r.valueSchema = reg.Encoder(r.valueConf)
	}
	if r.keyConf.IsSet() {
		r.keySchema = reg.Encoder(r.keyConf)
	}
}

// SchemasPending says which of the route's schemas are not resolved yet, and why: "" when
// none is (or the route has none). The route's messages wait until they are.
func (r *Route) SchemasPending() string {
	var out []string
	for _, e := range [2]*schemaenc.Encoder{r.valueSchema, r.keySchema} {
		if e != nil && !e.Ready() {
			out = append(out, e.Pending())
		}
	}
	return strings.Join(out, "; ")
}

// LineageStage is one stage of a route's chain as the lineage header names it.
type LineageStage struct {
	// Plugin is the stage's plugin name ([A-Za-z0-9_-], so neither '@' nor ',').
	Plugin string
	// Version is the sha256 hex of the module serving the stage.
	Version string
}

// SetLineage makes every record of the route carry HeaderLineage naming stages, in order:
// "NAME@VERSION,NAME@VERSION" (an empty value for none). The gateway calls it for a route
// with to.lineage once its chain is built, before the route serves; the versions are those of
// that chain, so a reload that swaps a plugin builds a new Route with the new versions.
func (r *Route) SetLineage(stages []LineageStage) {
	b := []byte{}
	for i, st := range stages {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, st.Plugin...)
		b = append(b, '@')
		b = append(b, st.Version...)
	}
	r.lineage = b
}

// NewRoute builds the mapping of a validated route configuration of tenant t (nil for a
// top-level route). Its records are counted in c and p as Kafka acknowledges them. Errors
// name the route and its key (to.topic, to.key).
func NewRoute(rc config.Route, t *config.Tenant, c Counters, p *Progress) (*Route, error) {
	r := &Route{
		name:       rc.Name,
		envelope:   rc.To.Envelope == config.EnvelopeJSON,
		deadLetter: rc.DeadLetter,
		counters:   c,
		progress:   p,
		valueConf:  rc.To.ValueSchema,
		keyConf:    rc.To.KeySchema,
	}
	if t != nil {
		r.tenant = t.Name
		ns := *t
		ns.Routes, ns.ReverseRoutes = nil, nil
		r.ns = &ns
		r.maxMessageBytes = t.Limits.MaxMessageBytes
	}
	tpl, err := mqtttopic.ParseTemplate(rc.To.Topic)
	if err != nil {
		return nil, fmt.Errorf("route %q: to.topic: %w", rc.Name, err)
	}
	r.topic = tpl
	r.setMissing(rc.To.Missing)
	if tpl.IsStatic() {
		r.staticTopic = string(tpl.Append(nil, nil))
	}
	if rc.To.Key != "" && rc.To.Key != config.DefaultKeyTemplate {
		if r.key, err = mqtttopic.ParseTemplate(rc.To.Key); err != nil {
			return nil, fmt.Errorf("route %q: to.key: %w", rc.Name, err)
		}
		r.keyPayload = r.key.UsesPayload()
	}
	return r, nil
}

// Namespace returns the tenant namespace the route was built with (its routes left out), nil
// for a top-level route. The caller must not modify it.
func (r *Route) Namespace() *config.Tenant { return r.ns }
