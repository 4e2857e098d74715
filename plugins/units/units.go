package main

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

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

var (
	rules []rule
	// batch is set when no rule reads a path that an earlier rule writes:
	// then every field is read with one Fields.Find and every change made
	// with one Edit (one host call each in a guest). Otherwise rules run
	// one after the other on the document the previous ones produced.
	batch *batchPlan
)

// batchPlan is the compiled form of the batched path.
type batchPlan struct {
	fields *jsonfield.Fields
	// field and unit are each rule's indexes in fields (unit -1 when the
	// rule has no unit_field).
	field, unit []int
	vals        []jsonfield.Value // reused by each message
	edit        jsonfield.Edit    // reused by each message
	opPath      []string          // the path of each operation of edit, for errors
	out         []byte            // the new payload, reused by each message (see sdk.Message.SetPayload)
}

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
	rules, batch = rs, planBatch(rs)
	return nil
}

// planBatch returns the batched plan for rs, or nil when a rule reads a
// path (field or unit_field) that an earlier rule writes. (A rule writes
// the paths it reads, so this is also "no two rules touch overlapping
// paths".)
func planBatch(rs []rule) *batchPlan {
	for j, r := range rs {
		for _, w := range rs[:j] {
			for _, read := range []string{r.field, r.unitField} {
				if read != "" && (overlaps(read, w.field) || (w.unitField != "" && overlaps(read, w.unitField))) {
					return nil
				}
			}
		}
	}
	b := &batchPlan{}
	var paths []string
	index := func(p string) int {
		for i, q := range paths {
			if q == p {
				return i
			}
		}
		paths = append(paths, p)
		return len(paths) - 1
	}
	for _, r := range rs {
		u := -1
		if r.unitField != "" {
			u = index(r.unitField)
		}
		b.field, b.unit = append(b.field, index(r.field)), append(b.unit, u)
	}
	b.fields = jsonfield.NewFields(paths...)
	b.vals = make([]jsonfield.Value, len(paths))
	return b
}

// overlaps reports whether writing one path can change what reading the
// other finds: the paths are equal, or one leads into the other ("env" and
// "env.t"). Paths with backslash escapes or non-ASCII bytes, whose segments
// have more than one spelling, always overlap: the check stays simple and
// never wrong.
func overlaps(a, b string) bool {
	if strings.ContainsFunc(a+b, func(r rune) bool { return r == '\\' || r >= 0x80 }) {
		return true
	}
	if len(a) > len(b) {
		a, b = b, a
	}
	return a == "" || b == a || strings.HasPrefix(b, a+".")
}

// convert is the handler: it applies every rule in order.
func convert(m *sdk.Message) error {
	if batch != nil {
		return batch.convert(m)
	}
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

// convert is the handler's batched path: one Find for every field, then
// every rule in order on the values found, and one Edit for every change.
// The result, and the first error, are those of the sequential path.
func (b *batchPlan) convert(m *sdk.Message) error {
	doc := m.Payload()
	v, err := b.fields.Find(doc, b.vals)
	if err != nil {
		return fmt.Errorf("units: payload is not JSON: %w", err)
	}
	if v.Kind() != jsonfield.Object {
		return fmt.Errorf("units: payload is a JSON %s, want an object", v.Kind())
	}
	b.edit.Reset()
	b.opPath = b.opPath[:0]
	for i := range rules {
		r := &rules[i]
		var unit jsonfield.Value
		if u := b.unit[i]; u >= 0 {
			unit = b.vals[u]
		}
		out, ok, err := r.result(b.vals[b.field[i]], unit)
		if err != nil {
			// The sequential path would have made the earlier rules'
			// changes first, and one of them may fail.
			if _, aerr := b.apply(doc); aerr != nil {
				return aerr
			}
			return err
		}
		if !ok {
			continue
		}
		b.edit.SetFloat(r.field, out)
		b.opPath = append(b.opPath, r.field)
		if r.unitField != "" {
			b.edit.SetString(r.unitField, r.toName)
			b.opPath = append(b.opPath, r.unitField)
		}
	}
	if b.edit.Len() == 0 {
		return nil
	}
	out, err := b.apply(doc)
	if err != nil {
		return err
	}
	m.SetPayload(out)
	return nil
}

// apply applies the edit to doc, a valid document, naming the path of a
// failing operation as the sequential path does.
func (b *batchPlan) apply(doc []byte) ([]byte, error) {
	if b.edit.Len() == 0 {
		return doc, nil
	}
	out, err := b.edit.AppendApply(b.out[:0], doc)
	if err != nil {
		var ee *jsonfield.EditError
		if errors.As(err, &ee) && ee.Index < len(b.opPath) {
			return nil, fmt.Errorf("units: %s: %w", b.opPath[ee.Index], ee.Err)
		}
		return nil, fmt.Errorf("units: payload is not JSON: %w", err) // never: doc was found valid
	}
	b.out = out
	return out, nil
}

// apply returns doc with r applied, or nil when r does not apply to doc.
func (r *rule) apply(doc []byte) ([]byte, error) {
	val, _ := jsonfield.Get(doc, r.field)
	var unit jsonfield.Value
	if r.unitField != "" && val.Kind() != jsonfield.Invalid {
		unit, _ = jsonfield.Get(doc, r.unitField)
	}
	out, ok, err := r.result(val, unit)
	if err != nil || !ok {
		return nil, err
	}
	doc, err = jsonfield.SetFloat(doc, r.field, out)
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

// result is the converted number for the value val found at r.field and
// unit found at r.unitField (kind Invalid when absent), and whether r
// applies: it does not when val is absent, the unit is unknown and passed,
// or the units are of another dimension.
func (r *rule) result(val, unit jsonfield.Value) (float64, bool, error) {
	if val.Kind() == jsonfield.Invalid {
		return 0, false, nil
	}
	from, hasFrom := r.from, r.hasFrom
	if r.unitField != "" {
		if uv := unit; uv.Kind() != jsonfield.Invalid {
			if uv.Kind() != jsonfield.String {
				return 0, false, fmt.Errorf("units: %s: want a string naming a unit, got a JSON %s", r.unitField, uv.Kind())
			}
			u, known := lookupUnitValue(uv)
			if !known {
				if r.passUnknown {
					return 0, false, nil
				}
				name, _ := uv.Text()
				return 0, false, fmt.Errorf("units: %s: unknown unit %q", r.unitField, name)
			}
			from, hasFrom = u, true
		}
	}
	if !hasFrom || from.dim != r.to.dim {
		return 0, false, nil // no unit, or another quantity (e.g. humidity in percent): not ours
	}
	f, isNum := val.Float()
	if !isNum {
		return 0, false, fmt.Errorf("units: %s: want a number, got %s", r.field, val.Raw())
	}
	out := convertValue(f, from, r.to)
	if r.round < 0 {
		out = significant(out)
	} else {
		if p := math.Pow10(r.round); !math.IsInf(out*p, 0) {
			out = math.Round(out*p) / p
		}
	}
	return out, true, nil
}

// significant rounds f to 12 significant digits, dropping the noise of
// floating-point arithmetic (100 °C is 212 °F, not 211.99999999999991).
func significant(f float64) float64 {
	var buf [32]byte
	g, err := strconv.ParseFloat(string(strconv.AppendFloat(buf[:0], f, 'g', 12, 64)), 64)
	if err != nil {
		return f
	}
	return g
}
