// Command jsonfastdiff runs one sdk/jsonfield call per message, so a test
// can compare jsonfield inside a wasm guest (where it uses the host's JSON
// imports) with jsonfield run natively. The message topic names the call,
// the payload is the document, and the properties "path" and "value" are
// its arguments. The output payload is the call's outcome, formatted by
// outcome (the same function the test uses natively).
package main

import (
	"fmt"
	"strconv"

	"github.com/tributary-gw/tributary/sdk"
	"github.com/tributary-gw/tributary/sdk/jsonfield"
)

func init() { sdk.Map(run) } // c-shared modules never run main

func main() {}

func run(m *sdk.Message) error {
	path, _ := m.Property("path")
	value, _ := m.Property("value")
	m.SetPayload([]byte(outcome(m.Topic(), m.Payload(), path, value)))
	return nil
}

// outcome runs op on doc and formats what it returned. Keep it identical to
// jsonOutcome in wasmhost/jsonimports/jsonimports_test.go.
func outcome(op string, doc []byte, path, value string) string {
	show := func(b []byte, err error) string {
		if err != nil {
			return "error: " + err.Error()
		}
		return "ok: " + string(b)
	}
	switch op {
	case "parse":
		v, err := jsonfield.Parse(doc)
		return show(v.Raw(), err)
	case "lookup":
		v, err := jsonfield.Lookup(doc, path)
		return show(v.Raw(), err)
	case "get":
		v, ok := jsonfield.Get(doc, path)
		return fmt.Sprintf("%v %s", ok, v.Raw())
	case "value.get":
		v, ok := jsonfield.Value{}.Get(path)
		if p, err := jsonfield.Parse(doc); err == nil {
			v, ok = p.Get(path)
		}
		return fmt.Sprintf("%v %s", ok, v.Raw())
	case "float":
		v, _ := jsonfield.Get(doc, path)
		f, ok := v.Float()
		return fmt.Sprintf("%v %v", ok, f)
	case "set":
		return show(jsonfield.Set(doc, path, []byte(value)))
	case "setstring":
		return show(jsonfield.SetString(doc, path, value))
	case "setfloat":
		f, _ := strconv.ParseFloat(value, 64)
		return show(jsonfield.SetFloat(doc, path, f))
	case "delete":
		return show(jsonfield.Delete(doc, path))
	case "edit", "edit.move", "edit.select":
		var e jsonfield.Edit
		switch op {
		case "edit":
			e.Set(path, []byte(value))
			e.SetDefault("site", []byte(value))
			e.SetFloat(path+"_f", 1.5)
			e.Delete("rssi")
			e.SetString("unit", value)
		case "edit.move":
			e.Move(path, "moved.to")
			e.SetInt("n", 7)
			e.Move("moved", path+".x")
		case "edit.select":
			e.Select(path, "value", "a.b", path+".x")
			e.Set("b", []byte(value))
		}
		return show(e.Apply(doc))
	case "find":
		f := jsonfield.NewFields(path, "value", "a.b.2.c", "absent", value)
		vals := make([]jsonfield.Value, f.Len())
		v, err := f.Find(doc, vals)
		s := show(v.Raw(), err)
		for _, x := range vals {
			s += fmt.Sprintf(" [%s %s]", x.Kind(), x.Raw())
		}
		return s
	case "children":
		v, err := jsonfield.Parse(doc)
		if err != nil {
			return "error: " + err.Error()
		}
		if path != "" {
			v, _ = v.Get(path)
		}
		s := v.Kind().String() + ":"
		for k, x := range v.Members() {
			s += fmt.Sprintf(" %q=%s", k, x.Raw())
			if k == value {
				break
			}
		}
		for i, x := range v.Elements() {
			s += fmt.Sprintf(" %d=%s", i, x.Raw())
			if x.Kind() == jsonfield.String && string(x.Raw()) == `"`+value+`"` {
				break
			}
		}
		return s
	}
	return "unknown op " + op
}
