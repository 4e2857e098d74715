// Command jsonfast is the benchmark guest for the SDK's JSON path: it reads
// the number at "value" of each payload with sdk/jsonfield and writes
// "value_f" (the value in Fahrenheit) back, leaving the rest of the
// document as it was. Its twin, jsonstd, does the same with encoding/json.
package main

import (
	"errors"

	"github.com/tributary-gw/tributary/sdk"
	"github.com/tributary-gw/tributary/sdk/jsonfield"
)

func init() { sdk.Map(fahrenheit) } // c-shared modules never run main

func main() {}

func fahrenheit(m *sdk.Message) error {
	v, ok := jsonfield.Get(m.Payload(), "value")
	if !ok {
		return errors.New("no field value")
	}
	c, ok := v.Float()
	if !ok {
		return errors.New("field value is not a number")
	}
	out, err := jsonfield.SetFloat(m.Payload(), "value_f", c*9/5+32)
	if err != nil {
		return err
	}
	m.SetPayload(out)
	return nil
}
