package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tributary-gw/tributary/gateway/mqtttopic"
)

// SchemaRegistry configures the Confluent-compatible Schema Registry the routes' value_schema
// and key_schema use (kafka.schema_registry). It is the gateway's: tenants' routes use it too,
// confined to subjects in their Kafka namespace.
type SchemaRegistry struct {
	// URL is the registry's base URL, http:// or https://. Required when a route uses a
	// schema.
	URL string `koanf:"url"`
	// Username for HTTP basic authentication, with Password.
	Username string `koanf:"username"`
	// Password for basic authentication; prefer PasswordFile or the environment. Never printed.
	Password Secret `koanf:"password"`
	// PasswordFile names a file holding the password.
	PasswordFile string `koanf:"password_file"`
	// Token is a bearer token (Authorization: Bearer); not with Username. Never printed.
	Token Secret `koanf:"token"`
	// TokenFile names a file holding the bearer token.
	TokenFile string `koanf:"token_file"`
	// TLS for https:// registries: a CA bundle, a client certificate for mutual TLS.
	TLS RegistryTLS `koanf:"tls"`
	// AutoRegister registers each route's schema file under its subject at start (a schema
	// already registered keeps its id). Defaults to false: the schema file is then looked up
	// in the subject and must already be registered there.
	AutoRegister bool `koanf:"auto_register"`
	// Timeout bounds one request to the registry. Defaults to 10s.
	Timeout time.Duration `koanf:"timeout"`
}

// RegistryTLS holds the certificate settings of kafka.schema_registry.tls. TLS is on when
// the URL is https://.
type RegistryTLS struct {
	// CAFile is a PEM bundle of certificate authorities; empty means the system pool.
	CAFile string `koanf:"ca_file"`
	// CertFile and KeyFile are the PEM client certificate and key for mutual TLS.
	CertFile string `koanf:"cert_file"`
	KeyFile  string `koanf:"key_file"`
	// InsecureSkipVerify disables server certificate checks. For tests only.
	InsecureSkipVerify bool `koanf:"insecure_skip_verify"`
}

// TLS returns r as the shared TLS settings, whose ClientConfig builds the tls.Config.
func (r RegistryTLS) TLS() TLS {
	return TLS{Enabled: true, CAFile: r.CAFile, CertFile: r.CertFile, KeyFile: r.KeyFile, InsecureSkipVerify: r.InsecureSkipVerify}
}

// Schema formats for Schema.Format.
const (
	SchemaAvro       = "avro"
	SchemaProtobuf   = "protobuf"
	SchemaJSONSchema = "json_schema"
)

// schemaFormats are the accepted Schema.Format values.
var schemaFormats = []string{SchemaAvro, SchemaProtobuf, SchemaJSONSchema}

// Schema says how a route encodes a record's value (to.value_schema) or key (to.key_schema)
// through the Schema Registry: the JSON the chain produced is checked against the schema and
// written in the Confluent wire format. The zero Schema means none (raw bytes, as before).
type Schema struct {
	// Format is avro, protobuf or json_schema. Required.
	Format string `koanf:"format"`
	// Subject is the registry subject. Defaults to "<topic>-value" or "<topic>-key"
	// (TopicNameStrategy) when to.topic is fixed; required when it is a template. A tenant's
	// subject must start with one of its kafka_prefixes.
	Subject string `koanf:"subject"`
	// Version pins a version of the subject; 0 (or absent) means the latest, looked up at
	// start.
	Version int `koanf:"version"`
	// File is a schema file (.avsc, .proto, .json). With kafka.schema_registry.auto_register
	// it is registered under Subject at start; otherwise it must already be registered there
	// and its id is looked up. Not with Version.
	File string `koanf:"file"`
	// Message is the fully-qualified Protobuf message the payload is, e.g. "acme.v1.Reading".
	// Defaults to the first message of the schema. Protobuf only.
	Message string `koanf:"message"`
}

// IsSet reports whether s asks for encoding: any key of it was written.
func (s Schema) IsSet() bool { return s != Schema{} }

// Schema subject suffixes of TopicNameStrategy.
const (
	ValueSubjectSuffix = "-value"
	KeySubjectSuffix   = "-key"
)

// applySchemaDefaults fills in a route's schema subjects from its fixed topic.
func applySchemaDefaults(r *Route) {
	if r.To.Topic == "" {
		return
	}
	t, err := mqtttopic.ParseTemplate(r.To.Topic)
	if err != nil || !t.IsStatic() {
		return
	}
	if r.To.ValueSchema.IsSet() && r.To.ValueSchema.Subject == "" {
		r.To.ValueSchema.Subject = r.To.Topic + ValueSubjectSuffix
	}
	if r.To.KeySchema.IsSet() && r.To.KeySchema.Subject == "" {
		r.To.KeySchema.Subject = r.To.Topic + KeySubjectSuffix
	}
}

// UsesSchemas reports whether any route, top-level or a tenant's, has a value or key schema.
func (c *Config) UsesSchemas() bool {
	uses := func(rs []Route) bool {
		for _, r := range rs {
			if r.To.ValueSchema.IsSet() || r.To.KeySchema.IsSet() {
				return true
			}
		}
		return false
	}
	if uses(c.Routes) {
		return true
	}
	for _, t := range c.AllTenants() {
		if uses(t.Routes) {
			return true
		}
	}
	return false
}

// check reports problems of kafka.schema_registry; needed says whether a route uses it.
func (r *SchemaRegistry) check(p *problems, needed bool) {
	const key = "kafka.schema_registry"
	switch {
	case r.URL == "":
		if needed {
			p.add(key+".url", "required: a route has a value_schema or key_schema")
		}
	default:
		u, err := url.Parse(r.URL)
		if err != nil {
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err // url.Error repeats the URL, which may hold a password
			}
			p.add(key+".url", "invalid URL: %v", err)
			break
		}
		shown := redactURL(r.URL)
		switch {
		case u.Scheme != "http" && u.Scheme != "https":
			p.add(key+".url", "scheme %q of %q is not http or https", u.Scheme, shown)
		case u.Hostname() == "":
			p.add(key+".url", "no host in %q", shown)
		case u.User != nil:
			p.add(key+".url", "credentials in the URL %q: use %s.username and %s.password", shown, key, key)
		}
	}
	if r.Username != "" && r.Password == "" {
		p.add(key+".password", "required with %s.username", key)
	}
	if r.Password != "" && r.Username == "" {
		p.add(key+".username", "required with %s.password", key)
	}
	if r.Token != "" && r.Username != "" {
		p.add(key+".token", "set both %s.token and %s.username: use basic or bearer authentication, not both", key, key)
	}
	checkDuration(p, key+".timeout", r.Timeout, 1, 0)
	tls := r.TLS.TLS()
	tls.check(p, key+".tls")
}

// checkSchema reports problems of a route's schema at key (".to.value_schema" under the route
// key rk). static says whether the route's topic is fixed; t is the route's tenant or nil.
func (c *Config) checkSchema(p *problems, rk, sub string, r *Route, s Schema, t *Tenant) {
	if !s.IsSet() {
		return
	}
	add := func(k, format string, args ...any) { p.addRoute(rk+sub+k, r.Name, format, args...) }
	switch {
	case s.Format == "":
		add(".format", "required: one of %s", strings.Join(schemaFormats, ", "))
	case !oneOf(s.Format, schemaFormats):
		add(".format", "%q is not one of %s", s.Format, strings.Join(schemaFormats, ", "))
	}
	if s.Subject == "" {
		add(".subject", "required when to.topic is a template")
	} else if t != nil && !t.KafkaAllowed(s.Subject) {
		add(".subject", "subject %q is outside tenant %s's Kafka namespace %q", s.Subject, t.Name, t.KafkaPrefixes)
	}
	if s.Version < 0 {
		add(".version", "%d must not be negative (0: the latest)", s.Version)
	}
	if s.File != "" {
		if s.Version != 0 {
			add(".version", "set both version and file; use one")
		}
		if st, err := os.Stat(s.File); err != nil {
			add(".file", "%v", err)
		} else if !st.Mode().IsRegular() {
			add(".file", "%s is not a regular file", s.File)
		}
		if t != nil && t.File != "" && !within(filepath.Dir(t.File), s.File) {
			add(".file", "%s is outside tenant %s's folder %s", s.File, t.Name, filepath.Dir(t.File))
		}
	}
	if s.Message != "" && s.Format != SchemaProtobuf {
		add(".message", "only for format protobuf")
	}
	if sub == ".to.value_schema" && r.To.Envelope == EnvelopeJSON {
		add("", "cannot be combined with to.envelope json: the schema encodes the payload itself")
	}
}

// within reports whether path lies inside the folder dir (both absolute).
func within(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// String names the schema for logs: "avro subject sensors-value version 3".
func (s Schema) String() string {
	v := "latest"
	if s.Version > 0 {
		v = fmt.Sprintf("version %d", s.Version)
	}
	if s.File != "" {
		v = "file " + s.File
	}
	return fmt.Sprintf("%s subject %s %s", s.Format, s.Subject, v)
}
