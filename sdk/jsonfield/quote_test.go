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
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// checkAgainstEncodingJSON fails t unless got, AppendString's output for s, is what
// encoding/json writes. For valid UTF-8 that is byte for byte. For invalid UTF-8 only the
// decoded string must agree: AppendString writes each invalid byte as the escape \ufffd,
// while encoding/json writes the character U+FFFD itself since Go 1.27 (an escape before).
func checkAgainstEncodingJSON(t *testing.T, s string, got []byte) {
	t.Helper()
	want := jsonQuote(t, s)
	if utf8.ValidString(s) {
		if string(got) != want {
			t.Fatalf("AppendString(%q) = %s, want %s", s, got, want)
		}
		return
	}
	var g, w string
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("AppendString(%q) = %s: %v", s, got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil || g != w {
		t.Fatalf("AppendString(%q) = %s reads back as %q; encoding/json's %s as %q (%v)", s, got, g, want, w, err)
	}
	if !utf8.Valid(got) || bytes.ContainsRune(got, utf8.RuneError) {
		t.Fatalf("AppendString(%q) = %s: invalid UTF-8 must become the escape \\ufffd", s, got)
	}
}

func TestAppendString(t *testing.T) {
	for _, s := range []string{"", "plain", `q"b\s`, "nl\nr\rt\t", "\x00\x01\x1f\x7f", "héllo €𝄞", "bad\xffutf8\xc3", "<&>"} {
		checkAgainstEncodingJSON(t, s, AppendString(nil, s))
		withPrefix := AppendString([]byte("x"), []byte(s))
		if string(withPrefix[1:]) != string(AppendString(nil, s)) || withPrefix[0] != 'x' {
			t.Errorf("AppendString(x, []byte(%q)) = %s, want x then the string's quoting", s, withPrefix)
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
		checkAgainstEncodingJSON(t, s, got)
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
