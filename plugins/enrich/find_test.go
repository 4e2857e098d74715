package main

import (
	"strings"
	"testing"
)

// nineNames is a table entry with more top-level names than are found with
// the key: the payload's members are scanned instead.
const nineNames = `{"n1":1,"n2":2,"n3":3,"n4":4,"n5":5,"n6":6,"n7":7,"n8":8,"n9":9}`

// TestHandleEdgeCases pins what the one-Find, one-Edit path must keep from
// the former Lookup, Parse and Set-per-field path: a payload malformed
// after its key is still a miss, names are matched as decoded keys, and
// errors name the same thing.
func TestHandleEdgeCases(t *testing.T) {
	const ab = `"table":{"a":{"x":1,"y":"two"},"b":{"x.y":1},"c":{},"d":` + nineNames + `,"e":{"":1},"f":{"\ufffd":1}}`
	tests := []struct {
		name, cfg, topic, payload string
		want                      string // as in TestHandle
	}{
		{"malformed after a missing key passes", `{"key_field":"k",` + ab + `}`, "t", `{"k":"zz",`, "="},
		{"malformed after a missing key is dropped", `{"key_field":"k","on_miss":"drop",` + ab + `}`, "t", `{"k":"zz",`, "-"},
		{"malformed after a found key", `{"key_field":"k",` + ab + `}`, "t", `{"k":"a",`, "!enrich: payload is not JSON"},
		{"trailing garbage after a missing key passes", `{"key_field":"k",` + ab + `}`, "t", `{"k":"zz"} x`, "="},
		{"trailing garbage after a found key", `{"key_field":"k",` + ab + `}`, "t", `{"k":"a"} x`, "!enrich: payload is not JSON"},
		{"malformed before the key", `{"key_field":"k",` + ab + `}`, "t", `{"j":tru,"k":"a"}`, "!enrich: payload is not JSON"},
		{"malformed, into", `{"key_field":"k","into":"m",` + ab + `}`, "t", `{"k":"a",`, `!enrich: set "m.x": jsonfield: malformed JSON`},
		{"into through a number", `{"key_field":"k","into":"m",` + ab + `}`, "t", `{"k":"a","m":5}`, `!enrich: set "m.x": jsonfield: path "m.x": cannot set "x" inside a number`},
		{"into an existing object", `{"key_field":"k","into":"m",` + ab + `}`, "t", `{"k":"a","m":{"y":0,"z":1}}`, `{"k":"a","m":{"y":"two","z":1,"x":1}}`},
		{"escaped key", `{"key_field":"k",` + ab + `}`, "t", `{"k":"\u0061"}`, `{"k":"\u0061","x":1,"y":"two"}`},
		{"escaped member name present", `{"key_field":"k",` + ab + `}`, "t", `{"k":"a","\u0078":0}`, `{"k":"a","\u0078":1,"y":"two"}`},
		{"dotted name present", `{"key_field":"k",` + ab + `}`, "t", `{"k":"b","x.y":0}`, `{"k":"b","x.y":1}`},
		{"dotted prefix is not the name", `{"key_field":"k",` + ab + `}`, "t", `{"k":"b","x":{"y":0}}`, `{"k":"b","x":{"y":0},"x.y":1}`},
		{"number key in an array payload", `{"key_field":"0",` + ab + `}`, "t", `["a"]`, "!enrich: payload is a JSON array, want an object"},
		{"empty entry, malformed payload", `{"key_topic_segment":0,` + ab + `}`, "c", `nope`, `nope`},
		{"topic key, malformed", `{"key_topic_segment":0,` + ab + `}`, "a", `{"v":`, "!enrich: payload is not JSON"},
		{"topic key, into, malformed", `{"key_topic_segment":0,"into":"m",` + ab + `}`, "a", `{"v":`, `!enrich: set "m.x": jsonfield: malformed JSON`},
		{"topic key, spaces kept as before", `{"key_topic_segment":0,` + ab + `}`, "a", ` {"v":1 } `, `{"v":1 ,"x":1,"y":"two"}`},
		{"topic key, not an object", `{"key_topic_segment":0,` + ab + `}`, "a", `"s"`, "!enrich: payload is a JSON string, want an object"},
		{"many names, none present", `{"key_field":"k",` + ab + `}`, "t", `{"k":"d"}`, `{"k":"d",` + nineNames[1:]},
		{"many names, one present", `{"key_field":"k",` + ab + `}`, "t", `{"n9":0,"k":"d"}`, `{"n9":9,"k":"d","n1":1,"n2":2,"n3":3,"n4":4,"n5":5,"n6":6,"n7":7,"n8":8}`},
		{"empty name", `{"key_field":"k",` + ab + `}`, "t", `{"k":"e"}`, `{"k":"e","":1}`},
		{"empty name present: the empty path is the whole payload", `{"key_field":"k",` + ab + `}`, "t", `{"":0,"k":"e"}`, `1`},
		{"replacement character is not an invalid byte", `{"key_field":"k",` + ab + `}`, "t", "{\"k\":\"f\",\"\xff\":0}", "{\"k\":\"f\",\"\xff\":0,\"\ufffd\":1}"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := handleOne(t, tc.cfg, tc.topic, tc.payload)
			if strings.HasPrefix(tc.want, "!") {
				if !strings.HasPrefix(got, tc.want) {
					t.Fatalf("got  %s\nwant %s…", got, tc.want)
				}
				return
			}
			if got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}
