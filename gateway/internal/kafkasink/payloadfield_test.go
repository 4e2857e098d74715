package kafkasink

import (
	"strconv"
	"strings"
	"testing"

	"github.com/tributary-gw/tributary/gateway/config"
)

// TestRecord_PayloadFields maps outputs through templates with {{.Payload "path"}}: values of
// each JSON kind, the chain's output read rather than the MQTT payload, and each to.missing
// policy for each reason a field has no text.
func TestRecord_PayloadFields(t *testing.T) {
	const payload = `{"device_id":"dev-42","n":17,"x":-1.50e2,"ok":true,"esc":"a\"b\u00e9",` +
		`"meta":{"site":"north","tags":["t0","t1"]},"nothing":null,"obj":{}}`
	tests := []struct {
		name     string
		to       config.Destination
		payload  string
		wantKey  string
		wantTopc string
		wantWhy  string // substring of the dead-letter error; "" means a record
	}{
		{name: "string", to: config.Destination{Topic: "s", Key: `{{.Payload "device_id"}}`}, payload: payload, wantKey: "dev-42", wantTopc: "s"},
		{name: "number as written", to: config.Destination{Topic: "s", Key: `{{.Payload "n"}}/{{.Payload "x"}}`}, payload: payload, wantKey: "17/-1.50e2", wantTopc: "s"},
		{name: "bool", to: config.Destination{Topic: "s", Key: `{{.Payload "ok"}}`}, payload: payload, wantKey: "true", wantTopc: "s"},
		{name: "escaped string", to: config.Destination{Topic: "s", Key: `{{.Payload "esc"}}`}, payload: payload, wantKey: "a\"bé", wantTopc: "s"},
		{name: "dotted path and index", to: config.Destination{Topic: "s.{{.Payload \"meta.site\"}}", Key: `{{.Payload "meta.tags.1"}}`}, payload: payload, wantKey: "t1", wantTopc: "s.north"},
		{name: "with MQTT fields", to: config.Destination{Topic: "s", Key: `{{.Segment 0}}:{{.Payload "device_id"}}:{{.Property "site"}}`}, payload: payload, wantKey: "building:dev-42:north", wantTopc: "s"},

		{name: "missing key field", to: config.Destination{Topic: "s", Key: `{{.Payload "serial"}}`}, payload: payload, wantWhy: `to.key: payload field "serial": not found`},
		{name: "missing topic field", to: config.Destination{Topic: "s.{{.Payload \"meta.floor\"}}"}, payload: payload, wantWhy: `to.topic: payload field "meta.floor": not found`},
		{name: "null", to: config.Destination{Topic: "s", Key: `{{.Payload "nothing"}}`}, payload: payload, wantWhy: `"nothing": is null, not a string, number or bool`},
		{name: "object", to: config.Destination{Topic: "s", Key: `{{.Payload "obj"}}`}, payload: payload, wantWhy: `"obj": is object, not a string, number or bool`},
		{name: "not JSON", to: config.Destination{Topic: "s", Key: `{{.Payload "device_id"}}`}, payload: `device_id=7`, wantWhy: `"device_id": the payload is not JSON`},
		{name: "empty payload", to: config.Destination{Topic: "s", Key: `{{.Payload "device_id"}}`}, payload: ``, wantWhy: `the payload is not JSON`},

		{name: "missing: empty", to: config.Destination{Topic: "s", Key: `k-{{.Payload "serial"}}`, Missing: config.MissingEmpty}, payload: payload, wantKey: "k-", wantTopc: "s"},
		{name: "missing: default", to: config.Destination{Topic: "s.{{.Payload \"meta.floor\"}}", Key: `{{.Payload "nothing"}}`, Missing: "default:unknown"}, payload: `nope`, wantKey: "unknown", wantTopc: "s.unknown"},
		{name: "missing: dead_letter", to: config.Destination{Topic: "s", Key: `{{.Payload "serial"}}`, Missing: config.MissingDeadLetter}, payload: payload, wantWhy: `"serial": not found`},

		{name: "value Kafka refuses", to: config.Destination{Topic: "s.{{.Payload \"device_id\"}}"}, payload: `{"device_id":"a/b"}`, wantWhy: `"s.a/b" is not a legal topic name`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := testRoute(t, tc.to, "dlq")
			m := testMessage() // its MQTT payload is {"t":21.5}: templates read the output's
			rec, why := r.record(m, &Output{Payload: []byte(tc.payload)}, 1<<20)
			if tc.wantWhy != "" {
				if why == nil || !strings.Contains(why.Err, tc.wantWhy) {
					t.Fatalf("reason = %+v, want one containing %q", why, tc.wantWhy)
				}
				wantKind := KindMissingField
				if strings.Contains(tc.wantWhy, "legal topic name") {
					wantKind = KindBadTopic
				}
				if why.Kind != wantKind {
					t.Errorf("kind = %q, want %q", why.Kind, wantKind)
				}
				return
			}
			if why != nil {
				t.Fatalf("dead-lettered: %+v", why)
			}
			if string(rec.Key) != tc.wantKey || rec.Topic != tc.wantTopc {
				t.Fatalf("record topic %q key %q, want %q %q", rec.Topic, rec.Key, tc.wantTopc, tc.wantKey)
			}
		})
	}
}

// TestRecord_PayloadTopicNamespace: a tenant's topic template with a payload field cannot
// leave its Kafka namespace, whatever the payload says.
func TestRecord_PayloadTopicNamespace(t *testing.T) {
	ten := &config.Tenant{Name: "acme", KafkaPrefixes: []string{"acme."}}
	r, err := NewRoute(config.Route{Name: "r", From: []string{"acme/#"}, QoS: 1,
		To: config.Destination{Topic: `acme.{{.Payload "kind"}}`}, DeadLetter: "acme.dlq"}, ten, &testCounters{}, &Progress{})
	if err != nil {
		t.Fatal(err)
	}
	m := testMessage()
	for payload, want := range map[string]string{
		`{"kind":"temp"}`:       "",
		`{"kind":"../other.x"}`: "not a legal topic name",
		`{"kind":""}`:           "", // "acme." is a legal name inside the namespace
		`{"kind":"x y"}`:        "not a legal topic name",
		`{"kind":"` + strings.Repeat("k", 250) + `"}`: "not a legal topic name",
	} {
		rec, why := r.record(m, &Output{Payload: []byte(payload)}, 1<<20)
		switch {
		case want == "" && why != nil:
			t.Errorf("%s: dead-lettered: %+v", payload, why)
		case want == "" && !strings.HasPrefix(rec.Topic, "acme."):
			t.Errorf("%s: topic %q outside the namespace", payload, rec.Topic)
		case want != "" && (why == nil || !strings.Contains(why.Err, want)):
			t.Errorf("%s: reason %+v, want %q", payload, why, want)
		}
	}
}

// FuzzRecordPayloadTemplate: whatever the payload, a tenant route whose topic and key read
// payload fields either maps the output to a record whose topic is a legal Kafka name inside
// the tenant's namespace, or returns a reason to dead-letter it; it never panics.
func FuzzRecordPayloadTemplate(f *testing.F) {
	f.Add(`{"kind":"temp","id":"a"}`, "kind")
	f.Add(`{"kind":"../x","id":7}`, "kind")
	f.Add(`{"a":{"b":[1,"x y"]}}`, "a.b.1")
	f.Add(`not json`, "kind")
	f.Add(`{"kind":"\u0000"}`, "kind")
	ten := &config.Tenant{Name: "acme", KafkaPrefixes: []string{"acme."}}
	f.Fuzz(func(t *testing.T, payload, path string) {
		if path == "" {
			return
		}
		for _, missing := range []config.MissingField{"", config.MissingEmpty, "default:x"} {
			r, err := NewRoute(config.Route{Name: "r", From: []string{"acme/#"}, QoS: 1, DeadLetter: "acme.dlq",
				To: config.Destination{Topic: "acme." + `{{.Payload ` + strconv.Quote(path) + `}}`, Key: `{{.Payload ` + strconv.Quote(path) + `}}`, Missing: missing}},
				ten, &testCounters{}, &Progress{})
			if err != nil {
				t.Fatalf("NewRoute: %v", err)
			}
			rec, why := r.record(testMessage(), &Output{Payload: []byte(payload)}, 1<<20)
			if why != nil {
				if why.Kind != KindMissingField && why.Kind != KindBadTopic {
					t.Fatalf("reason kind %q: %+v", why.Kind, why)
				}
				if why.Kind == KindMissingField && missing != "" {
					t.Fatalf("to.missing %q dead-lettered a missing field: %+v", missing, why)
				}
				continue
			}
			if p := config.KafkaTopicProblem(rec.Topic); p != "" || !strings.HasPrefix(rec.Topic, "acme.") {
				t.Fatalf("record topic %q: %s", rec.Topic, p)
			}
		}
	})
}
