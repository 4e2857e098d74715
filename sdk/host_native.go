//go:build !wasip1

package sdk

import (
	"fmt"
	"os"
)

// logSink receives log lines natively; tests in this package replace it.
var logSink = func(level Level, msg string) { fmt.Fprintf(os.Stderr, "plugin %s: %s\n", level, msg) }

func hostLog(level Level, msg string) { logSink(level, msg) }
