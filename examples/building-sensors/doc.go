// Package buildingsensors is the building-sensors example: the seed project's route from the
// MQTT topics building/# to Kafka, as two runnable configuration files (tributary.yaml, raw
// records; tributary-envelope.yaml, the seed's JSON envelope) and, later, sample plugins under
// plugins/NAME.
//
// The Go side only embeds the configuration files, so `tributary dev` can run the example from
// any working directory. Use RawConfig and EnvelopeConfig. The package imports nothing of ours;
// its plugins import only sdk.
package buildingsensors
