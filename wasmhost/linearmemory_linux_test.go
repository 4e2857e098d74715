package wasmhost

import (
	"testing"
	"unsafe"
)

// TestMappedMemory: a reserved linear memory grows in place, reads zero where it grew, keeps
// what was written, and refuses to grow beyond its maximum.
func TestMappedMemory(t *testing.T) {
	const page = wasmPageSize
	m, ok := allocateLinearMemory(page, 4*page).(*mappedMemory)
	if !ok {
		t.Fatal("allocateLinearMemory did not reserve a mapping on Linux")
	}
	defer m.Free()
	b := m.Reallocate(page)
	if len(b) != page {
		t.Fatalf("Reallocate(1 page) = %d bytes", len(b))
	}
	b[page-1] = 7
	grown := m.Reallocate(3 * page)
	if len(grown) != 3*page || unsafe.SliceData(grown) != unsafe.SliceData(b) {
		t.Fatalf("growing to 3 pages gave %d bytes at a new address: it must grow in place", len(grown))
	}
	if grown[page-1] != 7 || grown[2*page] != 0 || grown[3*page-1] != 0 {
		t.Fatal("grown memory lost a write or is not zero where it grew")
	}
	grown[3*page-1] = 1 // writable
	if got := m.Reallocate(5 * page); got != nil {
		t.Fatalf("Reallocate beyond the maximum = %d bytes, want nil (memory.grow fails)", len(got))
	}
}
