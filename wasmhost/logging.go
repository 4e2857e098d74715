package wasmhost

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/tributary-gw/tributary/sdk/abi"
	"github.com/tributary-gw/tributary/wasmhost/hostfunc"
)

// Guest log lines are rate-limited per plugin with a token bucket: bursts of
// logBurst lines, refilled at logPerSecond. Lines are cut at maxLogLine bytes.
const (
	logPerSecond = 50
	logBurst     = 100
	maxLogLine   = 4096
)

// logLimiter is a token bucket shared by all instances of one plugin.
type logLimiter struct {
	mu      sync.Mutex
	tokens  float64
	last    time.Time
	dropped int
}

// allow reports whether a line may be written now and, if so, how many lines
// were dropped since the last one written.
func (l *logLimiter) allow(now time.Time) (ok bool, dropped int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last.IsZero() {
		l.tokens = logBurst
	} else {
		l.tokens += now.Sub(l.last).Seconds() * logPerSecond
		if l.tokens > logBurst {
			l.tokens = logBurst
		}
	}
	l.last = now
	if l.tokens < 1 {
		l.dropped++
		return false, 0
	}
	l.tokens--
	dropped, l.dropped = l.dropped, 0
	return true, dropped
}

// emit writes one guest line to the host logger, attributed to p, unless the
// plugin's rate limit drops it.
func (p *Plugin) emit(level slog.Level, source, line string) {
	ok, dropped := p.limiter.allow(time.Now())
	if !ok {
		return
	}
	attrs := []slog.Attr{
		slog.String("plugin", p.name),
		slog.String("version", p.shortVersion()),
		slog.String("source", source),
		slog.String("line", line),
	}
	if dropped > 0 {
		attrs = append(attrs, slog.Int("dropped_lines", dropped))
	}
	p.logger.LogAttrs(context.Background(), level, "plugin log", attrs...)
}

// guestLevel maps an ABI log level to slog; unknown levels are info (§2).
func guestLevel(l int32) slog.Level {
	switch l {
	case abi.LogDebug:
		return slog.LevelDebug
	case abi.LogWarn:
		return slog.LevelWarn
	case abi.LogError:
		return slog.LevelError
	}
	return slog.LevelInfo
}

// lineWriter turns a guest's stdout or stderr into log lines. It is used by
// one instance, whose calls are never concurrent, so it needs no lock.
type lineWriter struct {
	p      *Plugin
	source string // "stdout" or "stderr"
	level  slog.Level
	buf    []byte
	oom    *atomic.Bool      // set when a stderr line reports out of memory
	sink   func(line string) // replaces logging, in tests
}

// Write buffers b and logs each complete line. It never fails.
func (w *lineWriter) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != '\n' && len(w.buf)+i < maxLogLine {
			i++
		}
		w.buf = append(w.buf, b[:i]...)
		b = b[i:]
		switch {
		case len(b) > 0 && b[0] == '\n':
			b = b[1:]
			w.flush()
		case len(w.buf) >= maxLogLine:
			w.flush()
		}
	}
	return n, nil
}

// flush logs the buffered partial line, if any.
func (w *lineWriter) flush() {
	if len(w.buf) == 0 {
		return
	}
	line := string(w.buf)
	w.buf = w.buf[:0]
	if w.oom != nil && strings.Contains(line, "out of memory") {
		w.oom.Store(true)
	}
	if w.sink != nil {
		w.sink(line)
		return
	}
	w.p.emit(w.level, w.source, line)
}

// hostLog implements tributary.log (level i32, ptr i32, len i32) -> ().
func (h *Host) hostLog(_ context.Context, mod api.Module, stack []uint64) {
	level, ptr, n := int32(uint32(stack[0])), uint32(stack[1]), uint32(stack[2])
	if n > maxLogLine {
		n = maxLogLine
	}
	b := hostfunc.Bytes(mod.Memory(), uint64(ptr), uint64(n)) // panics with hostfunc.ErrGuestPointer: BadResult
	v, ok := h.instances.Load(mod.Name())
	if !ok {
		return // the instance is being closed
	}
	v.(*Instance).plugin.emit(guestLevel(level), "log", string(b))
}
