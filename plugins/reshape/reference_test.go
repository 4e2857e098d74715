package main

// The reference: reshape as it was before jsonfield.Edit, one jsonfield
// call per field and change. TestReshape_reference and FuzzReshapeReference
// check that the Edit-based handler gives exactly its outputs and errors.

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tributary-gw/tributary/plugins/internal/plugintest"

	"github.com/tributary-gw/tributary/sdk/jsonfield"
)

// refStep is one compiled operation over a JSON object.
type refStep func(doc []byte, topic string) ([]byte, error)

// refCompile compiles a valid configuration into the one-by-one steps.
func refCompile(cfg string) ([]refStep, error) {
	var c config
	if err := json.Unmarshal([]byte(cfg), &c); err != nil {
		return nil, err
	}
	var ss []refStep
	for i, o := range c.Ops {
		s, err := refCompileOp(o, fmt.Sprintf("config: ops[%d]", i))
		if err != nil {
			return nil, err
		}
		ss = append(ss, s)
	}
	return ss, nil
}

// refCompileOp checks one operation and returns its refStep.
func refCompileOp(o opConfig, at string) (refStep, error) {
	n := 0
	for _, set := range []bool{o.Select != nil, o.Drop != nil, o.Rename != nil, o.Move != nil, o.Add != nil, o.AddTopic != nil, o.Nest != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, fmt.Errorf("%s: want exactly one of select, drop, rename, move, add, add_topic or nest", at)
	}
	switch {
	case o.Select != nil:
		if err := nonEmpty(o.Select, at+".select"); err != nil {
			return nil, err
		}
		return refSelectStep(o.Select), nil
	case o.Drop != nil:
		if err := nonEmpty(o.Drop, at+".drop"); err != nil {
			return nil, err
		}
		return refDropStep(o.Drop), nil
	case o.Rename != nil:
		pairs, err := members(o.Rename, at+".rename")
		if err != nil {
			return nil, err
		}
		var moves [][2]string
		for _, p := range pairs {
			name, ok := p.v.Text()
			if !ok || name == "" {
				return nil, fmt.Errorf("%s.rename.%s: want the new key name as a string", at, p.k)
			}
			moves = append(moves, [2]string{p.k, parent(p.k) + jsonfield.EscapeKey(name)})
		}
		return refMoveStep(moves), nil
	case o.Move != nil:
		pairs, err := members(o.Move, at+".move")
		if err != nil {
			return nil, err
		}
		var moves [][2]string
		for _, p := range pairs {
			to, ok := p.v.Text()
			if !ok || to == "" {
				return nil, fmt.Errorf("%s.move.%s: want the target path as a string", at, p.k)
			}
			if strings.HasPrefix(to, p.k+".") {
				return nil, fmt.Errorf("%s.move.%s: cannot move a field into itself (%q)", at, p.k, to)
			}
			moves = append(moves, [2]string{p.k, to})
		}
		return refMoveStep(moves), nil
	case o.Add != nil:
		pairs, err := members(o.Add, at+".add")
		if err != nil {
			return nil, err
		}
		return refAddStep(pairs), nil
	case o.AddTopic != nil:
		pairs, err := members(o.AddTopic, at+".add_topic")
		if err != nil {
			return nil, err
		}
		var levels []topicLevel
		for _, p := range pairs {
			n, ok := p.v.Int()
			if !ok {
				return nil, fmt.Errorf("%s.add_topic.%s: want a topic level index (0 is the first, -1 the last)", at, p.k)
			}
			levels = append(levels, topicLevel{path: p.k, index: int(n)})
		}
		return refAddTopicStep(levels), nil
	default:
		if o.Nest.Into == "" {
			return nil, fmt.Errorf("%s.nest.into: required", at)
		}
		if err := nonEmpty(o.Nest.Fields, at+".nest.fields"); err != nil {
			return nil, err
		}
		var moves [][2]string
		for _, f := range o.Nest.Fields {
			if f == o.Nest.Into {
				return nil, fmt.Errorf("%s.nest.fields: %q is the target object itself", at, f)
			}
			moves = append(moves, [2]string{f, o.Nest.Into + "." + lastKey(f)})
		}
		return refMoveStep(moves), nil
	}
}

// refReshape is the handler as it was: steps applied one by one.
func refReshape(steps []refStep, doc []byte, topic string) ([]byte, error) {
	v, err := jsonfield.Parse(doc)
	if err != nil {
		return nil, fmt.Errorf("reshape: payload is not JSON: %w", err)
	}
	if v.Kind() != jsonfield.Object {
		return nil, fmt.Errorf("reshape: payload is a JSON %s, want an object", v.Kind())
	}
	for _, s := range steps {
		if doc, err = s(doc, topic); err != nil {
			return nil, fmt.Errorf("reshape: %w", err)
		}
	}
	return doc, nil
}

// refSelectStep keeps only paths (those present), in the order listed.
func refSelectStep(paths []string) refStep {
	return func(doc []byte, _ string) ([]byte, error) {
		out := []byte("{}")
		for _, p := range paths {
			v, ok := jsonfield.Get(doc, p)
			if !ok {
				continue
			}
			var err error
			if out, err = jsonfield.Set(out, p, v.Raw()); err != nil {
				return nil, fmt.Errorf("select %s: %w", p, err)
			}
		}
		return out, nil
	}
}

// refDropStep deletes paths; absent ones are ignored.
func refDropStep(paths []string) refStep {
	return func(doc []byte, _ string) ([]byte, error) {
		var err error
		for _, p := range paths {
			if doc, err = jsonfield.Delete(doc, p); err != nil {
				return nil, fmt.Errorf("drop %s: %w", p, err)
			}
		}
		return doc, nil
	}
}

// refMoveStep moves each from path to its to path, replacing what is there;
// absent sources are ignored.
func refMoveStep(moves [][2]string) refStep {
	return func(doc []byte, _ string) ([]byte, error) {
		for _, mv := range moves {
			v, ok := jsonfield.Get(doc, mv[0])
			if !ok {
				continue
			}
			raw := append([]byte(nil), v.Raw()...) // Delete copies doc, but keep v independent of it
			next, err := jsonfield.Delete(doc, mv[0])
			if err == nil {
				next, err = jsonfield.Set(next, mv[1], raw)
			}
			if err != nil {
				return nil, fmt.Errorf("move %s to %s: %w", mv[0], mv[1], err)
			}
			doc = next
		}
		return doc, nil
	}
}

// refAddStep sets each path to its constant.
func refAddStep(consts []member) refStep {
	return func(doc []byte, _ string) ([]byte, error) {
		var err error
		for _, c := range consts {
			if doc, err = jsonfield.Set(doc, c.k, c.v.Raw()); err != nil {
				return nil, fmt.Errorf("add %s: %w", c.k, err)
			}
		}
		return doc, nil
	}
}

// topicLevel is a path set to the MQTT topic level at index (negative
// counts from the end).
type topicLevel struct {
	path  string
	index int
}

// refAddTopicStep sets paths to MQTT topic levels, as strings. A topic with
// too few levels is an error.
func refAddTopicStep(levels []topicLevel) refStep {
	return func(doc []byte, topic string) ([]byte, error) {
		var err error
		for _, l := range levels {
			s, ok := topicLevelAt(topic, l.index)
			if !ok {
				return nil, fmt.Errorf("add_topic %s: topic %q has no level %d", l.path, topic, l.index)
			}
			if doc, err = jsonfield.SetString(doc, l.path, s); err != nil {
				return nil, fmt.Errorf("add_topic %s: %w", l.path, err)
			}
		}
		return doc, nil
	}
}

// refConfigs are the configurations the reference comparison runs: the
// fuzz configurations, one of each op, and op lists whose errors come from
// different ops (a missing topic level after and before a failing add).
var refConfigs = append(append([]string(nil), fuzzConfigs...),
	`{"ops":[{"select":["value","device_id","meta.fw","absent","a.0","a.1.b","a"]}]}`,
	`{"ops":[{"drop":["rssi","meta.fw","absent","a.0","meta"]}]}`,
	`{"ops":[{"rename":{"value":"reading","meta.fw":"firmware","meta.a\\.b":"x.y","a.0":"z"}}]}`,
	`{"ops":[{"move":{"meta.fw":"fw","battery":"health.battery","value":"value2.x","a.1":"b.0"}}]}`,
	`{"ops":[{"nest":{"into":"radio","fields":["rssi","battery","meta.fw"]}},{"nest":{"into":"value.v","fields":["unit"]}}]}`,
	`{"ops":[{"add":{"site":"hq","meta.schema":2,"tags":["a"],"value.x":1}},{"add":{"a.5":true}}]}`,
	`{"ops":[{"add_topic":{"floor":1,"metric":-1,"loc.room":2}},{"add":{"value.x":1}},{"add_topic":{"x":9}}]}`,
	`{"ops":[{"add_topic":{"x":9}},{"add":{"value.x":1}}]}`,
	`{"ops":[{"add":{"value.x":1}},{"add_topic":{"x":9}}]}`,
	`{"ops":[{"select":["a","a.b","a.0","meta"]},{"rename":{"a":"b"}},{"select":["b.0","b.b","meta.fw","b"]}]}`,
)

// refPayloads are the payloads the reference comparison runs.
var refPayloads = []string{
	reading, `{"a":[1,{"b":2}],"value":{"x":0},"meta":7}`, `{"a":{"b":1,"0":2,"b":3},"a":5}`,
	` { "unit" : "C" , "meta" : { "fw" : "1" } } `, `{"a":[],"b":[1]}`, `{}`, `{"a":`, `"a"`, `[1]`, ``, ` `, `{"a":1}x`,
}

// refTopics are the topics the reference comparison runs.
var refTopics = []string{"building/floor1/room101/sensor/s000/temperature", "a", "", "a//b"}

// refFuzzer runs inputs under one of refConfigs.
var refFuzzer = plugintest.NewFuzzer(refConfigs...)

// checkReference fails t unless the handler, under refConfigs[cfg], gives
// for the message exactly what the one-by-one reference gives.
func checkReference(t *testing.T, cfg int, topic string, payload []byte) {
	t.Helper()
	cfg %= len(refConfigs)
	steps, err := refCompile(refConfigs[cfg])
	if err != nil {
		t.Fatalf("reference: config %s: %v", refConfigs[cfg], err)
	}
	in := plugintest.Msg(topic, string(payload))
	got := plugintest.Describe(in, refFuzzer.Run(t, cfg, topic, payload))
	var want []string
	if out, err := refReshape(steps, payload, topic); err != nil {
		want = []string{"error: " + err.Error()}
	} else {
		want = []string{string(out)}
	}
	if !slices.Equal(got, want) {
		t.Errorf("config %s, topic %q, payload %q:\n got  %q\n want %q", refConfigs[cfg], topic, payload, got, want)
	}
}

// TestReshape_reference checks the Edit-based handler against the
// one-by-one reference on every configuration, payload and topic above.
func TestReshape_reference(t *testing.T) {
	for cfg := range refConfigs {
		for _, p := range refPayloads {
			for _, topic := range refTopics {
				checkReference(t, cfg, topic, []byte(p))
			}
		}
	}
}

// FuzzReshapeReference is TestReshape_reference on arbitrary inputs.
func FuzzReshapeReference(f *testing.F) {
	for i, p := range refPayloads {
		f.Add(uint8(i), refTopics[i%len(refTopics)], []byte(p))
	}
	f.Fuzz(func(t *testing.T, cfg uint8, topic string, payload []byte) {
		checkReference(t, int(cfg), topic, payload)
	})
}
