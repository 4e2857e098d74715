// Package jsonimports implements the optional JSON imports of module
// tributary (sdk/ABI.md §2.1: json_parse, json_get, json_set, json_delete,
// json_float, json_set_float, json_edit, json_find, json_children) as an
// extension a host registers explicitly:
//
//	host, err := wasmhost.NewHost(ctx, wasmhost.HostConfig{Extensions: jsonimports.Functions()})
//
// # Why
//
// The imports run sdk/jsonfield natively on the guest's memory, so a
// guest's JSON field access costs native time instead of what Go compiled
// to wasm costs (several times more, more again under the host's
// termination checks). sdk/jsonfield calls them from a wasm guest and runs
// the same code natively elsewhere, so results are identical by
// construction; a C guest declares them from sdk/c/tributary.h.
//
// What the imports accept, return and write (duplicate keys, depth,
// escapes, number range, invalid UTF-8, the result for each bad input) is
// specified normatively in sdk/ABI.md §2.1.1, not here; this package follows
// it by calling sdk/jsonfield, and the conformance kit's json vectors check
// it through a guest.
//
// The import names and result codes are defined in sdk/abi (the wire
// format both sides share), not here and not in sdk/jsonfield; sdk/jsonfield
// checks its //go:wasmimport directives against them in a test. wasmhost
// knows none of this: it adds whatever [hostfunc.Function] values it is
// given to module tributary next to log, and rejects guests importing a
// function that was not registered.
//
// # Imports
//
// This package imports sdk/abi, sdk/jsonfield, wasmhost/hostfunc and
// wazero's api package; never wasmhost, which must not depend on a guest
// library. Guest pointers are checked with hostfunc's accessors: a range
// outside memory fails the call (Kind BadResult in wasmhost).
package jsonimports
