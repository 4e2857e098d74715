package main

// The reference: split as it was before jsonfield.Fields and Edit, one
// jsonfield call per field and change. TestSplit_reference and
// FuzzSplitReference check that the handler gives exactly its outputs and
// errors.

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/tributary-gw/tributary/plugins/internal/plugintest"
	"github.com/tributary-gw/tributary/sdk/jsonfield"
)

// refSplit is the handler as it was, under configuration c, described as
// plugintest.Describe describes a result.
func refSplit(c config, payload []byte) []string {
	doc, err := jsonfield.Parse(payload)
	if err != nil {
		return refError(fmt.Errorf("split: payload is not JSON: %w", err))
	}
	arr := doc
	if c.Field != "" {
		if doc.Kind() != jsonfield.Object {
			return refError(fmt.Errorf("split: payload is a JSON %s, want an object with %q", doc.Kind(), c.Field))
		}
		var found bool
		if arr, found = doc.Get(c.Field); !found {
			switch c.Missing {
			case "pass":
				return []string{string(payload)}
			case "drop":
				return []string{"filtered"}
			}
			return refError(fmt.Errorf("split: no array at %q", c.Field))
		}
	}
	if arr.Kind() != jsonfield.Array {
		where := "payload"
		if c.Field != "" {
			where = c.Field
		}
		return refError(fmt.Errorf("split: %s is a JSON %s, want an array", where, arr.Kind()))
	}
	var copies []jsonfield.Value
	for _, p := range c.Copy {
		v, _ := doc.Get(p)
		copies = append(copies, v)
	}
	var outs []string
	for i, el := range arr.Elements() {
		payload := el.Raw()
		if len(copies) > 0 || c.IndexField != "" {
			if el.Kind() != jsonfield.Object {
				return refError(fmt.Errorf("split: element %d is a JSON %s; copy and index_field need objects", i, el.Kind()))
			}
			var err error
			for j, v := range copies {
				if v.Kind() == jsonfield.Invalid {
					continue
				}
				if _, has := el.Get(c.Copy[j]); has {
					continue
				}
				if payload, err = jsonfield.Set(payload, c.Copy[j], v.Raw()); err != nil {
					return refError(fmt.Errorf("split: element %d: copy %s: %w", i, c.Copy[j], err))
				}
			}
			if c.IndexField != "" {
				if payload, err = jsonfield.SetInt(payload, c.IndexField, int64(i)); err != nil {
					return refError(fmt.Errorf("split: element %d: %s: %w", i, c.IndexField, err))
				}
			}
		}
		outs = append(outs, string(payload))
	}
	if len(outs) == 0 {
		if c.Empty == "dead_letter" {
			return refError(fmt.Errorf("split: empty array"))
		}
		return []string{"filtered"}
	}
	return outs
}

func refError(err error) []string { return []string{"error: " + err.Error()} }

// refConfigs are the configurations the reference comparison runs: the
// fuzz configurations, and copy lists where a path is an ancestor of an
// earlier one (the exact path), or a descendant, or repeated, or escaped.
var refConfigs = append(append([]string(nil), fuzzConfigs...),
	`{"field":"r","copy":["site.id","g","site"],"index_field":"i"}`,
	`{"field":"r","copy":["site","site.id","g","g"]}`,
	`{"field":"r","copy":["a.0","a"]}`,
	`{"field":"r","copy":["s\\.x","s.x","s"],"index_field":"s.i"}`,
	`{"field":"r","copy":["g.x"],"index_field":"g.y.z"}`,
	`{"field":"r","index_field":"i.0","missing":"pass"}`,
)

// refPayloads are the payloads the reference comparison runs.
var refPayloads = []string{
	gatewayBatch, `[{"a":1}, 2 ,"x"]`, `{"data":{"items":[1,2]}}`, `{"g":1,"r":[{"a":1},5]}`,
	`{"readings":[]}`, `{"readings":{"a":1}}`, `{"other":1}`, `[1,2`, `[[[]],{"i":0,"gateway":[]}]`, ``,
	`{"g":{"x":1,"y":2},"site":{"id":"hq","n":2},"a":[7,8],"s.x":3,"s":{"x":4,"k":5},"r":[{},{"site":{"n":9}},{"g":5},{"s":1},{"i":[]},{"a":{"1":0}}]}`,
	`{"g":"v","r":[{"g":null},{"site":"x"}]}`, `{"r":[]}`, ` {"r":[{}] , "g":[1]} `, `{"r":[{"i":{}}]}`,
}

// refFuzzer runs inputs under one of refConfigs.
var refFuzzer = plugintest.NewFuzzer(refConfigs...)

// checkReference fails t unless the handler, under refConfigs[cfg], gives
// for payload exactly what the reference gives.
func checkReference(t *testing.T, cfg int, payload []byte) {
	t.Helper()
	cfg %= len(refConfigs)
	c := config{Missing: "dead_letter", Empty: "drop"}
	if err := json.Unmarshal([]byte(refConfigs[cfg]), &c); err != nil {
		t.Fatal(err)
	}
	const topic = "gw/gw-7/batch"
	got := plugintest.Describe(plugintest.Msg(topic, string(payload)), refFuzzer.Run(t, cfg, topic, payload))
	if want := refSplit(c, payload); !slices.Equal(got, want) {
		t.Errorf("config %s, payload %q:\n got  %q\n want %q", refConfigs[cfg], payload, got, want)
	}
}

// TestSplit_reference checks the handler against the reference on every
// configuration and payload above.
func TestSplit_reference(t *testing.T) {
	for cfg := range refConfigs {
		for _, p := range refPayloads {
			checkReference(t, cfg, []byte(p))
		}
	}
}

// FuzzSplitReference is TestSplit_reference on arbitrary inputs.
func FuzzSplitReference(f *testing.F) {
	for i, p := range refPayloads {
		f.Add(uint8(i), []byte(p))
	}
	f.Fuzz(func(t *testing.T, cfg uint8, payload []byte) {
		checkReference(t, int(cfg), payload)
	})
}

func TestOverlaps(t *testing.T) {
	tests := []struct {
		paths []string
		want  bool
	}{
		{nil, false},
		{[]string{"a", "b", "c.d"}, false},
		{[]string{"a", "a.b"}, false}, // descendant after: SetDefault agrees
		{[]string{"a", "a"}, false},   // repeated: the same bytes either way
		{[]string{"a.b", "a"}, true},  // ancestor after
		{[]string{"a.b.c", "x", "a.b"}, true},
		{[]string{"ab", "a"}, false},  // a prefix of the string, not of the path
		{[]string{`a\.b`, "c"}, true}, // escapes: assumed to overlap
		{[]string{"\xff", "c"}, true}, // invalid UTF-8: assumed to overlap
	}
	for _, tc := range tests {
		if got := overlaps(tc.paths); got != tc.want {
			t.Errorf("overlaps(%q) = %v, want %v", tc.paths, got, tc.want)
		}
	}
}
