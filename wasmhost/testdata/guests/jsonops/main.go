// Command jsonops is the benchmark guest for sdk/jsonfield's batched calls,
// chosen by the message topic: "edit" applies one Edit (SetFloat,
// SetString, Delete) to the payload with Edit.Apply, "edit-append" the same
// with Edit.AppendApply into a buffer reused across messages, "find" looks
// four fields up with one Fields.Find and leaves the payload as it is,
// "units" does both, as a unit-conversion plugin would (find "value",
// convert it, edit, into the reused buffer), and "nop" nothing (the floor
// under the others). Any other topic is an error.
package main

import (
	"errors"

	"github.com/tributary-gw/tributary/sdk"
	"github.com/tributary-gw/tributary/sdk/jsonfield"
)

func init() { sdk.Map(run) } // c-shared modules never run main

func main() {}

var (
	fields = jsonfield.NewFields("value", "unit", "device_id", "battery")
	vals   = make([]jsonfield.Value, fields.Len())
	edit   jsonfield.Edit
	buf    []byte // the payload set last; the SDK keeps it only until run returns
)

func run(m *sdk.Message) error {
	switch m.Topic() {
	case "nop":
		return nil
	case "edit", "edit-append":
		edit.Reset()
		edit.SetFloat("value_f", 70.25)
		edit.SetString("unit", "fahrenheit")
		edit.Delete("rssi")
		if m.Topic() == "edit" {
			out, err := edit.Apply(m.Payload())
			if err != nil {
				return err
			}
			m.SetPayload(out)
			return nil
		}
		return appendApply(m)
	case "find":
		if _, err := fields.Find(m.Payload(), vals); err != nil {
			return err
		}
		if vals[0].Kind() != jsonfield.Number || vals[2].Kind() != jsonfield.String {
			return errors.New("no value or device_id")
		}
		return nil
	case "units":
		if _, err := fields.Find(m.Payload(), vals); err != nil {
			return err
		}
		c, ok := vals[0].Float()
		if !ok {
			return errors.New("field value is not a number")
		}
		edit.Reset()
		edit.SetFloat("value_f", c*9/5+32)
		edit.SetString("unit", "fahrenheit")
		edit.Delete("rssi")
		return appendApply(m)
	}
	return errors.New("unknown topic " + m.Topic())
}

func appendApply(m *sdk.Message) error {
	out, err := edit.AppendApply(buf[:0], m.Payload())
	if err != nil {
		return err
	}
	buf = out
	m.SetPayload(out)
	return nil
}
