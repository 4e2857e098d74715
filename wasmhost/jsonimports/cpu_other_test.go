//go:build !unix

package jsonimports_test

import "time"

// cpuTime is not measured here: cpu-ns/msg reads 0.
func cpuTime() time.Duration { return 0 }
