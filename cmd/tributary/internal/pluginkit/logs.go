package pluginkit

import (
	"context"
	"log/slog"
	"sync"
)

// LogLine is one log line a plugin wrote (sdk.Log, or a line of its stdout or stderr).
type LogLine struct {
	// Level is the line's level: debug, info, warn or error for sdk.Log, info for stdout,
	// warn for stderr.
	Level slog.Level
	// Source is "log" (sdk.Log and the tributary.log import), "stdout" or "stderr".
	Source string
	// Line is the text, cut at 4096 bytes by the host.
	Line string
	// Dropped counts the lines the host's per-plugin rate limit (bursts of 100 lines, then
	// 50 a second) dropped just before this one.
	Dropped int
}

// LogCapture is a slog.Handler for the wasm host of `plugin test`: it keeps the plugin log
// lines of the first run at every level, debug included, counts those of the warm-up and
// timed runs (which repeat them), and hands every other record (the host's own) to Next
// when at or above NextLevel. Outside Test, plugin lines go to Next at every level too.
type LogCapture struct {
	// Next receives the host's own records, and plugin lines outside Test.
	Next slog.Handler
	// NextLevel is the lowest level of the host's own records passed to Next.
	NextLevel slog.Level

	mu    sync.Mutex
	state int // captureIdle, captureFirst or captureLater
	first []LogLine
	later int
}

const (
	captureIdle = iota
	captureFirst
	captureLater
)

// pluginLogMsg is the message wasmhost logs each plugin line with.
const pluginLogMsg = "plugin log"

// Handler returns the slog.Handler to build the host's logger with.
func (c *LogCapture) Handler() slog.Handler { return captureHandler{c: c} }

// record starts keeping plugin lines: the first run begins.
func (c *LogCapture) record() {
	c.mu.Lock()
	c.state, c.first, c.later = captureFirst, nil, 0
	c.mu.Unlock()
}

// endFirstRun returns the lines kept and only counts the next ones.
func (c *LogCapture) endFirstRun() []LogLine {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.state = captureLater
	lines := c.first
	c.first = nil
	return lines
}

// Later returns how many plugin lines came since endFirstRun.
func (c *LogCapture) Later() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.later
}

// discard ends Test's capture: plugin lines go to Next again.
func (c *LogCapture) discard() {
	c.mu.Lock()
	c.state = captureIdle
	c.mu.Unlock()
}

// captureHandler is LogCapture's slog.Handler, with the attributes of Logger.With calls.
type captureHandler struct {
	c     *LogCapture
	attrs []slog.Attr                       // every attribute added, for plugin lines
	ops   []func(slog.Handler) slog.Handler // WithAttrs and WithGroup in order, for Next
}

func (h captureHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return true // plugin lines at every level; the host's own are filtered in Handle
}

func (h captureHandler) Handle(ctx context.Context, r slog.Record) error {
	c := h.c
	if r.Message == pluginLogMsg {
		c.mu.Lock()
		switch c.state {
		case captureFirst:
			ln := LogLine{Level: r.Level}
			visit := func(a slog.Attr) bool {
				switch a.Key {
				case "source":
					ln.Source = a.Value.String()
				case "line":
					ln.Line = a.Value.String()
				case "dropped_lines":
					ln.Dropped = int(a.Value.Int64())
				}
				return true
			}
			for _, a := range h.attrs {
				visit(a)
			}
			r.Attrs(visit)
			c.first = append(c.first, ln)
			c.mu.Unlock()
			return nil
		case captureLater:
			c.later++
			c.mu.Unlock()
			return nil
		}
		c.mu.Unlock()
	} else if r.Level < c.NextLevel {
		return nil
	}
	if c.Next == nil {
		return nil
	}
	next := c.Next
	for _, op := range h.ops {
		next = op(next)
	}
	return next.Handle(ctx, r)
}

func (h captureHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	h.attrs = append(append([]slog.Attr(nil), h.attrs...), attrs...)
	h.ops = append(append([]func(slog.Handler) slog.Handler(nil), h.ops...), func(n slog.Handler) slog.Handler { return n.WithAttrs(attrs) })
	return h
}

func (h captureHandler) WithGroup(name string) slog.Handler {
	h.ops = append(append([]func(slog.Handler) slog.Handler(nil), h.ops...), func(n slog.Handler) slog.Handler { return n.WithGroup(name) })
	return h
}
