package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tributary-gw/tributary/gateway/mqtttopic"
)

// mqttSchemes are the accepted mqtt.url schemes.
var mqttSchemes = []string{"tcp", "mqtt", "ssl", "tls", "mqtts", "ws", "wss"}

// compressions are the accepted kafka.compression values.
var compressions = []string{"none", "gzip", "snappy", "lz4", "zstd"}

// saslMechanisms are the accepted kafka.sasl.mechanism values; "" turns SASL off.
var saslMechanisms = []string{"", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}

// maxSessionExpiry is the largest MQTT v5 Session Expiry Interval (a uint32 of seconds).
const maxSessionExpiry = math.MaxUint32 * time.Second

// maxKeepAlive is the largest MQTT Keep Alive (a uint16 of seconds).
const maxKeepAlive = math.MaxUint16 * time.Second

// Validate checks the whole configuration and reports every problem at once, joined with
// errors.Join; each is a *KeyError naming the key path and the bad value (never a secret),
// e.g. `routes[2] (temps).from[0]: invalid topic filter "a/#/b": # must be the last level`.
// It expects per-route defaults to be filled in, as Load does, and reads the file system
// only to check that plugin modules and TLS files exist. It returns nil when all is well.
func (c *Config) Validate() error {
	return errors.Join(c.problems()...)
}

// PluginPath returns the file a stage's plugin is loaded from: plugins.dir/NAME.wasm.
func (c *Config) PluginPath(plugin string) string {
	return filepath.Join(c.Plugins.Dir, plugin+".wasm")
}

func (c *Config) problems() []error {
	var p problems
	c.MQTT.check(&p)
	c.Kafka.check(&p)
	c.Kafka.SchemaRegistry.check(&p)
	c.Flow.check(&p)
	if c.Flow.MaxInFlightBytes > 0 && c.Kafka.MaxRecordBytes > 0 && c.Flow.MaxInFlightBytes < c.Kafka.MaxRecordBytes {
		// The producer buffers twice flow.max_in_flight_bytes and fails a record larger than
		// its buffer; a bound below one record would only hold the gateway back further.
		p.add("flow.max_in_flight_bytes", "%d is below kafka.max_record_bytes %d", c.Flow.MaxInFlightBytes, c.Kafka.MaxRecordBytes)
	}
	c.Log.check(&p)
	c.Plugins.check(&p)
	if c.Admin.Listen != "" {
		if reason := checkHostPort(c.Admin.Listen, true); reason != "" {
			p.add("admin.listen", "%s %q", reason, c.Admin.Listen)
		}
	}
	checkToken(&p, "admin.token", c.Admin.Token)
	c.checkRoutes(&p)
	return p
}

// minTokenBytes is the shortest admin bearer token accepted.
const minTokenBytes = 16

// checkToken reports an admin token that is too short or holds whitespace, never its value.
func checkToken(p *problems, key string, tok Secret) {
	v := tok.Value()
	switch {
	case v == "":
	case len(v) < minTokenBytes:
		p.add(key, "an admin token must be at least %d bytes (try: openssl rand -hex 32)", minTokenBytes)
	case strings.IndexFunc(v, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0:
		p.add(key, "an admin token must not contain whitespace or control characters")
	}
}

func (m *MQTT) check(p *problems) {
	m.checkProtocol(p)
	if m.URL == "" {
		p.add("mqtt.url", "required")
	} else if u, err := url.Parse(m.URL); err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the URL, which may hold a password
		}
		p.add("mqtt.url", "invalid URL: %v", err)
	} else {
		shown := redactURL(m.URL)
		switch {
		case !oneOf(u.Scheme, mqttSchemes):
			p.add("mqtt.url", "scheme %q of %q is not one of %s", u.Scheme, shown, strings.Join(mqttSchemes, ", "))
		case u.Hostname() == "":
			p.add("mqtt.url", "no host in %q", shown)
		}
	}
	if m.ClientID == "" {
		p.add("mqtt.client_id", "required")
	} else if len(m.ClientID) > mqtttopic.MaxLength {
		p.add("mqtt.client_id", "longer than %d bytes", mqtttopic.MaxLength)
	}
	if m.SharedGroup != "" && !mqtttopic.ValidShareGroup(m.SharedGroup) {
		p.add("mqtt.shared_group", "invalid share group %q: must be non-empty UTF-8 without /, + or #", m.SharedGroup)
	}
	checkDuration(p, "mqtt.session_expiry", m.SessionExpiry, 0, maxSessionExpiry)
	checkDuration(p, "mqtt.keep_alive", m.KeepAlive, 0, maxKeepAlive)
	checkDuration(p, "mqtt.connect_timeout", m.ConnectTimeout, 1, 0)
	checkDuration(p, "mqtt.reconnect_min", m.ReconnectMin, 1, 0)
	checkDuration(p, "mqtt.reconnect_max", m.ReconnectMax, 1, 0)
	if m.ReconnectMin > 0 && m.ReconnectMax > 0 && m.ReconnectMin > m.ReconnectMax {
		p.add("mqtt.reconnect_max", "%s is less than mqtt.reconnect_min %s", m.ReconnectMax, m.ReconnectMin)
	}
	checkDuration(p, "mqtt.ack_interval", m.AckInterval, 1, 0)
	if m.ReceiveMaximum < 1 || m.ReceiveMaximum > math.MaxUint16 {
		p.add("mqtt.receive_maximum", "%d is outside 1..65535", m.ReceiveMaximum)
	}
	m.TLS.check(p, "mqtt.tls")
}

func (k *Kafka) check(p *problems) {
	if len(k.Brokers) == 0 {
		p.add("kafka.brokers", "at least one broker is required")
	}
	for i, b := range k.Brokers {
		if reason := checkHostPort(b, false); reason != "" {
			p.add(fmt.Sprintf("kafka.brokers[%d]", i), "%s %q", reason, b)
		}
	}
	checkDuration(p, "kafka.linger", k.Linger, 0, 0)
	checkDuration(p, "kafka.request_timeout", k.RequestTimeout, 1, 0)
	checkDuration(p, "kafka.stall_timeout", k.StallTimeout, 1, 0)
	if k.BatchMaxBytes <= 0 {
		p.add("kafka.batch_max_bytes", "%d must be greater than 0", k.BatchMaxBytes)
	}
	if k.MaxRecordBytes <= 0 {
		p.add("kafka.max_record_bytes", "%d must be greater than 0", k.MaxRecordBytes)
	}
	if !oneOf(k.Compression, compressions) {
		p.add("kafka.compression", "%q is not one of %s", k.Compression, strings.Join(compressions, ", "))
	}
	if !oneOf(k.SASL.Mechanism, saslMechanisms) {
		p.add("kafka.sasl.mechanism", "%q is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 (or empty for none)", k.SASL.Mechanism)
	} else if k.SASL.Mechanism != "" && k.SASL.Username == "" {
		p.add("kafka.sasl.username", "required with kafka.sasl.mechanism %s", k.SASL.Mechanism)
	}
	k.TLS.check(p, "kafka.tls")
}

func (pl *Plugins) check(p *problems) {
	positive := []struct {
		key string
		v   int
	}{
		{"plugins.instances", pl.Instances},
		{"plugins.limits.memory_mb", pl.Limits.MemoryMB},
		{"plugins.limits.max_output_bytes", pl.Limits.MaxOutputBytes},
		{"plugins.limits.max_fan_out", pl.Limits.MaxFanOut},
		{"plugins.limits.recycle_after_calls", pl.Limits.RecycleAfterCalls},
		{"plugins.limits.recycle_above_mb", pl.Limits.RecycleAboveMB},
	}
	for _, f := range positive {
		if f.v <= 0 {
			p.add(f.key, "%d must be greater than 0", f.v)
		}
	}
	if pl.Limits.MemoryMB > 4096 {
		p.add("plugins.limits.memory_mb", "%d exceeds the 4096 MiB a 32-bit WebAssembly memory can hold", pl.Limits.MemoryMB)
	}
	checkDuration(p, "plugins.limits.call_timeout", pl.Limits.CallTimeout, 1, 0)
	checkDuration(p, "plugins.idle_timeout", pl.IdleTimeout, 1, 0)
	pl.Limits.Module.check(p, "plugins.limits.module")
	checkDuration(p, "plugins.compile.timeout", pl.Compile.Timeout, 1, 0)
	if pl.Compile.MemoryMB < 64 {
		p.add("plugins.compile.memory_mb", "%d is below 64: compiling even a small module needs more", pl.Compile.MemoryMB)
	}
	if pl.Compile.Concurrency < 0 {
		p.add("plugins.compile.concurrency", "%d must not be negative (0: half the CPUs)", pl.Compile.Concurrency)
	}
}

// check reports negative module limits at key.
func (m ModuleLimits) check(p *problems, key string) {
	for _, f := range []struct {
		key string
		v   int
	}{
		{"max_module_mb", m.MaxModuleMB}, {"max_functions", m.MaxFunctions}, {"max_types", m.MaxTypes},
		{"max_nesting", m.MaxNesting}, {"max_control_flow", m.MaxControlFlow}, {"max_locals", m.MaxLocals},
		{"max_module_locals", m.MaxModuleLocals}, {"max_table_elements", m.MaxTableElements},
	} {
		if f.v < 0 {
			p.add(key+"."+f.key, "%d must not be negative (0: the default)", f.v)
		}
	}
}

func (t *TLS) check(p *problems, prefix string) {
	switch {
	case t.CertFile != "" && t.KeyFile == "":
		p.add(prefix+".key_file", "required with %s.cert_file", prefix)
	case t.KeyFile != "" && t.CertFile == "":
		p.add(prefix+".cert_file", "required with %s.key_file", prefix)
	}
	for _, f := range []struct{ key, path string }{
		{"ca_file", t.CAFile}, {"cert_file", t.CertFile}, {"key_file", t.KeyFile},
	} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			p.add(prefix+"."+f.key, "%v", err)
		}
	}
}

func (f *Flow) check(p *problems) {
	for _, v := range []struct {
		key string
		n   int
	}{{"flow.shards", f.Shards}, {"flow.max_in_flight", f.MaxInFlight}, {"flow.max_in_flight_bytes", f.MaxInFlightBytes}, {"flow.max_batch", f.MaxBatch}} {
		if v.n <= 0 {
			p.add(v.key, "%d must be greater than 0", v.n)
		}
	}
	checkDuration(p, "flow.drain_timeout", f.DrainTimeout, 1, 0)
}

func (l *Log) check(p *problems) {
	if !oneOf(l.Level, []string{"debug", "info", "warn", "error"}) {
		p.add("log.level", "%q is not one of debug, info, warn, error", l.Level)
	}
	if !oneOf(l.Format, []string{"text", "json"}) {
		p.add("log.format", "%q is not one of text, json", l.Format)
	}
}

func (c *Config) checkRoutes(p *problems) {
	if len(c.Routes) == 0 && len(c.ReverseRoutes) == 0 && len(c.AllTenants()) == 0 && c.Tenants.Dir == "" {
		p.add("routes", "at least one route is required (or a reverse route, or a tenant)")
	}
	c.checkRouteList(p, "routes", c.Routes, nil)
	c.checkReverseList(p, "reverse_routes", c.ReverseRoutes, nil)
	c.checkRoutes311(p, "routes", c.Routes)
	c.checkTenants(p)
}

// checkRouteName checks the name of route i of the list at key at (kind says "route" or
// "reverse route"): required, valid and unique in the list (seen maps the names met so far to
// their index). add reports a problem under the route's key.
func checkRouteName(add func(sub, format string, args ...any), seen map[string]int, at, kind, name string, i int) {
	switch {
	case name == "":
		add(".name", "required")
	case !validName(name, true):
		add(".name", "invalid %s name %q: use letters, digits, '.', '_' and '-'", kind, name)
	}
	if j, dup := seen[name]; dup && name != "" {
		add(".name", "duplicate %s name %q, also %s[%d]", kind, name, at, j)
	} else {
		seen[name] = i
	}
}

// checkRouteList checks routes found at key (as "routes" or "tenants.inline[0] (acme).routes"),
// with plugins and namespaces resolved for tenant t (nil for top-level routes).
func (c *Config) checkRouteList(p *problems, at string, routes []Route, t *Tenant) {
	seen := map[string]int{}
	for i, r := range routes {
		key := fmt.Sprintf("%s[%d]", at, i)
		add := func(sub, format string, args ...any) {
			p.addRoute(key+sub, r.Name, format, args...)
		}
		checkRouteName(add, seen, at, "route", r.Name, i)

		if len(r.From) == 0 {
			add(".from", "at least one topic filter is required")
		}
		for j, f := range r.From {
			if _, err := mqtttopic.ParseFilter(f); err != nil {
				add(fmt.Sprintf(".from[%d]", j), "%v", err)
			}
		}
		if r.QoS < 0 || r.QoS > 2 {
			add(".qos", "%d is not 0, 1 or 2", r.QoS)
		}

		c.checkStages(p, key, r.Name, r.Chain, t)

		static := false
		switch t, err := mqtttopic.ParseTemplate(r.To.Topic); {
		case r.To.Topic == "":
			add(".to.topic", "required")
		case err != nil:
			add(".to.topic", "%v", err)
		case t.IsStatic():
			static = true
			if reason := KafkaTopicProblem(r.To.Topic); reason != "" {
				add(".to.topic", "invalid Kafka topic %q: %s", r.To.Topic, reason)
			}
		}
		if _, err := mqtttopic.ParseTemplate(r.To.Key); err != nil {
			add(".to.key", "%v", err)
		}
		checkMissing(add, &routes[i])
		if !oneOf(r.To.Envelope, []string{EnvelopeNone, EnvelopeJSON}) {
			add(".to.envelope", "%q is not one of none, json", r.To.Envelope)
		}
		switch {
		case r.DeadLetter == "" && !static && r.To.Topic != "":
			add(".dead_letter", "required when to.topic is a template")
		case r.DeadLetter != "":
			if reason := KafkaTopicProblem(r.DeadLetter); reason != "" {
				add(".dead_letter", "invalid Kafka topic %q: %s", r.DeadLetter, reason)
			}
		}
		c.checkSchema(p, key, ".to.value_schema", &routes[i], r.To.ValueSchema, t)
		c.checkSchema(p, key, ".to.key_schema", &routes[i], r.To.KeySchema, t)
		if t != nil {
			checkNamespace(p, key, &routes[i], t)
		}
	}
}

// checkStages checks the chain of the route named route at key, its plugins resolved for
// tenant t (nil for the top level).
func (c *Config) checkStages(p *problems, key, route string, chain []Stage, t *Tenant) {
	add := func(sub, format string, args ...any) {
		p.addRoute(key+sub, route, format, args...)
	}
	for j, s := range chain {
		sk := fmt.Sprintf(".chain[%d].plugin", j)
		switch {
		case s.Plugin == "":
			add(sk, "required")
		case !validName(s.Plugin, false):
			add(sk, "invalid plugin name %q: use letters, digits, '_' and '-'", s.Plugin)
		default:
			path := c.TenantPluginPath(t, s.Plugin)
			if st, err := os.Stat(path); err != nil {
				if errors.Is(err, os.ErrNotExist) {
					dirs := []string{c.Plugins.Dir}
					if t != nil && t.Dir != "" {
						dirs = append(dirs, t.Dir)
					}
					miss := &MissingPluginError{Plugin: s.Plugin, Path: path}
					*p = append(*p, &KeyError{Key: key + sk, Route: route, Err: miss,
						Reason: miss.Error() + c.relativeNote("plugins.dir") + didYouMean(s.Plugin, wasmNames(dirs...))})
				} else {
					add(sk, "plugin %q: %v", s.Plugin, err)
				}
			} else if !st.Mode().IsRegular() {
				add(sk, "plugin %q: %s is not a regular file", s.Plugin, path)
			}
		}
	}
}

// checkDuration reports d outside [min, max]; max 0 means no upper bound.
func checkDuration(p *problems, key string, d, min, max time.Duration) {
	switch {
	case d < min && min > 0:
		p.add(key, "%s must be greater than 0", d)
	case d < min:
		p.add(key, "%s must not be negative", d)
	case max > 0 && d > max:
		p.add(key, "%s exceeds the maximum %s", d, max)
	}
}

// checkHostPort returns why s is not host:port, or "". An empty host is allowed for
// listen addresses (":9464").
func checkHostPort(s string, listen bool) string {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "invalid host:port"
	}
	if host == "" && !listen {
		return "missing host in"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 || (n == 0 && !listen) {
		return "invalid port in"
	}
	return ""
}

// validName checks route names ([a-zA-Z0-9._-]+, dot allowed) and plugin names
// ([a-zA-Z0-9_-]+).
func validName(s string, dot bool) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i], dot) {
			return false
		}
	}
	return true
}

func isNameByte(c byte, dot bool) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '-' || (dot && c == '.')
}

func oneOf(s string, set []string) bool {
	for _, v := range set {
		if s == v {
			return true
		}
	}
	return false
}
