//go:build !linux

package wasmhost

import "github.com/tetratelabs/wazero/experimental"

// allocateLinearMemory makes a linear memory in a Go slice: address-space reservations are
// used on Linux only (linearmemory_linux.go).
func allocateLinearMemory(capBytes, _ uint64) experimental.LinearMemory {
	return &heapMemory{buf: make([]byte, 0, capBytes)}
}
