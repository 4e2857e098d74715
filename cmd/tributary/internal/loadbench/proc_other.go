//go:build !unix

package loadbench

import (
	"errors"
	"time"
)

// selfCPU is not available on this system; the result says so instead of a CPU figure.
func selfCPU() (time.Duration, error) {
	return 0, errors.New("cpu time of this process: not measured on this system")
}
