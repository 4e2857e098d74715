package jsonfield_test

import (
	"encoding/json"
	"testing"

	"github.com/tributary-gw/tributary/sdk/jsonfield"
)

// The ~130-byte sensor payload of the design notes: read one field, set one field.

func BenchmarkGetFloat(b *testing.B) {
	doc := []byte(sensor)
	b.ReportAllocs()
	for b.Loop() {
		v, _ := jsonfield.Get(doc, "temp")
		if f, ok := v.Float(); !ok || f != 21.37 {
			b.Fatal(f)
		}
	}
}

func BenchmarkGetNestedInt(b *testing.B) {
	doc := []byte(sensor)
	b.ReportAllocs()
	for b.Loop() {
		v, _ := jsonfield.Get(doc, "battery.pct")
		if n, ok := v.Int(); !ok || n != 87 {
			b.Fatal(n)
		}
	}
}

func BenchmarkEncodingJSONGetFloat(b *testing.B) {
	doc := []byte(sensor)
	b.ReportAllocs()
	for b.Loop() {
		var v struct {
			Temp float64 `json:"temp"`
		}
		if err := json.Unmarshal(doc, &v); err != nil || v.Temp != 21.37 {
			b.Fatal(err)
		}
	}
}

func BenchmarkSetFloat(b *testing.B) {
	doc := []byte(sensor)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := jsonfield.SetFloat(doc, "temp", 70.47); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodingJSONSetFloat(b *testing.B) {
	doc := []byte(sensor)
	b.ReportAllocs()
	for b.Loop() {
		var m map[string]any
		if err := json.Unmarshal(doc, &m); err != nil {
			b.Fatal(err)
		}
		m["temp"] = 70.47
		if _, err := json.Marshal(m); err != nil {
			b.Fatal(err)
		}
	}
}
