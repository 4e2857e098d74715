package main

import "github.com/tributary-gw/tributary/sdk"

func init() {
	sdk.OnInit(configure)
	sdk.Map(reshape)
}

// main is never run: c-shared wasm modules are driven through their exports.
func main() {}
