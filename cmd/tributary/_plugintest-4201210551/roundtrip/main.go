// Command roundtrip is a Tributary plugin: it scales one numeric JSON field of each message
// (value*scale + offset), as configured per route. See README.md.
//
// Build it with `tributary plugin build`; test the logic natively with `go test`.
package main

import "github.com/tributary-gw/tributary/sdk"

// A c-shared wasm module never runs main: the handler and the configuration hook are
// registered in init, which the runtime runs when the host instantiates the module.
func init() {
	sdk.OnInit(configure)
	sdk.Handle(handle)
}

func main() {}
