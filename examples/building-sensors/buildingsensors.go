package buildingsensors

import _ "embed"

//go:embed tributary.yaml
var rawConfig string

//go:embed tributary-envelope.yaml
var envelopeConfig string

// Dir is this example's folder relative to the repository root. Its routes' plugins are
// first-party ones (plugins/NAME of the repository).
const Dir = "examples/building-sensors"

// RawConfig returns the contents of tributary.yaml: all of building/# into the Kafka topic
// mqtt_building_sensors_raw, payload unchanged, key = MQTT topic. The caller owns the
// returned slice.
func RawConfig() []byte { return []byte(rawConfig) }

// EnvelopeConfig returns the contents of tributary-envelope.yaml: all of building/# into
// mqtt_building_sensors_envelope as the JSON envelope {"mqtt_topic","arrived_at_ms","payload","qos"},
// key = MQTT topic. The caller owns the returned slice.
func EnvelopeConfig() []byte { return []byte(envelopeConfig) }
