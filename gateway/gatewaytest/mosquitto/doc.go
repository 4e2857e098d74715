// Package mosquitto runs a Mosquitto broker process on a loopback port with a generated
// configuration: find the binary ([Find]), write mosquitto.conf and a password file ([New]),
// start it and wait until it accepts connections ([Process.Start]), stop, kill or restart it
// on the same port with the same state. The gateway's tests (through gateway/gatewaytest's
// Mosquitto) and `tributary bench --mosquitto` and the soak use it, so tests and benchmarks
// run the same broker configuration.
//
// It imports only the standard library and nothing of ours.
package mosquitto
