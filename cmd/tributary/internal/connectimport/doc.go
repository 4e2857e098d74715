// Package connectimport turns a Kafka Connect MQTT source connector configuration into an
// equivalent Tributary configuration: the logic of `tributary import-connect`.
//
// It knows two connector families: Confluent's MQTT source
// (io.confluent.connect.mqtt.MqttSourceConnector, keys mqtt.*, kafka.topic, confluent.*) and
// Lenses' Stream Reactor MQTT source (io.lenses.streamreactor.connect.mqtt.source.MqttSourceConnector,
// keys connect.mqtt.*, with one route per KCQL statement). Both accept the Connect REST shape
// {"name": ..., "config": {...}} and a flat config object.
//
// What cannot be mapped is never dropped silently: each such key yields a Warning, which
// also appears as a comment in the YAML. Secrets (passwords, JAAS configs, key store
// passwords) are never copied into the output or a warning; the YAML says which
// TRIBUTARY_* variable or *_file key to set instead. Values of keys it does not know are never
// printed, since they might be secrets.
//
// The main entry point is [Convert]. The package imports gateway/config only for names
// (environment prefix, envelope values); it must not import gateway or wasmhost.
package connectimport
