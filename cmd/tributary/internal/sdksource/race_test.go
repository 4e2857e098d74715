//go:build race

package sdksource

// raceEnabled is true when this test binary was built with -race.
const raceEnabled = true
