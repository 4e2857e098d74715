//go:build unix

package loadbench

import (
	"fmt"
	"syscall"
	"time"
)

// selfCPU returns this process's user plus system CPU time (getrusage), which is more
// precise than /proc's clock ticks.
func selfCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("cpu time of this process: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}
