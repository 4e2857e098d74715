package mqtttopic

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Fields is what a Template reads from a message. The gateway's message type implements it;
// tests use small structs. Implementations should not allocate: a pointer receiver keeps
// the interface conversion free.
type Fields interface {
	// Topic returns the MQTT topic name the message was published to.
	Topic() string
	// Property returns the value of the first MQTT v5 user property called name,
	// or "" when there is none.
	Property(name string) string
}

// PayloadFields is Fields that can also read fields of the payload a record is made of, for
// {{.Payload "path"}}. A Template renders such an action only through a PayloadFields;
// through a plain Fields it renders "".
type PayloadFields interface {
	Fields
	// AppendPayloadField appends the text of the payload's field at path to dst and returns
	// the extended buffer, or dst and an error saying why there is nothing to render (no such
	// field, a payload that is not JSON, a field that is an object). Path is as written in
	// the template: a dot-separated path, its meaning the implementation's (the gateway's is
	// sdk/jsonfield's). An implementation may instead append a replacement and return nil:
	// that is how a route renders a missing field as empty or as a default.
	AppendPayloadField(dst []byte, path string) ([]byte, error)
}

// FieldError is the error of [Template.Render] when a payload field cannot be rendered.
type FieldError struct {
	// Path is the field's path as written in {{.Payload "path"}}.
	Path string
	// Err says why, as returned by PayloadFields.AppendPayloadField.
	Err error
}

// Error implements error.
func (e *FieldError) Error() string {
	return fmt.Sprintf("payload field %q: %v", e.Path, e.Err)
}

// Unwrap returns e.Err.
func (e *FieldError) Unwrap() error { return e.Err }

// maxSegment is the largest N accepted in {{.Segment N}}: a topic of MaxLength bytes has
// fewer levels than this.
const maxSegment = MaxLength

// Template renders a Kafka topic or record key from a message. It is compiled once by
// ParseTemplate, is immutable, and is safe for concurrent use.
//
// The syntax is a subset of text/template: literal text plus the actions
//
//	{{.Topic}}            the whole MQTT topic
//	{{.Segment N}}        level N of the topic, counting from 0; "" when out of range
//	{{.Property "name"}}  the first MQTT v5 user property called name; "" when absent
//	{{.Payload "path"}}   the payload's field at path (such as "device_id" or "meta.site"),
//	                      through PayloadFields; see Render for a field that is missing
//
// Spaces, tabs and newlines are allowed inside the braces around and between the parts of
// an action. A template's output is what text/template would print for a value whose
// Topic, Segment, Property and Payload methods behave as described (Payload returning the
// field's text, or "" when it has none).
type Template struct {
	src    string
	parts  []part
	record bool // from ParseRecordTemplate: rendered by AppendRecord
}

type partKind uint8

const (
	partText partKind = iota
	partTopic
	partSegment
	partProperty
	partPayload
	partKey        // record templates: the record key
	partHeader     // record templates: a header's value
	partKafkaTopic // record templates: the Kafka topic the record was read from
)

// part is one piece of a compiled template.
type part struct {
	kind partKind
	text string // literal text, the property name or the payload field's path
	n    int    // segment index
}

// TemplateError reports why a template was rejected.
type TemplateError struct {
	// Template is the rejected source as given.
	Template string
	// Col is the 1-based byte column where the problem starts.
	Col int
	// Reason says what is wrong.
	Reason string
}

// Error implements error.
func (e *TemplateError) Error() string {
	return fmt.Sprintf("invalid template %q: col %d: %s", e.Template, e.Col, e.Reason)
}

const supportedActions = `{{.Topic}}, {{.Segment N}}, {{.Property "name"}} or {{.Payload "path"}}`

const supportedRecordActions = `{{.Key}}, {{.Header "name"}}, {{.KafkaTopic}} or {{.Payload "path"}}`

// RecordFields is what a record template (ParseRecordTemplate) reads from a Kafka record on
// its way to MQTT, after the route's chain: its key, headers and source topic.
type RecordFields interface {
	// Key returns the record key, "" when it has none.
	Key() string
	// Header returns the value of the first header called name, or "" when there is none.
	Header(name string) string
	// KafkaTopic returns the Kafka topic the record was consumed from.
	KafkaTopic() string
}

// ParseTemplate compiles s. Text outside "{{ }}" is copied as is (a single "{" or "}" is
// literal text); each action must be one of {{.Topic}}, {{.Segment N}} with N a decimal
// integer without leading zeros, {{.Property "name"}} with name a Go string literal
// (double-quoted or back-quoted), or {{.Payload "path"}} with path a non-empty Go string
// literal.
//
// # Errors
//
// The error is a *TemplateError naming the column and the offending action: unknown or
// malformed actions, an unclosed "{{", and a "}}" outside an action are all errors.
func ParseTemplate(s string) (*Template, error) { return parse(s, false) }

// ParseRecordTemplate compiles a template rendered from a Kafka record (a reverse route's
// MQTT topic): literal text plus the actions
//
//	{{.Key}}            the record key (as the chain left it)
//	{{.Header "name"}}  the first header called name (as the chain left the headers)
//	{{.KafkaTopic}}     the Kafka topic the record was consumed from
//	{{.Payload "path"}} the payload's field at path, through RecordPayloadFields
//
// Render it with AppendRecord. The MQTT actions of ParseTemplate are errors here, and these
// are errors there.
func ParseRecordTemplate(s string) (*Template, error) { return parse(s, true) }

func parse(s string, record bool) (*Template, error) {
	t := &Template{src: s, record: record}
	fail := func(at int, format string, args ...any) (*Template, error) {
		return nil, &TemplateError{Template: s, Col: at + 1, Reason: fmt.Sprintf(format, args...)}
	}
	pos := 0
	for pos < len(s) {
		open := strings.Index(s[pos:], "{{")
		text := s[pos:]
		if open >= 0 {
			text = s[pos : pos+open]
		}
		if i := strings.Index(text, "}}"); i >= 0 {
			return fail(pos+i, "}} outside an action")
		}
		if text != "" {
			t.parts = append(t.parts, part{kind: partText, text: text})
		}
		if open < 0 {
			break
		}
		start := pos + open
		p, end, reason := parseAction(s, start+2, record)
		if reason != "" {
			want := supportedActions
			if record {
				want = supportedRecordActions
			}
			return fail(start, "action %q: %s (want %s)", actionText(s, start, end), reason, want)
		}
		t.parts = append(t.parts, p)
		pos = end
	}
	return t, nil
}

// actionText returns the action starting at start for error messages: up to end when the
// parser got that far, else up to the next "}}" or a bounded prefix.
func actionText(s string, start, end int) string {
	if end <= start {
		if i := strings.Index(s[start+2:], "}}"); i >= 0 {
			end = start + 2 + i + 2
		} else {
			end = len(s)
		}
	}
	if end-start > 64 {
		return s[start:start+61] + "..."
	}
	return s[start:end]
}

// parseAction parses one action whose body starts at i (just after "{{"). It returns the
// part and the index just after the closing "}}", or a reason. end is set as far as the
// closing braces were found, for the error message.
func parseAction(s string, i int, record bool) (p part, end int, reason string) {
	i = skipSpace(s, i)
	if i >= len(s) {
		return p, 0, "not closed with }}"
	}
	if s[i] != '.' {
		return p, 0, "unsupported"
	}
	j := i + 1
	for j < len(s) && isIdentByte(s[j]) {
		j++
	}
	name := s[i+1 : j]
	switch {
	case !record && name == "Topic":
		p.kind = partTopic
	case !record && name == "Segment":
		p.kind = partSegment
	case !record && name == "Property":
		p.kind = partProperty
	case name == "Payload":
		p.kind = partPayload
	case record && name == "Key":
		p.kind = partKey
	case record && name == "Header":
		p.kind = partHeader
	case record && name == "KafkaTopic":
		p.kind = partKafkaTopic
	default:
		return p, 0, "unsupported"
	}
	k := skipSpace(s, j)
	if p.kind == partPayload && k == j && k < len(s) && s[k] == '.' {
		e := j + 1
		for e < len(s) && (isIdentByte(s[e]) || s[e] == '.') {
			e++
		}
		return p, 0, fmt.Sprintf("the path is a quoted argument: write {{.Payload %q}}", s[j+1:e])
	}
	if p.kind == partSegment || p.kind == partProperty || p.kind == partHeader || p.kind == partPayload {
		if k == j {
			return p, 0, fmt.Sprintf("missing argument to .%s", name)
		}
		var r string
		if p.kind == partSegment {
			p.n, k, r = parseIndex(s, k)
		} else {
			p.text, k, r = parseString(s, k, name)
			if r == "" && p.kind == partPayload && p.text == "" {
				r = "argument to .Payload must be a non-empty field path"
			}
		}
		if r != "" {
			return p, 0, r
		}
		k = skipSpace(s, k)
	}
	if !strings.HasPrefix(s[k:], "}}") {
		if !strings.Contains(s[k:], "}}") {
			return p, 0, "not closed with }}"
		}
		return p, 0, fmt.Sprintf("unexpected %q after .%s", s[k:k+1], name)
	}
	return p, k + 2, ""
}

// parseIndex reads a decimal segment index at i.
func parseIndex(s string, i int) (n, end int, reason string) {
	j := i
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	switch {
	case j == i:
		return 0, 0, "argument to .Segment must be a decimal integer"
	case s[i] == '0' && j-i > 1:
		return 0, 0, "argument to .Segment must not have leading zeros"
	case j < len(s) && !isSpace(s[j]) && s[j] != '}':
		return 0, 0, "argument to .Segment must be a decimal integer"
	}
	n, err := strconv.Atoi(s[i:j])
	if err != nil || n > maxSegment {
		return 0, 0, fmt.Sprintf("argument to .Segment must be at most %d", maxSegment)
	}
	return n, j, ""
}

// parseString reads a Go string literal at i.
func parseString(s string, i int, action string) (v string, end int, reason string) {
	want := "argument to ." + action + " must be a quoted string"
	if i >= len(s) || (s[i] != '"' && s[i] != '`') {
		return "", 0, want
	}
	q := s[i]
	j := i + 1
	for ; j < len(s) && s[j] != q; j++ {
		if q == '"' && s[j] == '\\' {
			j++
		} else if q == '"' && s[j] == '\n' {
			return "", 0, "newline in string"
		}
	}
	if j >= len(s) {
		return "", 0, "unterminated string"
	}
	v, err := strconv.Unquote(s[i : j+1])
	if err != nil {
		return "", 0, "invalid string literal"
	}
	if j+1 < len(s) && !isSpace(s[j+1]) && s[j+1] != '}' {
		return "", 0, want
	}
	return v, j + 1, ""
}

func skipSpace(s string, i int) int {
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return i
}

// isSpace matches text/template's white space inside actions.
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// String returns the template source as given to ParseTemplate.
func (t *Template) String() string { return t.src }

// UsesPayload reports whether the template has a {{.Payload "path"}} action, so that
// rendering it reads the payload.
func (t *Template) UsesPayload() bool {
	for _, p := range t.parts {
		if p.kind == partPayload {
			return true
		}
	}
	return false
}

// PayloadPaths returns the paths of the template's {{.Payload "path"}} actions, in order.
func (t *Template) PayloadPaths() []string {
	var out []string
	for _, p := range t.parts {
		if p.kind == partPayload {
			out = append(out, p.text)
		}
	}
	return out
}

// IsStatic reports whether the template has no actions, so it renders to String() for
// every message.
func (t *Template) IsStatic() bool {
	for _, p := range t.parts {
		if p.kind != partText {
			return false
		}
	}
	return true
}

// Append renders the template for f, appends the result to dst and returns the extended
// buffer. A payload field that f cannot render renders as "" (Render reports it instead).
// Without {{.Payload}} actions it allocates at most once, and only when dst lacks capacity:
// it measures the output first and grows dst to fit. Reuse the returned buffer (dst[:0]) to
// render without allocating.
func (t *Template) Append(dst []byte, f Fields) []byte {
	dst, _ = t.Render(dst, f)
	return dst
}

// Render is Append that reports a payload field f cannot render: it renders the rest of
// the template (that field as "") and returns the first such field's *FieldError. Fields
// that are not PayloadFields render every payload field as "" without an error.
func (t *Template) Render(dst []byte, f Fields) ([]byte, error) {
	var first error
	n := 0
	for _, p := range t.parts {
		switch p.kind {
		case partText:
			n += len(p.text)
		case partTopic:
			n += len(f.Topic())
		case partSegment:
			n += len(segment(f.Topic(), p.n))
		case partProperty:
			n += len(f.Property(p.text))
		case partPayload:
			n += 16 // measured when rendered: a lookup is worth doing once
		}
	}
	dst = slices.Grow(dst, n)
	for _, p := range t.parts {
		switch p.kind {
		case partText:
			dst = append(dst, p.text...)
		case partTopic:
			dst = append(dst, f.Topic()...)
		case partSegment:
			dst = append(dst, segment(f.Topic(), p.n)...)
		case partProperty:
			dst = append(dst, f.Property(p.text)...)
		case partPayload:
			dst = appendPayloadField(dst, f, p.text, &first)
		}
	}
	return dst, first
}

// appendPayloadField appends payload field path through f when f can read payload fields
// (PayloadFields, RecordPayloadFields), and renders nothing otherwise; the first field that
// cannot be rendered is kept in *first as a *FieldError.
func appendPayloadField(dst []byte, f any, path string, first *error) []byte {
	pf, ok := f.(interface {
		AppendPayloadField(dst []byte, path string) ([]byte, error)
	})
	if !ok {
		return dst
	}
	dst, err := pf.AppendPayloadField(dst, path)
	if err != nil && *first == nil {
		*first = &FieldError{Path: path, Err: err}
	}
	return dst
}

// segment returns level n of topic, counting from 0, or "" when topic has fewer levels.
func segment(topic string, n int) string {
	for ; n > 0; n-- {
		i := strings.IndexByte(topic, '/')
		if i < 0 {
			return ""
		}
		topic = topic[i+1:]
	}
	if i := strings.IndexByte(topic, '/'); i >= 0 {
		return topic[:i]
	}
	return topic
}

// RecordPayloadFields is RecordFields that can also read fields of the payload, for
// {{.Payload "path"}} in a record template (see PayloadFields.AppendPayloadField).
type RecordPayloadFields interface {
	RecordFields
	AppendPayloadField(dst []byte, path string) ([]byte, error)
}

// AppendRecord renders a record template (ParseRecordTemplate) for f, appends the result to
// dst and returns the extended buffer; it allocates as Append does. A {{.Payload "path"}}
// action renders through f when f is a RecordPayloadFields (else as ""); the first field
// that cannot be rendered is returned as a *FieldError. A template from ParseTemplate renders
// its literal text only.
func (t *Template) AppendRecord(dst []byte, f RecordFields) ([]byte, error) {
	var first error
	n := 0
	for _, p := range t.parts {
		switch p.kind {
		case partText:
			n += len(p.text)
		case partKey:
			n += len(f.Key())
		case partHeader:
			n += len(f.Header(p.text))
		case partKafkaTopic:
			n += len(f.KafkaTopic())
		case partPayload:
			n += 16
		}
	}
	dst = slices.Grow(dst, n)
	for _, p := range t.parts {
		switch p.kind {
		case partText:
			dst = append(dst, p.text...)
		case partKey:
			dst = append(dst, f.Key()...)
		case partHeader:
			dst = append(dst, f.Header(p.text)...)
		case partKafkaTopic:
			dst = append(dst, f.KafkaTopic()...)
		case partPayload:
			dst = appendPayloadField(dst, f, p.text, &first)
		}
	}
	return dst, first
}
