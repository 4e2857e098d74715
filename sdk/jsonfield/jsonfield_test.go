package jsonfield_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tributary-gw/tributary/sdk/jsonfield"
)

const sensor = `{"device":"s-017","ts":1732500000123,"temp":21.37,"hum":48.2,"unit":"C","battery":{"pct":87,"v":3.71},"tags":["floor2","north"]}`

var docs = []string{
	sensor,
	`{"a":{"b":{"c":[1,{"d":"x"},[true,false,null]]}},"e":[],"f":{}}`,
	` { "sp ace" : [ 1 , 2 ] , "a.b" : "dot" , "esc\"q" : "\u00e9\ud83d\ude00\n" } `,
	`[{"k":1},{"k":2},"s",-0.5e-3]`,
	`"just a string"`,
	`12`,
	`{"te\u006dp":5}`,
	`{"big":1e400,"neg":-12,"f":2.0,"exp":1e3,"huge":123456789012345678901}`,
}

var paths = []string{
	"", "device", "ts", "temp", "battery", "battery.pct", "battery.v", "tags", "tags.0", "tags.1", "tags.2",
	"a.b.c.0", "a.b.c.1.d", "a.b.c.2.2", "a.b.c.3", "e", "f", "f.x", "sp ace.1", `a\.b`, `esc"q`,
	"0", "0.k", "1.k", "3", "temp", "big", "neg", "f", "exp", "huge", "missing", "device.x", "tags.01",
}

// oracle walks a document decoded by encoding/json.
func oracle(t *testing.T, doc, path string) (any, bool) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("oracle cannot decode %s: %v", doc, err)
	}
	if path == "" {
		return v, true
	}
	var segs []string
	cur := ""
	for i := 0; i < len(path); i++ {
		switch {
		case path[i] == '\\' && i+1 < len(path):
			i++
			cur += path[i : i+1] // the byte, not string(byte), which would make it a rune
		case path[i] == '.':
			segs, cur = append(segs, cur), ""
		default:
			cur += path[i : i+1]
		}
	}
	segs = append(segs, cur)
	for i, s := range segs { // as encoding/json decodes keys: each invalid byte is U+FFFD
		var b strings.Builder
		for j := 0; j < len(s); {
			r, size := utf8.DecodeRuneInString(s[j:])
			b.WriteRune(r)
			j += size
		}
		segs[i] = b.String()
	}
	for _, s := range segs {
		switch c := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = c[s]; !ok {
				return nil, false
			}
		case []any:
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 || n >= len(c) || strconv.Itoa(n) != s {
				return nil, false
			}
			v = c[n]
		default:
			return nil, false
		}
	}
	return v, true
}

func TestGetAgainstEncodingJSON(t *testing.T) {
	for _, doc := range docs {
		for _, path := range paths {
			want, wantOK := oracle(t, doc, path)
			got, ok := jsonfield.Get([]byte(doc), path)
			if ok != wantOK {
				t.Errorf("Get(%s, %q) found=%v, encoding/json says %v", doc, path, ok, wantOK)
				continue
			}
			if !ok {
				continue
			}
			dec := json.NewDecoder(bytes.NewReader(got.Raw()))
			dec.UseNumber()
			var gotV any
			if err := dec.Decode(&gotV); err != nil || !reflect.DeepEqual(gotV, want) {
				t.Errorf("Get(%s, %q) = %s (%v), encoding/json says %v", doc, path, got.Raw(), err, want)
			}
			checkAccessors(t, got, want)
		}
	}
}

func checkAccessors(t *testing.T, v jsonfield.Value, want any) {
	t.Helper()
	switch w := want.(type) {
	case string:
		if s, ok := v.Text(); !ok || s != w || v.Kind() != jsonfield.String {
			t.Errorf("Text(%s) = %q, %v, want %q", v.Raw(), s, ok, w)
		}
	case json.Number:
		wf, ferr := strconv.ParseFloat(string(w), 64)
		if f, ok := v.Float(); ok != (ferr == nil) || (ok && f != wf) {
			t.Errorf("Float(%s) = %v, %v, want %v (%v)", v.Raw(), f, ok, wf, ferr)
		}
		if wi, err := strconv.ParseInt(string(w), 10, 64); err == nil {
			if i, ok := v.Int(); !ok || i != wi {
				t.Errorf("Int(%s) = %v, %v, want %v", v.Raw(), i, ok, wi)
			}
		}
	case bool:
		if b, ok := v.Bool(); !ok || b != w {
			t.Errorf("Bool(%s) = %v, %v, want %v", v.Raw(), b, ok, w)
		}
	case nil:
		if v.Kind() != jsonfield.Null {
			t.Errorf("Kind(%s) = %v, want null", v.Raw(), v.Kind())
		}
	case map[string]any:
		n := 0
		for k, mv := range v.Members() {
			n++
			if _, ok := w[k]; !ok || mv.Kind() == jsonfield.Invalid {
				t.Errorf("Members(%s) yielded %q", v.Raw(), k)
			}
		}
		if n != len(w) || v.Len() != len(w) {
			t.Errorf("Members(%s) yielded %d, Len %d, want %d", v.Raw(), n, v.Len(), len(w))
		}
	case []any:
		n := 0
		for i, ev := range v.Elements() {
			if i != n || ev.Kind() == jsonfield.Invalid {
				t.Errorf("Elements(%s) yielded %d at %d", v.Raw(), i, n)
			}
			n++
		}
		if n != len(w) || v.Len() != len(w) {
			t.Errorf("Elements(%s) yielded %d, Len %d, want %d", v.Raw(), n, v.Len(), len(w))
		}
	}
}

func TestIntAndFloat(t *testing.T) {
	tests := []struct {
		raw  string
		i    int64
		iOK  bool
		f    float64
		fOK  bool
		kind jsonfield.Kind
	}{
		{"12", 12, true, 12, true, jsonfield.Number},
		{"-3", -3, true, -3, true, jsonfield.Number},
		{"2.0", 2, true, 2, true, jsonfield.Number},
		{"1e3", 1000, true, 1000, true, jsonfield.Number},
		{"2.5", 0, false, 2.5, true, jsonfield.Number},
		{"1e400", 0, false, 0, false, jsonfield.Number},
		{"9223372036854775807", 9223372036854775807, true, 9223372036854775807, true, jsonfield.Number},
		{"9223372036854775808", 0, false, 9223372036854775808, true, jsonfield.Number},
		{`"12"`, 0, false, 0, false, jsonfield.String},
		{"true", 0, false, 0, false, jsonfield.Bool},
	}
	for _, tc := range tests {
		v, err := jsonfield.Parse([]byte(tc.raw))
		if err != nil {
			t.Fatalf("Parse(%s): %v", tc.raw, err)
		}
		i, iOK := v.Int()
		f, fOK := v.Float()
		if i != tc.i || iOK != tc.iOK || f != tc.f || fOK != tc.fOK || v.Kind() != tc.kind {
			t.Errorf("%s: Int=%v,%v Float=%v,%v Kind=%v; want %v,%v %v,%v %v", tc.raw, i, iOK, f, fOK, v.Kind(), tc.i, tc.iOK, tc.f, tc.fOK, tc.kind)
		}
	}
}

func TestMalformed(t *testing.T) {
	tests := []struct{ doc, path string }{
		{`{"a":1,}`, "b"},
		{`{"a" 1}`, "a"},
		{`{"a":tru}`, "a"},
		{`{"a":01,"b":2}`, "b"},
		{`{"a":1.}`, "a"},
		{`{"a":"\x"}`, "a"},
		{"{\"a\":\"\x01\"}", "a"},
		{`{"a":"\u12"}`, "a"},
		{`[1 2]`, "1"},
		{`{"a":[1,2}`, "a"},
		{`{"a":`, "a"},
		{``, ""},
		{`{"x":{"y":`, "x.y"},
		{strings.Repeat("[", 20000) + strings.Repeat("]", 20000), ""},
	}
	for _, tc := range tests {
		_, err := jsonfield.Lookup([]byte(tc.doc), tc.path)
		if !errors.Is(err, jsonfield.ErrSyntax) {
			t.Errorf("Lookup(%.40q, %q) = %v, want ErrSyntax", tc.doc, tc.path, err)
		}
		if _, err := jsonfield.Set([]byte(tc.doc), "z", []byte("1")); !errors.Is(err, jsonfield.ErrSyntax) {
			t.Errorf("Set(%.40q) = %v, want ErrSyntax", tc.doc, err)
		}
		if _, err := jsonfield.Delete([]byte(tc.doc), "a"); !errors.Is(err, jsonfield.ErrSyntax) {
			t.Errorf("Delete(%.40q) = %v, want ErrSyntax", tc.doc, err)
		}
		if json.Valid([]byte(tc.doc)) {
			t.Errorf("test doc %.40q is valid JSON", tc.doc)
		}
	}
	if _, err := jsonfield.Lookup([]byte(sensor), "nope"); !errors.Is(err, jsonfield.ErrNotFound) {
		t.Errorf("Lookup of a missing key = %v, want ErrNotFound", err)
	}
}

func TestSet(t *testing.T) {
	tests := []struct {
		doc, path, raw, want, wantErr string
	}{
		{`{"a":1}`, "a", "2", `{"a":2}`, ""},
		{`{"a":1,"b":2}`, "b", ` "x" `, `{"a":1,"b":"x"}`, ""},
		{`{"a":1}`, "b", "true", `{"a":1,"b":true}`, ""},
		{`{}`, "b", "null", `{"b":null}`, ""},
		{`{ }`, "a.b.c", "1", `{ "a":{"b":{"c":1}}}`, ""},
		{`{"a":{"x":0}}`, "a.b", "[1]", `{"a":{"x":0,"b":[1]}}`, ""},
		{`{"t":[1,2]}`, "t.1", "{}", `{"t":[1,{}]}`, ""},
		{`{"t":[1,2]}`, "t.2", "3", `{"t":[1,2,3]}`, ""},
		{`{"t":[]}`, "t.0.k", "3", `{"t":[{"k":3}]}`, ""},
		{`{"t":[1]}`, "t.5", "3", "", `"5" is not an index`},
		{`{"t":[1]}`, "t.x", "3", "", `"x" is not an index`},
		{`{"s":"x"}`, "s.y", "3", "", `cannot set "y" inside a string`},
		{`{"a":1}`, "", `[2]`, `[2]`, ""},
		{`{"a":1}`, "a", `{`, "", "malformed JSON"},
		{`{"a":1}`, "a", `1 2`, "", "malformed JSON"},
		{`{"a\"b":1}`, `a"b`, "2", `{"a\"b":2}`, ""},
		{`{}`, `new"key`, "2", `{"new\"key":2}`, ""},
	}
	for _, tc := range tests {
		got, err := jsonfield.Set([]byte(tc.doc), tc.path, []byte(tc.raw))
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Set(%s, %q, %s) = %s, %v; want error containing %q", tc.doc, tc.path, tc.raw, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || string(got) != tc.want {
			t.Errorf("Set(%s, %q, %s) = %s, %v; want %s", tc.doc, tc.path, tc.raw, got, err, tc.want)
		}
	}
}

func TestTypedSetters(t *testing.T) {
	doc := []byte(sensor)
	var err error
	for _, step := range []func() ([]byte, error){
		func() ([]byte, error) { return jsonfield.SetFloat(doc, "temp", 70.466) },
		func() ([]byte, error) { return jsonfield.SetFloat(doc, "tiny", 1e-9) },
		func() ([]byte, error) { return jsonfield.SetInt(doc, "battery.pct", -5) },
		func() ([]byte, error) { return jsonfield.SetBool(doc, "ok", true) },
		func() ([]byte, error) { return jsonfield.SetString(doc, "unit", "°F \"q\"\n\x01\xff") },
	} {
		if doc, err = step(); err != nil {
			t.Fatal(err)
		}
	}
	var got struct {
		Temp    float64 `json:"temp"`
		Tiny    float64 `json:"tiny"`
		Ok      bool    `json:"ok"`
		Unit    string  `json:"unit"`
		Battery struct {
			Pct int `json:"pct"`
		} `json:"battery"`
	}
	if err := json.Unmarshal(doc, &got); err != nil {
		t.Fatalf("result %s: %v", doc, err)
	}
	if got.Temp != 70.466 || got.Tiny != 1e-9 || !got.Ok || got.Unit != "°F \"q\"\n\x01\ufffd" || got.Battery.Pct != -5 {
		t.Fatalf("after typed sets: %+v in %s", got, doc)
	}
	if want, _ := json.Marshal(1e-9); !bytes.Contains(doc, want) {
		t.Errorf("SetFloat(1e-9) not formatted as encoding/json's %s: %s", want, doc)
	}
	if _, err := jsonfield.SetFloat(doc, "x", 1/zero()); err == nil {
		t.Error("SetFloat(+Inf) succeeded")
	}
}

func zero() float64 { return 0 }

func TestDelete(t *testing.T) {
	tests := []struct{ doc, path, want string }{
		{`{"a":1,"b":2,"c":3}`, "a", `{"b":2,"c":3}`},
		{`{"a":1,"b":2,"c":3}`, "b", `{"a":1,"c":3}`},
		{`{"a":1,"b":2,"c":3}`, "c", `{"a":1,"b":2}`},
		{`{ "a" : 1 }`, "a", `{  }`},
		{`{"a":1, "b":2}`, "a", `{"b":2}`},
		{`[1, 2, 3]`, "1", `[1, 3]`},
		{`[1, 2, 3]`, "2", `[1, 2]`},
		{`{"x":{"y":[{"z":1,"w":2}]}}`, "x.y.0.z", `{"x":{"y":[{"w":2}]}}`},
		{`{"a":1}`, "nope", `{"a":1}`},
		{`{"a":"s"}`, "a.b", `{"a":"s"}`},
	}
	for _, tc := range tests {
		got, err := jsonfield.Delete([]byte(tc.doc), tc.path)
		if err != nil || string(got) != tc.want {
			t.Errorf("Delete(%s, %q) = %s, %v; want %s", tc.doc, tc.path, got, err, tc.want)
		}
		if !json.Valid(got) {
			t.Errorf("Delete(%s, %q) gave invalid JSON %s", tc.doc, tc.path, got)
		}
	}
	if _, err := jsonfield.Delete([]byte(`{}`), ""); err == nil {
		t.Error("Delete of the whole document succeeded")
	}
}
