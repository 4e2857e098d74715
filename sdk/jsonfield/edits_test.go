package jsonfield

import (
	"errors"
	"math"
	"testing"
)

func TestEditApply(t *testing.T) {
	const doc = `{"device":"s1","value":21.5,"unit":"celsius","rssi":-48,"meta":{"fw":"2.4"}}`
	tests := []struct {
		name  string
		build func(e *Edit)
		want  string
	}{
		{"empty", func(*Edit) {}, doc},
		{"set and delete", func(e *Edit) {
			e.SetFloat("value", 70.7)
			e.SetString("unit", `fahr"enheit`)
			e.Delete("rssi")
			e.Delete("absent")
		}, `{"device":"s1","value":70.7,"unit":"fahr\"enheit","meta":{"fw":"2.4"}}`},
		{"nested set creates objects", func(e *Edit) {
			e.SetInt("location.floor", 1)
			e.SetBool("meta.ok", true)
		}, `{"device":"s1","value":21.5,"unit":"celsius","rssi":-48,"meta":{"fw":"2.4","ok":true},"location":{"floor":1}}`},
		{"default only when absent", func(e *Edit) {
			e.SetDefault("device", []byte(`"other"`))
			e.SetDefault("site", []byte(`"hq"`))
		}, `{"device":"s1","value":21.5,"unit":"celsius","rssi":-48,"meta":{"fw":"2.4"},"site":"hq"}`},
		{"move", func(e *Edit) {
			e.Move("meta.fw", "firmware")
			e.Move("value", "reading")
			e.Move("absent", "x")
		}, `{"device":"s1","unit":"celsius","rssi":-48,"meta":{},"firmware":"2.4","reading":21.5}`},
		{"ops see earlier ops", func(e *Edit) {
			e.Set("a", []byte(`1`))
			e.Move("a", "b.c")
			e.Select("b.c", "device", "absent")
		}, `{"b":{"c":1},"device":"s1"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e Edit
			tt.build(&e)
			got, err := e.Apply([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			e.Reset()
			if e.Len() != 0 {
				t.Errorf("Len after Reset = %d", e.Len())
			}
		})
	}
}

func TestEditApply_errors(t *testing.T) {
	var e Edit
	if _, err := e.Apply([]byte(`{"a":`)); !errors.Is(err, ErrSyntax) {
		t.Errorf("malformed doc: %v, want ErrSyntax", err)
	}
	e.Set("ok", []byte(`1`))
	e.Set("value.x", []byte(`1`)) // through a number
	var ee *EditError
	if _, err := e.Apply([]byte(`{"value":2}`)); !errors.As(err, &ee) || ee.Index != 1 {
		t.Errorf("path through a scalar: %v, want an EditError for operation 1", err)
	}
	e.Reset()
	e.Set("a", []byte(`{bad`))
	if _, err := e.Apply([]byte(`{}`)); !errors.As(err, &ee) || ee.Index != 0 || !errors.Is(err, ErrSyntax) {
		t.Errorf("bad value: %v, want an EditError wrapping ErrSyntax", err)
	}
	e.Reset()
	e.SetFloat("a", math.NaN())
	if _, err := e.Apply([]byte(`{}`)); !errors.As(err, &ee) {
		t.Errorf("NaN: %v, want an EditError", err)
	}
}

func TestFieldsFind(t *testing.T) {
	f := NewFields("value", "meta.fw", "absent", "tags.1")
	vals := make([]Value, f.Len())
	doc, err := f.Find([]byte(` {"value":21.5,"meta":{"fw":"2.4"},"tags":["a","b"]} `), vals)
	if err != nil {
		t.Fatal(err)
	}
	if doc.Kind() != Object {
		t.Errorf("doc kind %s", doc.Kind())
	}
	got := []string{string(vals[0].Raw()), string(vals[1].Raw()), string(vals[2].Raw()), string(vals[3].Raw())}
	want := []string{`21.5`, `"2.4"`, ``, `"b"`}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("vals[%d] (%s) = %q, want %q", i, f.Path(i), got[i], want[i])
		}
	}
	if _, err := f.Find([]byte(`{"value":1,}`), vals); !errors.Is(err, ErrSyntax) {
		t.Errorf("malformed: %v, want ErrSyntax", err)
	}
	if vals[0].Kind() != Invalid {
		t.Errorf("vals not zeroed after an error")
	}
}
