//go:build wasip1

package sdk

// The raw ABI v1 surface (sdk/ABI.md §1, §2). Everything else in this
// package is target-independent and tested natively.

import (
	"runtime"
	"unsafe"
)

//go:wasmimport tributary log
func tributaryLog(level int32, ptr unsafe.Pointer, n uint32)

func hostLog(level Level, msg string) {
	tributaryLog(int32(level), unsafe.Pointer(unsafe.StringData(msg)), uint32(len(msg)))
}

// inBuf is the one buffer the host writes frames and the config into.
var (
	inBuf  []byte
	errBuf []byte
)

//go:wasmexport tributary_abi_v1
func abiMarker() {}

//go:wasmexport tributary_alloc
func alloc(size uint32) uint32 {
	if size == 0 {
		size = 1
	}
	if uint32(cap(inBuf)) < size {
		inBuf = make([]byte, size)
	}
	inBuf = inBuf[:cap(inBuf)]
	return ptrOf(inBuf)
}

//go:wasmexport tributary_init
func exportInit(ptr, n uint32) uint64 {
	defer runtime.Gosched()
	raw, ok := view(ptr, n)
	if !ok {
		return packed(errorText("config: pointer outside the buffer from tributary_alloc"))
	}
	if err := Init(raw); err != nil {
		return packed(errorText(err.Error()))
	}
	return 0
}

//go:wasmexport tributary_handle
func exportHandle(ptr, n uint32) uint64 {
	defer runtime.Gosched() // lets the Go GC run; linear memory stays flat
	frame, ok := view(ptr, n)
	if !ok {
		Log(LevelError, "sdk: input frame outside the buffer from tributary_alloc")
		return 0
	}
	return packed(HandleFrame(frame))
}

// view returns [ptr, ptr+n) when it lies in inBuf, the only memory the host
// may write into.
func view(ptr, n uint32) ([]byte, bool) {
	if n == 0 {
		return nil, true
	}
	if len(inBuf) == 0 {
		return nil, false
	}
	base := ptrOf(inBuf)
	if ptr < base || uint64(ptr-base)+uint64(n) > uint64(len(inBuf)) {
		return nil, false
	}
	off := ptr - base
	return inBuf[off : off+n], true
}

func errorText(s string) []byte {
	if s == "" {
		s = "init failed" // an empty error would read as success
	}
	errBuf = append(errBuf[:0], s...)
	return errBuf
}

func packed(b []byte) uint64 {
	if len(b) == 0 {
		return 0
	}
	return uint64(ptrOf(b))<<32 | uint64(len(b))
}

func ptrOf(b []byte) uint32 { return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }
