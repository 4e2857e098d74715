// Command stamp is a test plugin: it adds the header "stamp" with the value of its config's
// "stamp" member, so a test can tell which configuration handled a message.
package main

import "github.com/tributary-gw/tributary/sdk"

var conf struct {
	Stamp string `json:"stamp"`
}

func init() {
	sdk.OnInit(func([]byte) error { return sdk.Config(&conf) })
	sdk.Map(func(m *sdk.Message) error {
		m.SetHeader("stamp", conf.Stamp)
		return nil
	})
}

func main() {}
