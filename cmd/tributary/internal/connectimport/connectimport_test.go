package connectimport

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tributary-gw/tributary/gateway/config"
)

func TestParseKCQL(t *testing.T) {
	tests := []struct {
		name, in       string
		target, source string
		key            string // the to.key template of WITHKEY
		warnings       int
		wantErr        string
	}{
		{name: "plain", in: "INSERT INTO sensors SELECT * FROM building/+/temp", target: "sensors", source: "building/+/temp"},
		{name: "lower case, backquotes", in: "insert into `k.t` select * from `a/#`", target: "k.t", source: "a/#"},
		{name: "single-quoted shared", in: "INSERT INTO t SELECT * FROM '$share/g/a/+'", target: "t", source: "$share/g/a/+"},
		{name: "bytes converter", in: "INSERT INTO t SELECT * FROM a WITHCONVERTER=`x.y.BytesConverter`", target: "t", source: "a"},
		{name: "json converter", in: "INSERT INTO t SELECT * FROM a WITHCONVERTER=`x.y.JsonSimpleConverter`", target: "t", source: "a"}, // warned by the caller, which knows the value converter
		{name: "withkey and delimiter", in: "INSERT INTO t SELECT * FROM a WITHKEY(id, `meta.site`) KEYDELIMITER='-'", target: "t", source: "a",
			key: `{{.Payload "id"}}-{{.Payload "meta.site"}}`},
		{name: "withkey default delimiter", in: "INSERT INTO t SELECT * FROM a WITHKEY(id,site)", target: "t", source: "a",
			key: `{{.Payload "id"}}.{{.Payload "site"}}`},
		{name: "withkey braces delimiter", in: "INSERT INTO t SELECT * FROM a WITHKEY(id,site) KEYDELIMITER='}}'", target: "t", source: "a", warnings: 1},
		{name: "fields", in: "INSERT INTO t SELECT id, v FROM a", target: "t", source: "a", warnings: 1},
		{name: "unknown clause with group", in: "INSERT INTO t SELECT * FROM a PROPERTIES('x'='y')", target: "t", source: "a", warnings: 1},
		{name: "no insert", in: "SELECT * FROM a", wantErr: "want INSERT"},
		{name: "no from", in: "INSERT INTO t SELECT *", wantErr: "want FROM"},
		{name: "no source", in: "INSERT INTO t SELECT * FROM", wantErr: "want the MQTT topic"},
		{name: "unterminated quote", in: "INSERT INTO `t SELECT * FROM a", wantErr: "unterminated"},
		{name: "unclosed group", in: "INSERT INTO t SELECT * FROM a WITHKEY(id", wantErr: "unclosed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, err := parseKCQL(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if key := st.keyTemplate(); key != tc.key {
				t.Errorf("key template %q, want %q", key, tc.key)
			}
			if st.target != tc.target || st.source != tc.source || len(st.warnings) != tc.warnings {
				t.Errorf("got target %q source %q warnings %q; want %q %q and %d warnings", st.target, st.source, st.warnings, tc.target, tc.source, tc.warnings)
			}
		})
	}
}

func TestSplitKCQL(t *testing.T) {
	got := splitKCQL("INSERT INTO a SELECT * FROM `x;y`; ;INSERT INTO b SELECT * FROM 'p;q';")
	want := []string{"INSERT INTO a SELECT * FROM `x;y`", "INSERT INTO b SELECT * FROM 'p;q'"}
	if !slices.Equal(got, want) {
		t.Errorf("splitKCQL = %q, want %q", got, want)
	}
}

func TestConvert(t *testing.T) {
	tests := []struct {
		name         string
		in           string
		family       Family
		wantYAML     []string // substrings of the output
		wantWarnings []string // substrings, each of some warning
		wantErr      string
	}{
		{
			name:         "flat confluent by keys",
			in:           `{"mqtt.server.uri":"tcp://b:1883","mqtt.topics":"a/#","kafka.topic":"t","mqtt.qos":2,"mqtt.clean.session.enabled":false}`,
			family:       Confluent,
			wantYAML:     []string{`url: "tcp://b:1883"`, `from: ["a/#"]`, "qos: 2", `topic: "t"`, "clean_start: false", "envelope: none"},
			wantWarnings: []string{"value.converter: not set"},
		},
		{
			name:         "rest stream reactor by class",
			in:           `{"name":"n","config":{"connector.class":"io.lenses.streamreactor.connect.mqtt.source.MqttSourceConnector","connect.mqtt.hosts":"tcp://b:1883","connect.mqtt.kcql":"INSERT INTO t SELECT * FROM a/+","connect.mqtt.ssl.ca.cert":"ca.pem"}}`,
			family:       StreamReactor,
			wantYAML:     []string{`- name: "n"`, `from: ["a/+"]`, `ca_file: "ca.pem"`},
			wantWarnings: []string{"only with an ssl://"},
		},
		{
			name:         "password in uri",
			in:           `{"mqtt.server.uri":"tcp://u:pw-sekrit@b:1883","mqtt.topics":"a","kafka.topic":"t"}`,
			family:       Confluent,
			wantYAML:     []string{`url: "tcp://b:1883"`, `username: "u"`, "TRIBUTARY_MQTT__PASSWORD"},
			wantWarnings: []string{"password in the URI is not copied"},
		},
		{
			name:         "dead letter queue",
			in:           `{"mqtt.server.uri":"tcp://b:1883","mqtt.topics":"a/#","kafka.topic":"t","errors.deadletterqueue.topic.name":"mqtt-dlq","errors.tolerance":"all","errors.deadletterqueue.context.headers.enable":"true"}`,
			family:       Confluent,
			wantYAML:     []string{"# from errors.deadletterqueue.topic.name", `dead_letter: "mqtt-dlq"`},
			wantWarnings: []string{"errors.*: not mapped (errors.deadletterqueue.context.headers.enable, errors.tolerance)"},
		},
		{
			name:         "dead letter queue of several routes",
			in:           `{"connect.mqtt.hosts":"tcp://b:1883","connect.mqtt.kcql":"INSERT INTO t1 SELECT * FROM a/#; INSERT INTO t2 SELECT * FROM b/#","errors.deadletterqueue.topic.name":"dlq"}`,
			family:       StreamReactor,
			wantYAML:     []string{`topic: "t1"`, `topic: "t2"`, `dead_letter: "dlq"`},
			wantWarnings: []string{"errors.deadletterqueue.topic.name: used as the dead_letter topic of all 2 routes"},
		},
		{
			name:         "invalid dead letter topic",
			in:           `{"mqtt.server.uri":"tcp://b:1883","mqtt.topics":"a/#","kafka.topic":"t","errors.deadletterqueue.topic.name":"bad topic"}`,
			family:       Confluent,
			wantYAML:     []string{"go to t_dlq unless dead_letter says otherwise"},
			wantWarnings: []string{`errors.deadletterqueue.topic.name: "bad topic" is not a valid Kafka topic`},
		},
		{
			name:         "avro converter, credentials in the registry URL",
			in:           `{"mqtt.server.uri":"tcp://b:1883","mqtt.topics":"a/#","kafka.topic":"t","value.converter":"io.confluent.connect.avro.AvroConverter","value.converter.schema.registry.url":"https://u:pw-sekrit@sr:8081","value.converter.basic.auth.credentials.source":"URL"}`,
			family:       Confluent,
			wantYAML:     []string{"schema_registry:", `url: "https://sr:8081"`, `username: "u"`, "TRIBUTARY_KAFKA__SCHEMA_REGISTRY__PASSWORD", "value_schema:", "format: avro", `subject: "t-value"`, "auto_register: false"},
			wantWarnings: []string{"value.converter.schema.registry.url: the credentials in the URL are not copied", "value.converter: AvroConverter maps to to.value_schema"},
		},
		{
			name:         "protobuf key converter, no registry URL",
			in:           `{"mqtt.server.uri":"tcp://b:1883","mqtt.topics":"a/#","kafka.topic":"t","key.converter":"io.confluent.connect.protobuf.ProtobufConverter","key.converter.key.subject.name.strategy":"io.confluent.kafka.serializers.subject.TopicRecordNameStrategy"}`,
			family:       Confluent,
			wantYAML:     []string{"TODO: the Schema Registry", `url: "http://schema-registry:8081"`, "key_schema:", "format: protobuf", `subject: "t-key"`, "TODO: TopicRecordNameStrategy"},
			wantWarnings: []string{"key.converter.schema.registry.url: not set", "key.converter.key.subject.name.strategy: TopicRecordNameStrategy"},
		},
		{
			name:         "json schema converter, SASL_INHERIT and OAuth",
			in:           `{"mqtt.server.uri":"tcp://b:1883","mqtt.topics":"a/#","kafka.topic":"t","value.converter":"io.confluent.connect.json.JsonSchemaConverter","value.converter.schema.registry.url":"http://sr:8081","value.converter.basic.auth.credentials.source":"SASL_INHERIT","value.converter.bearer.auth.credentials.source":"OAUTHBEARER","value.converter.bearer.auth.client.secret":"sekrit-oauth","value.converter.auto.register.schemas":"yes"}`,
			family:       Confluent,
			wantYAML:     []string{"format: json_schema", "auto_register: false"},
			wantWarnings: []string{"SASL_INHERIT used the Kafka SASL credentials", "OAUTHBEARER is not supported", "1 secret key(s) not named", `"yes" is not a boolean`},
		},
		{
			name:         "basic and bearer both",
			in:           `{"mqtt.server.uri":"tcp://b:1883","mqtt.topics":"a/#","kafka.topic":"t","value.converter":"io.confluent.connect.avro.AvroConverter","value.converter.schema.registry.url":"http://sr:8081","value.converter.basic.auth.user.info":"u:sekrit-pw","value.converter.bearer.auth.token":"sekrit-token"}`,
			family:       Confluent,
			wantYAML:     []string{`username: "u"`},
			wantWarnings: []string{"both basic and bearer credentials are set"},
		},
		{
			name:         "registry converter of another vendor",
			in:           `{"mqtt.server.uri":"tcp://b:1883","mqtt.topics":"a/#","kafka.topic":"t","value.converter":"io.apicurio.registry.utils.converter.AvroConverter","value.converter.schema.registry.url":"ftp://sr"}`,
			family:       Confluent,
			wantYAML:     []string{`url: "http://schema-registry:8081"`},
			wantWarnings: []string{"is not Confluent's", `"ftp://sr" is not an http:// or https:// URL`},
		},
		{name: "array top level", in: `[1]`, wantErr: "not a JSON object"},
		{name: "trailing data", in: `{"a":"b"} {}`, wantErr: "unexpected data"},
		{name: "config not object", in: `{"config":"x"}`, wantErr: `"config" is not a JSON object`},
		{name: "nothing mqtt", in: `{"topics":"x"}`, wantErr: "neither a Confluent"},
		{name: "no uri", in: `{"connector.class":"io.confluent.connect.mqtt.MqttSourceConnector","mqtt.topics":"a","kafka.topic":"t"}`, wantErr: "mqtt.server.uri: required"},
		{name: "no topics", in: `{"mqtt.server.uri":"tcp://b","mqtt.topics":" , ","kafka.topic":"t"}`, wantErr: "mqtt.topics: required"},
		{name: "no kcql", in: `{"connect.mqtt.hosts":"tcp://b"}`, wantErr: "connect.mqtt.kcql: required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Convert([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Family != tc.family {
				t.Errorf("family %v, want %v", res.Family, tc.family)
			}
			for _, s := range tc.wantYAML {
				if !bytes.Contains(res.YAML, []byte(s)) {
					t.Errorf("YAML lacks %q:\n%s", s, res.YAML)
				}
			}
			for _, s := range tc.wantWarnings {
				if !slices.ContainsFunc(res.Warnings, func(w Warning) bool { return strings.Contains(w.String(), s) }) {
					t.Errorf("no warning with %q in %q", s, res.Warnings)
				}
			}
			if bytes.Contains(res.YAML, []byte("sekrit")) {
				t.Errorf("secret in output:\n%s", res.YAML)
			}
		})
	}
}

// FuzzConvert: Convert never panics, and what it returns is always a YAML document (a
// broken one would mean bad quoting or a comment that input data ended early).
func FuzzConvert(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "importconnect", "*.json"))
	for _, p := range seeds {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"connect.mqtt.hosts":"tcp://b","connect.mqtt.kcql":"INSERT INTO t SELECT * FROM a"}`))
	f.Add([]byte(`{"name":"x\ny: 1","mqtt.server.uri":"tcp://b","mqtt.topics":"a\"#","kafka.topic":"t\u2028"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := Convert(data)
		if err != nil {
			return
		}
		// The YAML must at least parse: a broken document means bad quoting.
		var se *config.SyntaxError
		if _, err := config.LoadBytes(res.YAML, nil); err != nil && (errors.As(err, &se) || strings.Contains(err.Error(), "yaml:")) {
			t.Fatalf("output is not YAML: %v\n%s", err, res.YAML)
		}
	})
}
