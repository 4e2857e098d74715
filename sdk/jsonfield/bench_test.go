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

// sensorReading is the ~180-byte sensor payload of issue #4's target (the
// one wasmhost/jsonimports' guest benchmarks use).
const sensorReading = `{"device_id":"bldg1-f1-r101-s000","floor":1,"room":101,"metric":"temperature",` +
	`"ts":1795580496255,"value":21.25,"unit":"celsius","battery":76.07,"rssi":-48,"seq":12}`

// sensorEdit is five top-level changes of the units and enrich plugins'
// kind: convert a reading, relabel it, drop a field, add two.
func sensorEdit(e *jsonfield.Edit) {
	e.SetFloat("value", 70.25)
	e.SetString("unit", "fahrenheit")
	e.Delete("rssi")
	e.SetString("site", "hq")
	e.SetDefault("zone", []byte(`"north"`))
}

// BenchmarkEditApply applies sensorEdit with one Edit (one validation and
// one copy of the document).
func BenchmarkEditApply(b *testing.B) {
	doc := []byte(sensorReading)
	var e jsonfield.Edit
	sensorEdit(&e)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Apply(doc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEditOneByOne makes sensorEdit's changes with SetFloat,
// SetString, Delete, Get and Set, as plugins did before Edit.
func BenchmarkEditOneByOne(b *testing.B) {
	doc := []byte(sensorReading)
	b.ReportAllocs()
	for b.Loop() {
		out, err := jsonfield.SetFloat(doc, "value", 70.25)
		if err == nil {
			out, err = jsonfield.SetString(out, "unit", "fahrenheit")
		}
		if err == nil {
			out, err = jsonfield.Delete(out, "rssi")
		}
		if err == nil {
			out, err = jsonfield.SetString(out, "site", "hq")
		}
		if _, ok := jsonfield.Get(out, "zone"); !ok && err == nil {
			_, err = jsonfield.Set(out, "zone", []byte(`"north"`))
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFieldsFind finds four fields of the sensor payload at once.
func BenchmarkFieldsFind(b *testing.B) {
	doc := []byte(sensorReading)
	f := jsonfield.NewFields("device_id", "value", "unit", "absent.x")
	vals := make([]jsonfield.Value, f.Len())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.Find(doc, vals); err != nil || vals[1].Kind() != jsonfield.Number {
			b.Fatal(err)
		}
	}
}
