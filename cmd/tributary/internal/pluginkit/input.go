package pluginkit

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/tributary-gw/tributary/sdk/abi"
)

// Input is one message of a `plugin test` input file, as the gateway would hand it to a chain.
type Input struct {
	// Line is the 1-based line of the file the message was read from.
	Line int
	// Message is the message, with Route and ArrivedAtMs left for the runner to set.
	Message abi.Message
}

// inputLine is the JSON form of one input line; see ReadInputs.
type inputLine struct {
	Topic         string          `json:"topic"`
	Payload       json.RawMessage `json:"payload"`
	PayloadBase64 *string         `json:"payload_base64"`
	QoS           *int            `json:"qos"`
	Retain        bool            `json:"retain"`
	ContentType   string          `json:"content_type"`
	Properties    properties      `json:"properties"`
	ArrivedAtMs   int64           `json:"arrived_at_ms"`
	Tenant        string          `json:"tenant"`
	KafkaTopic    string          `json:"kafka_topic"`
	Key           *string         `json:"key"`
	KeyBase64     *string         `json:"key_base64"`
	Headers       properties      `json:"headers"`
}

// properties decodes a JSON object of strings keeping its member order, which is the order
// of MQTT v5 user properties.
type properties []abi.Property

func (p *properties) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok == nil {
		*p = nil
		return nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errors.New(`want an object of strings, like {"site":"hq"}`)
	}
	for dec.More() {
		name, err := dec.Token()
		if err != nil {
			return err
		}
		var value string
		if err := dec.Decode(&value); err != nil {
			return fmt.Errorf("%s: want a string value", name)
		}
		*p = append(*p, abi.Property{Name: name.(string), Value: value})
	}
	_, err = dec.Token()
	return err
}

// InputFormat documents the input file for `tributary plugin test --help`.
const InputFormat = `One JSON object per line (blank lines are skipped):
  {"topic": "building/f1/temp",      MQTT topic (required)
   "payload": {"temp": 21.5},        any JSON value, used as its compact JSON text; a JSON
                                     string is used as its text: "payload": "21.5" is 21.5
   "payload_base64": "AAEC",         binary payload instead of "payload" (not both)
   "qos": 1,                         0, 1 or 2 (default 1)
   "retain": false,
   "content_type": "application/json",
   "properties": {"site": "hq"},     MQTT v5 user properties, in order
   "arrived_at_ms": 1732500000000,   arrival time (default: when the test starts)
   "tenant": "acme",                 tenant the route belongs to (default "": top level)
   "kafka_topic": "telemetry",       Kafka topic, key and headers as an earlier chain stage
   "key": "sensor-1",                left them: what this plugin sees as the message's
   "key_base64": "AAE=",             (binary key instead of "key", not both; "key": "" is an
   "headers": {"schema": "v2"}}      empty key, no key at all the route's default)
No payload at all is an empty payload. Unknown keys are errors. Every key but "topic" is
optional, so a line of earlier versions ({"topic", "payload", ...}) reads as before.`

// ReadInputs reads a `plugin test` input file from r: one JSON object per line, as described
// by InputFormat. name labels errors ("input.jsonl:3: ...").
//
// # Errors
//
// The first bad line, as NAME:LINE: and what is wrong with it (malformed JSON, an unknown key,
// a missing topic, a QoS outside 0..2, both payload forms, bad base64), or a read error.
// A file with no message is an error too.
func ReadInputs(r io.Reader, name string) ([]Input, error) {
	br := bufio.NewReader(r)
	var inputs []Input
	for line := 1; ; line++ {
		text, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(text)) > 0 {
			msg, perr := parseInput(text)
			if perr != nil {
				return nil, fmt.Errorf("%s:%d: %w", name, line, perr)
			}
			inputs = append(inputs, Input{Line: line, Message: msg})
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
	}
	if len(inputs) == 0 {
		return nil, fmt.Errorf("%s: no messages: want one JSON object per line", name)
	}
	return inputs, nil
}

// ReadInputFile opens path and reads it with ReadInputs.
func ReadInputFile(path string) ([]Input, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("input file: %w", err)
	}
	defer f.Close()
	return ReadInputs(f, path)
}

func parseInput(text []byte) (abi.Message, error) {
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.DisallowUnknownFields()
	var in inputLine
	if err := dec.Decode(&in); err != nil {
		return abi.Message{}, fmt.Errorf("malformed input: %w", err)
	}
	if dec.More() {
		return abi.Message{}, errors.New("malformed input: more than one JSON value on the line")
	}
	m := abi.Message{Topic: in.Topic, Retain: in.Retain, ContentType: in.ContentType, Properties: in.Properties,
		ArrivedAtMs: in.ArrivedAtMs, QoS: 1, Tenant: in.Tenant, KafkaTopic: in.KafkaTopic, Headers: in.Headers}
	switch {
	case in.Topic == "":
		return m, errors.New(`"topic" is required`)
	case strings.ContainsAny(in.Topic, "+#"):
		return m, fmt.Errorf("topic %q: wildcards are for filters, not message topics", in.Topic)
	}
	if in.QoS != nil {
		if *in.QoS < 0 || *in.QoS > 2 {
			return m, fmt.Errorf(`"qos" %d: want 0, 1 or 2`, *in.QoS)
		}
		m.QoS = byte(*in.QoS)
	}
	switch {
	case in.Key != nil && in.KeyBase64 != nil:
		return m, errors.New(`"key" and "key_base64" are exclusive`)
	case in.Key != nil:
		m.Key, m.KeySet = []byte(*in.Key), true
	case in.KeyBase64 != nil:
		b, err := base64.StdEncoding.DecodeString(*in.KeyBase64)
		if err != nil {
			return m, fmt.Errorf(`"key_base64": %w`, err)
		}
		m.Key, m.KeySet = b, true
	}
	hasPayload := len(in.Payload) > 0 && string(in.Payload) != "null"
	switch {
	case hasPayload && in.PayloadBase64 != nil:
		return m, errors.New(`"payload" and "payload_base64" are exclusive`)
	case in.PayloadBase64 != nil:
		b, err := base64.StdEncoding.DecodeString(*in.PayloadBase64)
		if err != nil {
			return m, fmt.Errorf(`"payload_base64": %w`, err)
		}
		m.Payload = b
	case hasPayload && in.Payload[0] == '"':
		var s string
		if err := json.Unmarshal(in.Payload, &s); err != nil {
			return m, fmt.Errorf(`"payload": %w`, err)
		}
		m.Payload = []byte(s)
	case hasPayload:
		var buf bytes.Buffer
		if err := json.Compact(&buf, in.Payload); err != nil {
			return m, fmt.Errorf(`"payload": %w`, err)
		}
		m.Payload = buf.Bytes()
	}
	return m, nil
}

// ParseConfig turns the --config argument into the JSON object handed to the plugin's init:
// inline JSON, or @FILE for a file holding it. "" means "{}".
//
// # Errors
//
// An unreadable file, or text that is not one JSON object, naming the flag or the file.
func ParseConfig(arg string) ([]byte, error) {
	what, raw := "--config", []byte(arg)
	if path, ok := strings.CutPrefix(arg, "@"); ok {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("--config file: %w", err)
		}
		what, raw = "--config file "+path, b
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return []byte("{}"), nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		if err == nil {
			err = errors.New("null")
		}
		return nil, fmt.Errorf("%s: want a JSON object: %w", what, err)
	}
	var buf bytes.Buffer
	_ = json.Compact(&buf, raw) // valid: just unmarshalled
	return buf.Bytes(), nil
}
