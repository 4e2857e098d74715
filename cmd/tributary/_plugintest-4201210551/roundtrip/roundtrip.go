package main

import (
	"errors"
	"fmt"

	"github.com/tributary-gw/tributary/sdk"
	"github.com/tributary-gw/tributary/sdk/jsonfield"
)

// config is the route stage's configuration (the stage's `config:` in the gateway's YAML).
type config struct {
	// Field is the dotted path of the number to change: "temp", "reading.value", "values.0".
	Field string `json:"field"`
	// Scale multiplies the value.
	Scale float64 `json:"scale"`
	// Offset is added after scaling.
	Offset float64 `json:"offset"`
	// Unit, when set, is written as the Kafka header "unit" of every changed message.
	Unit string `json:"unit"`
	// DropMissing filters out messages without the field instead of passing them on unchanged.
	DropMissing bool `json:"drop_missing"`
}

// defaults turn degrees Celsius in "temp" into degrees Fahrenheit.
func defaults() config { return config{Field: "temp", Scale: 1.8, Offset: 32} }

// The configuration in force, and what each message reuses. A plugin instance handles one
// call at a time, so package state needs no locking. In a wasm guest every allocation costs
// hundreds of nanoseconds, so the hot path allocates nothing: the field is looked up with a
// jsonfield.Fields built once, and the payload is rebuilt into one buffer, which the SDK
// copies when handle returns.
var (
	cfg    = defaults()
	fields *jsonfield.Fields // cfg.Field; Find validates the payload and finds it in one pass
	vals   = make([]jsonfield.Value, 1)
	edit   jsonfield.Edit // the change to make, rebuilt for each message
	buf    []byte         // the new payload
)

// configure checks and stores the configuration. An error here fails the plugin's load,
// so a bad route config is reported when the gateway starts, not on the first message.
func configure([]byte) error {
	c := defaults()
	if err := sdk.Config(&c); err != nil {
		return err
	}
	if c.Field == "" {
		return errors.New("config: field must not be empty")
	}
	cfg, fields = c, jsonfield.NewFields(c.Field)
	return nil
}

// handle scales the configured field. A message without the field goes on unchanged (or is
// filtered with drop_missing); a payload that is not JSON, or a field that is not a number,
// is an error: the message goes to the route's dead-letter topic.
func handle(m *sdk.Message) ([]*sdk.Message, error) {
	if _, err := fields.Find(m.Payload(), vals); err != nil {
		return nil, fmt.Errorf("payload is not JSON: %w", err)
	}
	v := vals[0]
	if v.Kind() == jsonfield.Invalid { // the field is absent
		if cfg.DropMissing {
			return nil, nil // filtered
		}
		return sdk.One(m), nil
	}
	f, ok := v.Float()
	if !ok {
		return nil, fmt.Errorf("field %s: want a number, got %s", cfg.Field, v.Kind())
	}
	edit.Reset()
	edit.SetFloat(cfg.Field, f*cfg.Scale+cfg.Offset)
	out, err := edit.AppendApply(buf[:0], m.Payload())
	if err != nil {
		return nil, fmt.Errorf("field %s: %w", cfg.Field, err)
	}
	buf = out
	m.SetPayload(out)
	if cfg.Unit != "" {
		m.SetHeader("unit", cfg.Unit)
	}
	return sdk.One(m), nil
}
