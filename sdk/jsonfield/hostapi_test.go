package jsonfield

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
)

// spanText formats spans as the parts of raw they point at.
func spanText(raw []byte, spans []int64) string {
	var b strings.Builder
	for _, s := range spans {
		fmt.Fprintf(&b, "[%s]", raw[s>>32:s>>32+s&0xffffffff])
	}
	return b.String()
}

func TestAppendChildSpans(t *testing.T) {
	tests := []struct {
		raw, want string
		err       bool
	}{
		{`[1, "a" ,{"b":[2]}, null]`, `[1]["a"][{"b":[2]}][null]`, false},
		{`[]`, ``, false},
		{`[ ]`, ``, false},
		{`{}`, ``, false},
		{`{"a":1,"a" : 2,"k\u0065y":{"x":[]}}`, `["a"][1]["a"][2]["k\u0065y"][{"x":[]}]`, false},
		{`{"a":1,}`, ``, true},
		{`[1] `, ``, true},
		{` [1]`, ``, true},
		{`[1][2]`, ``, true},
		{`"str"`, ``, true},
		{`12`, ``, true},
		{``, ``, true},
		{strings.Repeat(`[`, maxDepth+1) + strings.Repeat(`]`, maxDepth+1), ``, true},
	}
	for _, tc := range tests {
		spans, err := AppendChildSpans([]int64{7}, []byte(tc.raw))
		if (err != nil) != tc.err {
			t.Errorf("AppendChildSpans(%.40q) error %v, want error %v", tc.raw, err, tc.err)
			continue
		}
		if spans[0] != 7 {
			t.Errorf("AppendChildSpans(%.40q) changed the spans it appends to", tc.raw)
		}
		if got := spanText([]byte(tc.raw), spans[1:]); got != tc.want {
			t.Errorf("AppendChildSpans(%.40q) = %s, want %s", tc.raw, got, tc.want)
		}
	}
}

func TestFindPaths(t *testing.T) {
	f := NewFields("value", "meta.fw", "absent", "tags.1", "")
	doc := []byte(` {"value":21.5,"meta":{"fw":"2.4"},"tags":["a","b"]} `)
	want := make([]Value, f.Len())
	wantDoc, _ := f.Find(doc, want)
	got := make([]Value, f.Len())
	v, err := FindPaths(doc, f.prog, got)
	if err != nil || string(v.Raw()) != string(wantDoc.Raw()) {
		t.Fatalf("FindPaths = %s, %v; want %s", v.Raw(), err, wantDoc.Raw())
	}
	for i := range want {
		if string(got[i].Raw()) != string(want[i].Raw()) {
			t.Errorf("path %q: FindPaths %s, Find %s", f.Path(i), got[i].Raw(), want[i].Raw())
		}
	}
	if _, err := FindPaths(doc, f.prog, got[:4]); !errors.Is(err, errPaths) || got[0].Kind() != Invalid {
		t.Errorf("one path too many: %v (vals[0] %s), want errPaths and zeroed vals", err, got[0].Raw())
	}
	if _, err := FindPaths(doc, f.prog, make([]Value, 6)); !errors.Is(err, errPaths) {
		t.Errorf("one path too few: %v, want errPaths", err)
	}
	if _, err := FindPaths(doc, []byte{9, 'a'}, make([]Value, 1)); !errors.Is(err, errPaths) {
		t.Errorf("truncated path: %v, want errPaths", err)
	}
	if _, err := FindPaths([]byte(`{"a":`), f.prog, got); !errors.Is(err, ErrSyntax) {
		t.Errorf("malformed doc: %v, want ErrSyntax", err)
	}
}

func TestShortFloat(t *testing.T) {
	for _, raw := range []string{"0", "-0", "21.25", "-48", "76.07", "0.1", "0.000001234", "123456789012345",
		"12345678901234.5", "999999999999999", "1.00000000000001", "70.25"} {
		want, _ := strconv.ParseFloat(raw, 64)
		got, ok := shortFloat([]byte(raw))
		if !ok || got != want || math.Signbit(got) != math.Signbit(want) {
			t.Errorf("shortFloat(%s) = %v, %v; ParseFloat says %v", raw, got, ok, want)
		}
	}
	for _, raw := range []string{"1e3", "1234567890123456", "1.000000000000001", "0.1234567890123456", "1E-7", ""} {
		if _, ok := shortFloat([]byte(raw)); ok {
			t.Errorf("shortFloat(%s) took a number it must leave to ParseFloat", raw)
		}
	}
}

// FuzzShortFloat checks shortFloat against strconv.ParseFloat on every
// valid JSON number it accepts.
func FuzzShortFloat(f *testing.F) {
	for _, s := range []string{"21.25", "-0.5", "123456789012345", "0.000000000000001", "9.99"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if v, err := parse([]byte(raw)); err != nil || v.Kind() != Number || len(v.raw) != len(raw) {
			return
		}
		got, ok := shortFloat([]byte(raw))
		want, err := strconv.ParseFloat(raw, 64)
		if ok && (err != nil || got != want || math.Signbit(got) != math.Signbit(want)) {
			t.Fatalf("shortFloat(%s) = %v; ParseFloat says %v, %v", raw, got, want, err)
		}
	})
}

// walkContainer is the recursive validator skipContainer replaced (a walker per
// container), kept as the reference it must agree with.
func walkContainer(doc []byte, i, depth int) (int, error) {
	if depth > maxDepth {
		return i, syntaxErr(i, "nested deeper than %d", maxDepth)
	}
	it := newWalker(doc, i, depth)
	for it.next() {
	}
	return it.end, it.err
}

// FuzzSkipContainer checks that the iterative skipContainer accepts and rejects
// what the recursive walker does, with the same offset and error.
func FuzzSkipContainer(f *testing.F) {
	f.Add([]byte(`{"battery":{"pct":91},"tags":["a","b"],"a":{"b":{"c":[0,{"d":null}]}}}`))
	f.Add([]byte(`[{"a":[1,{"b":[]}],"c":{}},"x",[[[]]]]`))
	f.Add([]byte(`{"a":[1,2}`))
	f.Add([]byte(`{"a" 1}`))
	f.Add([]byte(`[1,]`))
	f.Add([]byte(`{"a":{"b":"\x"}}`))
	f.Add([]byte(strings.Repeat("[", 40) + strings.Repeat("]", 39)))
	f.Fuzz(func(t *testing.T, doc []byte) {
		if len(doc) == 0 || (doc[0] != '{' && doc[0] != '[') {
			return
		}
		gotEnd, gotErr := skipContainer(doc, 0, 1)
		wantEnd, wantErr := walkContainer(doc, 0, 1)
		if gotEnd != wantEnd || fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
			t.Fatalf("skipContainer(%q) = %d, %v; the walker says %d, %v", doc, gotEnd, gotErr, wantEnd, wantErr)
		}
	})
}

// TestSkipContainer_deep checks the depth limit at both sides of it, and at
// the limit from a depth other than 1, against the walker.
func TestSkipContainer_deep(t *testing.T) {
	for _, tc := range []struct {
		doc   string
		depth int
	}{
		{strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth), 1},
		{strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1), 1},
		{strings.Repeat(`{"k":`, maxDepth-5) + "1" + strings.Repeat("}", maxDepth-5), 6},
		{strings.Repeat(`{"k":`, maxDepth-5) + "1" + strings.Repeat("}", maxDepth-5), 7},
	} {
		gotEnd, gotErr := skipContainer([]byte(tc.doc), 0, tc.depth)
		wantEnd, wantErr := walkContainer([]byte(tc.doc), 0, tc.depth)
		if gotEnd != wantEnd || fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
			t.Errorf("depth %d, %d bytes: skipContainer = %d, %v; the walker says %d, %v", tc.depth, len(tc.doc), gotEnd, gotErr, wantEnd, wantErr)
		}
	}
	if _, err := skipContainer([]byte(strings.Repeat("[", maxDepth+1)+strings.Repeat("]", maxDepth+1)), 0, 1); err == nil {
		t.Error("a document nested deeper than maxDepth passed")
	}
}
