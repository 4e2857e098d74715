package sdk

import (
	"fmt"

	"github.com/tributary-gw/tributary/sdk/abi"
)

// Level is the severity of a log line (ABI.md §2).
type Level int32

// Log levels understood by the host.
const (
	LevelDebug Level = Level(abi.LogDebug)
	LevelInfo  Level = Level(abi.LogInfo)
	LevelWarn  Level = Level(abi.LogWarn)
	LevelError Level = Level(abi.LogError)
)

// String returns "debug", "info", "warn" or "error"; other values are info,
// as the host treats them.
func (l Level) String() string {
	switch l {
	case LevelDebug:
		return "debug"
	case LevelWarn:
		return "warn"
	case LevelError:
		return "error"
	}
	return "info"
}

// Log writes msg to the gateway log at level, attributed to the plugin. The
// host rate-limits plugin logs. Natively (outside wasm) lines go to standard
// error.
func Log(level Level, msg string) { hostLog(level, msg) }

// Logf formats its arguments as fmt.Sprintf does and logs the line at level.
func Logf(level Level, format string, args ...any) { hostLog(level, fmt.Sprintf(format, args...)) }
