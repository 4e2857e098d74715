//go:build !wasip1

package sdk

import (
	"slices"
	"strings"
	"testing"
)

func TestLog(t *testing.T) {
	var lines []string
	old := logSink
	defer func() { logSink = old }()
	logSink = func(l Level, msg string) { lines = append(lines, l.String()+" "+msg) }
	Log(LevelWarn, "low battery")
	Logf(LevelDebug, "pct=%d", 7)
	Log(Level(9), "odd level")
	Map(func(*Message) error { return nil })
	if out := HandleFrame([]byte{1, 0, 0, 0}); out != nil {
		t.Fatalf("HandleFrame on a malformed frame = %x, want nil", out)
	}
	want := []string{"warn low battery", "debug pct=7", "info odd level"}
	if len(lines) != 4 || !slices.Equal(lines[:3], want) || !strings.HasPrefix(lines[3], "error sdk: input frame: abi: malformed frame") {
		t.Fatalf("log lines %q", lines)
	}
}
