// Command units is the first-party Tributary plugin that converts numeric
// JSON fields between units (temperature, pressure, length, speed, mass,
// energy, power, volume, ratio) and optionally rewrites a unit field. See
// README.md for the configuration; the logic lives in units.go and the unit
// table in table.go. When no rule reads what an earlier one writes, a
// message costs one jsonfield Fields.Find and one Edit; otherwise the rules
// run one after the other.
//
// Build it with GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared. It
// imports only the standard library and the Tributary SDK (sdk, sdk/jsonfield),
// never gateway or wasmhost. Entry point: the handler registered in main.go's
// init, configured by the route stage's config (decoded in an sdk.OnInit hook,
// so bad configuration fails the load).
package main
