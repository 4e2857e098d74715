// Command topic-fields is the first-party Tributary plugin that turns MQTT
// topic segments into JSON payload fields, with an optional per-message
// Kafka key and topic built from them. See README.md for the
// configuration; the logic lives in topicfields.go: the captures are
// written with one jsonfield Edit per message.
//
// Build it with GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared. It
// imports only the standard library and the Tributary SDK (sdk, sdk/jsonfield),
// never gateway or wasmhost. Entry point: the handler registered in main.go's
// init, configured by the route stage's config (decoded in an sdk.OnInit hook,
// so bad configuration fails the load).
package main
