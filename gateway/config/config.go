package config

import (
	"runtime"
	"time"
)

// Config is the whole gateway configuration, as read from YAML and the environment.
// It is a plain value: Load returns a fresh one each time and nothing edits it afterwards.
type Config struct {
	MQTT    MQTT    `koanf:"mqtt"`
	Kafka   Kafka   `koanf:"kafka"`
	Flow    Flow    `koanf:"flow"`
	Plugins Plugins `koanf:"plugins"`
	Admin   Admin   `koanf:"admin"`
	Log     Log     `koanf:"log"`
	Routes  []Route `koanf:"routes"`
	// ReverseRoutes move records of Kafka topics to MQTT (Kafka → chain → MQTT).
	ReverseRoutes []ReverseRoute `koanf:"reverse_routes"`
	// Tenants groups routes under tenants with their own namespaces and limits.
	Tenants Tenants `koanf:"tenants"`

	// tenants are the inline and folder tenants as Load read them; see AllTenants.
	tenants []Tenant
	// broken are the folder tenants that did not load; see BrokenTenants.
	broken []BrokenTenant
	// relative records how Load made each relative path key absolute, for error messages.
	relative map[string]pathOrigin
}

// MQTT configures the source connection: MQTT v5 (paho.golang autopaho) or, with Protocol
// "3.1.1", MQTT 3.1.1 (Eclipse paho.mqtt.golang).
type MQTT struct {
	// Protocol is the MQTT version spoken to the broker: "5" (the default) or "3.1.1" ("311"
	// is taken for it too). With 3.1.1 the v5-only keys (clean_start, session_expiry,
	// receive_maximum, ack_interval) must keep their defaults, route templates cannot use
	// {{.Property}}, and one flow's distinct filters must not overlap; see Is311.
	Protocol string `koanf:"protocol"`
	// URL is the broker address: tcp://, mqtt://, ssl://, tls://, mqtts://, ws:// or wss://.
	URL string `koanf:"url"`
	// ClientID identifies the persistent session; give each gateway instance its own.
	ClientID string `koanf:"client_id"`
	// CleanStart discards the broker-side session on connect. Defaults to false, so
	// unacknowledged QoS 1/2 messages are redelivered after a restart.
	CleanStart bool `koanf:"clean_start"`
	// SessionExpiry is how long the broker keeps the session after a disconnect. Defaults to 1h.
	SessionExpiry time.Duration `koanf:"session_expiry"`
	// SharedGroup, when set, subscribes every filter as $share/<group>/<filter>.
	SharedGroup string `koanf:"shared_group"`
	// Username for the broker, optional.
	Username string `koanf:"username"`
	// Password for the broker; prefer PasswordFile or the environment. Never printed.
	Password Secret `koanf:"password"`
	// PasswordFile names a file whose contents (trailing newline trimmed) are the password.
	PasswordFile string `koanf:"password_file"`
	// KeepAlive is the MQTT keep-alive interval. Defaults to 30s.
	KeepAlive time.Duration `koanf:"keep_alive"`
	// ConnectTimeout bounds one connection attempt. Defaults to 10s.
	ConnectTimeout time.Duration `koanf:"connect_timeout"`
	// ReconnectMin and ReconnectMax bound the exponential reconnect backoff. Default 250ms and 10s.
	ReconnectMin time.Duration `koanf:"reconnect_min"`
	ReconnectMax time.Duration `koanf:"reconnect_max"`
	// ReceiveMaximum is the number of unacknowledged QoS 1/2 messages the broker may send
	// before it waits (MQTT v5 Receive Maximum). Defaults to 1000.
	ReceiveMaximum int `koanf:"receive_maximum"`
	// AckInterval is how often pending acknowledgements are flushed to the broker. Defaults to 5ms.
	AckInterval time.Duration `koanf:"ack_interval"`
	// TLS configures ssl:// and wss:// connections.
	TLS TLS `koanf:"tls"`
}

// TLS holds certificate settings shared by the MQTT and Kafka clients.
type TLS struct {
	// Enabled turns TLS on for Kafka (MQTT turns it on from the URL scheme).
	Enabled bool `koanf:"enabled"`
	// CAFile is a PEM bundle of certificate authorities; empty means the system pool.
	CAFile string `koanf:"ca_file"`
	// CertFile and KeyFile are the PEM client certificate and key for mutual TLS.
	CertFile string `koanf:"cert_file"`
	KeyFile  string `koanf:"key_file"`
	// ServerName overrides the name checked in the server certificate.
	ServerName string `koanf:"server_name"`
	// InsecureSkipVerify disables server certificate checks. For tests only.
	InsecureSkipVerify bool `koanf:"insecure_skip_verify"`
}

// Kafka configures the sink (franz-go, idempotent producer, acks=all).
type Kafka struct {
	// Brokers are the seed brokers, host:port.
	Brokers []string `koanf:"brokers"`
	// ClientID is the Kafka client id. Defaults to "tributary".
	ClientID string `koanf:"client_id"`
	// Linger is how long the producer waits to fill a batch. Defaults to 0: franz-go already
	// batches whatever accumulates while a produce request is in flight, and any linger adds
	// straight to latency.
	Linger time.Duration `koanf:"linger"`
	// BatchMaxBytes caps one produced record batch. Defaults to 1 MiB.
	BatchMaxBytes int `koanf:"batch_max_bytes"`
	// MaxRecordBytes is the largest record the gateway will produce; a larger one goes to
	// the route's dead-letter topic (payload cut to fit). Defaults to 1 MiB (Kafka's default).
	MaxRecordBytes int `koanf:"max_record_bytes"`
	// Compression is none, gzip, snappy, lz4 or zstd. Defaults to snappy.
	Compression string `koanf:"compression"`
	// RequestTimeout bounds one produce request. Defaults to 30s.
	RequestTimeout time.Duration `koanf:"request_timeout"`
	// StallTimeout is how long a route may have records waiting for Kafka without any of them
	// being acknowledged before it counts as stalled: /readyz fails naming the route, the
	// route shows "stalled" in /api/v1/status and tributary_route_stalled is 1. It clears
	// when a record of the route is acknowledged again. Nothing is dropped either way: the
	// records stay unacknowledged and keep being retried. Defaults to 60s.
	StallTimeout time.Duration `koanf:"stall_timeout"`
	// TLS for the broker connections; set tls.enabled to use it.
	TLS TLS `koanf:"tls"`
	// SASL authentication, optional.
	SASL SASL `koanf:"sasl"`
	// SchemaRegistry is the Schema Registry the routes' value_schema and key_schema use.
	SchemaRegistry SchemaRegistry `koanf:"schema_registry"`
}

// SASL configures Kafka authentication.
type SASL struct {
	// Mechanism is "", PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
	Mechanism string `koanf:"mechanism"`
	Username  string `koanf:"username"`
	// Password is never printed; prefer PasswordFile or the environment.
	Password Secret `koanf:"password"`
	// PasswordFile names a file holding the password.
	PasswordFile string `koanf:"password_file"`
}

// Flow tunes the message path between MQTT and Kafka.
type Flow struct {
	// Shards is the number of ordered workers; one MQTT topic always maps to the same shard.
	// Defaults to 4 × GOMAXPROCS.
	Shards int `koanf:"shards"`
	// MaxInFlight bounds messages received but not yet acknowledged. When reached, the gateway
	// stops reading from the broker, which holds the rest. Defaults to 1000.
	MaxInFlight int `koanf:"max_in_flight"`
	// MaxInFlightBytes bounds the bytes of those messages (payload, topic and properties).
	// When reached, the gateway stops reading as at MaxInFlight; a single larger message is
	// taken alone. The Kafka producer buffers at most twice this many bytes of records.
	// Defaults to 64 MiB.
	MaxInFlightBytes int `koanf:"max_in_flight_bytes"`
	// MaxBatch is the largest batch a shard hands to a plugin chain at once. Defaults to 64.
	MaxBatch int `koanf:"max_batch"`
	// DrainTimeout bounds the graceful stop; after it the gateway stops hard (unacknowledged
	// QoS 1/2 messages are redelivered by the broker). Defaults to 30s.
	DrainTimeout time.Duration `koanf:"drain_timeout"`
}

// Plugins says where plugin modules live.
type Plugins struct {
	// Dir holds NAME.wasm files; a route stage "plugin: NAME" loads Dir/NAME.wasm.
	Dir string `koanf:"dir"`
	// CacheDir keeps compiled modules across restarts. Empty means no disk cache.
	CacheDir string `koanf:"cache_dir"`
	// Instances is the most instances a chain stage runs at once; shards borrow one at a time.
	// A stage starts with one and starts more only while every one it has is busy. Defaults
	// to GOMAXPROCS.
	Instances int `koanf:"instances"`
	// IdleTimeout closes a stage's instance that was not used for this long, down to none
	// (the next message starts one again), so idle routes and tenants give their memory
	// back. Defaults to 1m.
	IdleTimeout time.Duration `koanf:"idle_timeout"`
	// Limits bound every plugin instance.
	Limits PluginLimits `koanf:"limits"`
	// Compile bounds the compilation of plugin modules. Needs a restart to change.
	Compile Compile `koanf:"compile"`
}

// Compile bounds compiling plugin modules, which runs in a child process of the gateway's own
// binary so that a module crafted to make the compiler spin or swell is stopped, not the
// gateway.
type Compile struct {
	// Timeout bounds compiling one module. Defaults to 60s.
	Timeout time.Duration `koanf:"timeout"`
	// MemoryMB bounds the memory of the process compiling one module. Defaults to 1024, about ten
	// times what the largest first-party plugin needs.
	MemoryMB int `koanf:"memory_mb"`
	// Concurrency bounds the compilations running at once. 0 means half the CPUs (at least 1).
	Concurrency int `koanf:"concurrency"`
}

// ModuleLimits bound what a plugin module may declare. They are checked on the module's bytes
// before it is compiled; a module over a limit is refused, naming the limit. Zero means the
// default (for a tenant: plugins.limits.module's value). The defaults are wasmhost's, which
// chose them by measuring the first-party plugins and what hostile modules cost to compile.
type ModuleLimits struct {
	// MaxModuleMB bounds the size of a .wasm file. Default 32.
	MaxModuleMB int `koanf:"max_module_mb"`
	// MaxFunctions bounds the functions a module imports and defines together. Default
	// 20000.
	MaxFunctions int `koanf:"max_functions"`
	// MaxTypes bounds the function types a module declares. Default 1000.
	MaxTypes int `koanf:"max_types"`
	// MaxNesting bounds how deeply blocks, loops and ifs nest in one function. Default 4096.
	MaxNesting int `koanf:"max_nesting"`
	// MaxControlFlow bounds the sum over functions of the square of each one's control
	// instructions (block, loop, if, else, br, br_if, br_table labels), which compile time
	// grows with. Default 400000000 (about 25 s of compiling at worst).
	MaxControlFlow int `koanf:"max_control_flow"`
	// MaxLocals bounds the local variables of one function. Default 50000.
	MaxLocals int `koanf:"max_locals"`
	// MaxModuleLocals bounds the local variables of all functions together. Default 1000000.
	MaxModuleLocals int `koanf:"max_module_locals"`
	// MaxTableElements bounds the initial size a module declares for a table, and the
	// maximum of one it grows. Default 100000.
	MaxTableElements int `koanf:"max_table_elements"`
}

// PluginLimits bound what one plugin instance may use. A plugin that breaks a limit has its
// message dead-lettered and its instance replaced; the gateway carries on.
type PluginLimits struct {
	// MemoryMB caps an instance's linear memory. Defaults to 16.
	MemoryMB int `koanf:"memory_mb"`
	// CallTimeout bounds one call into a plugin (a batch). Defaults to 1s.
	CallTimeout time.Duration `koanf:"call_timeout"`
	// MaxOutputBytes bounds one call's result. Defaults to 4 MiB.
	MaxOutputBytes int `koanf:"max_output_bytes"`
	// MaxFanOut bounds the outputs of one input message. Defaults to 1000.
	MaxFanOut int `koanf:"max_fan_out"`
	// RecycleAfterCalls replaces an instance after this many calls. Defaults to 100000.
	RecycleAfterCalls int `koanf:"recycle_after_calls"`
	// RecycleAboveMB replaces an instance whose memory has grown beyond this. Defaults to 64,
	// or MemoryMB when that is smaller.
	RecycleAboveMB int `koanf:"recycle_above_mb"`
	// Trusted runs plugins with no way to stop them: CallTimeout is no longer enforced, so a
	// looping plugin stalls its shard for good. Defaults to false. It rarely pays: untrusted
	// plugins are rewritten so that a timeout traps them at their next loop header, which
	// costs about as little; only modules the rewriter cannot parse (SIMD, exception
	// handling) run under wazero's much slower termination checks.
	Trusted bool `koanf:"trusted"`
	// Module bounds what a module may declare, checked before it is compiled.
	Module ModuleLimits `koanf:"module"`
}

// Admin configures the HTTP admin endpoint.
type Admin struct {
	// Listen is host:port for /metrics, /healthz, /readyz and /api/v1. Empty disables it.
	Listen string `koanf:"listen"`
	// Token is the operator's bearer token for /api/v1: it may do everything. Prefer
	// TokenFile or TRIBUTARY_ADMIN__TOKEN. Without an operator token, /api/v1 answers only
	// tenant tokens (and 401 to everyone else). Never printed.
	Token Secret `koanf:"token"`
	// TokenFile names a file holding the operator token.
	TokenFile string `koanf:"token_file"`
	// ProtectMetrics requires the operator token on /metrics too. Defaults to false.
	ProtectMetrics bool `koanf:"protect_metrics"`
}

// Log configures the structured logger.
type Log struct {
	// Level is debug, info, warn or error. Defaults to info.
	Level string `koanf:"level"`
	// Format is text or json. Defaults to text.
	Format string `koanf:"format"`
}

// Route moves the messages of some MQTT topic filters to Kafka through a plugin chain.
type Route struct {
	// Name identifies the route in metrics, logs and dead-letter headers. Unique.
	Name string `koanf:"name"`
	// From lists MQTT topic filters (+ and # wildcards).
	From []string `koanf:"from"`
	// QoS is the subscription QoS, 0, 1 or 2. Defaults to 1.
	QoS int `koanf:"qos"`
	// Chain lists plugin stages applied in order.
	Chain []Stage `koanf:"chain"`
	// To says how records are built.
	To Destination `koanf:"to"`
	// DeadLetter is the Kafka topic for messages that cannot be delivered as mapped.
	// Defaults to the route's topic with "_dlq" appended when that topic is fixed.
	DeadLetter string `koanf:"dead_letter"`
}

// Stage is one plugin in a route's chain.
type Stage struct {
	// Plugin names plugins.dir/NAME.wasm.
	Plugin string `koanf:"plugin"`
	// Config is handed to the plugin's init as JSON.
	Config map[string]any `koanf:"config"`
}

// Destination maps a message to a Kafka record.
type Destination struct {
	// Topic is the Kafka topic, fixed or a template such as "sensors.{{.Segment 1}}".
	Topic string `koanf:"topic"`
	// Key is a template for the record key. Defaults to "{{.Topic}}", the MQTT topic.
	Key string `koanf:"key"`
	// Missing says what a {{.Payload "path"}} action of Topic or Key renders when the payload
	// lacks the field: dead_letter (the default), empty, or default:TEXT. See MissingField.
	Missing MissingField `koanf:"missing"`
	// Envelope is "none" (payload as is, the default) or "json"
	// ({"mqtt_topic","arrived_at_ms","payload","qos"}).
	Envelope string `koanf:"envelope"`
	// Lineage adds the header tributary.lineage to every record of the route: the plugins of
	// its chain, in order, each as NAME@VERSION (VERSION the sha256 hex of the module serving),
	// comma-separated. Defaults to false.
	Lineage bool `koanf:"lineage"`
	// ValueSchema encodes the record's value (the chain's JSON payload) through the Schema
	// Registry (kafka.schema_registry): validated against the schema, written in the
	// Confluent wire format. A payload that does not fit goes to the dead letters. Unset:
	// the payload as is.
	ValueSchema Schema `koanf:"value_schema"`
	// KeySchema encodes the record's key (the rendered key template, read as JSON, or as a
	// JSON string when it is not JSON) the same way. Unset: the key as rendered.
	KeySchema Schema `koanf:"key_schema"`
}

// Envelope values for Destination.Envelope.
const (
	EnvelopeNone = "none"
	EnvelopeJSON = "json"
)

// DefaultKeyTemplate is the default Destination.Key: the MQTT topic.
const DefaultKeyTemplate = "{{.Topic}}"

// Default returns the configuration every file is layered on.
func Default() *Config {
	return &Config{
		MQTT: MQTT{
			Protocol:       Protocol5,
			URL:            "tcp://127.0.0.1:1883",
			ClientID:       "tributary-1",
			SessionExpiry:  time.Hour,
			KeepAlive:      30 * time.Second,
			ConnectTimeout: 10 * time.Second,
			ReconnectMin:   250 * time.Millisecond,
			ReconnectMax:   10 * time.Second,
			ReceiveMaximum: 1000,
			AckInterval:    5 * time.Millisecond,
		},
		Kafka: Kafka{
			Brokers:        []string{"127.0.0.1:9092"},
			ClientID:       "tributary",
			Linger:         0,
			BatchMaxBytes:  1 << 20,
			MaxRecordBytes: 1 << 20,
			Compression:    "snappy",
			RequestTimeout: 30 * time.Second,
			StallTimeout:   60 * time.Second,
			SchemaRegistry: SchemaRegistry{Timeout: 10 * time.Second},
		},
		Flow: Flow{
			Shards:           4 * runtime.GOMAXPROCS(0),
			MaxInFlight:      1000,
			MaxInFlightBytes: 64 << 20,
			MaxBatch:         64,
			DrainTimeout:     30 * time.Second,
		},
		Plugins: Plugins{
			Dir:         "./plugins",
			Instances:   runtime.GOMAXPROCS(0),
			IdleTimeout: time.Minute,
			Limits: PluginLimits{
				MemoryMB:          16,
				CallTimeout:       time.Second,
				MaxOutputBytes:    4 << 20,
				MaxFanOut:         1000,
				RecycleAfterCalls: 100_000,
				RecycleAboveMB:    64,
				Module: ModuleLimits{
					MaxModuleMB: 32, MaxFunctions: 20_000, MaxTypes: 1000, MaxNesting: 4096,
					MaxControlFlow: 400_000_000, MaxLocals: 50_000, MaxModuleLocals: 1_000_000, MaxTableElements: 100_000,
				},
			},
			Compile: Compile{Timeout: 60 * time.Second, MemoryMB: 1024},
		},
		Admin: Admin{Listen: "127.0.0.1:9464"},
		Log:   Log{Level: "info", Format: "text"},
	}
}

// Secret is a string that prints as "[redacted]" when set, so it never reaches a log or
// `tributary validate` output by accident. Use Value to read it.
type Secret string

// Value returns the secret itself.
func (s Secret) Value() string { return string(s) }

// String implements fmt.Stringer with the value hidden.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// MarshalText hides the value in JSON and YAML output.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
