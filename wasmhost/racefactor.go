//go:build !race

package wasmhost

// raceMemoryFactor scales the compile child's RLIMIT_DATA: 1 without the
// race detector.
const raceMemoryFactor = 1
