//go:build !unix

package wasmhost

import (
	"os"
	"runtime/debug"
	"syscall"
)

// applyChildLimits sets only the Go runtime's soft memory limit: outside unix
// the child's budget is the parent's wall-clock timeout alone.
func applyChildLimits(req childRequest) { debug.SetMemoryLimit(req.MemoryBytes) }

func childSysProcAttr() *syscall.SysProcAttr { return nil }

func killChild(p *os.Process) { _ = p.Kill() }

func cpuLimitHit(*os.ProcessState) bool { return false }

func peakRSS() int64 { return 0 }
