package main

import (
	"fmt"
	"strings"

	"github.com/tributary-gw/tributary/sdk"
	"github.com/tributary-gw/tributary/sdk/jsonfield"
)

// config is the plugin's configuration; see README.md.
type config struct {
	// Field is the path of the array; "" means the payload is the array.
	Field string `json:"field"`
	// Copy lists paths of the parent copied into each element (which must
	// then be an object), at the same path.
	Copy []string `json:"copy"`
	// IndexField, when set, is the path in each element that receives the
	// element's index in the array.
	IndexField string `json:"index_field"`
	// Missing is what a message without the array causes: "dead_letter"
	// (the default), "pass" (unchanged) or "drop".
	Missing string `json:"missing"`
	// Empty is what an empty array causes: "drop" (the default) or
	// "dead_letter".
	Empty string `json:"empty"`
}

var cfg config

// configure decodes and checks the configuration.
func configure([]byte) error {
	c := config{}
	if err := sdk.Config(&c); err != nil {
		return err
	}
	for i, p := range c.Copy {
		if p == "" {
			return fmt.Errorf("config: copy[%d]: empty path", i)
		}
		if c.Field != "" && (p == c.Field || strings.HasPrefix(c.Field, p+".")) {
			return fmt.Errorf("config: copy[%d]: %q holds the array being split", i, p)
		}
	}
	switch c.Missing {
	case "":
		c.Missing = "dead_letter"
	case "dead_letter", "pass", "drop":
	default:
		return fmt.Errorf("config: missing: %q is not dead_letter, pass or drop", c.Missing)
	}
	switch c.Empty {
	case "":
		c.Empty = "drop"
	case "drop", "dead_letter":
	default:
		return fmt.Errorf("config: empty: %q is not drop or dead_letter", c.Empty)
	}
	if c.Field == "" && len(c.Copy) > 0 {
		return fmt.Errorf("config: copy: needs field (a payload that is the array has no parent fields)")
	}
	cfg = c
	return nil
}

// split is the handler.
func split(m *sdk.Message) ([]*sdk.Message, error) {
	doc, err := jsonfield.Parse(m.Payload())
	if err != nil {
		return nil, fmt.Errorf("split: payload is not JSON: %w", err)
	}
	arr := doc
	if cfg.Field != "" {
		if doc.Kind() != jsonfield.Object {
			return nil, fmt.Errorf("split: payload is a JSON %s, want an object with %q", doc.Kind(), cfg.Field)
		}
		var found bool
		if arr, found = doc.Get(cfg.Field); !found {
			switch cfg.Missing {
			case "pass":
				return []*sdk.Message{m}, nil
			case "drop":
				return nil, nil
			}
			return nil, fmt.Errorf("split: no array at %q", cfg.Field)
		}
	}
	if arr.Kind() != jsonfield.Array {
		where := "payload"
		if cfg.Field != "" {
			where = cfg.Field
		}
		return nil, fmt.Errorf("split: %s is a JSON %s, want an array", where, arr.Kind())
	}
	// Parent fields to copy, looked up once.
	var copies []jsonfield.Value
	for _, p := range cfg.Copy {
		v, _ := doc.Get(p) // a missing field is not copied
		copies = append(copies, v)
	}
	var outs []*sdk.Message
	for i, el := range arr.Elements() {
		payload := el.Raw()
		if len(copies) > 0 || cfg.IndexField != "" {
			if el.Kind() != jsonfield.Object {
				return nil, fmt.Errorf("split: element %d is a JSON %s; copy and index_field need objects", i, el.Kind())
			}
			var err error
			for j, v := range copies {
				if v.Kind() == jsonfield.Invalid {
					continue
				}
				if _, has := el.Get(cfg.Copy[j]); has {
					continue // the element's own value wins
				}
				if payload, err = jsonfield.Set(payload, cfg.Copy[j], v.Raw()); err != nil {
					return nil, fmt.Errorf("split: element %d: copy %s: %w", i, cfg.Copy[j], err)
				}
			}
			if cfg.IndexField != "" {
				if payload, err = jsonfield.SetInt(payload, cfg.IndexField, int64(i)); err != nil {
					return nil, fmt.Errorf("split: element %d: %s: %w", i, cfg.IndexField, err)
				}
			}
		}
		c := m.Clone()
		c.SetPayload(payload)
		outs = append(outs, c)
	}
	if len(outs) == 0 && cfg.Empty == "dead_letter" {
		return nil, fmt.Errorf("split: empty array")
	}
	return outs, nil
}
