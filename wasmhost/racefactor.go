//go:build !race

package wasmhost

// raceMemoryFactor scales the compile child's RLIMIT_DATA: 1 without the
// race detector.
const raceMemoryFactor = 1

// raceEnabled reports a build with the race detector.
const raceEnabled = false
