// Package hostfunc defines a host function of module tributary (sdk/ABI.md
// §2) as a value, so that extensions of the ABI (such as the JSON imports of
// §2.1, package wasmhost/jsonimports) are written apart from wasmhost and
// registered with it explicitly (wasmhost.HostConfig.Extensions), and
// holds the guest-memory accessors such functions need.
//
// It imports only wazero's api package: wasmhost and every extension import
// it, and it imports neither.
//
// # Guest pointers
//
// A guest's pointers are never trusted. [Bytes] and [I64s] panic with
// [ErrGuestPointer] for a range outside the guest's memory; wazero recovers
// the panic and fails the guest's call with an error wrapping it, which
// wasmhost reports as a PluginError of Kind BadResult and retires the
// instance. Host functions must not panic with anything else on guest data.
package hostfunc

import (
	"errors"
	"math"
	"unsafe"

	"github.com/tetratelabs/wazero/api"
)

// Function is one host function of module tributary: its export name, its
// wasm signature and its implementation. wasmhost adds it with wazero's
// WithGoModuleFunction, so Func reads its parameters from and writes its
// results to the stack as [api.GoModuleFunc] describes.
//
// Func is called concurrently by instances of different plugins: it must be
// safe for concurrent use and must keep no reference to guest memory after
// it returns.
type Function struct {
	// Name is the import name in module tributary, for example
	// abi.ImportJSONGet.
	Name string
	// Params and Results are the wasm signature guests must import it with.
	Params, Results []api.ValueType
	// ParamNames name the parameters in wazero's function definitions (one
	// per Params entry, or none).
	ParamNames []string
	// Func is the implementation.
	Func api.GoModuleFunc
}

// ErrGuestPointer is the panic value of a host function handed a range
// outside the guest's memory ([Bytes], [I64s]). wazero wraps it with %w,
// so errors.Is finds it in the guest call's error.
var ErrGuestPointer = errors.New("guest passed a pointer outside its memory")

// Bytes returns the view [ptr, ptr+n) of the guest's memory (ptr and n are
// taken as u32, as the guest passed them). A range outside memory panics
// with [ErrGuestPointer]. The view is valid until the host function
// returns: the guest's memory cannot change or move before then.
func Bytes(mem api.Memory, ptr, n uint64) []byte {
	b, ok := mem.Read(uint32(ptr), uint32(n))
	if !ok {
		panic(ErrGuestPointer)
	}
	return b
}

// I64s returns the view of n i64 (8n bytes) at ptr in the guest's memory,
// panicking with [ErrGuestPointer] as [Bytes] does when it does not fit.
func I64s(mem api.Memory, ptr, n uint64) []byte {
	if n > math.MaxUint32/8 {
		panic(ErrGuestPointer)
	}
	return Bytes(mem, ptr, 8*n)
}

// String returns b, a view of guest memory, as a string without copying
// it. Only for the duration of a host function, and only for callees that
// keep no reference to the string after they return.
func String(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
