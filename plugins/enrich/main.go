// Command enrich is the Tributary plugin that adds fields to JSON payloads
// from a lookup table held in its configuration; see README.md.
package main

import "github.com/tributary-gw/tributary/sdk"

func init() {
	sdk.OnInit(configure)
	sdk.Handle(handle)
}

func main() {}
