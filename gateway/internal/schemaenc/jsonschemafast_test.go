package schemaenc

import (
	"strings"
	"testing"
)

// fastJSONSchemas are schemas the fast path covers: benchJSONSchema and ones using the rest of
// its keywords, under several drafts.
var fastJSONSchemas = []string{
	benchJSONSchema,
	`{"$schema":"https://json-schema.org/draft/2020-12/schema","title":"t","type":"object",
	  "required":["n","s"],"additionalProperties":{"type":["string","null"],"maxLength":3},
	  "properties":{
	    "n":{"type":"integer","minimum":-5,"exclusiveMaximum":100},
	    "f":{"type":"number","exclusiveMinimum":0.1,"maximum":1e3},
	    "big":{"type":"integer","maximum":9007199254740993},
	    "s":{"type":"string","minLength":2,"maxLength":4},
	    "e":{"enum":["a",1,true,null,2.50]},
	    "c":{"const":"x"},
	    "never":false,
	    "any":true,
	    "arr":{"type":"array","minItems":1,"maxItems":3,"items":{"type":"object","properties":{"v":{"type":"boolean"}},"required":["v"]}},
	    "free":{"type":"array"}}}`,
	`{"$schema":"http://json-schema.org/draft-07/schema#","type":["object","null"],"properties":{"k":{"const":0},"m":{"minimum":0}},"additionalProperties":false}`,
	`{"$schema":"http://json-schema.org/draft-04/schema#","type":"object","properties":{"k":{"const":"x"},"i":{"type":"integer","maximum":3}}}`,
}

// jsonSchemaFastCases are documents for fastJSONSchemas; each fits some and not others.
var jsonSchemaFastCases = []string{
	sensorJSON,
	`{"device_id":"d","temp":1,"status":"FAULT","ts":1,"location":{"lat":1,"lon":2,"alt":3},"humidity":null,"tags":[]}`,
	`{"device_id":"d","temp":1.0,"status":"OK","ts":1.0,"location":{"lat":1,"lon":2}}`,
	`{"device_id":"d\u0041","temp":1,"status":"OK","ts":1,"location":{"lat":1,"lon":2}}`,
	`{"device_id":"d","temp":1,"status":"OK","ts":1,"location":{"lat":1,"lon":2},"extra":1}`,
	`{"n":-5,"s":"ab","f":1e3,"big":9007199254740993,"e":2.50,"c":"x","any":[{}],"arr":[{"v":true}],"free":[1,"a",null],"x":"abc","y":null}`,
	`{"n":-5,"s":"ab","f":999.5,"big":9007199254740993,"e":2.50,"c":"x","any":[{}],"arr":[{"v":true}],"free":[1,"a",null],"x":"abc","y":null}`,
	`{"n":100,"s":"ab"}`, `{"n":99,"s":"ab","f":0.1}`, `{"n":1,"s":"€€€€"}`, `{"n":1,"s":"€€€€€"}`, `{"n":1,"s":"ab","never":1}`,
	`{"n":1,"s":"ab","e":2.5}`, `{"n":1,"s":"ab","x":"abcd"}`, `{"n":1,"s":"ab","arr":[]}`, `{"n":1,"s":"ab","arr":[{}]}`,
	`{"n":1,"s":"ab","big":9007199254740994}`, `{"n":1,"n":"x","s":"ab"}`, `{"n":"x","n":1,"s":"ab"}`, `{"s":"ab"}`,
	`null`, `{}`, `{"k":0,"m":0}`, `{"k":0.0}`, `{"k":"x","i":3}`, `{"k":"y","i":3.0}`, `{"i":4}`, ` {"k" : "x"} `, `{"k":"x"} 1`, `[1]`, `"s"`,
}

// jsonSchemaFastAgrees fails when the fast path accepts doc and the library does not.
func jsonSchemaFastAgrees(t *testing.T, c *jsonSchemaCodec, doc []byte) bool {
	t.Helper()
	if !c.fast.accepts(doc) {
		return false
	}
	if _, err := c.encodeGeneral(nil, doc); err != nil {
		t.Fatalf("%q: the fast path accepts it, the library says %v", doc, err)
	}
	return true
}

func jsonSchemaFastCodecs(t testing.TB) []*jsonSchemaCodec {
	var cs []*jsonSchemaCodec
	for _, text := range fastJSONSchemas {
		c, err := newJSONSchemaCodec(text, nil)
		if err != nil {
			t.Fatal(err)
		}
		if c.fast == nil {
			t.Fatalf("%.60q is not compiled for the fast path", text)
		}
		cs = append(cs, c)
	}
	return cs
}

func TestJSONSchemaFastPath(t *testing.T) {
	cs := jsonSchemaFastCodecs(t)
	taken := 0
	for _, c := range cs {
		for _, doc := range jsonSchemaFastCases {
			if jsonSchemaFastAgrees(t, c, []byte(doc)) {
				taken++
			}
		}
	}
	if taken < 8 {
		t.Errorf("the fast path accepted %d of the documents, want at least 8", taken)
	}
	if !jsonSchemaFastAgrees(t, cs[0], []byte(sensorJSON)) {
		t.Error("the fast path did not accept the sensor payload")
	}
	for _, text := range []string{readingJSONSchema, `{"type":"string","format":"email"}`, `{"anyOf":[{"type":"string"}]}`,
		`{"properties":{"a":{"pattern":"x"}}}`, `{"type":"array","items":[{"type":"string"}]}`, `{"required":["a"]}`} {
		if compileJSFast(text) != nil {
			t.Errorf("%s is compiled for the fast path, which does not cover it", text)
		}
	}
	// a document the fast path refuses gets the library's error
	_, err := cs[1].encode(nil, []byte(`{"n":1,"s":"ab","x":"abcd"}`))
	if ie, ok := err.(*InvalidError); !ok || ie.Path != "/x" || !strings.Contains(ie.Reason, "maxLength") {
		t.Errorf("error %v, want the library's at /x", err)
	}
}

func FuzzJSONSchemaFastPath(f *testing.F) {
	for _, doc := range jsonSchemaFastCases {
		for k := range fastJSONSchemas {
			f.Add(uint8(k), []byte(doc))
		}
	}
	cs := jsonSchemaFastCodecs(f)
	f.Fuzz(func(t *testing.T, which uint8, doc []byte) {
		jsonSchemaFastAgrees(t, cs[int(which)%len(cs)], doc)
	})
}
