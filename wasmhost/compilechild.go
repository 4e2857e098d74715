package wasmhost

// Compiling untrusted bytes in a child process of the same binary.
//
// wazero cannot interrupt CompileModule, and its compile time and memory grow
// super-linearly with some shapes (deeply nested blocks). So the Host runs
// the compile first in a child: it re-executes its own binary with
// compileChildEnv set, and the init function below turns that process into a
// compile server for one request before main (or a test's TestMain) runs.
// Every binary that links wasmhost can therefore serve as the child with no
// wiring. The child limits itself (setrlimit RLIMIT_DATA and RLIMIT_CPU on
// unix, debug.SetMemoryLimit), does exactly the work Compile would do in
// process (instrumentLoops, compile, checkModule), writes the machine code
// to the shared file compilation cache and answers with one JSON line on
// stdout. The parent enforces the wall-clock timeout and the caller's
// context by killing the child's process group, then loads the machine
// code the child wrote: the parent never compiles bytes that have not been
// proven to compile within the budget.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/tributary-gw/tributary/wasmhost/hostfunc"
)

// compileChildEnv marks a process as a compile child (value "1").
const compileChildEnv = "TRIBUTARY_WASMHOST_COMPILE_CHILD"

// Defaults of [CompileBudget] fields left at zero.
const (
	DefaultCompileTimeout     = 60 * time.Second
	DefaultCompileMemoryBytes = 1 << 30
)

// CompileBudget bounds the compilation of one module. The zero value means
// the defaults.
type CompileBudget struct {
	// Timeout bounds the wall-clock time of one compilation (the child's
	// start, compile, check and cache write). Defaults to 60s.
	Timeout time.Duration
	// MemoryBytes bounds the memory the compile child may allocate beyond
	// what its runtime holds at start (RLIMIT_DATA; on Linux it is enforced
	// by the kernel, elsewhere only as the Go runtime's soft limit). Defaults
	// to 1 GiB, about ten times what the biggest first-party plugin (a 4 MB Go
	// module) needs. Under the race detector the child's data segment also holds
	// the detector's shadow memory, so race builds effectively get less.
	MemoryBytes int64
	// Concurrency bounds the compilations running at once in the Host
	// (children and in-process compiles alike). Defaults to
	// max(1, GOMAXPROCS/2): each compile uses about one core.
	Concurrency int
	// InProcess compiles in the Host's own process, with no child: no time
	// or memory budget, and wazero cannot be interrupted. For embedding
	// where re-executing the binary is impossible; never for untrusted
	// modules.
	InProcess bool
}

// withDefaults returns b with every zero (or negative) field set to its default.
func (b CompileBudget) withDefaults() CompileBudget {
	if b.Timeout <= 0 {
		b.Timeout = DefaultCompileTimeout
	}
	if b.MemoryBytes <= 0 {
		b.MemoryBytes = DefaultCompileMemoryBytes
	}
	if b.Concurrency <= 0 {
		b.Concurrency = max(1, runtime.GOMAXPROCS(0)/2)
	}
	return b
}

// CompileBudgetError is the error of a compilation stopped because it
// exceeded its [CompileBudget].
type CompileBudgetError struct {
	// Timeout is set when the compile ran out of time.
	Timeout time.Duration
	// MemoryBytes is set when the compile ran out of memory.
	MemoryBytes int64
}

func (e *CompileBudgetError) Error() string {
	if e.Timeout > 0 {
		return fmt.Sprintf("compile took longer than compile timeout %v", e.Timeout)
	}
	return fmt.Sprintf("compile needed more than compile memory %d MiB", e.MemoryBytes>>20)
}

// childRequest is the first line the parent writes to the child's stdin;
// the module's bytes follow it.
type childRequest struct {
	CacheDir    string        `json:"cache_dir,omitempty"` // "" compiles with no file cache
	MemoryBytes int64         `json:"memory_bytes"`
	Timeout     time.Duration `json:"timeout"`
	Size        int           `json:"size"`
	SleepFirst  time.Duration `json:"sleep_first,omitempty"` // tests only
	// Extensions are the signatures of the Host's HostConfig.Extensions,
	// so the child accepts the same imports of module tributary.
	Extensions []extensionSignature `json:"extensions,omitempty"`
}

// childReply is the child's answer, one JSON line on stdout.
type childReply struct {
	OK bool `json:"ok"`
	// Instrumented reports that the module instrumentLoops produced
	// compiled and passed the checks; the parent compiles the same bytes.
	Instrumented bool   `json:"instrumented,omitempty"`
	RewriteError string `json:"rewrite_error,omitempty"` // why instrumentLoops refused it
	Error        string `json:"error,omitempty"`
	OutOfMemory  bool   `json:"out_of_memory,omitempty"`
	CacheError   string `json:"cache_error,omitempty"` // the file cache failed; the compile did not
	PeakRSS      int64  `json:"peak_rss,omitempty"`    // the child's resident set high-water mark, bytes
}

func init() {
	if os.Getenv(compileChildEnv) != "1" {
		return
	}
	os.Exit(serveCompileChild(os.Stdin, os.Stdout))
}

// serveCompileChild answers one request read from in on out and returns the
// exit code.
func serveCompileChild(in io.Reader, out io.Writer) int {
	reply := compileInChild(in)
	reply.PeakRSS = peakRSS()
	b, _ := json.Marshal(reply)
	if _, err := fmt.Fprintf(out, "%s\n", b); err != nil {
		return 3
	}
	return 0
}

// compileInChild reads the request and compiles the module under the
// child's own limits.
func compileInChild(in io.Reader) (reply childReply) {
	br := bufio.NewReader(in)
	line, err := br.ReadBytes('\n')
	var req childRequest
	if err == nil {
		err = json.Unmarshal(line, &req)
	}
	if err != nil {
		return childReply{Error: fmt.Sprintf("compile child: read request: %v", err)}
	}
	wasm := make([]byte, req.Size)
	if _, err := io.ReadFull(br, wasm); err != nil {
		return childReply{Error: fmt.Sprintf("compile child: read module: %v", err)}
	}
	applyChildLimits(req)
	if req.SleepFirst > 0 {
		time.Sleep(req.SleepFirst)
	}
	var cache wazero.CompilationCache
	var cacheErr error
	if req.CacheDir != "" {
		if cache, cacheErr = wazero.NewCompilationCacheWithDir(req.CacheDir); cacheErr != nil {
			cache = nil
		}
	}
	tributary := append([]hostfunc.Function{logFunction}, signatureFunctions(req.Extensions)...)
	reply = checkModuleBytes(context.Background(), cache, tributary, wasm)
	if cacheErr != nil && reply.CacheError == "" {
		reply.CacheError = cacheErr.Error()
	}
	return reply
}

// checkModuleBytes does the work of an in-process compile on its own, in
// throwaway runtimes: instrumentLoops, then compile and checkModule of the
// rewritten module in a runtime configured like Host.validatorFast, else of
// wasm in one configured like Host.validator, accepting the functions
// tributary of module tributary (only their signatures are used). With
// cache nil, it uses an in-memory cache it closes afterwards.
func checkModuleBytes(ctx context.Context, cache wazero.CompilationCache, tributary []hostfunc.Function, wasm []byte) (reply childReply) {
	defer func() {
		// wazero panics when it cannot map executable memory.
		if r := recover(); r != nil {
			err, _ := r.(error)
			reply = childReply{Error: fmt.Sprintf("compile: wazero panicked: %v", r), OutOfMemory: errors.Is(err, syscall.ENOMEM)}
		}
	}()
	h := &Host{logger: slog.New(slog.DiscardHandler), cache: cache, tributary: tributary}
	if cache == nil {
		h.cache = wazero.NewCompilationCache()
		defer h.cache.Close(ctx)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, h.runtimeConfig(false))
	defer rt.Close(ctx)
	wasi, err := wasi_snapshot_preview1.NewBuilder(rt).Compile(ctx)
	if err != nil {
		return childReply{Error: fmt.Sprintf("compile wasi: %v", err)}
	}
	h.wasi = wasi.ExportedFunctions()

	inst, rerr := instrumentLoops(wasm)
	if rerr == nil {
		if cm, cerr := h.compileAndCheck(ctx, h.runtimeConfig(true), inst); cerr == nil {
			_ = cm.Close(ctx)
			reply.OK, reply.Instrumented = true, true
		}
	} else {
		reply.RewriteError = rerr.Error()
	}
	if !reply.OK {
		if cm, err := h.compileAndCheck(ctx, h.runtimeConfig(false), wasm); err != nil {
			reply.Error = err.Error()
			reply.OutOfMemory = errors.Is(err, syscall.ENOMEM)
		} else {
			_ = cm.Close(ctx)
			reply.OK = true
		}
	}
	if err := h.CacheError(); err != nil {
		reply.CacheError = err.Error()
	}
	return reply
}

// isCacheError reports whether err from CompileModule came from wazero's
// file cache (opening, writing or renaming a cache file) rather than from
// decoding or compiling: wazero's own compile errors are never *fs.PathError.
func isCacheError(err error) bool {
	var pe *fs.PathError
	var le *os.LinkError
	return errors.As(err, &pe) || errors.As(err, &le)
}

// childHookEvent is what Host.childHook receives (tests).
type childHookEvent struct {
	start bool // false: the child has been reaped
	pid   int
}

// maxChildStderr bounds the stderr kept from a child.
const maxChildStderr = 16 << 10

// checkInChild compiles wasm in a child process under the Host's budget and
// returns its reply. cacheDir is the file cache the child writes, or "".
// An error means the child did not answer: budget exceeded, ctx done, or the
// child crashed.
func (h *Host) checkInChild(ctx context.Context, wasm []byte, cacheDir string) (childReply, error) {
	b := h.budget
	hdr, _ := json.Marshal(childRequest{CacheDir: cacheDir, MemoryBytes: b.MemoryBytes, Timeout: b.Timeout, Size: len(wasm), SleepFirst: h.childSleep,
		Extensions: h.extensionSignatures()})
	in := io.MultiReader(bytes.NewReader(hdr), bytes.NewReader([]byte{'\n'}), bytes.NewReader(wasm))

	cmd := exec.Command(childExecutable())
	cmd.Env = append(os.Environ(), compileChildEnv+"=1")
	if raceEnabled {
		// The race runtime sleeps 1s at exit (atexit_sleep_ms) by default.
		cmd.Env = append(cmd.Env, "GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
	}
	cmd.Stdin = in
	var stdout bytes.Buffer
	stderr := &headBuffer{max: maxChildStderr}
	cmd.Stdout = &limitedWriter{w: &stdout, n: 1 << 20}
	cmd.Stderr = stderr
	cmd.SysProcAttr = childSysProcAttr()
	cmd.WaitDelay = time.Second // a killed child's pipes close at once

	start := time.Now()
	if err := cmd.Start(); err != nil {
		return childReply{}, fmt.Errorf("compile child: start %s: %w (HostConfig.Compile.InProcess compiles without a child, and without a budget)", cmd.Path, err)
	}
	if h.childHook != nil {
		h.childHook(childHookEvent{start: true, pid: cmd.Process.Pid})
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()

	timer := time.NewTimer(b.Timeout)
	defer timer.Stop()
	var killedFor error
	var werr error
	select {
	case werr = <-waited:
	case <-timer.C:
		killedFor = &CompileBudgetError{Timeout: b.Timeout}
	case <-ctx.Done():
		killedFor = fmt.Errorf("compile: %w", ctx.Err())
	case <-h.closing:
		killedFor = ErrHostClosed
	}
	if killedFor != nil {
		killChild(cmd.Process)
		werr = <-waited
	}
	if h.childHook != nil {
		h.childHook(childHookEvent{pid: cmd.Process.Pid})
	}
	var reply childReply
	line := bytes.TrimSpace(stdout.Bytes())
	if i := bytes.LastIndexByte(line, '\n'); i >= 0 {
		line = line[i+1:]
	}
	jerr := json.Unmarshal(line, &reply)
	h.logChild(cmd.ProcessState, time.Since(start), reply.PeakRSS)
	if killedFor != nil {
		return childReply{}, killedFor
	}
	switch {
	case jerr == nil && werr == nil && reply.OutOfMemory:
		return childReply{}, &CompileBudgetError{MemoryBytes: b.MemoryBytes}
	case jerr == nil && werr == nil:
		return reply, nil
	case stderr.contains("out of memory") || stderr.contains("cannot allocate memory") ||
		stderr.contains("ThreadSanitizer failed to allocate"):
		return childReply{}, &CompileBudgetError{MemoryBytes: b.MemoryBytes}
	case cpuLimitHit(cmd.ProcessState):
		return childReply{}, &CompileBudgetError{Timeout: b.Timeout}
	}
	return childReply{}, fmt.Errorf("compile child crashed (%v): %s", werr, stderr.summary())
}

// logChild logs what a compile child cost, at debug level.
func (h *Host) logChild(ps *os.ProcessState, wall time.Duration, peak int64) {
	if ps == nil || !h.logger.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	attrs := []any{"wall", wall, "cpu", ps.UserTime() + ps.SystemTime(), "exit", ps.String()}
	if peak > 0 {
		attrs = append(attrs, "peak_rss_mib", peak>>20)
	}
	h.logger.Debug("wasmhost: compile child", attrs...)
}

// childExecutable returns the path that re-executes this binary.
func childExecutable() string {
	// /proc/self/exe still runs this binary after its file was replaced.
	if runtime.GOOS == "linux" {
		if _, err := os.Stat("/proc/self/exe"); err == nil {
			return "/proc/self/exe"
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return os.Args[0]
	}
	return exe
}

// headBuffer keeps the first max bytes written to it: a Go runtime puts the
// cause of a crash ("fatal error: ...", "panic: ...") first, the goroutine
// dumps after it.
type headBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *headBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - len(b.buf); room > 0 {
		b.buf = append(b.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (b *headBuffer) contains(s string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Contains(b.buf, []byte(s))
}

// summary returns the first lines of the output, at most 1 KiB.
func (b *headBuffer) summary() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := strings.TrimSpace(string(b.buf))
	if s == "" {
		return "no output on stderr"
	}
	lines := strings.SplitN(s, "\n", 6)
	s = strings.Join(lines[:min(5, len(lines))], "\n")
	if len(s) > 1024 {
		s = s[:1024]
	}
	return s
}

// limitedWriter writes the first n bytes to w and drops the rest.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(l.n, len(p))
		l.n -= k
		_, _ = l.w.Write(p[:k])
	}
	return len(p), nil
}
