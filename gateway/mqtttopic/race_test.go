//go:build race

package mqtttopic_test

// raceEnabled is true under -race, which adds allocations of its own; allocation counts
// are only asserted without it.
const raceEnabled = true
