package wasmhost

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
)

// childSysProcAttr puts the child in a process group of its own (killed
// whole) and kills it when the parent dies.
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// childDataBaseline returns the process's data segment now (VmData), which
// RLIMIT_DATA counts, or 0 when unknown.
func childDataBaseline() int64 { return procStatus("VmData") }

// peakRSS returns the process's resident set high-water mark (VmHWM), or 0.
// (The child's rusage ru_maxrss is no use: after a vfork-style spawn it
// includes the parent's resident set.)
func peakRSS() int64 { return procStatus("VmHWM") }

// procStatus returns a size field of /proc/self/status in bytes, or 0.
func procStatus(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	_, rest, ok := bytes.Cut(b, []byte("\n"+field+":"))
	if !ok {
		return 0
	}
	line, _, _ := bytes.Cut(rest, []byte("\n"))
	kb, err := strconv.ParseInt(string(bytes.TrimSuffix(bytes.TrimSpace(line), []byte(" kB"))), 10, 64)
	if err != nil {
		return 0
	}
	return kb << 10
}
