// Command enrich is the Tributary plugin that adds fields to JSON payloads
// from a lookup table held in its configuration; see README.md. The logic
// lives in enrich.go: per message one jsonfield Fields.Find (the key and,
// for top-level fields, which of them the payload already has) and, when
// the fields cannot simply be appended, one jsonfield Edit.
//
// Build it with GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared. It
// imports only the standard library and the Tributary SDK (sdk, sdk/jsonfield),
// never gateway or wasmhost. Entry point: the handler registered in main.go's
// init, configured by the route stage's config (decoded in an sdk.OnInit hook,
// so bad configuration fails the load).
package main
