// Command split is the first-party Tributary plugin that turns one JSON
// message holding an array into one message per element, optionally copying
// fields of the parent into each element. See README.md for the
// configuration; the logic lives in split.go. A message costs one
// jsonfield.Fields.Find (the array and the parent fields), one walk of the
// array, and per element with copy or index_field one jsonfield.Edit;
// reference_test.go keeps the former implementation and checks that the
// two give the same outputs and errors.
//
// Build it with GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared. It
// imports only the standard library and the Tributary SDK (sdk, sdk/jsonfield),
// never gateway or wasmhost. Entry point: the handler registered in main.go's
// init, configured by the route stage's config (decoded in an sdk.OnInit hook,
// so bad configuration fails the load).
package main
