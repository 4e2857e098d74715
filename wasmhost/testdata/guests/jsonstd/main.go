// Command jsonstd is the encoding/json twin of jsonfast: it decodes each
// payload into a map[string]any, reads "value", sets "value_f" (the value
// in Fahrenheit) and encodes the map again, as a plugin written without the
// SDK's JSON path would.
package main

import (
	"encoding/json"
	"errors"

	"github.com/tributary-gw/tributary/sdk"
)

func init() { sdk.Map(fahrenheit) } // c-shared modules never run main

func main() {}

func fahrenheit(m *sdk.Message) error {
	var doc map[string]any
	if err := json.Unmarshal(m.Payload(), &doc); err != nil {
		return err
	}
	c, ok := doc["value"].(float64)
	if !ok {
		return errors.New("field value is not a number")
	}
	doc["value_f"] = c*9/5 + 32
	out, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	m.SetPayload(out)
	return nil
}
