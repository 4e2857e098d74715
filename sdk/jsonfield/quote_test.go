package jsonfield

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// jsonQuote is the reference: encoding/json without HTML escaping.
func jsonQuote(t testing.TB, s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func TestAppendString(t *testing.T) {
	for _, s := range []string{"", "plain", `q"b\s`, "nl\nr\rt\t", "\x00\x01\x1f\x7f", "héllo €𝄞", "bad\xffutf8\xc3", "<&>"} {
		want := jsonQuote(t, s)
		if got := string(AppendString(nil, s)); got != want {
			t.Errorf("AppendString(%q) = %s, want %s", s, got, want)
		}
		if got := string(AppendString([]byte("x"), []byte(s))); got != "x"+want {
			t.Errorf("AppendString(x, []byte(%q)) = %s, want x%s", s, got, want)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	f.Add("a\"b\n\xff")
	f.Fuzz(func(t *testing.T, s string) {
		if strings.ContainsAny(s, "\u2028\u2029") {
			return // encoding/json escapes these; AppendString leaves them
		}
		got := AppendString(nil, s)
		if want := jsonQuote(t, s); string(got) != want {
			t.Fatalf("AppendString(%q) = %s, want %s", s, got, want)
		}
		var back string
		if err := json.Unmarshal(got, &back); err != nil || (utf8.ValidString(s) && back != s) {
			t.Fatalf("AppendString(%q) = %s reads back as %q, %v", s, got, back, err)
		}
	})
}

func TestEscapeKey(t *testing.T) {
	doc := []byte(`{"a.b":{"c\\d":1},"a":{"b":2}}`)
	path := EscapeKey("a.b") + "." + EscapeKey(`c\d`)
	if v, ok := Get(doc, path); !ok || string(v.Raw()) != "1" {
		t.Fatalf("Get(%s) = %s, %v; want 1", path, v.Raw(), ok)
	}
	if got := EscapeKey("plain"); got != "plain" {
		t.Fatalf("EscapeKey(plain) = %q", got)
	}
}
