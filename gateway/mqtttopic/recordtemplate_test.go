package mqtttopic

import (
	"errors"
	"strings"
	"testing"
)

// record is a RecordFields for tests.
type record struct {
	key, topic string
	headers    map[string]string
}

func (r *record) Key() string               { return r.key }
func (r *record) Header(name string) string { return r.headers[name] }
func (r *record) KafkaTopic() string        { return r.topic }

func TestRecordTemplate(t *testing.T) {
	r := &record{key: "pump-7", topic: "acme.commands", headers: map[string]string{"site": "north", "x y": "z"}}
	for _, c := range []struct{ tpl, want string }{
		{"cmd/{{.Key}}", "cmd/pump-7"},
		{`cmd/{{ .Header "site" }}/{{.Key}}/set`, "cmd/north/pump-7/set"},
		{"{{.KafkaTopic}}/{{.Header `x y`}}", "acme.commands/z"},
		{`cmd/{{.Header "absent"}}/x`, "cmd//x"},
		{"fixed/topic", "fixed/topic"},
	} {
		tpl, err := ParseRecordTemplate(c.tpl)
		if err != nil {
			t.Fatalf("%s: %v", c.tpl, err)
		}
		got, err := tpl.AppendRecord(nil, r)
		if err != nil || string(got) != c.want {
			t.Errorf("%s: got %q, %v, want %q", c.tpl, got, err, c.want)
		}
	}
}

func TestRecordTemplate_Errors(t *testing.T) {
	for _, c := range []struct{ tpl, want string }{
		{"a/{{.Topic}}", `action "{{.Topic}}": unsupported (want {{.Key}}, {{.Header "name"}}, {{.KafkaTopic}} or {{.Payload "path"}})`},
		{"a/{{.Header}}", "missing argument to .Header"},
		{"a/{{.Header site}}", "argument to .Header must be a quoted string"},
		{"a/{{.Key", "not closed"},
	} {
		_, err := ParseRecordTemplate(c.tpl)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.tpl, err, c.want)
		}
	}
	// And the MQTT templates do not take the record actions.
	if _, err := ParseTemplate("{{.Key}}"); err == nil {
		t.Error("ParseTemplate accepted {{.Key}}")
	}
}

// payloadRecord is a record whose payload has the fields of a map.
type payloadRecord struct {
	record
	fields map[string]string
}

func (r *payloadRecord) AppendPayloadField(dst []byte, path string) ([]byte, error) {
	v, ok := r.fields[path]
	if !ok {
		return dst, errors.New("not found")
	}
	return append(dst, v...), nil
}

func TestRecordTemplate_Payload(t *testing.T) {
	tpl, err := ParseRecordTemplate(`cmd/{{.Payload "site"}}/{{.Key}}`)
	if err != nil {
		t.Fatal(err)
	}
	r := &payloadRecord{record: record{key: "pump-7"}, fields: map[string]string{"site": "north"}}
	if got, err := tpl.AppendRecord(nil, r); err != nil || string(got) != "cmd/north/pump-7" {
		t.Errorf("got %q, %v", got, err)
	}
	delete(r.fields, "site")
	var fe *FieldError
	if _, err := tpl.AppendRecord(nil, r); !errors.As(err, &fe) || fe.Path != "site" {
		t.Errorf("missing field: got %v, want a *FieldError for site", err)
	}
}
