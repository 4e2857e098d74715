package main

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/tributary-gw/tributary/sdk"
	"github.com/tributary-gw/tributary/sdk/jsonfield"
)

// config is the plugin's configuration; see README.md.
type config struct {
	Conversions []conversionConfig `json:"conversions"`
}

// conversionConfig is one conversion rule as configured.
type conversionConfig struct {
	// Field is the path of the number to convert. Required.
	Field string `json:"field"`
	// To is the target unit; written to UnitField when that is set. Required.
	To string `json:"to"`
	// From is the source unit when the message names none in UnitField.
	From string `json:"from"`
	// UnitField is the path of a string naming the value's unit; it is read
	// as the source unit and rewritten to To.
	UnitField string `json:"unit_field"`
	// Round is the number of decimals to round the result to; absent keeps
	// full precision.
	Round *int `json:"round"`
	// UnknownUnit is what a unit name not in the table in UnitField causes:
	// "dead_letter" (the default) or "pass" (the rule is skipped).
	UnknownUnit string `json:"unknown_unit"`
}

// rule is a checked conversion.
type rule struct {
	field, unitField string
	to               unit
	toName           string
	from             unit
	hasFrom          bool
	round            int // -1: none
	passUnknown      bool
}

var rules []rule

// configure decodes and checks the configuration.
func configure([]byte) error {
	var c config
	if err := sdk.Config(&c); err != nil {
		return err
	}
	if len(c.Conversions) == 0 {
		return errors.New("config: conversions: at least one conversion is required")
	}
	var rs []rule
	for i, cc := range c.Conversions {
		at := fmt.Sprintf("config: conversions[%d]", i)
		if cc.Field == "" {
			return fmt.Errorf("%s.field: required", at)
		}
		r := rule{field: cc.Field, unitField: cc.UnitField, toName: cc.To, round: -1}
		var ok bool
		if cc.To == "" {
			return fmt.Errorf("%s.to: required", at)
		}
		if r.to, ok = lookupUnit(cc.To); !ok {
			return fmt.Errorf("%s.to: unknown unit %q", at, cc.To)
		}
		if cc.From != "" {
			if r.from, ok = lookupUnit(cc.From); !ok {
				return fmt.Errorf("%s.from: unknown unit %q", at, cc.From)
			}
			if r.from.dim != r.to.dim {
				return fmt.Errorf("%s.from: %q is a %s unit and %q a %s unit", at, cc.From, r.from.dim, cc.To, r.to.dim)
			}
			r.hasFrom = true
		}
		if cc.From == "" && cc.UnitField == "" {
			return fmt.Errorf("%s: set from, unit_field or both", at)
		}
		if cc.Round != nil {
			if *cc.Round < 0 || *cc.Round > 15 {
				return fmt.Errorf("%s.round: %d is outside 0..15", at, *cc.Round)
			}
			r.round = *cc.Round
		}
		switch cc.UnknownUnit {
		case "", "dead_letter":
		case "pass":
			r.passUnknown = true
		default:
			return fmt.Errorf("%s.unknown_unit: %q is not dead_letter or pass", at, cc.UnknownUnit)
		}
		rs = append(rs, r)
	}
	rules = rs
	return nil
}

// convert is the handler: it applies every rule in order.
func convert(m *sdk.Message) error {
	doc := m.Payload()
	v, err := jsonfield.Parse(doc)
	if err != nil {
		return fmt.Errorf("units: payload is not JSON: %w", err)
	}
	if v.Kind() != jsonfield.Object {
		return fmt.Errorf("units: payload is a JSON %s, want an object", v.Kind())
	}
	changed := false
	for _, r := range rules {
		next, err := r.apply(doc)
		if err != nil {
			return err
		}
		if next != nil {
			doc, changed = next, true
		}
	}
	if changed {
		m.SetPayload(doc)
	}
	return nil
}

// apply returns doc with r applied, or nil when r does not apply to doc.
func (r *rule) apply(doc []byte) ([]byte, error) {
	val, ok := jsonfield.Get(doc, r.field)
	if !ok {
		return nil, nil
	}
	from, hasFrom := r.from, r.hasFrom
	if r.unitField != "" {
		if uv, ok := jsonfield.Get(doc, r.unitField); ok {
			name, isText := uv.Text()
			if !isText {
				return nil, fmt.Errorf("units: %s: want a string naming a unit, got a JSON %s", r.unitField, uv.Kind())
			}
			u, known := lookupUnit(name)
			if !known {
				if r.passUnknown {
					return nil, nil
				}
				return nil, fmt.Errorf("units: %s: unknown unit %q", r.unitField, name)
			}
			from, hasFrom = u, true
		}
	}
	if !hasFrom || from.dim != r.to.dim {
		return nil, nil // no unit, or another quantity (e.g. humidity in percent): not ours
	}
	f, isNum := val.Float()
	if !isNum {
		return nil, fmt.Errorf("units: %s: want a number, got %s", r.field, val.Raw())
	}
	out := convertValue(f, from, r.to)
	if r.round < 0 {
		out = significant(out)
	} else {
		if p := math.Pow10(r.round); !math.IsInf(out*p, 0) {
			out = math.Round(out*p) / p
		}
	}
	doc, err := jsonfield.SetFloat(doc, r.field, out)
	if err != nil {
		return nil, fmt.Errorf("units: %s: %w", r.field, err)
	}
	if r.unitField != "" {
		if doc, err = jsonfield.SetString(doc, r.unitField, r.toName); err != nil {
			return nil, fmt.Errorf("units: %s: %w", r.unitField, err)
		}
	}
	return doc, nil
}

// significant rounds f to 12 significant digits, dropping the noise of
// floating-point arithmetic (100 °C is 212 °F, not 211.99999999999991).
func significant(f float64) float64 {
	g, err := strconv.ParseFloat(strconv.FormatFloat(f, 'g', 12, 64), 64)
	if err != nil {
		return f
	}
	return g
}
