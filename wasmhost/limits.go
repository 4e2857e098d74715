package wasmhost

import (
	"fmt"
	"time"
)

// Defaults applied by [Limits] to fields left at zero.
const (
	DefaultMemoryPages       uint32 = 256 // 16 MiB
	DefaultCallTimeout              = time.Second
	DefaultMaxOutputBytes           = 4 << 20
	DefaultMaxFanOut                = 1000
	DefaultRecycleAfterCalls        = 100000
	DefaultRecycleAboveBytes uint64 = 64 << 20
	DefaultIdleTimeout              = time.Minute
)

// wasmPageSize is the size of one WebAssembly memory page.
const wasmPageSize = 65536

// Limits bound what one plugin instance may use. The zero value of each field
// means its default. Limits is a value: copy it freely.
type Limits struct {
	// MemoryPages caps each instance's linear memory in 64 KiB pages.
	// Defaults to 256 (16 MiB); at most 65536. Instances with different
	// MemoryPages run in different wazero runtimes (a limit class).
	MemoryPages uint32
	// CallTimeout bounds each call into the guest (init, alloc, handle).
	// Defaults to 1s. A call that exceeds it fails with Kind Timeout.
	CallTimeout time.Duration
	// MaxOutputBytes bounds the size of one result frame. Defaults to 4 MiB.
	MaxOutputBytes int
	// MaxFanOut bounds the outputs of one input message. Defaults to 1000.
	MaxFanOut int
	// RecycleAfterCalls replaces an instance after this many successful
	// handle calls. Defaults to 100000.
	RecycleAfterCalls int
	// RecycleAboveBytes replaces an instance whose linear memory has grown
	// beyond this many bytes. Defaults to 64 MiB.
	RecycleAboveBytes uint64
	// IdleTimeout closes a pooled instance that was not borrowed for this
	// long, down to none: a Pool starts instances as borrowers need them and
	// gives their memory back when the load goes (see [Pool]). Defaults to
	// 1 minute; negative keeps every instance a pool started.
	IdleTimeout time.Duration
	// Trusted runs the plugin without any way to stop it: CallTimeout is
	// NOT enforced, and a plugin that loops blocks its caller for ever. Only
	// for plugins you wrote and tested. It rarely pays: every plugin is
	// rewritten so that a timeout traps it at its next loop header
	// (instrumentLoops), which costs about as little, and a trusted one runs
	// the same rewritten code, with its safe points, only never stopped.
	// Modules the rewriter cannot parse (SIMD, exception handling) run under
	// wazero's termination checks, a call out of the guest on every loop
	// iteration that makes Go guests several times slower; trusted, they run
	// with no checks and no safe points, so a long loop in one also holds up
	// the garbage collector, and with it the whole process.
	Trusted bool
}

// class is the runtime a Limits value needs: runtime-wide wazero settings.
// interrupt marks plugins rewritten by instrumentLoops (trusted or not):
// they run without wazero's termination checks, in a runtime of their own
// (their machine code differs); trusted is then false.
type class struct {
	pages     uint32
	trusted   bool
	interrupt bool
}

func (l Limits) class() class { return class{pages: l.MemoryPages, trusted: l.Trusted} }

// withDefaults returns l with every zero (or invalid) field set to its default.
func (l Limits) withDefaults() Limits {
	if l.MemoryPages == 0 {
		l.MemoryPages = DefaultMemoryPages
	}
	if l.CallTimeout <= 0 {
		l.CallTimeout = DefaultCallTimeout
	}
	if l.MaxOutputBytes <= 0 {
		l.MaxOutputBytes = DefaultMaxOutputBytes
	}
	if l.MaxFanOut <= 0 {
		l.MaxFanOut = DefaultMaxFanOut
	}
	if l.RecycleAfterCalls <= 0 {
		l.RecycleAfterCalls = DefaultRecycleAfterCalls
	}
	if l.RecycleAboveBytes == 0 {
		l.RecycleAboveBytes = DefaultRecycleAboveBytes
	}
	if l.IdleTimeout == 0 {
		l.IdleTimeout = DefaultIdleTimeout
	}
	return l
}

// validate reports limits that cannot be applied, naming the field.
func (l Limits) validate() error {
	if l.MemoryPages > 65536 {
		return fmt.Errorf("limits: memory_pages %d exceeds 65536 (4 GiB)", l.MemoryPages)
	}
	return nil
}

// memoryLimitBytes is the memory cap in bytes.
func (l Limits) memoryLimitBytes() uint64 { return uint64(l.MemoryPages) * wasmPageSize }
