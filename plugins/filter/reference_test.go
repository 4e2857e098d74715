package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tributary-gw/tributary/plugins/internal/plugintest"
	"github.com/tributary-gw/tributary/sdk"
	"github.com/tributary-gw/tributary/sdk/jsonfield"
)

// keepOneByOne is the former handler: Parse, then a Get per test as the
// conditions are evaluated, Value.Float at each use, and the regexp engine
// for every regex. keep must decide the same.
func keepOneByOne(m *sdk.Message) (bool, error) {
	doc, err := jsonfield.Parse(m.Payload())
	if err != nil {
		return false, fmt.Errorf("filter: payload is not JSON: %w", err)
	}
	if k := doc.Kind(); k != jsonfield.Object {
		return false, fmt.Errorf("filter: payload is a JSON %s, want an object", k)
	}
	return evalOneByOne(root, doc) == keepWhen, nil
}

func evalOneByOne(c cond, doc jsonfield.Value) bool {
	switch c := c.(type) {
	case group:
		for _, s := range c.conds {
			if evalOneByOne(s, doc) == c.any {
				return c.any
			}
		}
		return !c.any
	case not:
		return !evalOneByOne(c.c, doc)
	}
	t := c.(test)
	v, found := doc.Get(fields.Path(t.field))
	eq := func(l lit) bool {
		if v.Kind() != l.kind {
			return false
		}
		switch l.kind {
		case jsonfield.Number:
			f, ok := v.Float()
			return ok && f == l.f
		case jsonfield.String:
			s, _ := v.Text()
			return s == l.s
		case jsonfield.Bool:
			return string(v.Raw()) == l.s
		}
		return true
	}
	in := func() bool {
		for _, l := range t.set {
			if eq(l) {
				return true
			}
		}
		return false
	}
	switch t.op {
	case "exists":
		return found
	case "missing":
		return !found
	case "!=":
		return !found || !eq(t.lit)
	case "not_in":
		return !found || !in()
	}
	if !found {
		return false
	}
	switch t.op {
	case "==":
		return eq(t.lit)
	case "in":
		return in()
	case "regex":
		s, ok := v.Text()
		return ok && t.re.re.MatchString(s)
	}
	cmp, ok := 0, false
	switch {
	case t.lit.kind == jsonfield.Number && v.Kind() == jsonfield.Number:
		if f, fok := v.Float(); fok {
			ok = true
			if f < t.lit.f {
				cmp = -1
			} else if f > t.lit.f {
				cmp = 1
			}
		}
	case t.lit.kind == jsonfield.String && v.Kind() == jsonfield.String:
		s, _ := v.Text()
		cmp, ok = strings.Compare(s, t.lit.s), true
	}
	if !ok {
		return false
	}
	switch t.op {
	case "<":
		return cmp < 0
	case "<=":
		return cmp <= 0
	case ">":
		return cmp > 0
	}
	return cmp >= 0
}

// FuzzKeepMatchesOneByOne compares keep with the former handler on
// arbitrary payloads under the fuzz configurations.
func FuzzKeepMatchesOneByOne(f *testing.F) {
	for i, s := range []string{
		`{"device_id":"bldg1-f2-r201-s003","metric":"temperature","value":31.5,"unit":"celsius","tags":["north"],"meta":{"fw":"2.4.0"}}`,
		`{"metric":"co2","value":612,"a.b":{"c":"k"}}`, `{"value":"31","tags":{"0":"south"},"unit":null}`,
		`{"device_id":"bldg1-f7-\u0078","value":1e400,"unit":"celsius"}`, `{"value":31,`, `[1,2]`,
	} {
		f.Add(uint8(i), []byte(s))
	}
	f.Fuzz(func(t *testing.T, cfg uint8, payload []byte) {
		got := fuzzer.Run(t, int(cfg), "t", payload)
		sdk.Filter(keepOneByOne)
		defer sdk.Filter(keep)
		want, err := sdk.Process(plugintest.Msg("t", string(payload)))
		if err != nil {
			t.Fatal(err)
		}
		if g, w := fmt.Sprint(got), fmt.Sprint(want[0]); g != w {
			t.Fatalf("payload %q:\n keep         %s\n one by one   %s", payload, g, w)
		}
	})
}

func TestKeepMatchesOneByOne(t *testing.T) {
	payloads := []string{
		`{"device_id":"bldg1-f2-r201-s003","metric":"temperature","value":31.5,"unit":"celsius","tags":["north"],"meta":{"fw":"2.4.0"}}`,
		`{"device_id":"bldg1-f10-r1","metric":"humidity","value":29,"unit":"celsius","tags":["south"]}`,
		`{"metric":"co2","value":612,"a.b":{"c":"k"}}`, `{"value":"31","tags":{"0":"south"},"unit":null}`,
		`{"a.b":{"c":"m"}}`, `{"a.b":{"c":"n"}}`, `{"a.b":{"c":7}}`, `{"device_id":"bldg1-f1-"}`,
		`{"value":1e400}`, `{"value":30}`, `{"value":30.5}`, `{"value":31,`, `[1,2]`, `"x"`, ``, `temperature=31`,
	}
	outcomes := map[string]int{}
	for cfg := range fuzzConfigs {
		for _, p := range payloads {
			got := fuzzer.Run(t, cfg, "t", []byte(p))
			sdk.Filter(keepOneByOne)
			want, err := sdk.Process(plugintest.Msg("t", p))
			sdk.Filter(keep)
			if err != nil {
				t.Fatal(err)
			}
			if g, w := fmt.Sprint(got), fmt.Sprint(want[0]); g != w {
				t.Errorf("config %d, payload %q:\n keep         %s\n one by one   %s", cfg, p, g, w)
			}
			switch {
			case got.Failed:
				outcomes["error"]++
			case len(got.Outputs) == 0:
				outcomes["drop"]++
			default:
				outcomes["keep"]++
			}
		}
	}
	if outcomes["error"] == 0 || outcomes["drop"] == 0 || outcomes["keep"] == 0 {
		t.Errorf("outcomes %v: the payloads must be kept, dropped and rejected", outcomes)
	}
}
