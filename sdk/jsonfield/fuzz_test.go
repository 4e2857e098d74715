package jsonfield_test

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"

	"github.com/tributary-gw/tributary/sdk/jsonfield"
)

// hasDupKeys reports whether any object in a valid doc repeats a key, where
// encoding/json (last wins) and jsonfield (first wins) legitimately differ.
func hasDupKeys(doc []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(doc))
	type frame struct {
		obj    bool
		keys   map[string]bool
		expect bool // next string token in an object is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return false
		}
		if err != nil {
			return true // not our business; skip the comparison
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.obj && top.expect {
			if k, ok := tok.(string); ok {
				if top.keys[k] {
					return true
				}
				top.keys[k] = true
				top.expect = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{obj: true, keys: map[string]bool{}, expect: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		if len(stack) > 0 && stack[len(stack)-1].obj {
			stack[len(stack)-1].expect = true
		}
	}
}

func FuzzGetSetDelete(f *testing.F) {
	for _, d := range docs {
		for _, p := range []string{"", "a", "battery.pct", "tags.1", "a.b.c.1.d", "0.k", "x.y"} {
			f.Add([]byte(d), p)
		}
	}
	f.Add([]byte(`{"a":01}`), "a")
	f.Add([]byte(`{"a":"\ud800"}`), "a")
	f.Fuzz(func(t *testing.T, doc []byte, path string) {
		valid := json.Valid(doc)
		v, found := jsonfield.Get(doc, path)
		if found && !json.Valid(v.Raw()) {
			t.Fatalf("Get(%q, %q) returned invalid JSON %q", doc, path, v.Raw())
		}
		if found {
			checkAccessorsAgree(t, v)
		}
		if valid && !hasDupKeys(doc) {
			want, wantOK := oracle(t, string(doc), path)
			if found != wantOK {
				t.Fatalf("Get(%q, %q) found=%v, encoding/json says %v", doc, path, found, wantOK)
			}
			if found {
				var got any
				dec := json.NewDecoder(bytes.NewReader(v.Raw()))
				dec.UseNumber()
				if err := dec.Decode(&got); err != nil || !jsonEqual(got, want) {
					t.Fatalf("Get(%q, %q) = %s, encoding/json says %v", doc, path, v.Raw(), want)
				}
			}
		}

		const raw = `{"v":[1,"x"]}`
		out, err := jsonfield.Set(doc, path, []byte(raw))
		if !valid && err == nil {
			t.Fatalf("Set on invalid %q succeeded: %q", doc, out)
		}
		if err == nil {
			if !json.Valid(out) {
				t.Fatalf("Set(%q, %q) gave invalid JSON %q", doc, path, out)
			}
			if back, ok := jsonfield.Get(out, path); !ok || string(back.Raw()) != raw {
				t.Fatalf("Set(%q, %q) then Get = %q, %v; want %s", doc, path, back.Raw(), ok, raw)
			}
		}

		out, err = jsonfield.Delete(doc, path)
		if !valid && err == nil {
			t.Fatalf("Delete on invalid %q succeeded: %q", doc, out)
		}
		if err == nil && !json.Valid(out) {
			t.Fatalf("Delete(%q, %q) gave invalid JSON %q", doc, path, out)
		}
	})
}

func checkAccessorsAgree(t *testing.T, v jsonfield.Value) {
	switch v.Kind() {
	case jsonfield.String:
		var want string
		s, _ := v.Text()
		if err := json.Unmarshal(v.Raw(), &want); err != nil || s != want {
			t.Fatalf("Text(%q) = %q, encoding/json says %q (%v)", v.Raw(), s, want, err)
		}
	case jsonfield.Number:
		var want float64
		f, ok := v.Float()
		if err := json.Unmarshal(v.Raw(), &want); (err == nil) != ok || (ok && f != want) {
			t.Fatalf("Float(%q) = %v, %v; encoding/json says %v (%v)", v.Raw(), f, ok, want, err)
		}
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}
