// Command sparkplug is the Tributary plugin that decodes Eclipse Sparkplug B
// payloads (protobuf) into JSON, one record per payload or per metric, with
// the topic namespace parsed into fields; see README.md for the
// configuration and the output.
//
// It owns a hand-written protobuf reader (pb.go), the decoder and JSON
// renderer (sparkplug.go) and a fast path for shortest float formatting
// (float.go). The hot path allocates nothing per message: the decoded
// payload, the output buffer, the per-metric output messages, the parsed
// topic with its rendered header and the rendered metric names are reused
// between calls (a wasm instance is single-threaded, and the SDK copies
// outputs into its result frame when the handler returns).
// reference_test.go keeps the code before that work; differential_test.go
// checks that the outputs and errors are byte-identical.
//
// Build it with GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared. It
// imports only the standard library and the Tributary SDK (sdk,
// sdk/jsonfield), never gateway or wasmhost. Entry point: the handler
// registered in main.go's init, configured by the route stage's config
// (decoded in an sdk.OnInit hook, so a bad mode fails the load).
package main
