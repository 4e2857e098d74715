package schemaregistry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/bufbuild/protocompile/parser"
	"github.com/bufbuild/protocompile/reporter"
	"github.com/iskorotkov/avro/v2"
)

// identity is the key under which equal schemas share one id: the type,
// the text (JSON re-encoded for Avro and JSON Schema, so whitespace and key
// order do not matter) and the references.
func identity(s Schema) (string, *apiError) {
	var b strings.Builder
	b.WriteString(s.Type)
	b.WriteByte(0)
	switch s.Type {
	case TypeAvro, TypeJSON:
		var v any
		d := json.NewDecoder(strings.NewReader(s.Text))
		d.UseNumber()
		if err := d.Decode(&v); err != nil {
			return "", errInvalidSchema("%s schema is not JSON: %v", s.Type, err)
		}
		if d.More() {
			return "", errInvalidSchema("%s schema has data after its JSON value", s.Type)
		}
		norm, err := json.Marshal(v)
		if err != nil {
			return "", errInvalidSchema("%v", err)
		}
		b.Write(norm)
	case TypeProtobuf:
		b.WriteString(strings.TrimSpace(s.Text))
	default:
		return "", errInvalidSchema("unknown schemaType %q: want AVRO, PROTOBUF or JSON", s.Type)
	}
	for _, r := range s.References {
		fmt.Fprintf(&b, "\x00%s\x00%s\x00%d", r.Name, r.Subject, r.Version)
	}
	return b.String(), nil
}

// parseSchema validates s: refs are the schemas its references resolve to,
// in an order that defines each before its use. It returns the parsed Avro
// schema (nil for the other types).
func parseSchema(s Schema, refs []Schema) (any, error) {
	switch s.Type {
	case TypeAvro:
		cache := &avro.SchemaCache{}
		for _, r := range refs {
			if r.Type != TypeAvro {
				return nil, fmt.Errorf("reference of type %s in an Avro schema", r.Type)
			}
			if _, err := avro.ParseWithCache(r.Text, "", cache); err != nil {
				return nil, fmt.Errorf("referenced schema: %w", err)
			}
		}
		return avro.ParseWithCache(s.Text, "", cache)
	case TypeJSON:
		t := bytes.TrimSpace([]byte(s.Text))
		if len(t) == 0 || (t[0] != '{' && !bytes.Equal(t, []byte("true")) && !bytes.Equal(t, []byte("false"))) {
			return nil, errors.New("a JSON Schema is a JSON object or boolean")
		}
		return nil, nil
	case TypeProtobuf:
		h := reporter.NewHandler(nil)
		if _, err := parser.Parse("schema.proto", strings.NewReader(s.Text), h); err != nil {
			return nil, err
		}
		return nil, nil
	}
	return nil, fmt.Errorf("unknown schemaType %q", s.Type)
}

// compatible returns why next is incompatible with old at level (BACKWARD,
// FORWARD or FULL, without _TRANSITIVE); nothing when it is compatible or
// when the type has no checked rule (Protobuf, JSON Schema).
func compatible(next, old *schemaRecord, level string) []string {
	if next.schema.Type != old.schema.Type {
		return []string{fmt.Sprintf("schema type %s differs from %s", next.schema.Type, old.schema.Type)}
	}
	n, ok1 := next.parsed.(avro.Schema)
	o, ok2 := old.parsed.(avro.Schema)
	if !ok1 || !ok2 {
		return nil
	}
	c := avro.NewSchemaCompatibility()
	var msgs []string
	if level == CompatBackward || level == CompatFull {
		if err := c.Compatible(n, o); err != nil {
			msgs = append(msgs, "BACKWARD: the new schema cannot read data written with it: "+err.Error())
		}
	}
	if level == CompatForward || level == CompatFull {
		if err := c.Compatible(o, n); err != nil {
			msgs = append(msgs, "FORWARD: it cannot read data written with the new schema: "+err.Error())
		}
	}
	return msgs
}
