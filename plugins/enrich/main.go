package main

import "github.com/tributary-gw/tributary/sdk"

func init() {
	sdk.OnInit(configure)
	sdk.Handle(handle)
}

// main is never run: c-shared wasm modules are driven through their exports.
func main() {}
