package connectimport

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tributary-gw/tributary/gateway/config"
)

// Family is the connector implementation a configuration was written for.
type Family int

const (
	// Confluent is io.confluent.connect.mqtt.MqttSourceConnector (keys mqtt.*, kafka.topic,
	// confluent.*).
	Confluent Family = iota + 1
	// StreamReactor is Lenses' Stream Reactor MQTT source,
	// io.lenses.streamreactor.connect.mqtt.source.MqttSourceConnector (keys connect.mqtt.*,
	// routes in KCQL).
	StreamReactor
)

// String names the family as users know it.
func (f Family) String() string {
	switch f {
	case Confluent:
		return "Confluent MQTT source"
	case StreamReactor:
		return "Lenses Stream Reactor MQTT source"
	}
	return "unknown connector"
}

// Warning is something the import could not carry over, or carried over with a change of
// behaviour the user should know about.
type Warning struct {
	// Key is the connector key the warning is about; empty for general ones.
	Key string
	// Text says what happened and what to do. It never holds a secret.
	Text string
}

// String returns "key: text", or the text alone when Key is empty.
func (w Warning) String() string {
	if w.Key == "" {
		return w.Text
	}
	return w.Key + ": " + w.Text
}

// Result is one imported configuration.
type Result struct {
	// Name is the connector's name, "" when the input has none.
	Name string
	// Family is the connector implementation the input was written for.
	Family Family
	// YAML is the Tributary configuration, with the warnings as comments. It loads with
	// config.LoadBytes when the TLS files it names exist.
	YAML []byte
	// Warnings lists, in a stable order, everything the user should review.
	Warnings []Warning
}

// maxInputBytes bounds the JSON document Convert reads: connector configs are small.
const maxInputBytes = 4 << 20

// Convert reads one Kafka Connect MQTT source connector configuration, either the REST
// shape {"name": ..., "config": {...}} or a flat config object, and returns the equivalent
// Tributary configuration.
//
// # Errors
//
// Convert fails, naming the key, when the input is not a JSON object, is a sink connector
// or some other connector, or lacks what a route needs (broker URIs, MQTT topics, Kafka
// topic or KCQL). Everything else that cannot be mapped is a Warning, not an error.
func Convert(data []byte) (*Result, error) {
	c, err := parseConnector(data)
	if err != nil {
		return nil, err
	}
	fam, err := c.family()
	if err != nil {
		return nil, err
	}
	p := &plan{}
	switch fam {
	case Confluent:
		err = c.confluent(p)
	case StreamReactor:
		err = c.streamReactor(p)
	}
	if err != nil {
		return nil, err
	}
	c.common(p)
	c.unknownKeys()
	return &Result{Name: c.name, Family: fam, YAML: p.yaml(c, fam), Warnings: c.warnings}, nil
}

// connector is the input: scalar values by key, which keys were used, and the warnings.
type connector struct {
	name     string
	class    string
	values   map[string]string
	used     map[string]bool
	warnings []Warning
}

// parseConnector decodes data into a connector; JSON numbers and booleans become their text.
func parseConnector(data []byte) (*connector, error) {
	if len(data) > maxInputBytes {
		return nil, fmt.Errorf("connector config: %d bytes is more than the %d a connector config can plausibly be", len(data), maxInputBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var top map[string]any
	if err := dec.Decode(&top); err != nil {
		return nil, fmt.Errorf("connector config: not a JSON object: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("connector config: unexpected data after the JSON object")
	}
	c := &connector{values: map[string]string{}, used: map[string]bool{}}
	obj := top
	if raw, ok := top["config"]; ok {
		inner, isObj := raw.(map[string]any)
		if !isObj {
			return nil, errors.New(`connector config: "config" is not a JSON object`)
		}
		obj = inner
		if n, ok := top["name"].(string); ok {
			c.name = n
		}
	}
	for k, v := range obj {
		switch v := v.(type) {
		case string:
			c.values[k] = v
		case json.Number:
			c.values[k] = v.String()
		case bool:
			c.values[k] = strconv.FormatBool(v)
		case nil:
			// A null is an unset key.
		default:
			c.used[k] = true
			c.warn(k, "value is not a string, number or boolean; not mapped")
		}
	}
	if n, ok := c.get("name"); ok && c.name == "" {
		c.name = n
	}
	c.class, _ = c.get("connector.class")
	return c, nil
}

// get returns the trimmed value of key and marks the key as used.
func (c *connector) get(key string) (string, bool) {
	v, ok := c.values[key]
	if ok {
		c.used[key] = true
	}
	return strings.TrimSpace(v), ok
}

// withPrefix returns the keys starting with prefix, sorted, and marks them used.
func (c *connector) withPrefix(prefix string) []string {
	var keys []string
	for k := range c.values {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
			c.used[k] = true
		}
	}
	sort.Strings(keys)
	return keys
}

func (c *connector) warn(key, format string, args ...any) {
	c.warnings = append(c.warnings, Warning{Key: key, Text: fmt.Sprintf(format, args...)})
}

// family decides which connector the configuration was written for.
func (c *connector) family() (Family, error) {
	cls := strings.ToLower(c.class)
	switch {
	case strings.Contains(cls, "sink"):
		return 0, fmt.Errorf("connector.class %q is a sink connector; import-connect converts MQTT source connectors", c.class)
	case strings.Contains(cls, "confluent.connect.mqtt"):
		return Confluent, nil
	case strings.Contains(cls, "mqtt") && (strings.Contains(cls, "streamreactor") || strings.Contains(cls, "datamountaineer")):
		return StreamReactor, nil
	}
	if _, ok := c.values["connect.mqtt.kcql"]; ok {
		return StreamReactor, nil
	}
	if _, ok := c.values["connect.mqtt.hosts"]; ok {
		return StreamReactor, nil
	}
	if _, ok := c.values["mqtt.server.uri"]; ok {
		return Confluent, nil
	}
	if c.class != "" {
		return 0, fmt.Errorf("connector.class %q is not a known MQTT source connector (Confluent's or Lenses Stream Reactor's)", c.class)
	}
	return 0, errors.New("connector config: neither a Confluent MQTT source (mqtt.server.uri) nor a Stream Reactor MQTT source (connect.mqtt.hosts, connect.mqtt.kcql)")
}

// plan is the Tributary configuration being built.
type plan struct {
	mqtt struct {
		url, clientID, username string
		clientIDNote            string
		sharedGroup             string
		cleanStart              bool
		passwordSet             bool
		keepAlive, connTimeout  time.Duration
		caFile, certFile        string
		keyFile                 string
		keyStores               bool // Java key stores that need converting to PEM
	}
	kafka struct {
		brokers     []string
		brokersFrom string // the key the brokers came from, "" when defaulted
		tls         bool
		sasl        string // mechanism from the license topic's settings, shown as a comment
	}
	converterNote string // how the value was written before, for the envelope comment
	// registry is kafka.schema_registry, written when valueSchema or keySchema is set: the
	// converters were Confluent's Schema Registry converters.
	registry               registryPlan
	valueSchema, keySchema *schemaPlan
	routes                 []routePlan
	// deadLetter is every route's dead_letter topic, from errors.deadletterqueue.topic.name;
	// "" leaves the default, <to.topic>_dlq.
	deadLetter string
}

// routePlan is one route of the plan.
type routePlan struct {
	name  string
	from  []string
	qos   int
	topic string
	// key is the to.key template from KCQL's WITHKEY; "" means the MQTT topic.
	key string
}

// brokerURL picks the first of a comma list of broker URIs for mqtt.url, warning about the
// others and about a password in the URI (removed).
func (c *connector) brokerURL(key string, p *plan) error {
	v, _ := c.get(key)
	uris := splitList(v, ",")
	if len(uris) == 0 {
		return fmt.Errorf("%s: required (the MQTT broker URI, e.g. tcp://broker:1883)", key)
	}
	first := uris[0]
	u, err := url.Parse(first)
	if err != nil {
		return fmt.Errorf("%s: invalid URI: %v", key, errors.Unwrap(err))
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			c.warn(key, "the password in the URI is not copied; set %sMQTT__PASSWORD instead", envPrefix)
			p.mqtt.passwordSet = true
		}
		if p.mqtt.username == "" {
			p.mqtt.username = u.User.Username()
		}
		u.User = nil
	}
	p.mqtt.url = u.String()
	if len(uris) > 1 {
		c.warn(key, "Tributary connects to one broker URL; using %s and not %s (put a DNS name or load balancer in front of a broker cluster)",
			p.mqtt.url, strings.Join(redactURIs(uris[1:]), ", "))
	}
	return nil
}

// redactURIs strips user info from URIs shown in warnings.
func redactURIs(uris []string) []string {
	out := make([]string, len(uris))
	for i, s := range uris {
		if u, err := url.Parse(s); err == nil {
			u.User = nil
			s = u.String()
		} else {
			s = "(unparsable URI)"
		}
		out[i] = s
	}
	return out
}

// filters strips a "$share/<group>/" prefix from MQTT filters (Tributary writes it from
// mqtt.shared_group) and records the group.
func (c *connector) filters(key string, in []string, p *plan) []string {
	out := make([]string, 0, len(in))
	for _, f := range in {
		if rest, ok := strings.CutPrefix(f, "$share/"); ok {
			group, filter, found := strings.Cut(rest, "/")
			if found && group != "" {
				switch {
				case p.mqtt.sharedGroup == "":
					p.mqtt.sharedGroup = group
				case p.mqtt.sharedGroup != group:
					c.warn(key, "filters use share groups %q and %q; Tributary has one mqtt.shared_group per instance, kept %q",
						p.mqtt.sharedGroup, group, p.mqtt.sharedGroup)
				}
				f = filter
			}
		}
		out = append(out, f)
	}
	return out
}

// qos parses a QoS key; absent or invalid values give Tributary's default 1.
func (c *connector) qos(key string) int {
	v, ok := c.get(key)
	if !ok || v == "" {
		c.warn(key, "not set; using QoS 1 (at least once), Tributary's default")
		return 1
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 2 {
		c.warn(key, "%q is not 0, 1 or 2; using QoS 1", v)
		return 1
	}
	if n == 0 {
		c.warn(key, "QoS 0 loses messages whenever the gateway or the broker restarts; consider qos: 1")
	}
	return n
}

// cleanSession maps a clean-session flag to mqtt.clean_start.
func (c *connector) cleanSession(key string, p *plan) {
	v, ok := c.get(key)
	if !ok || v == "" {
		c.warn(key, "not set (the connector defaulted to a clean session); Tributary keeps the session (clean_start: false), "+
			"so QoS 1/2 messages queued while it is down are delivered when it is back")
		return
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		c.warn(key, "%q is not a boolean; using clean_start: false", v)
		return
	}
	p.mqtt.cleanStart = b
	if b {
		c.warn(key, "true maps to clean_start: true, which drops messages queued while the gateway was down; "+
			"Tributary's default false keeps them")
	}
}

// seconds parses a whole number of units for a duration key.
func (c *connector) duration(key string, unit time.Duration) time.Duration {
	v, ok := c.get(key)
	if !ok || v == "" {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 || n > int64(24*time.Hour/unit) {
		c.warn(key, "%q is not a positive whole number of %s; not mapped", v, unitName(unit))
		return 0
	}
	return time.Duration(n) * unit
}

func unitName(d time.Duration) string {
	if d == time.Millisecond {
		return "milliseconds"
	}
	return "seconds"
}

// password notes a password key without reading its value into anything that is printed.
func (c *connector) password(key string, p *plan) {
	if v, ok := c.get(key); ok && v != "" {
		p.mqtt.passwordSet = true
		c.warn(key, "not copied; set %sMQTT__PASSWORD in the gateway's environment, or mqtt.password_file to a file holding it", envPrefix)
	}
}

// confluent maps Confluent's MQTT source keys.
func (c *connector) confluent(p *plan) error {
	p.mqtt.username, _ = c.get("mqtt.username")
	if err := c.brokerURL("mqtt.server.uri", p); err != nil {
		return err
	}
	topics, _ := c.get("mqtt.topics")
	from := c.filters("mqtt.topics", splitList(topics, ","), p)
	if len(from) == 0 {
		return errors.New("mqtt.topics: required (a comma list of MQTT topic filters)")
	}
	topic, _ := c.get("kafka.topic")
	if topic == "" {
		return errors.New("kafka.topic: required (the Kafka topic records go to)")
	}
	p.routes = append(p.routes, routePlan{name: routeName(c.name, 0, 1), from: from, qos: c.qos("mqtt.qos"), topic: topic})
	c.cleanSession("mqtt.clean.session.enabled", p)
	c.password("mqtt.password", p)
	p.mqtt.connTimeout = c.duration("mqtt.connect.timeout.seconds", time.Second)
	p.mqtt.keepAlive = c.duration("mqtt.keepalive.interval.seconds", time.Second)
	if ssl := c.withPrefix("mqtt.ssl."); len(ssl) > 0 {
		p.mqtt.keyStores = true
		c.warn("mqtt.ssl.*", "Java key and trust stores cannot be read; export them to PEM files and set mqtt.tls.ca_file, "+
			"cert_file and key_file (commented out in the output). Store passwords are not copied")
	}
	c.licenseTopic(p)
	return nil
}

// licenseTopic reads Confluent's license-topic settings: their bootstrap servers are the
// best hint of the Kafka cluster; the rest is licensing.
func (c *connector) licenseTopic(p *plan) {
	mapped := map[string]bool{}
	for _, k := range []string{"confluent.topic.bootstrap.servers", "confluent.topic.security.protocol",
		"confluent.topic.sasl.mechanism", "confluent.topic.sasl.jaas.config"} {
		mapped[k] = true
	}
	if v, ok := c.get("confluent.topic.bootstrap.servers"); ok {
		for _, b := range splitList(v, ",") {
			if _, hostPort, found := strings.Cut(b, "://"); found {
				b = hostPort // PLAINTEXT://host:9092
			}
			p.kafka.brokers = append(p.kafka.brokers, b)
		}
		if len(p.kafka.brokers) > 0 {
			p.kafka.brokersFrom = "confluent.topic.bootstrap.servers"
		}
	}
	if v, ok := c.get("confluent.topic.security.protocol"); ok {
		switch strings.ToUpper(v) {
		case "SSL", "SASL_SSL":
			p.kafka.tls = true
		}
	}
	c.get("confluent.topic.sasl.jaas.config") // covered by the SASL warning; never read out
	if v, ok := c.get("confluent.topic.sasl.mechanism"); ok && v != "" {
		p.kafka.sasl = strings.ToUpper(v)
		c.warn("confluent.topic.sasl.*", "Kafka SASL (%s) is not set up by the import: set kafka.sasl.mechanism and kafka.sasl.username, "+
			"and %sKAFKA__SASL__PASSWORD in the environment (the JAAS config is not copied)", p.kafka.sasl, envPrefix)
	}
	var rest []string
	for _, k := range c.withPrefix("confluent.") {
		if !mapped[k] {
			rest = append(rest, k)
		}
	}
	if len(rest) > 0 {
		c.warn("confluent.*", "license and license-topic settings are not needed by Tributary; ignored (%s)", strings.Join(nonSecret(rest), ", "))
	}
}

// nonSecret drops keys whose names suggest a secret from lists shown to the user.
func nonSecret(keys []string) []string {
	var out []string
	for _, k := range keys {
		l := strings.ToLower(k)
		if !strings.Contains(l, "password") && !strings.Contains(l, "jaas") && !strings.Contains(l, "secret") {
			out = append(out, k)
		}
	}
	if len(out) < len(keys) {
		out = append(out, fmt.Sprintf("%d secret key(s) not named", len(keys)-len(out)))
	}
	return out
}

// streamReactor maps Lenses Stream Reactor's keys; each KCQL statement becomes a route.
func (c *connector) streamReactor(p *plan) error {
	p.mqtt.username, _ = c.get("connect.mqtt.username")
	if err := c.brokerURL("connect.mqtt.hosts", p); err != nil {
		return err
	}
	kcql, _ := c.get("connect.mqtt.kcql")
	stmts := splitKCQL(kcql)
	if len(stmts) == 0 {
		return errors.New("connect.mqtt.kcql: required (INSERT INTO kafka_topic SELECT * FROM mqtt/topic)")
	}
	qos := c.qos("connect.mqtt.service.quality")
	for i, s := range stmts {
		st, err := parseKCQL(s)
		if err != nil {
			return fmt.Errorf("connect.mqtt.kcql statement %d: %w", i+1, err)
		}
		name := routeName(c.name, i, len(stmts))
		key := fmt.Sprintf("connect.mqtt.kcql[%d]", i+1)
		keyTpl := st.keyTemplate()
		if keyTpl != "" {
			c.warn(key, "WITHKEY(%s) maps to to.key %s: a message whose payload lacks one of the fields goes to the "+
				"dead letters (to.missing: empty or default:TEXT render it instead)", strings.Join(st.keyFields, ", "), keyTpl)
		}
		for _, w := range st.warnings {
			c.warn(key, "%s", w)
		}
		if jsonParsingConverter(st.converter) {
			cls := c.values["value.converter"]
			if _, isRegistry := registryConverters[cls[strings.LastIndex(cls, ".")+1:]]; isRegistry {
				c.warn(key, "WITHCONVERTER %s parsed the JSON payload into a record for the value converter; Tributary "+
					"encodes the JSON payload against to.value_schema instead, so the record's fields must be in the schema", st.converter)
			} else {
				c.warn(key, "WITHCONVERTER %s is not reproduced; Tributary writes the MQTT payload as is. "+
					"Reshape it with a plugin if consumers need another format", st.converter)
			}
		}
		topic := st.target
		if reason := kafkaTopicProblem(topic); reason != "" {
			topic = "mqtt_" + strings.ReplaceAll(name, "-", "_")
			c.warn(key, "target %s: %s; using %q, change it", quoteShort(st.target), reason, topic)
		}
		from := c.filters(key, []string{st.source}, p)
		p.routes = append(p.routes, routePlan{name: name, from: from, qos: qos, topic: topic, key: keyTpl})
	}
	c.cleanSession("connect.mqtt.clean", p)
	if id, ok := c.get("connect.mqtt.client.id"); ok && id != "" {
		p.mqtt.clientID = id
		p.mqtt.clientIDNote = "from connect.mqtt.client.id: with clean_start false this resumes the connector's session " +
			"(stop the connector first; two clients with one id disconnect each other)"
	}
	c.password("connect.mqtt.password", p)
	p.mqtt.keepAlive = c.duration("connect.mqtt.keep.alive", time.Millisecond)
	p.mqtt.connTimeout = c.duration("connect.mqtt.timeout", time.Millisecond)
	p.mqtt.caFile, _ = c.get("connect.mqtt.ssl.ca.cert")
	p.mqtt.certFile, _ = c.get("connect.mqtt.ssl.cert")
	p.mqtt.keyFile, _ = c.get("connect.mqtt.ssl.key")
	if p.mqtt.caFile != "" || p.mqtt.certFile != "" || p.mqtt.keyFile != "" {
		if u, err := url.Parse(p.mqtt.url); err == nil && !tlsSchemes[strings.ToLower(u.Scheme)] {
			c.warn("connect.mqtt.ssl.*", "Tributary uses mqtt.tls only with an ssl://, tls://, mqtts:// or wss:// URL; mqtt.url is %s://", u.Scheme)
		}
	}
	for _, k := range c.withPrefix("connect.mqtt.ssl.") {
		if !c.known(k) {
			c.warn(k, "not mapped; Tributary reads PEM files from mqtt.tls.ca_file, cert_file and key_file")
		}
	}
	for _, k := range sortedKeys(streamReactorUnmapped) {
		if _, ok := c.get(k); ok {
			c.warn(k, "%s", streamReactorUnmapped[k])
		}
	}
	return nil
}

// known reports the Stream Reactor keys mapped above.
func (c *connector) known(key string) bool {
	switch key {
	case "connect.mqtt.ssl.ca.cert", "connect.mqtt.ssl.cert", "connect.mqtt.ssl.key":
		return true
	}
	return false
}

// tlsSchemes are the mqtt.url schemes with which the gateway uses mqtt.tls.
var tlsSchemes = map[string]bool{"ssl": true, "tls": true, "mqtts": true, "wss": true}

// streamReactorUnmapped gives the reason each known, unmappable Stream Reactor key is
// dropped.
var streamReactorUnmapped = map[string]string{
	"connect.mqtt.converter.throw.on.error": "no equivalent; Tributary does not convert payloads (plugins that fail dead-letter the message)",
	"connect.mqtt.log.message":              "no equivalent; use log.level: debug",
	"connect.mqtt.polling.timeout":          "no equivalent; Tributary is pushed messages by the broker",
	"connect.mqtt.share.replicate":          "no equivalent; use mqtt.shared_group to spread one subscription over instances",
	"connect.mqtt.process.duplicates":       "no equivalent; QoS 1 redeliveries after a crash can reach Kafka twice",
	"connect.mqtt.error.policy":             "no equivalent; failed messages go to the route's dead_letter topic",
	"connect.mqtt.retry.interval":           "no equivalent; Kafka produce retries are built in",
	"connect.mqtt.max.retries":              "no equivalent; Kafka produce retries are built in",
}

// common handles keys every connector has: converters, tasks, transforms, error handling.
func (c *connector) common(p *plan) {
	c.get("name")
	c.get("connector.class")
	if v, ok := c.get("tasks.max"); ok {
		if n, err := strconv.Atoi(v); err == nil && n > 1 {
			c.warn("tasks.max", "%d tasks: run that many Tributary instances from one config, each with its own "+
				"%sMQTT__CLIENT_ID, and set mqtt.shared_group so they split the topics", n, envPrefix)
		}
	}
	c.valueConverter(p)
	c.keyConverter(p)
	if v, ok := c.get("header.converter"); ok && v != "" {
		c.warn("header.converter", "not mapped; Tributary writes MQTT v5 user properties and mqtt.topic, mqtt.qos, mqtt.retain as headers")
	}
	c.withPrefix("header.converter.")
	var smt []string
	if v, ok := c.get("transforms"); ok && v != "" {
		smt = splitList(v, ",")
	}
	c.withPrefix("transforms.")
	if len(smt) > 0 {
		c.warn("transforms", "Single Message Transforms are not imported (%s); write them as a plugin chain on the route",
			strings.Join(smt, ", "))
	}
	if v, ok := c.get("predicates"); ok && v != "" {
		c.warn("predicates", "not imported; a plugin can filter messages")
	}
	c.withPrefix("predicates.")
	c.deadLetterQueue(p)
}

// dlqKey names the connector's dead-letter topic.
const dlqKey = "errors.deadletterqueue.topic.name"

// deadLetterQueue maps errors.deadletterqueue.topic.name to every route's dead_letter and
// explains the other errors.* keys, which have no equivalent: Tributary always sends what it
// cannot deliver to the dead-letter topic, with headers saying why, and never drops it.
func (c *connector) deadLetterQueue(p *plan) {
	if v, ok := c.get(dlqKey); ok && v != "" {
		if reason := config.KafkaTopicProblem(v); reason != "" {
			c.warn(dlqKey, "%q is not a valid Kafka topic (%s); each route keeps the default dead_letter <to.topic>_dlq", v, reason)
		} else {
			p.deadLetter = v
			if len(p.routes) > 1 {
				c.warn(dlqKey, "used as the dead_letter topic of all %d routes; the header tributary.route tells them apart", len(p.routes))
			}
		}
	}
	var rest []string
	for _, k := range c.withPrefix("errors.") {
		if k != dlqKey {
			rest = append(rest, k)
		}
	}
	if len(rest) > 0 {
		c.warn("errors.*", "not mapped (%s): a message a plugin rejects, or that is too large, always goes to the route's "+
			"dead_letter topic with headers saying why (as errors.tolerance=all with context headers would), never dropped",
			strings.Join(rest, ", "))
	}
}

// valueConverter explains how the value converter compares with Tributary's envelope: none.
func (c *connector) valueConverter(p *plan) {
	v, ok := c.get("value.converter")
	short := v[strings.LastIndex(v, ".")+1:]
	if format, isRegistry := registryConverters[short]; isRegistry {
		p.valueSchema = c.registryConverter(p, "value", short, format)
		p.converterNote = fmt.Sprintf("encoded through the Schema Registry (value_schema below), as %s did", short)
		return
	}
	sub := map[string]string{}
	for _, k := range c.withPrefix("value.converter.") {
		sub[strings.TrimPrefix(k, "value.converter.")] = c.values[k]
	}
	switch {
	case !ok || v == "":
		p.converterNote = "the worker's default value.converter applied before; Tributary writes the MQTT payload as is"
		c.warn("value.converter", "not set; the Connect worker's default applied. Tributary writes the MQTT payload bytes as is (envelope: none)")
	case short == "ByteArrayConverter" || short == "StringConverter":
		p.converterNote = fmt.Sprintf("payload bytes as is, as %s wrote them", short)
	case short == "JsonConverter":
		if strings.EqualFold(strings.TrimSpace(sub["schemas.enable"]), "false") {
			p.converterNote = "payload bytes as is; JsonConverter wrote them as a base64 JSON string"
			c.warn("value.converter", "JsonConverter without schemas wrote each payload as a JSON string holding its base64; "+
				"Tributary writes the payload as is (a JSON payload stays JSON). Consumers that decoded base64 must change")
		} else {
			p.converterNote = "payload bytes as is; JsonConverter wrapped them in a schema envelope"
			c.warn("value.converter", "JsonConverter with schemas wrapped each payload in {\"schema\",\"payload\"} with base64 bytes; "+
				"Tributary writes the payload as is. Consumers must change, or a plugin can build such a wrapper")
		}
	default:
		p.converterNote = fmt.Sprintf("payload bytes as is; %s is not reproduced", short)
		c.warn("value.converter", "%s is not reproduced; Tributary writes the MQTT payload as is. "+
			"Reshape it with a plugin if consumers need another format", short)
	}
}

// keyConverter checks that the record key (the MQTT topic) keeps its bytes, or maps a
// Schema Registry converter to to.key_schema (the MQTT topic as a string of that format).
func (c *connector) keyConverter(p *plan) {
	v, ok := c.get("key.converter")
	short := v[strings.LastIndex(v, ".")+1:]
	if format, isRegistry := registryConverters[short]; isRegistry {
		p.keySchema = c.registryConverter(p, "key", short, format)
		return
	}
	c.withPrefix("key.converter.")
	switch {
	case !ok || v == "", short == "StringConverter", short == "ByteArrayConverter":
	case short == "JsonConverter":
		c.warn("key.converter", "JsonConverter wrote the key as JSON; Tributary's key is the MQTT topic as plain text ({{.Topic}})")
	default:
		c.warn("key.converter", "%s is not reproduced; Tributary's key is the MQTT topic as plain text ({{.Topic}})", short)
	}
}

// unknownKeys warns about every key nothing used; values are not shown, they may be secrets.
func (c *connector) unknownKeys() {
	var keys []string
	for k := range c.values {
		if !c.used[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		c.warn(k, "unknown key; not mapped")
	}
}

// routeName derives route i of n from the connector name.
func routeName(connector string, i, n int) string {
	var b strings.Builder
	for _, r := range connector {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	name := strings.Trim(b.String(), "-")
	if name == "" {
		name = "mqtt-source"
	}
	if len(name) > 100 {
		name = name[:100]
	}
	if n > 1 {
		name = fmt.Sprintf("%s-%d", name, i+1)
	}
	return name
}

// kafkaTopicProblem returns why name is not a usable Kafka topic, or "": a dynamic target
// ($...) is not imported, and anything else must be a legal topic name.
func kafkaTopicProblem(name string) string {
	if strings.HasPrefix(name, "$") {
		return "dynamic targets are not imported (a topic template such as \"sensors.{{.Segment 1}}\" can do part of it)"
	}
	if reason := config.KafkaTopicProblem(name); reason != "" {
		return "not a Kafka topic name: " + reason
	}
	return ""
}

// splitList splits a comma (or other sep) list, trimming items and dropping empty ones.
func splitList(s, sep string) []string {
	var out []string
	for _, item := range strings.Split(s, sep) {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// quoteShort quotes s for a message, cut to 60 bytes.
func quoteShort(s string) string {
	if len(s) > 60 {
		s = s[:60] + "..."
	}
	return strconv.Quote(s)
}

// sortedKeys returns m's keys in order, so warnings come out the same way every time.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
