// Package jsonfield reads and edits single fields of a JSON document in
// place, by dotted path, without building a tree and without reflection.
// It is the fast path for plugins that touch one or two fields of each
// payload: a lookup scans only up to the field, and an edit copies the
// document once around the changed span.
//
// A path is a dot-separated list of object keys and array indexes:
// "battery.pct", "tags.0", "readings.3.value". A segment that is a decimal
// number indexes an array when the value at that point is an array and is a
// key otherwise. A backslash escapes a dot or a backslash inside a key
// ("a\.b" is the key "a.b"). The empty path is the whole document.
//
// Entry points: [Get] and [Lookup] find a value; [Value] has typed
// accessors and iterators over members and elements; [Set] and its typed
// variants replace or insert a value (creating missing object levels);
// [Delete] removes one; [Parse] validates a whole document. A plugin that
// touches several fields of each message uses [Fields] (several lookups,
// one validation) and [Edit] (several changes, one validation and one
// copy), which cost much less than the same changes one by one
// (docs/RATIONALE.md, "sdk/jsonfield").
// [Edit.AppendApply] writes into a buffer the caller reuses.
//
// Malformed JSON is an error (or a false from Get), never a panic. Lookups
// validate what they scan, which is the document up to and including the
// value found; edits validate the whole document.
//
// The normative definition of what this package accepts and writes is
// sdk/ABI.md §2.1.1 (what is JSON, nesting depth, duplicate keys, string
// escapes and invalid UTF-8, number range, how paths select, where edits
// insert and how keys are written): the host's JSON imports are this
// package, and a guest in another language must match it byte for byte.
// The conformance kit (sdk/sdktest, its json vectors) checks both.
//
// # In a wasm guest
//
// Built with GOOS=wasip1, [Parse], [Lookup], [Get], [Value.Get],
// [Value.Float] (of numbers other than short decimals, which it parses
// itself), [Set] and its typed variants, [Delete], [Edit.Apply],
// [Fields.Find], [Value.Members] and [Value.Elements] call the optional
// host imports tributary.json_parse, json_get, json_float, json_set,
// json_set_float, json_delete, json_edit, json_find and json_children
// (sdk/ABI.md §2.1), which run this package natively on the guest's
// memory, faster than the same code compiled to wasm. Each call crosses
// into the host once, which is why Edit and Fields exist: one crossing per
// message instead of one per field. The results are the same values and the same
// errors (on a failure the Go code runs again to produce the error). The
// module then imports those functions, so it needs a host that has them
// (every Tributary host registers them, as the extension
// wasmhost/jsonimports). On other targets, and for the other functions, the
// Go code runs; it is what the tests and fuzzers cover, and
// wasmhost/jsonimports' tests compare the two paths.
//
// [AppendEdit], [FindPaths] and [AppendChildSpans] are the host's side of
// json_edit, json_find and json_children; plugins do not need them.
//
// This package imports only the standard library.
package jsonfield
