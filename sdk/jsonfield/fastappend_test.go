package jsonfield

import (
	"math"
	"testing"
)

// TestAppendNew checks which edits appendNew takes on and that what it
// writes is applyEdit's result, byte for byte.
func TestAppendNew(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		ops  func(e *Edit)
		want bool // appendNew answers
	}{
		{"new keys", `{"a":1,"b":"x"}`, func(e *Edit) { e.SetString("c", "y"); e.Set("d", []byte(` [1, 2] `)); e.SetFloat("e", 1e21) }, true},
		{"empty root", ` {} `, func(e *Edit) { e.SetInt("a", 1); e.SetBool("b", true) }, true},
		{"default present and absent", `{"a":1}`, func(e *Edit) { e.SetDefault("a", []byte(`2`)); e.SetDefault("b", []byte(`3`)) }, true},
		{"only defaults present", `{"a":1,"b":2}`, func(e *Edit) { e.SetDefault("b", []byte(`3`)) }, true},
		{"no operations", `{"a":1}`, func(*Edit) {}, true},
		{"number key on an object", `{"0":1}`, func(e *Edit) { e.SetInt("1", 2) }, true},
		{"replacements in any order", `{"a":1,"b":{"x":[1]},"c":"z"}`, func(e *Edit) { e.SetString("c", "y"); e.SetInt("new", 7); e.SetFloat("a", 2.5) }, true},
		{"replacement of the first of two", `{"a":1,"a":2}`, func(e *Edit) { e.SetInt("a", 3) }, true},
		{"default of the first of two", `{"a":1,"a":2}`, func(e *Edit) { e.SetDefault("a", []byte(`3`)) }, true},
		{"same key twice", `{}`, func(e *Edit) { e.SetInt("a", 1); e.SetInt("a", 2) }, false},
		{"nested path", `{}`, func(e *Edit) { e.SetInt("a.b", 1) }, false},
		{"escaped path", `{}`, func(e *Edit) { e.SetInt(`a\.b`, 1) }, false},
		{"non-ASCII key", `{}`, func(e *Edit) { e.SetInt("é", 1) }, false},
		{"delete", `{"a":1}`, func(e *Edit) { e.Delete("a") }, false},
		{"whitespace inside", `{"a": 1}`, func(e *Edit) { e.SetInt("b", 1) }, false},
		{"escaped key in the document", `{"\u0061":1}`, func(e *Edit) { e.SetDefault("a", []byte(`2`)) }, false},
		{"array root", `[1]`, func(e *Edit) { e.SetInt("a", 1) }, false},
		{"malformed document", `{"a":1,}`, func(e *Edit) { e.SetInt("b", 1) }, false},
		{"malformed value", `{}`, func(e *Edit) { e.Set("b", []byte(`{`)) }, false},
		{"NaN", `{}`, func(e *Edit) { e.SetFloat("b", math.NaN()) }, false},
		{"trailing bytes", `{} x`, func(e *Edit) { e.SetInt("b", 1) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e Edit
			tt.ops(&e)
			got, ok := appendNew([]byte("pre"), []byte(tt.doc), e.prog)
			if ok != tt.want {
				t.Fatalf("appendNew answered %v, want %v", ok, tt.want)
			}
			want, err := applyEdit([]byte(tt.doc), e.prog)
			if ok && (err != nil || string(got) != "pre"+string(want)) {
				t.Fatalf("appendNew = %q, applyEdit = %q, %v", got, want, err)
			}
			checkFast(t, []byte(tt.doc), e.prog)
		})
	}
}
