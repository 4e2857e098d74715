package connectimport

import (
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/tributary-gw/tributary/gateway/config"
)

// Confluent's Schema Registry converters and the schema format each maps to.
var registryConverters = map[string]string{
	"AvroConverter":       config.SchemaAvro,
	"ProtobufConverter":   config.SchemaProtobuf,
	"JsonSchemaConverter": config.SchemaJSONSchema,
}

// registryPlan is kafka.schema_registry as imported from the converters' settings.
type registryPlan struct {
	url         string // "" when no converter named one: a placeholder is written
	urlFrom     string // the key the URL came from
	username    string
	passwordSet bool // a password was given (not copied)
	tokenSet    bool // a bearer token was given (not copied)
	caFile      string
	certFile    string
	keyFile     string
	keyStores   bool // Java key or trust stores that need converting to PEM
	// autoRegister is the converters' auto.register.schemas as set; nil when not set.
	autoRegister *bool
}

// schemaPlan is a route's to.value_schema or to.key_schema.
type schemaPlan struct {
	format string // config.SchemaAvro, ...
	// strategy is the subject name strategy's short name; "" is TopicNameStrategy.
	strategy string
	from     string // the converter key, for comments
}

// registryConverter maps a Schema Registry converter set as which ("value" or "key"):
// its format and subject name strategy to the routes' schema, and its registry settings to
// kafka.schema_registry.
func (c *connector) registryConverter(p *plan, which, short, format string) *schemaPlan {
	conv := which + ".converter"
	pfx := conv + "."
	if cls, _ := c.get(conv); !strings.HasPrefix(cls, "io.confluent.") {
		c.warn(conv, "%s is not Confluent's; mapped as Confluent's %s (the Schema Registry's REST API and wire format)", cls, short)
	}
	sp := &schemaPlan{format: format, from: conv}
	c.registryURL(p, pfx)
	c.registryAuth(p, pfx)
	c.registryTLS(p, pfx)

	if v, ok := c.get(pfx + "auto.register.schemas"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			c.warn(pfx+"auto.register.schemas", "%q is not a boolean; kafka.schema_registry.auto_register stays false", v)
		} else if p.registry.autoRegister == nil || b {
			p.registry.autoRegister = &b
		}
	}
	if v, ok := c.get(pfx + "use.latest.version"); ok {
		if b, err := strconv.ParseBool(v); err != nil || !b {
			c.warn(pfx+"use.latest.version", "%q: Tributary encodes against one version of the subject, the latest unless "+
				"to.%s_schema.version pins one or to.%s_schema.file names the schema", v, which, which)
		}
	}
	for _, k := range []string{which + ".subject.name.strategy", "subject.name.strategy"} {
		v, ok := c.get(pfx + k)
		if !ok || v == "" {
			continue
		}
		switch s := v[strings.LastIndex(v, ".")+1:]; s {
		case "TopicNameStrategy":
		case "RecordNameStrategy", "TopicRecordNameStrategy":
			sp.strategy = s
			c.warn(pfx+k, "%s names the subject after the record's full name, which the import cannot know: "+
				"set to.%s_schema.subject by hand (it is <topic>-%s, TopicNameStrategy, until you do)", s, which, which)
		default:
			c.warn(pfx+k, "%s is not a strategy the import knows; the subject is <topic>-%s (TopicNameStrategy): check", s, which)
		}
	}
	if which == "value" {
		c.warn(conv, "%s maps to to.value_schema (format %s, subject <topic>-value, its latest version): Tributary "+
			"encodes each JSON payload the chain produces against that schema and dead-letters what does not fit. "+
			"The connector registered the schema of the records it produced: for a raw MQTT payload a bytes schema, "+
			"which JSON objects do not fit; for JSON it parsed (a JSON converter in KCQL, an SMT) the record schema "+
			"Connect derived. Check the subject holds the record schema consumers expect, or name one in "+
			"to.value_schema.file with kafka.schema_registry.auto_register: true", short, format)
	}
	c.unmappedConverterKeys(pfx)
	return sp
}

// registryURL takes the first registry URL of the converter, credentials stripped.
func (c *connector) registryURL(p *plan, pfx string) {
	key := pfx + "schema.registry.url"
	v, ok := c.get(key)
	urls := splitList(v, ",")
	if !ok || len(urls) == 0 {
		if p.registry.url == "" {
			c.warn(key, "not set; kafka.schema_registry.url is a placeholder: set it")
		}
		return
	}
	first := urls[0]
	u, err := url.Parse(first)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		c.warn(key, "%s is not an http:// or https:// URL; kafka.schema_registry.url is a placeholder: set it", quoteShort(redactURIs([]string{first})[0]))
		return
	}
	if u.User != nil {
		if p.registry.username == "" {
			p.registry.username = u.User.Username()
		}
		if _, has := u.User.Password(); has {
			p.registry.passwordSet = true
		}
		u.User = nil
		c.warn(key, "the credentials in the URL are not copied into it; the user name is kafka.schema_registry.username")
	}
	switch {
	case p.registry.url == "":
		p.registry.url, p.registry.urlFrom = u.String(), key
		if len(urls) > 1 {
			c.warn(key, "Tributary talks to one registry URL; using %s and not %s (put a load balancer in front of several)",
				p.registry.url, strings.Join(redactURIs(urls[1:]), ", "))
		}
	case p.registry.url != u.String():
		c.warn(key, "differs from %s; Tributary has one registry, kept %s", p.registry.urlFrom, p.registry.url)
	}
}

// registryAuth maps basic.auth.* and bearer.auth.*; secrets are noted, never copied.
func (c *connector) registryAuth(p *plan, pfx string) {
	source, _ := c.get(pfx + "basic.auth.credentials.source")
	info, hasInfo := c.get(pfx + "basic.auth.user.info")
	if !hasInfo {
		info, hasInfo = c.get(pfx + "schema.registry.basic.auth.user.info")
	}
	switch strings.ToUpper(source) {
	case "", "USER_INFO":
		if hasInfo && info != "" {
			user, _, found := strings.Cut(info, ":")
			if p.registry.username == "" {
				p.registry.username = user
			}
			if found {
				p.registry.passwordSet = true
			}
		}
	case "URL":
		// The credentials are in schema.registry.url: registryURL took them.
	case "SASL_INHERIT":
		c.warn(pfx+"basic.auth.credentials.source", "SASL_INHERIT used the Kafka SASL credentials; set kafka.schema_registry.username "+
			"and %sKAFKA__SCHEMA_REGISTRY__PASSWORD", envPrefix)
	default:
		c.warn(pfx+"basic.auth.credentials.source", "%q is not a source the import knows; set kafka.schema_registry.username and password by hand", source)
	}

	bearer, _ := c.get(pfx + "bearer.auth.credentials.source")
	token, hasToken := c.get(pfx + "bearer.auth.token")
	var other []string
	for _, k := range c.withPrefix(pfx + "bearer.auth.") {
		if k != pfx+"bearer.auth.credentials.source" && k != pfx+"bearer.auth.token" {
			other = append(other, k)
		}
	}
	switch strings.ToUpper(bearer) {
	case "", "STATIC_TOKEN":
		if hasToken && token != "" {
			p.registry.tokenSet = true
		}
	default:
		c.warn(pfx+"bearer.auth.credentials.source", "%s is not supported: Tributary sends a static bearer token "+
			"(kafka.schema_registry.token or token_file), fetched by whatever renews it", bearer)
	}
	if len(other) > 0 {
		c.warn(pfx+"bearer.auth.*", "not mapped (%s): only a static token is sent", strings.Join(nonSecret(other), ", "))
	}
	if p.registry.tokenSet && p.registry.username != "" {
		c.warn(pfx+"bearer.auth.token", "both basic and bearer credentials are set; Tributary uses one: the bearer token is left out")
		p.registry.tokenSet = false
	}
}

// registryTLS maps schema.registry.ssl.*: PEM stores become the TLS files; Java stores need
// converting, which the YAML explains.
func (c *connector) registryTLS(p *plan, pfx string) {
	ssl := pfx + "schema.registry.ssl."
	get := func(k string) string { v, _ := c.get(ssl + k); return v }
	trust, trustType := get("truststore.location"), strings.ToUpper(get("truststore.type"))
	store, storeType := get("keystore.location"), strings.ToUpper(get("keystore.type"))
	if trust != "" {
		if trustType == "PEM" {
			p.registry.caFile = trust
		} else {
			p.registry.keyStores = true
		}
	}
	if store != "" {
		if storeType == "PEM" {
			// A PEM key store holds the key and the certificate chain: Go reads each from it.
			p.registry.certFile, p.registry.keyFile = store, store
		} else {
			p.registry.keyStores = true
		}
	}
	if v, ok := c.get(ssl + "endpoint.identification.algorithm"); ok && v == "" {
		c.warn(ssl+"endpoint.identification.algorithm", "empty (no host name check) is not mapped: Tributary always checks the "+
			"registry's certificate and host name (insecure_skip_verify turns every check off)")
	}
	var rest []string
	for _, k := range c.withPrefix(ssl) {
		switch strings.TrimPrefix(k, ssl) {
		case "truststore.location", "truststore.type", "keystore.location", "keystore.type", "endpoint.identification.algorithm",
			"truststore.password", "keystore.password", "key.password":
		default:
			rest = append(rest, k)
		}
	}
	if p.registry.keyStores {
		c.warn(ssl+"*", "Java key and trust stores cannot be read; export them to PEM files and set kafka.schema_registry.tls.ca_file, "+
			"cert_file and key_file (commented out in the output). Store passwords are not copied")
	}
	if v := get("key.password"); v != "" && store != "" && storeType == "PEM" {
		c.warn(ssl+"key.password", "an encrypted PEM key cannot be read: decrypt it (openssl pkey -in key.pem -out plain.pem)")
	}
	if len(rest) > 0 {
		c.warn(ssl+"*", "not mapped (%s)", strings.Join(nonSecret(rest), ", "))
	}
}

// unmappedConverterKeys warns about the converter's keys nothing above read.
func (c *connector) unmappedConverterKeys(pfx string) {
	var rest []string
	for k := range c.values {
		if strings.HasPrefix(k, pfx) && !c.used[k] {
			rest = append(rest, k)
			c.used[k] = true
		}
	}
	sort.Strings(rest)
	if len(rest) > 0 {
		c.warn(strings.TrimSuffix(pfx, ".")+".*", "not mapped (%s)", strings.Join(nonSecret(rest), ", "))
	}
}

// writeRegistry writes kafka.schema_registry.
func (p *plan) writeRegistry(w *yamlWriter) {
	r := &p.registry
	w.line(1, "schema_registry:")
	if r.url == "" {
		w.comment(2, "TODO: the Schema Registry the converters used (no schema.registry.url was set)")
		w.line(2, "url: %s", str("http://schema-registry:8081"))
	} else {
		w.comment(2, "from "+r.urlFrom)
		w.line(2, "url: %s", str(r.url))
	}
	if r.username != "" {
		w.line(2, "username: %s", str(r.username))
	}
	if r.passwordSet || r.username != "" {
		w.comment(2, "password: not copied. Set "+envPrefix+"KAFKA__SCHEMA_REGISTRY__PASSWORD in the environment,")
		w.comment(2, "or point password_file at a file holding it:")
		w.comment(2, "password_file: /run/secrets/schema-registry-password")
	}
	if r.tokenSet {
		w.comment(2, "token: the bearer token is not copied. Set "+envPrefix+"KAFKA__SCHEMA_REGISTRY__TOKEN in the environment,")
		w.comment(2, "or point token_file at a file holding it:")
		w.comment(2, "token_file: /run/secrets/schema-registry-token")
	}
	switch {
	case r.caFile != "" || r.certFile != "":
		w.line(2, "tls:")
		for _, f := range []struct{ key, v string }{{"ca_file", r.caFile}, {"cert_file", r.certFile}, {"key_file", r.keyFile}} {
			if f.v != "" {
				w.line(3, "%s: %s", f.key, str(f.v))
			}
		}
	case r.keyStores:
		w.comment(2, "tls: the converter's Java key stores exported to PEM, e.g.")
		w.comment(2, "  keytool -exportcert -rfc -keystore truststore.jks -alias CARoot > sr-ca.pem")
		w.comment(2, "  openssl pkcs12 -in keystore.p12 -nokeys -out sr-client.pem")
		w.comment(2, "  openssl pkcs12 -in keystore.p12 -nocerts -nodes -out sr-client-key.pem")
		w.comment(2, "tls:")
		w.comment(2, "  ca_file: sr-ca.pem")
		w.comment(2, "  cert_file: sr-client.pem")
		w.comment(2, "  key_file: sr-client-key.pem")
	}
	switch {
	case r.autoRegister == nil:
		w.comment(2, "the converters registered the schema they derived (auto.register.schemas defaults to true);")
		w.comment(2, "Tributary registers only a schema file (to.*_schema.file) and only with auto_register: true")
		w.line(2, "auto_register: false")
	case *r.autoRegister:
		w.comment(2, "from auto.register.schemas: registers each route's to.*_schema.file at start")
		w.line(2, "auto_register: true")
	default:
		w.comment(2, "from auto.register.schemas")
		w.line(2, "auto_register: false")
	}
}

// writeSchema writes a route's to.value_schema or to.key_schema for topic.
func writeSchema(w *yamlWriter, which string, s *schemaPlan, topic string) {
	w.line(3, "%s_schema:", which)
	w.comment(4, "from "+s.from+"; the latest version of the subject unless version or file says otherwise")
	w.line(4, "format: %s", s.format)
	if s.strategy != "" {
		w.comment(4, "TODO: "+s.strategy+" named the subject after the record; set it here")
	}
	w.line(4, "subject: %s", str(topic+"-"+which))
	if s.format == config.SchemaProtobuf {
		w.comment(4, "message: acme.v1.Reading   # the message the payload is; default: the schema's first")
	}
}
