package main

import (
	"github.com/tributary-gw/tributary/plugins/internal/plugintest"
	"math"
	"strings"
	"testing"

	"github.com/tributary-gw/tributary/sdk"
)

func TestConvertValue(t *testing.T) {
	tests := []struct {
		v        float64
		from, to string
		want     float64
	}{
		{0, "celsius", "fahrenheit", 32},
		{100, "C", "F", 212},
		{-40, "fahrenheit", "celsius", -40},
		{0, "celsius", "kelvin", 273.15},
		{300, "K", "°F", 80.33},
		{1, "bar", "kPa", 100},
		{1013.25, "hPa", "atm", 1},
		{14.5037738, "psi", "bar", 1},
		{101325, "Pa", "mbar", 1013.25},
		{1, "mile", "km", 1.609344},
		{12, "in", "ft", 1},
		{100, "km/h", "m/s", 27.78},
		{10, "knots", "mph", 11.51},
		{1, "lb", "g", 453.59},
		{1, "kWh", "kJ", 3600},
		{1, "hp", "kW", 0.75},
		{1, "gal", "L", 3.79},
		{50, "percent", "fraction", 0.5},
		{1e4, "ppm", "%", 1},
	}
	for _, tc := range tests {
		from, ok1 := lookupUnit(tc.from)
		to, ok2 := lookupUnit(tc.to)
		if !ok1 || !ok2 || from.dim != to.dim {
			t.Fatalf("%s -> %s: units missing or of different dimensions", tc.from, tc.to)
		}
		if got := convertValue(tc.v, from, to); math.Abs(got-tc.want) > 0.006 {
			t.Errorf("%v %s in %s = %v, want %v", tc.v, tc.from, tc.to, got, tc.want)
		}
	}
}

const toFahrenheit = `{"conversions":[{"field":"value","unit_field":"unit","to":"fahrenheit","round":2}]}`

func TestUnits(t *testing.T) {
	tests := []struct {
		name, cfg, payload string
		want               string
	}{
		{"celsius from unit field", toFahrenheit, `{"value":21.25,"unit":"celsius"}`, `{"value":70.25,"unit":"fahrenheit"}`},
		{"short unit name", toFahrenheit, `{"value":-40,"unit":"C"}`, `{"value":-40,"unit":"fahrenheit"}`},
		{"already in target unit is normalised", toFahrenheit, `{"value":70.25,"unit":"F"}`, `{"value":70.25,"unit":"fahrenheit"}`},
		{"other quantity passes", toFahrenheit, `{"value":41.5,"unit":"percent"}`, `{"value":41.5,"unit":"percent"}`},
		{"ppm passes", toFahrenheit, `{"value":612,"unit":"ppm"}`, `{"value":612,"unit":"ppm"}`},
		{"no unit and no from passes", toFahrenheit, `{"value":21}`, `{"value":21}`},
		{"missing field passes", toFahrenheit, `{"unit":"celsius"}`, `{"unit":"celsius"}`},
		{"unknown unit dead letter", toFahrenheit, `{"value":21,"unit":"celcius"}`, `error: ~unit: unknown unit "celcius"`},
		{"unknown unit pass", `{"conversions":[{"field":"value","unit_field":"unit","to":"F","unknown_unit":"pass"}]}`, `{"value":21,"unit":"celcius"}`, `{"value":21,"unit":"celcius"}`},
		{"unit field not a string", toFahrenheit, `{"value":21,"unit":7}`, `error: ~unit: want a string naming a unit, got a JSON number`},
		{"value not a number", toFahrenheit, `{"value":"21","unit":"celsius"}`, `error: ~value: want a number, got "21"`},
		{"fixed from without unit field", `{"conversions":[{"field":"p","from":"Pa","to":"hPa"}]}`, `{"p":101325}`, `{"p":1013.25}`},
		{"from used when unit field absent, unit written", `{"conversions":[{"field":"p","from":"bar","to":"psi","unit_field":"u","round":1}]}`, `{"p":2}`, `{"p":29,"u":"psi"}`},
		{"nested paths", `{"conversions":[{"field":"env.t","unit_field":"env.u","to":"K"}]}`, `{"env":{"t":0,"u":"C"}}`, `{"env":{"t":273.15,"u":"K"}}`},
		{"several rules", `{"conversions":[{"field":"t","from":"C","to":"F"},{"field":"p","from":"kPa","to":"bar"}]}`, `{"t":100,"p":250}`, `{"t":212,"p":2.5}`},
		{"round to integer", `{"conversions":[{"field":"t","from":"C","to":"F","round":0}]}`, `{"t":21.3}`, `{"t":70}`},
		{"not json", toFahrenheit, `21.5 C`, `error: ~payload is not JSON`},
		{"not an object", toFahrenheit, `21.5`, `error: ~payload is a JSON number, want an object`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			plugintest.CheckLines(t, plugintest.RunNative(t, tc.cfg, plugintest.Msg("building/x", tc.payload)), []string{tc.want})
		})
	}
}

func TestUnits_configErrors(t *testing.T) {
	tests := []struct{ cfg, want string }{
		{`{}`, "conversions: at least one conversion is required"},
		{`{"conversion":[]}`, `unknown field "conversion"`},
		{`{"conversions":[{"to":"F","from":"C"}]}`, "conversions[0].field: required"},
		{`{"conversions":[{"field":"v","from":"C"}]}`, "conversions[0].to: required"},
		{`{"conversions":[{"field":"v","from":"C","to":"furlong"}]}`, `conversions[0].to: unknown unit "furlong"`},
		{`{"conversions":[{"field":"v","from":"X","to":"F"}]}`, `conversions[0].from: unknown unit "X"`},
		{`{"conversions":[{"field":"v","from":"bar","to":"F"}]}`, `conversions[0].from: "bar" is a pressure unit and "F" a temperature unit`},
		{`{"conversions":[{"field":"v","to":"F"}]}`, "conversions[0]: set from, unit_field or both"},
		{`{"conversions":[{"field":"v","from":"C","to":"F","round":16}]}`, "conversions[0].round: 16 is outside 0..15"},
		{`{"conversions":[{"field":"v","from":"C","to":"F"},{"field":"v","from":"C","to":"F","unknown_unit":"drop"}]}`, `conversions[1].unknown_unit: "drop"`},
		{`{"conversions":[{"field":"v","from":"C","to":"F","rond":1}]}`, `unknown field "rond"`},
	}
	for _, tc := range tests {
		t.Run(tc.cfg, func(t *testing.T) {
			if err := sdk.Init([]byte(tc.cfg)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Init error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestUnits_wasm(t *testing.T) {
	inst, err := plugintest.NewWasm(t, toFahrenheit)
	if err != nil {
		t.Fatal(err)
	}
	humid := strings.NewReplacer(`"metric":"temperature"`, `"metric":"humidity"`, `"unit":"celsius"`, `"unit":"percent"`).Replace(plugintest.SensorPayload)
	got := plugintest.RunWasm(t, inst, plugintest.Msg(plugintest.SensorTopic, plugintest.SensorPayload), plugintest.Msg(plugintest.SensorTopic, humid), plugintest.Msg(plugintest.SensorTopic, `{"value":1,"unit":"kelvinn"}`))
	want := []string{
		strings.NewReplacer(`"value":21.25`, `"value":70.25`, `"unit":"celsius"`, `"unit":"fahrenheit"`).Replace(plugintest.SensorPayload),
		humid,
		`error: units: unit: unknown unit "kelvinn"`,
	}
	for i, w := range want {
		if g := strings.Join(got[i], "|"); g != w {
			t.Errorf("message %d:\n got  %s\n want %s", i, g, w)
		}
	}
	if _, err := plugintest.NewWasm(t, `{"conversions":[{"field":"v","from":"C","to":"furlong"}]}`); err == nil || !strings.Contains(err.Error(), `unknown unit "furlong"`) {
		t.Errorf("bad config in wasm: error %v, want the unit named", err)
	}
}

func BenchmarkUnits_native(b *testing.B) {
	plugintest.BenchNative(b, toFahrenheit, plugintest.Msg(plugintest.SensorTopic, plugintest.SensorPayload))
}
func BenchmarkUnits_wasm(b *testing.B) {
	plugintest.BenchWasm(b, toFahrenheit, plugintest.Msg(plugintest.SensorTopic, plugintest.SensorPayload))
}
