package wasmhost

import (
	"context"

	"github.com/tetratelabs/wazero/experimental"
)

// Linear memories.
//
// By default wazero keeps a module's linear memory in a Go slice that it grows with append:
// every growth copies the memory into a new slice and leaves the old one to the garbage
// collector, and the collector lets the heap reach twice what is live before it runs. With
// dozens of Go guests of several MiB each, that doubled the gateway's peak resident memory
// under load (wasmhost/memory_measure_test.go measured 697 MiB peak for 224 MiB live). So
// the Host gives wazero an allocator (withLinearMemory) that, where the platform allows
// (linearmemory_linux.go), reserves each memory's maximum as address space outside the Go
// heap and makes pages usable as the guest grows: growing never copies, the pages cost
// nothing until touched, and closing the instance gives them back to the system at once.
// Elsewhere, or when a reservation fails, the memory is a Go slice as wazero would make it.

// withLinearMemory returns ctx carrying the Host's linear memory allocator, for
// InstantiateModule.
func withLinearMemory(ctx context.Context) context.Context {
	return experimental.WithMemoryAllocator(ctx, experimental.MemoryAllocatorFunc(allocateLinearMemory))
}

// heapMemory is a linear memory in a Go slice, grown like wazero's own.
type heapMemory struct{ buf []byte }

func (m *heapMemory) Reallocate(size uint64) []byte {
	if size > uint64(cap(m.buf)) {
		grown := make([]byte, size, max(size, 2*uint64(cap(m.buf))))
		copy(grown, m.buf)
		m.buf = grown
	}
	m.buf = m.buf[:size]
	return m.buf
}

func (m *heapMemory) Free() { m.buf = nil }
