package main

import (
	"strings"

	"github.com/tributary-gw/tributary/sdk/jsonfield"
)

// unit is one unit of a dimension: a value v in this unit is
// v*scale+offset in the dimension's base unit.
type unit struct {
	dim    string
	scale  float64
	offset float64
}

// units maps every accepted spelling (compared case-insensitively, see
// lookupUnit) to its unit. Base units: kelvin, pascal, metre, metre per
// second, kilogram, joule, watt, cubic metre, fraction.
var units = map[string]unit{}

func init() {
	add := func(dim string, scale, offset float64, names ...string) {
		for _, n := range names {
			units[strings.ToLower(n)] = unit{dim: dim, scale: scale, offset: offset}
		}
	}
	add("temperature", 1, 273.15, "celsius", "c", "°c", "degc", "deg_c")
	add("temperature", 5.0/9, 273.15-32*5.0/9, "fahrenheit", "f", "°f", "degf", "deg_f")
	add("temperature", 1, 0, "kelvin", "k")

	add("pressure", 1, 0, "pascal", "pa")
	add("pressure", 100, 0, "hectopascal", "hpa", "millibar", "mbar")
	add("pressure", 1000, 0, "kilopascal", "kpa")
	add("pressure", 1e6, 0, "megapascal", "mpa")
	add("pressure", 1e5, 0, "bar")
	add("pressure", 6894.757293168361, 0, "psi")
	add("pressure", 101325, 0, "atmosphere", "atm")
	add("pressure", 133.322387415, 0, "mmhg")
	add("pressure", 3386.389, 0, "inhg")

	add("length", 1, 0, "metre", "meter", "m")
	add("length", 0.001, 0, "millimetre", "millimeter", "mm")
	add("length", 0.01, 0, "centimetre", "centimeter", "cm")
	add("length", 1000, 0, "kilometre", "kilometer", "km")
	add("length", 0.0254, 0, "inch", "in")
	add("length", 0.3048, 0, "foot", "feet", "ft")
	add("length", 1609.344, 0, "mile", "mi")

	add("speed", 1, 0, "m/s", "mps")
	add("speed", 1/3.6, 0, "km/h", "kph", "kmh")
	add("speed", 0.44704, 0, "mph")
	add("speed", 1852.0/3600, 0, "knot", "knots", "kn", "kt")

	add("mass", 1, 0, "kilogram", "kg")
	add("mass", 0.001, 0, "gram", "g")
	add("mass", 0.45359237, 0, "pound", "lb")
	add("mass", 0.028349523125, 0, "ounce", "oz")

	add("energy", 1, 0, "joule", "j")
	add("energy", 1000, 0, "kilojoule", "kj")
	add("energy", 3600, 0, "watt_hour", "wh")
	add("energy", 3.6e6, 0, "kilowatt_hour", "kwh")

	add("power", 1, 0, "watt", "w")
	add("power", 1000, 0, "kilowatt", "kw")
	add("power", 745.69987158227022, 0, "horsepower", "hp")

	add("volume", 1, 0, "cubic_metre", "cubic_meter", "m3")
	add("volume", 0.001, 0, "litre", "liter", "l")
	add("volume", 1e-6, 0, "millilitre", "milliliter", "ml")
	add("volume", 0.003785411784, 0, "us_gallon", "gal")

	add("ratio", 1, 0, "fraction", "ratio")
	add("ratio", 0.01, 0, "percent", "%", "pct")
	add("ratio", 1e-6, 0, "ppm")
}

// lookupUnit finds a unit by name, ignoring case and surrounding space.
func lookupUnit(name string) (unit, bool) {
	u, ok := units[strings.ToLower(strings.TrimSpace(name))]
	return u, ok
}

// lookupUnitValue is lookupUnit of the text of v, a JSON string. A name
// already in the table's spelling (lower-case ASCII, no escapes, no space)
// is looked up without allocating.
func lookupUnitValue(v jsonfield.Value) (unit, bool) {
	raw := v.Raw()
	body := raw[1 : len(raw)-1]
	if isKeySpelling(body) {
		for i := range recentUnits {
			if r := &recentUnits[i]; r.name == string(body) && r.set {
				return r.u, r.ok
			}
		}
		u, ok := units[string(body)]
		recentUnits[nextRecent] = recentUnit{name: string(body), u: u, ok: ok, set: true}
		nextRecent = (nextRecent + 1) % len(recentUnits)
		return u, ok
	}
	name, _ := v.Text()
	return lookupUnit(name)
}

// recentUnit is a spelling looked up in units and the result.
type recentUnit struct {
	name    string
	u       unit
	ok, set bool
}

// recentUnits remembers the last spellings looked up, so that messages in
// the units seen lately cost neither hashing nor allocating (both dear in a
// wasm guest); nextRecent is the entry to replace next.
var (
	recentUnits [8]recentUnit
	nextRecent  int
)

// isKeySpelling reports whether b is printable ASCII without upper-case
// letters, spaces or backslashes: a string whose text is itself and that
// lookupUnit would not change.
func isKeySpelling(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c >= 0x7f || c == '\\' || (c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// convertValue converts v from one unit to another of the same dimension.
func convertValue(v float64, from, to unit) float64 {
	if from == to {
		return v
	}
	return ((v*from.scale + from.offset) - to.offset) / to.scale
}
