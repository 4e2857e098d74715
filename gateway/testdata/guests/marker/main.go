// Command marker is a test plugin: it adds the header "marker" with the text after the colon
// of its marker string. Tests patch the built module's bytes ("marker:v1" to "marker:v2") to
// get a second version that differs in content and in what it stamps.
package main

import "github.com/tributary-gw/tributary/sdk"

// marker is found and patched in the .wasm by tests; keep its length.
var marker = "tributary-test-marker:v1"

func init() {
	sdk.Map(func(m *sdk.Message) error {
		m.SetHeader("marker", marker[len(marker)-2:])
		return nil
	})
}

func main() {}
