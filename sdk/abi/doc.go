// Package abi is the Tributary plugin wire format, version 1: the constants
// that name a plugin's exports and imports, the input (batch) frame the host
// hands a guest and the result frame the guest hands back.
//
// The specification is sdk/ABI.md; this package is its Go implementation and
// is shared by both sides, so the format cannot drift between them:
//
//   - the host (wasmhost) encodes with [AppendBatch] and decodes with
//     [DecodeResults], which validates everything a guest could get wrong;
//   - a Go guest (package sdk) decodes with [DecodeBatch] and encodes with
//     [AppendResults].
//
// [Output.Apply] turns one stage's output into the next stage's input.
//
// # Aliasing
//
// Decoded byte slices (payloads, keys) alias the frame they were decoded
// from; decoded strings never do. Keep the frame unchanged while decoded
// values are in use, or copy what must outlive it. The host copies a result
// frame out of guest memory before decoding it.
//
// # Imports
//
// This package imports only the standard library and nothing of ours: it is
// the leaf both wasmhost and the guest SDK depend on.
package abi
