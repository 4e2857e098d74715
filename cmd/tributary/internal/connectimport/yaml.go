package connectimport

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/tributary-gw/tributary/gateway/config"
)

// envPrefix starts the environment variables named in warnings and comments.
const envPrefix = config.EnvPrefix

// yamlWriter writes YAML lines and comments.
type yamlWriter struct{ b bytes.Buffer }

// line writes one line at indent (in steps of two spaces).
func (w *yamlWriter) line(indent int, format string, args ...any) {
	w.b.WriteString(strings.Repeat("  ", indent))
	fmt.Fprintf(&w.b, format, args...)
	w.b.WriteByte('\n')
}

// comment writes "# text" at indent; control characters in text become spaces so input
// data cannot end the comment.
func (w *yamlWriter) comment(indent int, text string) {
	if text == "" {
		w.line(indent, "#")
		return
	}
	w.line(indent, "# %s", commentSafe(text))
}

func commentSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == 0x85 || r == 0x2028 || r == 0x2029 {
			return ' '
		}
		return r
	}, s)
}

// str quotes s as a YAML double-quoted scalar (JSON strings are valid YAML).
func str(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

// template quotes a template as a YAML single-quoted scalar, which keeps its double quotes
// readable; text with a control character is double-quoted by str instead.
func template(s string) string {
	if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || r == 0x85 || r == 0x2028 || r == 0x2029 }) {
		return str(s)
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// list writes a flow sequence of quoted strings.
func list(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = str(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// dur writes a duration in the unit it was given in.
func dur(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return fmt.Sprintf("%dms", d/time.Millisecond)
}

// yaml renders the plan with the connector's warnings as comments.
func (p *plan) yaml(c *connector, fam Family) []byte {
	w := &yamlWriter{}
	what := fam.String()
	if c.name != "" {
		what = fmt.Sprintf("connector %s (%s)", str(c.name), fam)
	}
	w.comment(0, "Tributary configuration imported by `tributary import-connect` from Kafka Connect "+what+".")
	w.comment(0, "Review the warnings, then check it with: tributary validate --config FILE")
	if len(c.warnings) > 0 {
		w.comment(0, "")
		w.comment(0, "Warnings:")
		for _, warn := range c.warnings {
			w.comment(0, "- "+warn.String())
		}
	}

	w.line(0, "mqtt:")
	w.line(1, "url: %s", str(p.mqtt.url))
	if p.mqtt.clientID != "" {
		w.comment(1, p.mqtt.clientIDNote)
		w.line(1, "client_id: %s", str(p.mqtt.clientID))
	} else {
		w.comment(1, "the persistent session's id; give each instance its own, e.g. "+envPrefix+"MQTT__CLIENT_ID=tributary-2")
		w.line(1, "client_id: %s", str("tributary-"+routeName(c.name, 0, 1)))
	}
	w.line(1, "clean_start: %t", p.mqtt.cleanStart)
	if p.mqtt.sharedGroup != "" {
		w.line(1, "shared_group: %s", str(p.mqtt.sharedGroup))
	}
	if p.mqtt.username != "" {
		w.line(1, "username: %s", str(p.mqtt.username))
	}
	if p.mqtt.passwordSet {
		w.comment(1, "password: not copied. Set "+envPrefix+"MQTT__PASSWORD in the environment,")
		w.comment(1, "or point password_file at a file holding it:")
		w.comment(1, "password_file: /run/secrets/mqtt-password")
	}
	if p.mqtt.keepAlive > 0 {
		w.line(1, "keep_alive: %s", dur(p.mqtt.keepAlive))
	}
	if p.mqtt.connTimeout > 0 {
		w.line(1, "connect_timeout: %s", dur(p.mqtt.connTimeout))
	}
	switch {
	case p.mqtt.caFile != "" || p.mqtt.certFile != "" || p.mqtt.keyFile != "":
		w.line(1, "tls:")
		for _, f := range []struct{ key, v string }{{"ca_file", p.mqtt.caFile}, {"cert_file", p.mqtt.certFile}, {"key_file", p.mqtt.keyFile}} {
			if f.v != "" {
				w.line(2, "%s: %s", f.key, str(f.v))
			}
		}
	case p.mqtt.keyStores:
		w.comment(1, "tls: the connector's Java key stores exported to PEM, e.g.")
		w.comment(1, "  keytool -exportcert -rfc -keystore truststore.jks -alias CARoot > ca.pem")
		w.comment(1, "  openssl pkcs12 -in keystore.p12 -nokeys -out client.pem")
		w.comment(1, "  openssl pkcs12 -in keystore.p12 -nocerts -nodes -out client-key.pem")
		w.comment(1, "tls:")
		w.comment(1, "  ca_file: ca.pem")
		w.comment(1, "  cert_file: client.pem")
		w.comment(1, "  key_file: client-key.pem")
	}

	w.line(0, "kafka:")
	if p.kafka.brokersFrom != "" {
		w.comment(1, "from "+p.kafka.brokersFrom+"; records went to the Connect worker's cluster (its bootstrap.servers): check")
		w.line(1, "brokers: %s", list(p.kafka.brokers))
	} else {
		w.comment(1, "TODO: the Kafka cluster the Connect worker wrote to (its bootstrap.servers), or "+envPrefix+"KAFKA__BROKERS=k1:9092,k2:9092")
		w.line(1, "brokers: %s", list([]string{"127.0.0.1:9092"}))
	}
	if p.kafka.tls {
		w.line(1, "tls:")
		w.line(2, "enabled: true")
	}
	if p.kafka.sasl != "" {
		w.comment(1, "sasl:")
		w.comment(1, "  mechanism: "+p.kafka.sasl)
		w.comment(1, "  username: USER   # and "+envPrefix+"KAFKA__SASL__PASSWORD in the environment")
	}
	if p.valueSchema != nil || p.keySchema != nil {
		p.writeRegistry(w)
	}

	w.line(0, "routes:")
	for _, r := range p.routes {
		w.line(1, "- name: %s", str(r.name))
		w.line(2, "from: %s", list(r.from))
		w.line(2, "qos: %d", r.qos)
		w.line(2, "to:")
		w.line(3, "topic: %s", str(r.topic))
		switch {
		case r.key != "":
			w.comment(3, "from WITHKEY: payload fields")
		case fam == Confluent:
			w.comment(3, "the MQTT topic, as the connector keyed records")
		default:
			w.comment(3, "the MQTT topic")
		}
		if r.key != "" {
			w.line(3, "key: %s", template(r.key))
		} else {
			w.line(3, "key: %s", str(config.DefaultKeyTemplate))
		}
		if p.keySchema != nil {
			writeSchema(w, "key", p.keySchema, r.topic)
		}
		w.comment(3, p.converterNote)
		w.line(3, "envelope: %s", config.EnvelopeNone)
		if p.valueSchema != nil {
			writeSchema(w, "value", p.valueSchema, r.topic)
		}
		if p.deadLetter != "" {
			w.comment(2, "from errors.deadletterqueue.topic.name: messages a plugin rejects, or too large for Kafka, go here")
			w.line(2, "dead_letter: %s", str(p.deadLetter))
		} else {
			w.comment(2, "messages a plugin rejects, or too large for Kafka, go to "+r.topic+"_dlq unless dead_letter says otherwise")
		}
	}
	return w.b.Bytes()
}
