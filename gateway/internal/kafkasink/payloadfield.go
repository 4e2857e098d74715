package kafkasink

import (
	"bytes"
	"errors"

	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/mqtttopic"
	"github.com/tributary-gw/tributary/sdk/jsonfield"
)

// KindMissingField: a {{.Payload "path"}} action of the route's to.topic or to.key found no
// field to render (no such field, a payload that is not JSON, a field that is null, an object
// or an array) and the route's to.missing is dead_letter, the default.
const KindMissingField = "missing_field"

// Errors of payloadFields.AppendPayloadField, the reasons a payload field has no text.
var (
	errFieldNotFound = errors.New("not found")
	errNotJSON       = errors.New("the payload is not JSON")
)

// payloadFields is what a route's templates read when they have {{.Payload "path"}}
// actions: the message's MQTT fields and the fields of the output's payload (the chain's
// output, before any envelope), with the route's to.missing policy.
type payloadFields struct {
	*Message
	payload []byte
	route   *Route
}

var _ mqtttopic.PayloadFields = (*payloadFields)(nil)

// AppendPayloadField appends the text of the payload's field at path (an sdk/jsonfield
// path): a string's unescaped value, a number as written, true or false. A field with no
// such text renders per the route's to.missing: nothing and an error for dead_letter, "" for
// empty, TEXT for default:TEXT. The payload is scanned only up to the field.
func (f *payloadFields) AppendPayloadField(dst []byte, path string) ([]byte, error) {
	v, err := jsonfield.Lookup(f.payload, path)
	if err == nil {
		switch v.Kind() {
		case jsonfield.String:
			raw := v.Raw()
			if bytes.IndexByte(raw, '\\') < 0 {
				return append(dst, raw[1:len(raw)-1]...), nil
			}
			s, _ := v.Text()
			return append(dst, s...), nil
		case jsonfield.Number, jsonfield.Bool:
			return append(dst, v.Raw()...), nil
		}
		err = errors.New("is " + v.Kind().String() + ", not a string, number or bool")
	} else if errors.Is(err, jsonfield.ErrNotFound) {
		err = errFieldNotFound
	} else {
		err = errNotJSON
	}
	switch {
	case f.route.missing == config.MissingEmpty:
		return dst, nil
	case f.route.missingDefault != nil:
		return append(dst, f.route.missingDefault...), nil
	}
	return dst, err
}

// missingField is the dead-letter reason for a payload field template key (to.topic or
// to.key) could not render.
func missingField(key string, err error, topic string) *Reason {
	return &Reason{Kind: KindMissingField, Stage: -1, Topic: topic, Err: key + ": " + err.Error()}
}

// renderTopic renders the route's topic template for output o of m.
func (r *Route) renderTopic(m *Message, o *Output) (string, *Reason) {
	if !r.topic.UsesPayload() {
		return string(r.topic.Append(nil, m)), nil
	}
	b, err := r.topic.Render(nil, &payloadFields{Message: m, payload: o.Payload, route: r})
	if err != nil {
		return "", missingField("to.topic", err, "")
	}
	return string(b), nil
}

// renderKey renders the route's key template for output o of m, to be the key of a record
// for topic.
func (r *Route) renderKey(m *Message, o *Output, topic string) ([]byte, *Reason) {
	if !r.keyPayload {
		return r.key.Append(nil, m), nil
	}
	b, err := r.key.Render(nil, &payloadFields{Message: m, payload: o.Payload, route: r})
	if err != nil {
		return nil, missingField("to.key", err, topic)
	}
	return b, nil
}

// setMissing applies a route's to.missing.
func (r *Route) setMissing(m config.MissingField) {
	r.missing = m
	if text, ok := m.Default(); ok {
		r.missingDefault = []byte(text)
	}
}
