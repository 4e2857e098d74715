// Package pluginkit is the logic behind `tributary plugin new|build|test`, the plugin
// author's loop:
//
//   - New creates a plugin's source folder from an embedded template (registration in
//     main.go, a config-driven JSON field edit in NAME.go with sdk/jsonfield, native tests,
//     README, sample input) that builds and passes its tests as created in any folder: outside
//     the Tributary module it writes the SDK's source the binary carries (sdksource) beside
//     it and a go.mod pointing there, and NextSteps returns the commands that follow;
//   - Build compiles a plugin folder to wasm (through wasmbuild.GoBuild) and checks the module
//     with wasmhost before putting it in place;
//   - ReadInputs parses a JSON-lines file of MQTT messages (with what earlier stages left:
//     Kafka topic, key, headers), and Test runs them through a compiled plugin on the
//     gateway's own path (wasmhost.Pool and Chain), with no broker, under the limits given,
//     reporting outputs, filtered messages and dead letters per input, the plugin's log lines
//     at every level (LogCapture), and what it costs: start-up apart, then per message on a
//     warmed instance.
//
// It may import wasmhost, sdk/abi and sdk/wasmbuild; never gateway.
// The main entry points are New, Build and Test.
package pluginkit
