package wasmhost

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tetratelabs/wazero/sys"
)

// Kind classifies a plugin failure. Its String form is the value of the
// dead-letter header tributary.error.kind (sdk/ABI.md §7) and never changes.
type Kind uint8

// Kinds of plugin failure (sdk/ABI.md §7). Every kind except Rejected
// discards the instance.
const (
	// Trap: the guest trapped (unreachable, out-of-bounds access, stack
	// overflow, a Go panic) or called proc_exit.
	Trap Kind = iota + 1
	// Timeout: the call exceeded Limits.CallTimeout, or the caller's context
	// was done while the guest ran.
	Timeout
	// OutOfMemory: memory growth beyond Limits.MemoryPages, or
	// tributary_alloc returned 0.
	OutOfMemory
	// BadResult: the guest broke the ABI: a pointer outside memory, a result
	// frame too large, malformed or with too many outputs.
	BadResult
	// Rejected: the guest returned an error for the message (status 1), or
	// tributary_init returned an error.
	Rejected
)

// String returns the dead-letter header value: "trap", "timeout",
// "out_of_memory", "bad_result" or "rejected".
func (k Kind) String() string {
	switch k {
	case Trap:
		return "trap"
	case Timeout:
		return "timeout"
	case OutOfMemory:
		return "out_of_memory"
	case BadResult:
		return "bad_result"
	case Rejected:
		return "rejected"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// PluginError is the one error type for a failed plugin call. Its fields feed
// the dead-letter headers directly. Stage is the position of the plugin in its
// chain; it is 0 for errors from a Pool or Instance used on their own.
type PluginError struct {
	Plugin  string // plugin name
	Version string // hex sha256 of the plugin's bytes
	Stage   int    // chain stage, 0-based
	Kind    Kind
	Err     error // the cause; for Rejected, the guest's message
}

// Error returns "plugin "NAME" (VERSION[:12]) stage N: KIND: CAUSE".
func (e *PluginError) Error() string {
	v := e.Version
	if len(v) > 12 {
		v = v[:12]
	}
	return fmt.Sprintf("plugin %q (%s) stage %d: %s: %v", e.Plugin, v, e.Stage, e.Kind, e.Err)
}

// Unwrap returns the cause, so errors.Is(err, context.DeadlineExceeded) works.
func (e *PluginError) Unwrap() error { return e.Err }

// withStage returns a copy of e with Stage set.
func (e *PluginError) withStage(stage int) *PluginError {
	c := *e
	c.Stage = stage
	return &c
}

// errRejected is the cause of a Rejected error: the guest's own message.
type errRejected string

func (e errRejected) Error() string { return string(e) }

// AsPluginError returns err as a *PluginError if it is one (or wraps one).
func AsPluginError(err error) (*PluginError, bool) {
	var pe *PluginError
	ok := errors.As(err, &pe)
	return pe, ok
}

// classify maps an error from a guest call to a Kind. nearLimit says the
// instance's memory is at (or close enough to) its cap that a failed growth is
// the likely cause of a trap or exit; sawOOM says the guest printed an
// out-of-memory message before dying.
func classify(err error, nearLimit, sawOOM bool) Kind {
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return Timeout
	case sawOOM, nearLimit:
		return OutOfMemory
	}
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		return Trap
	}
	if strings.Contains(err.Error(), "out of memory") {
		return OutOfMemory
	}
	return Trap
}
