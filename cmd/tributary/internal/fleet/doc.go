// Package fleet simulates a building's sensors for `tributary dev`: N multi-sensor devices
// spread over three floors, each reporting temperature, humidity and CO2 as a random walk,
// published as JSON over a real MQTT v5 connection (paho autopaho) at QoS 1 and a fixed total
// rate.
//
// Topics are building/floor{1..3}/room{NNN}/sensor/{id}/{temperature|humidity|co2}; payloads
// are Reading values, about 180 bytes each.
//
// The main entry point is New followed by (*Fleet).Run. The package imports nothing of ours.
package fleet
