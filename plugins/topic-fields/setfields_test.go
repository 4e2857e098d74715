package main

import (
	"fmt"
	"testing"

	"github.com/tributary-gw/tributary/sdk"
	"github.com/tributary-gw/tributary/sdk/jsonfield"
)

// setFieldsOneByOne is the former handler body: Parse, then one
// jsonfield.Set per capture. setFields must give the same results.
func setFieldsOneByOne(doc []byte) ([]byte, error) {
	if v, err := jsonfield.Parse(doc); err != nil {
		return nil, fmt.Errorf("topic-fields: payload is not JSON: %w", err)
	} else if v.Kind() != jsonfield.Object {
		return nil, fmt.Errorf("topic-fields: payload is a JSON %s, want an object", v.Kind())
	}
	for c, s := range captures {
		var err error
		if s.number {
			raw := values[c]
			if v, perr := jsonfield.Parse([]byte(raw)); perr != nil || v.Kind() != jsonfield.Number {
				return nil, fmt.Errorf("topic-fields: %s: topic level %q is not a number", s.name, raw)
			}
			doc, err = jsonfield.Set(doc, s.field, []byte(raw))
		} else {
			doc, err = jsonfield.SetString(doc, s.field, values[c])
		}
		if err != nil {
			return nil, fmt.Errorf("topic-fields: set %s: %w", s.name, err)
		}
	}
	return doc, nil
}

// equivalenceConfigs write numbers and strings into nested and top-level
// fields, where sets can fail.
var equivalenceConfigs = []string{
	exampleConfig,
	`{"pattern":"site/{site}/{device}/#","into":"meta"}`,
	`{"pattern":"x/{a.b}/{n}/{m}","numbers":["n","m"],"into":"a"}`,
	`{"pattern":"x/{0}/{1}","numbers":["1"]}`,
}

// checkSame runs topic and payload through setFields and the one-by-one
// reference under the current configuration; false when the topic does not
// match, so there is nothing to compare.
func checkSame(t *testing.T, topic, payload string) bool {
	t.Helper()
	if !match(topic, values) {
		return false
	}
	got, gerr := setFields([]byte(payload))
	want, werr := setFieldsOneByOne([]byte(payload))
	if fmt.Sprint(gerr) != fmt.Sprint(werr) || string(got) != string(want) {
		t.Fatalf("topic %q, payload %q:\n got  %s, %v\n want %s, %v", topic, payload, got, gerr, want, werr)
	}
	return true
}

func TestSetFieldsMatchesOneByOne(t *testing.T) {
	topics := []string{
		"building/floor2/room203/sensor/s007/humidity", "building/floorB1/room203/sensor/s007/humidity",
		"building/floor2/room2x3/sensor/s\"q/h", "building/floor 2 /room-0/sensor/s/m",
		"site/hq/d1", "site/hq/d1/a/b",
		"x/k/1/2", "x/k/-2.5e3/x", "x/k/01/2", "x/k/1/ 7", "x/k/1./2",
		"x/a/1", "x/a/b",
	}
	payloads := []string{
		`{}`, `{"value":41.5}`, ` {"floor":"x", "meta":{"site":"old"}} `, `{"meta":5}`, `{"a":7}`, `{"a":{"b.c":1}}`,
		`[21.5]`, `["a","b"]`, `21.5C`, ``, `{"a":1,`, `"s"`, `null`, `{"a":[1]}`,
	}
	for _, cfg := range equivalenceConfigs {
		if err := sdk.Init([]byte(cfg)); err != nil {
			t.Fatal(err)
		}
		compared := 0
		for _, topic := range topics {
			for _, p := range payloads {
				if checkSame(t, topic, p) {
					compared++
				}
			}
		}
		if compared < 2*len(payloads) {
			t.Errorf("config %s: only %d cases compared", cfg, compared)
		}
	}
}

// FuzzSetFields checks setFields against the one-by-one reference on
// arbitrary topics and payloads.
func FuzzSetFields(f *testing.F) {
	f.Add(uint8(0), "building/floor2/room203/sensor/s007/humidity", []byte(`{"value":41.5}`))
	f.Add(uint8(2), "x/k/-2.5e3/x", []byte(`{"a":{"b.c":1}}`))
	f.Add(uint8(3), "x/a/1", []byte(`["a","b"]`))
	f.Add(uint8(1), "site/hq/d1", []byte(`{"meta":5}`))
	f.Fuzz(func(t *testing.T, cfg uint8, topic string, payload []byte) {
		if err := sdk.Init([]byte(equivalenceConfigs[int(cfg)%len(equivalenceConfigs)])); err != nil {
			t.Fatal(err)
		}
		checkSame(t, topic, string(payload))
	})
}

func TestKindOf(t *testing.T) {
	for _, doc := range []string{`{}`, ` []`, "\n\"s\"", `12`, `-1`, `true`, `false`, `null`, ` {"a":1} `} {
		v, err := jsonfield.Parse([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		if got := kindOf([]byte(doc)); got != v.Kind() {
			t.Errorf("kindOf(%q) = %s, want %s", doc, got, v.Kind())
		}
	}
	if got := kindOf([]byte("  ")); got != jsonfield.Invalid {
		t.Errorf("kindOf(blank) = %s, want invalid", got)
	}
}

func TestTemplateExpand(t *testing.T) {
	names := []string{"a", "b"}
	vals := []string{"x1", "y/2"}
	tests := []struct{ tmpl, want string }{
		{"{a}", "x1"},
		{"{b}", "y/2"},
		{"k-{a}", "k-x1"},
		{"{a}:{b}", "x1:y/2"},
		{"{a}{a}", "x1x1"},
		{"plain", "plain"},
		{"", ""},
	}
	for _, tc := range tests {
		tm, err := parseTemplate(tc.tmpl, names)
		if err != nil {
			t.Fatalf("parseTemplate(%q): %v", tc.tmpl, err)
		}
		if got := tm.expand(vals); got != tc.want {
			t.Errorf("expand(%q) = %q, want %q", tc.tmpl, got, tc.want)
		}
		if got := string(tm.appendTo([]byte("pre:"), vals)); got != "pre:"+tc.want {
			t.Errorf("appendTo(%q) = %q, want %q", tc.tmpl, got, "pre:"+tc.want)
		}
		// A second rendering, after another, comes from the remembered ones.
		tm.expand([]string{"other", "values"})
		if got := tm.expand(vals); got != tc.want {
			t.Errorf("expand(%q) again = %q, want %q", tc.tmpl, got, tc.want)
		}
	}
}
