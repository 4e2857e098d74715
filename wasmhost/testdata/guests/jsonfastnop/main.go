// Command jsonfastnop is the baseline for the JSON benchmark guests: a Go
// SDK plugin that passes every message through unchanged, so its cost per
// message is the SDK's frame decode and encode plus the host's call.
package main

import "github.com/tributary-gw/tributary/sdk"

func init() { sdk.Map(func(*sdk.Message) error { return nil }) } // c-shared modules never run main

func main() {}
