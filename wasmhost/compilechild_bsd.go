//go:build unix && !linux

package wasmhost

import (
	"syscall"
)

// childSysProcAttr puts the child in a process group of its own (killed whole).
func childSysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// childDataBaseline returns 0: outside Linux the data segment is not known
// cheaply, and RLIMIT_DATA is at best loosely enforced.
func childDataBaseline() int64 { return 0 }

// peakRSS returns 0: ru_maxrss units differ between these systems.
func peakRSS() int64 { return 0 }
