package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/tributary-gw/tributary/sdk"
	"github.com/tributary-gw/tributary/sdk/jsonfield"
)

func init() {
	sdk.Handle(handle)
	sdk.OnInit(checkConfig)
}

func main() {}

// guestConfig is the conformance guest's configuration. A config with
// "fail_init" set to a non-empty text makes tributary_init fail with it.
type guestConfig struct {
	FailInit string `json:"fail_init"`
}

func checkConfig([]byte) error {
	var c guestConfig
	if err := sdk.Config(&c); err != nil {
		return err
	}
	if c.FailInit != "" {
		return errors.New(c.FailInit)
	}
	return nil
}

// held keeps "grow" allocations alive so memory really grows.
var held [][]byte

func handle(m *sdk.Message) ([]*sdk.Message, error) {
	cmd, arg, _ := strings.Cut(string(m.Payload()), ":")
	switch cmd {
	case "echo":
		return []*sdk.Message{m}, nil
	case "drop":
		return nil, nil
	case "set":
		m.SetPayload([]byte(arg))
		return []*sdk.Message{m}, nil
	case "split":
		n, err := strconv.Atoi(arg)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("split: bad count %q", arg)
		}
		outs := make([]*sdk.Message, n)
		for i := range outs {
			outs[i] = m.Clone()
			outs[i].SetPayload([]byte(strconv.Itoa(i)))
		}
		return outs, nil
	case "error":
		return nil, errors.New(arg)
	case "topic":
		m.SetKafkaTopic(arg)
		return []*sdk.Message{m}, nil
	case "key":
		m.SetKey([]byte(arg))
		return []*sdk.Message{m}, nil
	case "header":
		name, value, _ := strings.Cut(arg, "=")
		m.SetHeader(name, value)
		return []*sdk.Message{m}, nil
	case "meta":
		b, err := json.Marshal(metaOf(m))
		if err != nil {
			return nil, err
		}
		m.SetPayload(b)
		return []*sdk.Message{m}, nil
	case "json_parse", "json_get", "json_set", "json_delete", "json_float", "json_find", "json_children", "json_edit":
		out, err := jsonCommand(cmd, arg)
		if err != nil {
			return nil, err
		}
		m.SetPayload(out)
		return []*sdk.Message{m}, nil
	case "log":
		level, text, _ := strings.Cut(arg, ":")
		n, _ := strconv.Atoi(level)
		sdk.Log(sdk.Level(n), text)
		return []*sdk.Message{m}, nil
	case "panic":
		panic(arg)
	case "exit":
		n, _ := strconv.Atoi(arg)
		os.Exit(n)
	case "loop":
		for {
			held = held[:0]
		}
	case "grow":
		mib, _ := strconv.Atoi(arg)
		held = append(held, bytes.Repeat([]byte{1}, mib<<20))
		return []*sdk.Message{m}, nil
	}
	return nil, fmt.Errorf("unknown command %q", cmd)
}

// Meta is the JSON the "meta" command answers with; sdktest decodes the
// same shape.
type Meta struct {
	Topic       string      `json:"topic"`
	ContentType string      `json:"content_type"`
	Route       string      `json:"route"`
	Tenant      string      `json:"tenant"`
	QoS         byte        `json:"qos"`
	Retain      bool        `json:"retain"`
	ArrivedAtMs int64       `json:"arrived_at_ms"`
	KafkaTopic  string      `json:"kafka_topic"`
	Key         *string     `json:"key"`
	Properties  [][2]string `json:"properties"`
	Headers     [][2]string `json:"headers"`
}

func metaOf(m *sdk.Message) Meta {
	md := Meta{
		Topic: m.Topic(), ContentType: m.ContentType(), Route: m.Route(), Tenant: m.Tenant(),
		QoS: m.QoS(), Retain: m.Retain(), ArrivedAtMs: m.ArrivedAt().UnixMilli(),
		KafkaTopic: m.KafkaTopic(), Properties: pairs(m.Properties()), Headers: pairs(m.Headers()),
	}
	if k, ok := m.Key(); ok {
		s := string(k)
		md.Key = &s
	}
	return md
}

func pairs(ps []sdk.Property) [][2]string {
	out := make([][2]string, len(ps))
	for i, p := range ps {
		out[i] = [2]string{p.Name, p.Value}
	}
	return out
}

// The errors the json_* commands answer with (sdk/ABI.md, "Appendix:
// conformance guest"): the host imports' -1 and -2, and json_float's NaN.
var (
	errNotFound  = errors.New("not found")
	errMalformed = errors.New("malformed")
	errNaN       = errors.New("NaN")
)

// jsonCommand runs one json_* command with sdk/jsonfield, which calls the
// host's JSON imports (sdk/ABI.md §2.1) when built for wasm.
func jsonCommand(cmd, arg string) ([]byte, error) {
	path, rest, _ := strings.Cut(arg, "\n")
	switch cmd {
	case "json_parse":
		v, err := jsonfield.Parse([]byte(arg))
		return v.Raw(), jsonErr(err)
	case "json_get":
		v, err := jsonfield.Lookup([]byte(rest), path)
		return v.Raw(), jsonErr(err)
	case "json_set":
		val, doc, _ := strings.Cut(rest, "\n")
		out, err := jsonfield.Set([]byte(doc), path, []byte(val))
		return out, jsonErr(err)
	case "json_delete":
		out, err := jsonfield.Delete([]byte(rest), path)
		if err == nil && len(out) == len(rest) { // a deletion always removes bytes
			return nil, errNotFound
		}
		return out, jsonErr(err)
	case "json_find":
		return jsonFind(arg)
	case "json_children":
		spans, err := jsonfield.AppendChildSpans(nil, []byte(arg))
		if err != nil {
			return nil, errMalformed
		}
		var out []byte
		for i, sp := range spans {
			if i > 0 {
				out = append(out, ' ')
			}
			out = strconv.AppendInt(out, sp>>32, 10)
			out = append(out, ':')
			out = strconv.AppendInt(out, sp&0xffffffff, 10)
		}
		return out, nil
	case "json_edit":
		prog, err := hex.DecodeString(path)
		if err != nil {
			return nil, fmt.Errorf("json_edit: program: %w", err)
		}
		out, err := jsonfield.AppendEdit(nil, []byte(rest), prog)
		return out, jsonErr(err)
	default: // json_float
		v, err := jsonfield.Parse([]byte(arg))
		f, ok := v.Float()
		if err != nil || !ok || len(v.Raw()) != len(arg) {
			return nil, errNaN
		}
		out, err := jsonfield.SetFloat([]byte("0"), "", f)
		return out, jsonErr(err)
	}
}

func jsonErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, jsonfield.ErrNotFound):
		return errNotFound
	default:
		return errMalformed
	}
}

// jsonFind answers json_find: the paths are every LF-separated part of arg
// but the last, the document.
func jsonFind(arg string) ([]byte, error) {
	i := strings.LastIndexByte(arg, '\n')
	if i < 0 {
		return nil, errors.New("json_find: no paths")
	}
	doc := []byte(arg[i+1:])
	paths := strings.Split(arg[:i], "\n")
	vals := make([]jsonfield.Value, len(paths))
	v, err := jsonfield.NewFields(paths...).Find(doc, vals)
	if err != nil {
		return nil, jsonErr(err)
	}
	out := append([]byte(nil), v.Raw()...)
	for _, x := range vals {
		out = append(out, '\n')
		if x.Kind() == jsonfield.Invalid {
			out = append(out, '-')
			continue
		}
		out = append(out, x.Raw()...)
	}
	return out, nil
}
