package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tributary-gw/tributary/gateway/config"
)

func TestLoadSchemaRegistry(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"pw": "s3cret\n", "reading.avsc": `{"type":"record","name":"R","fields":[]}`} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "tributary.yaml")
	doc := `
kafka:
  schema_registry: {url: "https://sr.example:8081", username: u, password_file: pw, auto_register: true}
routes:
  - name: fixed
    from: [a/#]
    to: {topic: readings, value_schema: {format: avro, file: reading.avsc}, key_schema: {format: json_schema, version: 2}}
  - name: templated
    from: [b/#]
    dead_letter: b_dlq
    to: {topic: "b.{{.Segment 1}}", value_schema: {format: protobuf, subject: b-value, message: b.v1.Reading}}
`
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	sr := cfg.Kafka.SchemaRegistry
	if sr.Password.Value() != "s3cret" || sr.Timeout != 10*time.Second || !sr.AutoRegister {
		t.Errorf("schema_registry = %+v (password from the file, default timeout 10s)", sr)
	}
	fixed := cfg.Routes[0].To
	if fixed.ValueSchema.Subject != "readings-value" || fixed.KeySchema.Subject != "readings-key" {
		t.Errorf("default subjects = %q, %q; want readings-value, readings-key", fixed.ValueSchema.Subject, fixed.KeySchema.Subject)
	}
	if want := filepath.Join(dir, "reading.avsc"); fixed.ValueSchema.File != want {
		t.Errorf("value_schema.file = %q, want %q (relative to the config file)", fixed.ValueSchema.File, want)
	}
	if !cfg.UsesSchemas() || cfg.Routes[1].To.ValueSchema.Message != "b.v1.Reading" {
		t.Errorf("templated route's schema = %+v", cfg.Routes[1].To.ValueSchema)
	}
	out, err := cfg.Redacted()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "s3cret") || strings.Count(string(out), "_schema:") != 3 {
		t.Errorf("Redacted leaks the password or lists unset schemas:\n%s", out)
	}
}

func TestSchemaProblems(t *testing.T) {
	cases := []struct{ doc, want string }{
		{`routes: [{name: r, from: [a], to: {topic: t, value_schema: {format: avro}}}]`,
			"kafka.schema_registry.url: required"},
		{`kafka: {schema_registry: {url: "ftp://x"}}
routes: [{name: r, from: [a], to: {topic: t}}]`, `kafka.schema_registry.url: scheme "ftp"`},
		{`kafka: {schema_registry: {url: "http://x", username: u}}
routes: [{name: r, from: [a], to: {topic: t}}]`, "kafka.schema_registry.password: required"},
		{`kafka: {schema_registry: {url: "http://x", token: abc, username: u, password: p}}
routes: [{name: r, from: [a], to: {topic: t}}]`, "kafka.schema_registry.token: set both"},
		{`kafka: {schema_registry: {url: "http://x"}}
routes: [{name: r, from: [a], to: {topic: t, value_schema: {format: thrift}}}]`, `routes[0] (r).to.value_schema.format: "thrift" is not one of`},
		{`kafka: {schema_registry: {url: "http://x"}}
routes: [{name: r, from: [a], to: {topic: t, value_schema: {subject: s}}}]`, "routes[0] (r).to.value_schema.format: required"},
		{`kafka: {schema_registry: {url: "http://x"}}
routes: [{name: r, from: [a], dead_letter: d, to: {topic: "t.{{.Segment 0}}", key_schema: {format: avro}}}]`, "routes[0] (r).to.key_schema.subject: required when to.topic is a template"},
		{`kafka: {schema_registry: {url: "http://x"}}
routes: [{name: r, from: [a], to: {topic: t, value_schema: {format: avro, message: M}}}]`, "routes[0] (r).to.value_schema.message: only for format protobuf"},
		{`kafka: {schema_registry: {url: "http://x"}}
routes: [{name: r, from: [a], to: {topic: t, envelope: json, value_schema: {format: avro}}}]`, "routes[0] (r).to.value_schema: cannot be combined with to.envelope json"},
		{`kafka: {schema_registry: {url: "http://x"}}
routes: [{name: r, from: [a], to: {topic: t, value_schema: {format: avro, file: /nonexistent/x.avsc}}}]`, "routes[0] (r).to.value_schema.file: stat /nonexistent/x.avsc"},
		{`kafka: {schema_registry: {url: "http://x"}}
tenants: {inline: [{name: acme, mqtt_prefixes: [acme/], kafka_prefixes: [acme.], routes: [{name: r, from: [acme/a], to: {topic: acme.t, value_schema: {format: avro, subject: other-value}}}]}]}`,
			`to.value_schema.subject: subject "other-value" is outside tenant acme's Kafka namespace`},
	}
	for _, c := range cases {
		_, err := config.LoadBytes([]byte(c.doc), nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s\nerror = %v\nwant it to contain %q", c.doc, err, c.want)
		}
	}
}
