// Command sparkplug is the Tributary plugin that decodes Eclipse Sparkplug B
// payloads (protobuf) into JSON, one record per payload or per metric, with
// the topic namespace parsed into fields; see README.md.
package main

import "github.com/tributary-gw/tributary/sdk"

func init() {
	sdk.OnInit(configure)
	sdk.Handle(handle)
}

func main() {}
