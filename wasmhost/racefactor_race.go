//go:build race

package wasmhost

// raceMemoryFactor scales the compile child's RLIMIT_DATA under the race
// detector, whose shadow memory counts against it (about 3.5 bytes for each
// heap byte, measured on linux/amd64), so race-built tests compile under the
// same effective budget as production.
const raceMemoryFactor = 4

// raceEnabled reports a build with the race detector.
const raceEnabled = true
