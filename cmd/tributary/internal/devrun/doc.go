// Package devrun is the body of `tributary dev`: it builds the example plugins and the
// first-party plugins (plugins/NAME) the example's chains use when their .wasm is missing or
// stale, from the repository checkout it runs in or else from the source carried in the
// binary, loads the building-sensors example configuration, starts the
// embedded MQTT broker and in-memory Kafka (devstack), the gateway, the simulated fleet
// (fleet) and the live view (devview), and stops them in order when the context ends. The
// gateway's admin API is on, with an operator token made for the session (or given) that the
// banner prints with curl lines; the gateway runs on a per-session copy of the built plugins,
// so uploads through the API do not outlive the session.
//
// The main entry point is Run. It may import anything of ours; cmd/tributary/dev.go only
// parses flags into Options.
package devrun
