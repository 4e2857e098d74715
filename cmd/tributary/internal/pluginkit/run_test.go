package pluginkit

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tributary-gw/tributary/sdk/sdktest"
	"github.com/tributary-gw/tributary/wasmhost"
	"github.com/tributary-gw/tributary/wasmhost/jsonimports"
)

func TestMain(m *testing.M) {
	code := m.Run()
	sdktest.Cleanup()
	os.Exit(code)
}

func newHost(t *testing.T) *wasmhost.Host {
	t.Helper()
	return newHostLogging(t, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// newHostLogging is newHost logging to logger.
func newHostLogging(t *testing.T, logger *slog.Logger) *wasmhost.Host {
	t.Helper()
	h, err := wasmhost.NewHost(context.Background(), wasmhost.HostConfig{Logger: logger, Extensions: jsonimports.Functions()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close(context.Background()) })
	return h
}

func inputsOf(t *testing.T, lines ...string) []Input {
	t.Helper()
	in, err := ReadInputs(strings.NewReader(strings.Join(lines, "\n")), "test.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// TestTest_ConformanceGuest runs the conformance guest, whose payload picks its behaviour
// (sdk/ABI.md, appendix), through Test: outputs of every shape, a filter, a rejection, a trap
// and a timeout, all in one batch so the chain's retry-alone rule is exercised too.
func TestTest_ConformanceGuest(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	logs := &LogCapture{}
	host := newHostLogging(t, slog.New(logs.Handler()))
	p, err := Load(ctx, host, sdktest.BuildConformanceGuest(t), wasmhost.ModuleLimits{})
	if err != nil {
		t.Fatal(err)
	}
	inputs := inputsOf(t,
		`{"topic":"t/echo","payload":"echo"}`,
		`{"topic":"t/drop","payload":"drop"}`,
		`{"topic":"t/split","payload":"split:3"}`,
		`{"topic":"t/key","payload":"key:k1"}`,
		`{"topic":"t/topic","payload":"topic:alarms"}`,
		`{"topic":"t/header","payload":"header:unit=F"}`,
		`{"topic":"t/error","payload":"error:no thanks"}`,
		`{"topic":"t/exit","payload":"exit:3"}`,
		`{"topic":"t/loop","payload":"loop"}`,
		`{"topic":"t/meta","payload":"meta","qos":2,"properties":{"site":"hq"}}`,
		`{"topic":"t/grow","payload":"grow:64"}`,
		`{"topic":"t/log","payload":"log:0:a debug line"}`,
	)
	rep, err := Test(ctx, host, p, inputs, TestOptions{
		Route:  "r1",
		Limits: wasmhost.Limits{CallTimeout: 300 * time.Millisecond, MemoryPages: 32 * 16}, // 32 MiB
		Warmup: 3,
		Repeat: 2,
		Logs:   logs,
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Outputs != 9 || rep.Filtered != 1 || rep.DeadLetters != 4 || rep.Runs != 2 || rep.WarmupRuns != 3 || len(rep.Results) != len(inputs) {
		t.Fatalf("report: %d outputs, %d filtered, %d dead letters, %d runs, %d warm-up runs, %d results; want 9, 1, 4, 2, 3, %d",
			rep.Outputs, rep.Filtered, rep.DeadLetters, rep.Runs, rep.WarmupRuns, len(rep.Results), len(inputs))
	}
	// The warm-up and timed runs leave out the four dead letters; start-up is timed apart.
	if rep.TimedMessages != 8 || rep.StartUp <= 0 || rep.FirstRun <= 0 || rep.Elapsed <= 0 {
		t.Errorf("timing: %d timed messages, start-up %v, first run %v, elapsed %v; want 8 and durations > 0",
			rep.TimedMessages, rep.StartUp, rep.FirstRun, rep.Elapsed)
	}
	// The debug line of the first run is kept (with the trapping guests' stderr); the five
	// later runs' are counted.
	debug := 0
	for _, l := range rep.Logs {
		if l.Level == slog.LevelDebug && l.Source == "log" && l.Line == "a debug line" {
			debug++
		}
	}
	if debug != 1 || rep.LaterLogLines != 5 {
		t.Errorf("logs: the debug line %d times, %d later lines; want 1 and 5; logs %+v", debug, rep.LaterLogLines, rep.Logs)
	}
	wantKinds := map[int]wasmhost.Kind{6: wasmhost.Rejected, 7: wasmhost.Trap, 8: wasmhost.Timeout, 10: wasmhost.OutOfMemory}
	for i, r := range rep.Results {
		if k, ok := wantKinds[i]; ok != (r.Err != nil) || ok && r.Err.Kind != k {
			t.Errorf("input %d: error %v, want kind %v", i+1, r.Err, k)
		}
	}
	if rep.NsPerMessage() <= 0 {
		t.Errorf("NsPerMessage = %v, want > 0", rep.NsPerMessage())
	}

	var out bytes.Buffer
	rep.Print(&out)
	for _, want := range []string{
		"#1 (line 1) t/echo echo: 1 output\n  [0] payload: echo\n      kafka topic: (the route's topic)\n      key: (the route's key, by default the MQTT topic)\n      headers: none\n",
		"#2 (line 2) t/drop drop: filtered\n",
		"#3 (line 3) t/split split:3: 3 outputs\n  [0] payload: 0\n",
		"  [2] payload: 2\n",
		"      key: k1\n",
		"      kafka topic: alarms\n",
		"      headers: unit=F\n",
		"#7 (line 7) t/error error:no thanks: dead letter\n    kind:  rejected\n    error: no thanks\n",
		"#8 (line 8) t/exit exit:3: dead letter\n    kind:  trap\n",
		"#9 (line 9) t/loop loop: dead letter\n    kind:  timeout\n",
		`"route":"r1"`,
		`"properties":[["site","hq"]]`,
		"#11 (line 11) t/grow grow:64: dead letter\n    kind:  out_of_memory\n",
		"plugin log (first run, every level):\n", "\n  DEBUG a debug line\n  (the warm-up and timed runs logged 5 more lines",
		"summary: 12 inputs, 9 outputs, 1 filtered, 4 dead letters\n",
		"/message, ", " messages/s (average over 2 runs of 8 messages after 3 warm-up runs)\n",
		"leave out the 4 messages that dead-lettered",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("Print output lacks %q; got:\n%s", want, out.String())
		}
	}

	// A payload over MaxMessageBytes dead-letters without reaching the plugin.
	small := inputsOf(t, `{"topic":"a","payload":"echo"}`, `{"topic":"b","payload":"set:longer"}`)
	rep, err = Test(ctx, host, p, small, TestOptions{MaxMessageBytes: 5, Warmup: 1, Repeat: 1})
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	rep.Print(&out)
	if rep.Outputs != 1 || rep.DeadLetters != 1 || rep.TimedMessages != 1 || !strings.Contains(out.String(), "#2 (line 2) b set:longer: dead letter\n    kind:  message_too_large\n") {
		t.Errorf("MaxMessageBytes 5: %d outputs, %d dead letters, %d timed; want 1, 1, 1 and message_too_large; got:\n%s",
			rep.Outputs, rep.DeadLetters, rep.TimedMessages, out.String())
	}

	// Init rejecting the config is the one load error.
	_, err = Test(ctx, host, p, inputs[:1], TestOptions{Config: []byte(`{"fail_init":"bad config"}`)})
	if pe, ok := wasmhost.AsPluginError(err); !ok || pe.Kind != wasmhost.Rejected || !strings.Contains(err.Error(), "bad config") {
		t.Fatalf("Test with a refused config: %v, want a rejected PluginError with the guest's text", err)
	}
}

// TestBuild_MissingExports builds a wasip1 module that is not a plugin: Build must fail with
// wasmhost's compile error and write nothing.
func TestBuild_MissingExports(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	src := filepath.Join(dir, "notaplugin")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{
		"go.mod":  "module example.com/notaplugin\n\ngo 1.24\n",
		"main.go": "package main\n\n//go:wasmexport answer\nfunc answer() int32 { return 42 }\n\nfunc main() {}\n",
	} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := DefaultOutput(src)
	if err != nil || out != filepath.Join(dir, "notaplugin.wasm") {
		t.Fatalf("DefaultOutput(%s) = %s, %v; want %s", src, out, err, filepath.Join(dir, "notaplugin.wasm"))
	}
	_, err = Build(ctx, newHost(t), src, out)
	if err == nil || !strings.Contains(err.Error(), `plugin "notaplugin"`) || !strings.Contains(err.Error(), "missing export tributary_abi_v1") {
		t.Fatalf("Build of a non-plugin: %v, want wasmhost's missing export error naming the plugin", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("a module that failed the check was written to %s (stat: %v)", out, err)
	}

	// A compile error carries the compiler's words.
	if err := os.WriteFile(filepath.Join(src, "main.go"), []byte("package main\n\nfunc main() { undefinedThing() }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Build(ctx, newHost(t), src, out); err == nil || !strings.Contains(err.Error(), "undefinedThing") {
		t.Fatalf("Build of broken source: %v, want the compiler's error", err)
	}
}

func TestPrintable(t *testing.T) {
	long := strings.Repeat("é", 50) // 100 bytes; the cut must not split a rune
	tests := []struct{ name, in, want, wantBrief string }{
		{name: "json", in: `{"a":1}`, want: `{"a":1}`, wantBrief: `{"a":1}`},
		{name: "empty", in: "", want: `""`, wantBrief: `""`},
		{name: "newline", in: "a\nb", want: `"a\nb"`, wantBrief: `"a\nb"`},
		{name: "binary", in: "\x00\xff", want: `"\x00\xff"`, wantBrief: `"\x00\xff"`},
		{name: "long", in: long, want: long, wantBrief: strings.Repeat("é", 40) + "... (100 bytes)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := printable([]byte(tc.in)); got != tc.want {
				t.Errorf("printable(%q) = %s, want %s", tc.in, got, tc.want)
			}
			if got := brief([]byte(tc.in)); got != tc.wantBrief {
				t.Errorf("brief(%q) = %s, want %s", tc.in, got, tc.wantBrief)
			}
		})
	}
}
