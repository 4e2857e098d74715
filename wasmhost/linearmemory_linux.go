package wasmhost

import (
	"syscall"

	"github.com/tetratelabs/wazero/experimental"
)

// allocateLinearMemory reserves maxBytes of address space for a linear memory, none of it
// usable yet (PROT_NONE costs no memory and counts against no commit limit), or falls back to
// a Go slice when the reservation fails.
func allocateLinearMemory(capBytes, maxBytes uint64) experimental.LinearMemory {
	if maxBytes > 0 && maxBytes <= 1<<32 {
		b, err := syscall.Mmap(-1, 0, int(maxBytes), syscall.PROT_NONE, syscall.MAP_PRIVATE|syscall.MAP_ANON|syscall.MAP_NORESERVE)
		if err == nil {
			return &mappedMemory{reserved: b}
		}
	}
	return &heapMemory{buf: make([]byte, 0, capBytes)}
}

// mappedMemory is a linear memory in an anonymous mapping of its maximum size, of which the
// first usable bytes are readable and writable. Pages read as zero until written.
type mappedMemory struct {
	reserved []byte
	usable   uint64
}

// Reallocate makes the first size bytes usable; the mapping never moves. It returns nil (the
// guest's memory.grow fails) when the system refuses.
func (m *mappedMemory) Reallocate(size uint64) []byte {
	if m.reserved == nil || size > uint64(len(m.reserved)) {
		return nil
	}
	if size > m.usable {
		if err := syscall.Mprotect(m.reserved[m.usable:size], syscall.PROT_READ|syscall.PROT_WRITE); err != nil {
			return nil
		}
		m.usable = size
	}
	return m.reserved[:size:size]
}

// Free unmaps the memory. The instance must not run again.
func (m *mappedMemory) Free() {
	if m.reserved != nil {
		_ = syscall.Munmap(m.reserved)
		m.reserved, m.usable = nil, 0
	}
}
