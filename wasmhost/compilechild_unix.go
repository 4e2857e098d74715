//go:build unix

package wasmhost

import (
	"os"
	"runtime"
	"runtime/debug"
	"syscall"
)

// applyChildLimits limits the compile child itself: its data segment (heap
// and every private writable mapping, including wazero's code buffers) to
// what it holds now plus req.MemoryBytes, its CPU time to twice the timeout
// (a backstop: the parent kills it on the wall-clock timeout), the Go
// runtime's soft memory limit to req.MemoryBytes (the GC works harder before
// the hard limit fails an allocation), and its threads to two. RLIMIT_AS is
// not used: the Go runtime reserves address space far beyond what it uses.
func applyChildLimits(req childRequest) {
	runtime.GOMAXPROCS(min(2, runtime.GOMAXPROCS(0)))
	debug.SetMemoryLimit(req.MemoryBytes)
	if req.MemoryBytes > 0 {
		lim := uint64(childDataBaseline()) + uint64(req.MemoryBytes)*raceMemoryFactor
		setRlimit(syscall.RLIMIT_DATA, lim)
	}
	if req.Timeout > 0 {
		secs := uint64(2*req.Timeout.Seconds()) + 1
		setRlimit(syscall.RLIMIT_CPU, secs)
	}
}

// setRlimit sets the soft and hard limit of resource res to v.
func setRlimit(res int, v uint64) {
	var rl syscall.Rlimit
	setTo(&rl.Cur, v) // int64 on some systems, uint64 on others
	setTo(&rl.Max, v)
	_ = syscall.Setrlimit(res, &rl)
}

func setTo[T ~int64 | ~uint64](p *T, v uint64) { *p = T(min(v, 1<<62)) }

// killChild kills the child's process group.
func killChild(p *os.Process) {
	_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
	_ = p.Kill()
}

// cpuLimitHit reports whether the kernel stopped the child for its
// RLIMIT_CPU (SIGXCPU, or SIGKILL at the hard limit).
func cpuLimitHit(ps *os.ProcessState) bool {
	ws, ok := ps.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() {
		return false
	}
	return ws.Signal() == syscall.SIGXCPU || ws.Signal() == syscall.SIGKILL
}
