package mqtttopic

import (
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
		if got := string(tpl.AppendRecord(nil, r)); got != c.want {
			t.Errorf("%s: got %q, want %q", c.tpl, got, c.want)
		}
	}
}

func TestRecordTemplate_Errors(t *testing.T) {
	for _, c := range []struct{ tpl, want string }{
		{"a/{{.Topic}}", `action "{{.Topic}}": unsupported (want {{.Key}}, {{.Header "name"}} or {{.KafkaTopic}})`},
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
