package schemaenc

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"unsafe"
)

// InvalidError says why a payload does not fit its schema: the record is not produced and its
// message goes to the route's dead letters (kind schema_invalid).
type InvalidError struct {
	// Path is the JSON Pointer of the value that does not fit ("/readings/2/temp"); "" for
	// the whole document, or when the library checking it does not say (Protobuf).
	Path string
	// Reason says what is wrong with it.
	Reason string
}

func (e *InvalidError) Error() string {
	if e.Path == "" {
		return e.Reason
	}
	return e.Path + ": " + e.Reason
}

// decodeJSON reads one JSON document, numbers as json.Number so that integers keep every
// digit.
func decodeJSON(doc []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, &InvalidError{Reason: "not JSON: " + err.Error()}
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return nil, &InvalidError{Reason: "not JSON: data after the document"}
	}
	return v, nil
}

// jsonKind names the JSON type of v for error messages.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return "?"
}

// pointerToken escapes one JSON Pointer reference token (RFC 6901).
func pointerToken(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// quoteJSON returns s as a JSON string.
func quoteJSON(s []byte) []byte {
	b, _ := json.Marshal(string(s)) // a string always marshals
	return b
}

// bytesString views b as a string without copying, for parsing it; the string must not
// outlive b nor be kept.
func bytesString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
