package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tributary-gw/tributary/gateway/gatewaytest"
	"github.com/tributary-gw/tributary/gateway/pluginstore"
	"github.com/tributary-gw/tributary/sdk/sdktest"
)

// runPlugin runs `tributary plugin ARGS...` in-process and returns the exit code and output.
func runPlugin(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	code = runMain(ctx, append([]string{"plugin"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

func wantContains(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s lacks %q; got:\n%s", what, w, got)
		}
	}
}

// TestPlugin_RoundTrip is the plugin author's loop on the generated plugin: new (inside this
// module, so the SDK resolves without a network), go test of the generated tests, build to
// real wasm, then test against the generated sample input.
func TestPlugin_RoundTrip(t *testing.T) {
	cacheHome := t.TempDir()
	// Keep Go's build cache where it is: XDG_CACHE_HOME would move it too, and the go
	// commands below would start cold (minutes).
	if gocache, err := exec.Command("go", "env", "GOCACHE").Output(); err == nil {
		t.Setenv("GOCACHE", strings.TrimSpace(string(gocache)))
	}
	t.Setenv("XDG_CACHE_HOME", cacheHome) // plugin test's compilation cache, $XDG_CACHE_HOME/tributary/wasm-cache
	linkCompileCache(t, filepath.Join(cacheHome, "tributary", "wasm-cache"))
	// A folder beginning with "_" inside the module: importable by `go build .`, but ignored by
	// ./... patterns, so other packages' runs never pick it up.
	tmp, err := os.MkdirTemp(".", "_plugintest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(tmp) })

	code, out, errOut := runPlugin(t, "new", "roundtrip", "--dir", tmp)
	if code != 0 {
		t.Fatalf("plugin new: exit %d\n%s%s", code, out, errOut)
	}
	dir := filepath.Join(tmp, "roundtrip")
	// Inside the checkout the module goes to build/plugins under its root, not among the sources.
	root, err := gatewaytest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	wasm := filepath.Join(root, "build", "plugins", "roundtrip.wasm")
	t.Cleanup(func() { // the module, then its folders when nothing else is in them
		for _, p := range []string{wasm, filepath.Dir(wasm), filepath.Dir(filepath.Dir(wasm))} {
			_ = os.Remove(p)
		}
	})
	wantContains(t, "plugin new output", out, "created plugin roundtrip in "+dir, filepath.Join(dir, "roundtrip_test.go"),
		"Next steps, from here:", "  cd "+dir+"\n", "tributary plugin build .", "-> ../../../../build/plugins/roundtrip.wasm",
		"tributary plugin test ../../../../build/plugins/roundtrip.wasm --input testdata/input.jsonl")
	if strings.Contains(out, "go mod") || strings.Contains(out, "go get") || strings.Contains(out, "tributary-sdk") {
		t.Errorf("inside the tributary module the plugin needs no SDK copy and no module step:\n%s", out)
	}
	if code, _, errOut := runPlugin(t, "new", "roundtrip", "--dir", tmp); code != 1 || !strings.Contains(errOut, "already exists") {
		t.Errorf("second plugin new: exit %d, stderr %q; want 1 and 'already exists'", code, errOut)
	}

	// The generated tests pass as created, and go vet is clean.
	for _, args := range [][]string{{"vet", "."}, {"test", "-count=1", "."}} {
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s in the generated plugin: %v\n%s", strings.Join(args, " "), err, b)
		}
	}

	code, out, errOut = runPlugin(t, "build", dir)
	if code != 0 {
		t.Fatalf("plugin build: exit %d\n%s%s", code, out, errOut)
	}
	b, err := os.ReadFile(wasm)
	if err != nil {
		t.Fatalf("plugin build wrote no module at the default place: %v", err)
	}
	version := pluginstore.Hash(b)
	wantContains(t, "plugin build output", out, "built "+wasm, "  plugin   roundtrip\n",
		"  version  "+version+"\n", "  size     ", "  compile  ")

	input := filepath.Join(dir, "testdata", "input.jsonl")
	code, out, errOut = runPlugin(t, "test", wasm, "--input", input, "--config", `{"field":"temp","unit":"F"}`, "--warmup", "2", "--repeat", "3")
	if code != 0 {
		t.Fatalf("plugin test: exit %d\n%s%s", code, out, errOut)
	}
	wantContains(t, "plugin test output", out,
		"plugin roundtrip "+version,
		"#1 (line 1) building/floor1/sensor/001/temp {\"temp\":21.5,\"unit\":\"C\"}: 1 output\n  [0] payload: {\"temp\":70.7,\"unit\":\"F\"}\n",
		"      headers: unit=F\n",
		"#3 (line 3) building/floor1/sensor/003/humidity {\"rh\":41}: 1 output\n  [0] payload: {\"rh\":41}\n",
		"#4 (line 4) building/floor1/sensor/004/temp {\"temp\":\"warm\"}: dead letter\n    kind:  rejected\n    error: field temp: want a number, got string\n",
		"#5 (line 5) building/floor1/sensor/005/temp not json: dead letter\n    kind:  rejected\n    error: payload is not JSON",
		"summary: 5 inputs, 3 outputs, 0 filtered, 2 dead letters\n",
		"  start-up   ", "  first run  ",
		"(average over 3 runs of 3 messages after 2 warm-up runs)",
		"leave out the 2 messages that dead-lettered",
	)

	// drop_missing filters; --fail-on-dead-letter turns dead letters into exit 1.
	code, out, errOut = runPlugin(t, "test", wasm, "--input", input, "--config", `{"drop_missing":true}`, "--fail-on-dead-letter", "--batch", "1")
	if code != 1 || !strings.Contains(errOut, "2 of 5 messages dead-lettered") {
		t.Errorf("--fail-on-dead-letter: exit %d, stderr %q; want 1 and the count", code, errOut)
	}
	wantContains(t, "plugin test output", out, "humidity {\"rh\":41}: filtered\n", "summary: 5 inputs, 2 outputs, 1 filtered, 2 dead letters")

	// A config the plugin's init refuses fails the load, with the plugin's words.
	code, _, errOut = runPlugin(t, "test", wasm, "--input", input, "--config", `{"feild":"temp"}`)
	if code != 1 || !strings.Contains(errOut, "rejected") || !strings.Contains(errOut, "feild") {
		t.Errorf("refused config: exit %d, stderr %q; want 1, rejected and the key", code, errOut)
	}
}

// TestPluginTest_Failures runs `plugin test` on the conformance guest (its payload drives
// it: sdk/ABI.md appendix) to show dead letters of each kind, then the load and input errors.
func TestPluginTest_Failures(t *testing.T) {
	cacheHome := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cacheHome) // plugin test's compilation cache, $XDG_CACHE_HOME/tributary/wasm-cache
	linkCompileCache(t, filepath.Join(cacheHome, "tributary", "wasm-cache"))
	guest := sdktest.BuildConformanceGuest(t)
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	input := write("in.jsonl", `{"topic":"a","payload":"echo"}
{"topic":"b","payload":"error:no such sensor"}
{"topic":"c","payload":"exit:2"}
{"topic":"d","payload":"loop"}
{"topic":"e","payload_base64":"a2V5Oms=","properties":{"x":"1"}}
{"topic":"f","payload":"log:0:debug words","key":"k0","headers":{"h":"v"},"kafka_topic":"kt"}
{"topic":"g","payload":"log:3:error words"}
{"topic":"h","payload":"split:3"}
{"topic":"i","payload":"set:xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}
`)
	// --max-fan-out and --max-output-bytes (spelt as the config key) are enforced; --timeout is
	// --call-timeout's earlier name. One warm-up and one timed run keep the test short.
	code, out, errOut := runPlugin(t, "test", guest, "--input", input, "--timeout", "1s", "--route", "r7",
		"--max-fan-out", "2", "--max_output_bytes", "120", "--batch", "1", "--warmup", "1", "--repeat", "1")
	if code != 0 {
		t.Fatalf("plugin test: exit %d\n%s%s", code, out, errOut)
	}
	wantContains(t, "plugin test output", out,
		"#1 (line 1) a echo: 1 output\n  [0] payload: echo\n",
		"#2 (line 2) b error:no such sensor: dead letter\n    kind:  rejected\n    error: no such sensor\n",
		"#3 (line 3) c exit:2: dead letter\n    kind:  trap\n",
		"#4 (line 4) d loop: dead letter\n    kind:  timeout\n",
		"#5 (line 5) e key:k: 1 output\n", "      key: k\n",
		"#6 (line 6) f log:0:debug words: 1 output\n  [0] payload: log:0:debug words\n      kafka topic: kt\n      key: k0\n      headers: h=v\n",
		"#8 (line 8) h split:3: dead letter\n    kind:  bad_result\n",
		"... (204 bytes): dead letter\n    kind:  bad_result\n    error: result of 218 bytes exceeds max_output_bytes 120\n",
		"plugin log (first run, every level):\n  DEBUG debug words\n  ERROR error words\n",
		", route r7\n",
		"summary: 9 inputs, 4 outputs, 0 filtered, 5 dead letters",
		"(average over 1 runs of 4 messages after 1 warm-up runs)",
	)

	notPlugin := write("empty.wasm", "\x00asm\x01\x00\x00\x00")
	// A wasip1 program that is not a plugin, for build; -o after the folder names the plugin.
	src := filepath.Join(dir, "notaplugin")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	write("notaplugin/go.mod", "module example.com/notaplugin\n\ngo 1.24\n")
	write("notaplugin/main.go", "package main\n\n//go:wasmexport answer\nfunc answer() int32 { return 42 }\n\nfunc main() {}\n")
	outWasm := filepath.Join(dir, "out", "x.wasm")
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  []string
	}{
		{name: "bad input line", args: []string{"test", guest, "--input", write("bad.jsonl", "{\"topic\":\"a\"}\n\n{\"topic\":\"a\",\"qos\":7}\n")},
			wantCode: 1, wantErr: []string{"bad.jsonl:3: \"qos\" 7"}},
		{name: "missing exports", args: []string{"test", notPlugin, "--input", input},
			wantCode: 1, wantErr: []string{`plugin "empty"`, "missing export tributary_abi_v1"}},
		{name: "build: missing exports", args: []string{"build", src, "-o", outWasm},
			wantCode: 1, wantErr: []string{`plugin "x"`, "missing export tributary_abi_v1", outWasm + " left unchanged"}},
		{name: "missing module", args: []string{"test", filepath.Join(dir, "nope.wasm"), "--input", input},
			wantCode: 1, wantErr: []string{"nope.wasm"}},
		{name: "refused config", args: []string{"test", guest, "--input", input, "--config", `{"fail_init":"no way"}`},
			wantCode: 1, wantErr: []string{"rejected", "no way"}},
		{name: "bad config JSON", args: []string{"test", guest, "--input", input, "--config", `{`},
			wantCode: 1, wantErr: []string{"--config: want a JSON object"}},
		{name: "no input flag", args: []string{"test", guest}, wantCode: 2, wantErr: []string{"--input is required", "Usage:"}},
		{name: "no module", args: []string{"test", "--input", input}, wantCode: 2, wantErr: []string{"missing FILE.wasm"}},
		{name: "bad repeat", args: []string{"test", guest, "--input", input, "--repeat", "-1"}, wantCode: 2, wantErr: []string{"--repeat -1"}},
		{name: "bad memory", args: []string{"test", guest, "--input", input, "--memory-mb", "0"}, wantCode: 2, wantErr: []string{"--memory-mb 0"}},
		{name: "bad timeout", args: []string{"test", guest, "--input", input, "--timeout", "0s"}, wantCode: 2, wantErr: []string{"--call-timeout 0s"}},
		{name: "bad fan-out", args: []string{"test", guest, "--input", input, "--max_fan_out", "0"}, wantCode: 2, wantErr: []string{"--max-fan-out 0: want 1 or more"}},
		{name: "module limit", args: []string{"test", guest, "--input", input, "--module.max_functions", "10"}, wantCode: 1, wantErr: []string{"max_functions"}},
		{name: "too large", args: []string{"test", guest, "--input", input, "--max-message-bytes", "3", "--fail-on-dead-letter", "--repeat", "1"},
			wantCode: 1, wantErr: []string{"dead-lettered"}},
		{name: "no verb", args: nil, wantCode: 2, wantErr: []string{"missing verb"}},
		{name: "unknown verb", args: []string{"frob"}, wantCode: 2, wantErr: []string{`unknown verb "frob"`}},
		{name: "bad name", args: []string{"new", "My_Plugin", "--dir", dir}, wantCode: 2, wantErr: []string{`plugin name "My_Plugin"`}},
		{name: "two folders", args: []string{"build", "a", "b"}, wantCode: 2, wantErr: []string{`unexpected argument "b"`}},
		{name: "unknown flag", args: []string{"build", "a", "--out", "x"}, wantCode: 2, wantErr: []string{"-out"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runPlugin(t, tc.args...)
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tc.wantCode, errOut)
			}
			wantContains(t, "stderr", errOut, tc.wantErr...)
		})
	}
	if _, err := os.Stat(outWasm); !os.IsNotExist(err) {
		t.Errorf("plugin build wrote a module that failed the check to %s (stat: %v)", outWasm, err)
	}
}

func TestPluginHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"build", "--help"}, {"test", "-h"}, {"new", "--help"}} {
		code, out, _ := runPlugin(t, args...)
		if code != 0 || out != pluginUsage {
			t.Errorf("plugin %v: exit %d, stdout %q; want 0 and the usage", args, code, out)
		}
	}
	for _, flag := range []string{"--dir", "--module", "-o FILE", "--input", "--config", "--route", "--timeout", "--memory-mb", "--batch", "--repeat", "--fail-on-dead-letter", `"payload_base64"`} {
		if !strings.Contains(pluginUsage, flag) {
			t.Errorf("usage does not document %s", flag)
		}
	}
}
