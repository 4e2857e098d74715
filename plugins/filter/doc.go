// Command filter is the first-party Tributary plugin that keeps or drops
// JSON messages by conditions on their fields. See README.md for the
// configuration; the logic lives in filter.go: per message one jsonfield
// Fields.Find reads every field the conditions name, and a regex that is a
// plain literal (regex.go) is tested without the regexp engine.
//
// Build it with GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared. It
// imports only the standard library and the Tributary SDK (sdk, sdk/jsonfield),
// never gateway or wasmhost. Entry point: the handler registered in main.go's
// init, configured by the route stage's config (decoded in an sdk.OnInit hook,
// so bad configuration fails the load).
package main
