package wasmhost

// Hand-made test modules come from wasmtest's assembler: broken plugins for
// the compile checks, and a passthrough guest with no language runtime for
// the example and the host-overhead benchmark.

import "github.com/tributary-gw/tributary/wasmhost/wasmtest"

const (
	i32 = wasmtest.I32
	i64 = wasmtest.I64
)

// passthroughModule returns wasmtest's passthrough guest, which answers a
// batch of up to 64 messages with each payload unchanged.
func passthroughModule() wasmtest.Module { return wasmtest.PassthroughModule(64) }
