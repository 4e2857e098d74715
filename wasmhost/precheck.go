package wasmhost

// ModuleLimits bound what an untrusted module may declare. [Precheck] enforces them on the
// module's bytes before anything is compiled, so a small file cannot make compilation or
// instantiation take unbounded time or memory. The zero value of each field means its default.
type ModuleLimits struct {
	// MaxModuleBytes bounds the size of the .wasm file.
	MaxModuleBytes int
	// MaxFunctions bounds the functions a module imports and defines together.
	MaxFunctions int
	// MaxNesting bounds how deeply blocks, loops and ifs nest inside one function.
	MaxNesting int
	// MaxLocals bounds the locals of one function.
	MaxLocals int
	// MaxMemoryPages bounds the initial size a module declares for its memory, in 64 KiB pages.
	MaxMemoryPages uint32
	// MaxTableElements bounds the initial size a module declares for each table.
	MaxTableElements uint32
}

// withDefaults returns l with every zero field set to its default.
func (l ModuleLimits) withDefaults() ModuleLimits { return l }

// Precheck checks the structure of wasm against lim without compiling it. Placeholder: the
// real check replaces it.
func Precheck(wasm []byte, lim ModuleLimits) error { return nil }

// startExport is the export a module's start function is moved to by moveStart.
const startExport = "tributary_start"

// moveStart returns wasm with its start section removed and the start function exported as
// startExport, so the host can run it under the call watchdog after instantiation. hadStart
// reports whether there was a start section. Placeholder: the real rewrite replaces it.
func moveStart(wasm []byte) (out []byte, hadStart bool, err error) { return wasm, false, nil }
