package config

import (
	"bytes"
	"fmt"
	"net/url"
	"reflect"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// redactedValue replaces a set secret in printed output.
const redactedValue = "[redacted]"

// Redacted returns the configuration as YAML with the keys of the file, in the order of
// the Config type (nil lists and mappings left out), durations written like "1h0m0s", and every set secret (and a password in
// mqtt.url) replaced by "[redacted]". It is what `tributary validate` prints. Apart from
// the secrets, loading the output again gives the same configuration.
func (c *Config) Redacted() ([]byte, error) {
	cp := *c
	cp.MQTT.URL = redactURL(cp.MQTT.URL)
	cp.Kafka.SchemaRegistry.URL = redactURL(cp.Kafka.SchemaRegistry.URL)
	n, err := toNode(reflect.ValueOf(&cp).Elem(), true)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return nil, fmt.Errorf("config: encoding YAML: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("config: encoding YAML: %w", err)
	}
	return buf.Bytes(), nil
}

// redactURL hides the password of a URL's user info; unparsable URLs are returned as is
// (Validate reports them, without the value).
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); !ok {
		return s
	}
	// Redacted writes "xxxxx"; say it the way every other secret is said.
	return strings.Replace(u.Redacted(), ":xxxxx@", ":"+redactedValue+"@", 1)
}

// defaultsMap is Default() as the nested map koanf loads first.
func defaultsMap() (map[string]any, error) {
	n, err := toNode(reflect.ValueOf(Default()).Elem(), false)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := n.Decode(&m); err != nil {
		return nil, fmt.Errorf("config defaults: %w", err)
	}
	return m, nil
}

var (
	secretType       = reflect.TypeFor[Secret]()
	schemaType       = reflect.TypeFor[Schema]()
	missingFieldType = reflect.TypeFor[MissingField]()
)

// toNode renders v as a YAML node: structs as mappings keyed by their koanf tags in field
// order, durations as strings, secrets redacted when redact is set.
func toNode(v reflect.Value, redact bool) (*yaml.Node, error) {
	switch {
	case v.Type() == durationType:
		return scalar(v.Interface().(fmt.Stringer).String()), nil
	case v.Type() == secretType:
		s := string(v.Interface().(Secret))
		if redact && s != "" {
			s = redactedValue
		}
		return scalar(s), nil
	case v.Kind() == reflect.Struct:
		n := &yaml.Node{Kind: yaml.MappingNode}
		t := v.Type()
		for i := range t.NumField() {
			tag := t.Field(i).Tag.Get("koanf")
			if tag == "" || tag == "-" {
				continue
			}
			if f := v.Field(i); (f.Kind() == reflect.Slice || f.Kind() == reflect.Map) && f.IsNil() {
				continue // absent, as in the file; an empty list or mapping would load as non-nil
			}
			if f := v.Field(i); f.Type() == schemaType && f.IsZero() {
				continue // a route without value_schema or key_schema
			}
			if f := v.Field(i); f.Type() == missingFieldType && f.IsZero() {
				continue // a route without to.missing: payload fields dead-letter when missing
			}
			val, err := toNode(v.Field(i), redact)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, scalar(tag), val)
		}
		return n, nil
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Struct:
		n := &yaml.Node{Kind: yaml.SequenceNode}
		for i := range v.Len() {
			item, err := toNode(v.Index(i), redact)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, item)
		}
		return n, nil
	}
	n := &yaml.Node{}
	if err := n.Encode(v.Interface()); err != nil {
		return nil, fmt.Errorf("config: encoding %s: %w", v.Type(), err)
	}
	if v.Kind() == reflect.Slice || (v.Kind() == reflect.Map && v.Len() == 0) {
		n.Style = yaml.FlowStyle
	}
	return n, nil
}

func scalar(s string) *yaml.Node {
	n := &yaml.Node{}
	_ = n.Encode(s) // encoding a string cannot fail; Encode picks the quoting
	return n
}
