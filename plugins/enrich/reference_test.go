package main

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/tributary-gw/tributary/sdk"
	"github.com/tributary-gw/tributary/sdk/abi"
	"github.com/tributary-gw/tributary/sdk/jsonfield"
)

// handleOneByOne is the former handler: the key with jsonfield.Lookup, the
// top-level splice after a Parse and a scan of the members, otherwise one
// jsonfield.Set per field. handle must give the same results.
func handleOneByOne(m *sdk.Message) ([]*sdk.Message, error) {
	key, found := "", false
	if cur.useTopic {
		key, found = topicSegment(m.Topic(), cur.segment)
	} else {
		var err error
		if key, found, err = cur.key(m); err != nil {
			return nil, err
		}
	}
	e, hit := cur.table[key]
	if !found || !hit {
		switch cur.onMiss {
		case missDrop:
			return nil, nil
		case missDeadLetter:
			if !found {
				return nil, errors.New("enrich: no lookup key in message")
			}
			return nil, fmt.Errorf("enrich: key %q not in table", key)
		}
		return []*sdk.Message{m}, nil
	}
	doc := m.Payload()
	if cur.topLevel && len(e.names) > 0 {
		v, err := jsonfield.Parse(doc)
		if err != nil {
			return nil, fmt.Errorf("enrich: payload is not JSON: %w", err)
		}
		if v.Kind() != jsonfield.Object {
			return nil, fmt.Errorf("enrich: payload is a JSON %v, want an object", v.Kind())
		}
		present := false
		for k := range v.Members() {
			for _, n := range e.names {
				present = present || k == n
			}
		}
		if !present {
			raw := v.Raw()
			end := len(raw) - 1
			members := e.members
			if len(bytes.TrimSpace(raw[1:end])) == 0 {
				members = members[1:]
			}
			m.SetPayload(append(append(append([]byte(nil), raw[:end]...), members...), '}'))
			return []*sdk.Message{m}, nil
		}
	}
	var err error
	for _, f := range e.fields {
		if doc, err = jsonfield.Set(doc, f.path, f.raw); err != nil {
			return nil, fmt.Errorf("enrich: set %q: %w", f.path, err)
		}
	}
	m.SetPayload(doc)
	return []*sdk.Message{m}, nil
}

// processBoth runs one message through handle and handleOneByOne.
func processBoth(t *testing.T, msg abi.Message) (got, want string) {
	t.Helper()
	rs, err := sdk.Process(msg)
	if err != nil {
		t.Fatal(err)
	}
	sdk.Handle(handleOneByOne)
	defer sdk.Handle(handle)
	ref, err := sdk.Process(msg)
	if err != nil {
		t.Fatal(err)
	}
	return describe(rs[0]), describe(ref[0])
}

// referenceConfigs cover the key from a field and from the topic, the top
// level and into, few and many names, names the Find cannot look up.
var referenceConfigs = []string{
	`{"key_field":"device_id",` + tableCfg + `}`,
	`{"key_field":"k","on_miss":"dead_letter","table":{"a":{"x":1,"y":"two"},"b":{"x.y":1},"c":{},"d":` + nineNames + `,"e":{"":1},"f":{"\ufffd":1,"z":0}}}`,
	`{"key_topic_segment":-1,"on_miss":"drop","into":"meta.loc",` + tableCfg + `}`,
	`{"key_topic_segment":0,"table":{"a":{"x":1,"y":"two"},"b":{"x.y":1},"c":{}}}`,
	`{"key_field":"0","into":"0","table":{"a":{"x":[1]}}}`,
}

func TestHandleMatchesOneByOne(t *testing.T) {
	payloads := []string{
		sensor, `{"k":"a"}`, `{"k":"b","x.y":0}`, `{"k":"d","n4":{}}`, `{"k":"e"}`, `{"k":"f","z":1}`, "{\"k\":\"f\",\"\xff\":0}",
		` {"k":"a" , "x" : 0 } `, `{"k":"a",`, `{"k":"zz",`, `{"k":"a"} x`, `["a"]`, `[["a"]]`, `{"0":"a"}`, `{}`, ` { } `,
		`{"v":1,"meta":7}`, `{"meta":{"loc":{"wing":"west"}}}`, `nope`, ``, `{"device_id":"bldg1-f1-r101-s000","site":null}`,
	}
	topics := []string{"a/101", "b", "c", "d/x", "s/1", ""}
	for _, cfg := range referenceConfigs {
		if err := sdk.Init([]byte(cfg)); err != nil {
			t.Fatal(err)
		}
		for _, p := range payloads {
			for _, topic := range topics {
				if got, want := processBoth(t, abi.Message{Topic: topic, Payload: []byte(p)}); got != want {
					t.Errorf("config %s, topic %q, payload %q:\n got  %s\n want %s", cfg, topic, p, got, want)
				}
			}
		}
	}
}

// FuzzHandleMatchesOneByOne compares handle with the former handler on
// arbitrary topics and payloads.
func FuzzHandleMatchesOneByOne(f *testing.F) {
	f.Add(uint8(0), "s/1", []byte(sensor))
	f.Add(uint8(1), "t", []byte(`{"k":"d","n4":{}}`))
	f.Add(uint8(2), "a/101", []byte(`{"v":1,"meta":7}`))
	f.Add(uint8(3), "b", []byte(` {"x.y" : 2 } `))
	f.Add(uint8(4), "t", []byte(`["a",{"x":0}]`))
	f.Fuzz(func(t *testing.T, cfg uint8, topic string, payload []byte) {
		if err := sdk.Init([]byte(referenceConfigs[int(cfg)%len(referenceConfigs)])); err != nil {
			t.Fatal(err)
		}
		if got, want := processBoth(t, abi.Message{Topic: topic, Payload: payload}); got != want {
			t.Fatalf("topic %q, payload %q:\n got  %s\n want %s", topic, payload, got, want)
		}
	})
}

func TestPlanFind(t *testing.T) {
	tests := []struct {
		cfg       string
		paths     int
		findNames bool
	}{
		{`{"key_field":"device_id",` + tableCfg + `}`, 5, true},
		{`{"key_topic_segment":1,` + tableCfg + `}`, 4, true},
		{`{"key_field":"device_id","into":"m",` + tableCfg + `}`, 1, false},
		{`{"key_topic_segment":1,"into":"m",` + tableCfg + `}`, -1, false},
		{`{"key_field":"k","table":{"a":` + nineNames + `}}`, 1, false},
		{`{"key_field":"k","table":{"a":{"":1}}}`, 1, false},
		{`{"key_field":"k","table":{"a":{"x":1},"b":{"x":2,"y":3}}}`, 3, true},
	}
	for _, tc := range tests {
		t.Run(tc.cfg, func(t *testing.T) {
			if err := sdk.Init([]byte(tc.cfg)); err != nil {
				t.Fatal(err)
			}
			paths := -1
			if cur.fields != nil {
				paths = cur.fields.Len()
			}
			if paths != tc.paths || cur.findNames != tc.findNames {
				t.Fatalf("%d paths, findNames %v; want %d, %v", paths, cur.findNames, tc.paths, tc.findNames)
			}
		})
	}
}
