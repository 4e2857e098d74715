package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tributary-gw/tributary/gateway/gatewaytest"
	"github.com/tributary-gw/tributary/wasmhost/wasmtest"
)

// TestMain deletes the tributary binary that the process-level tests build with
// gatewaytest.BuildBinary, and the dev tests' plugin cache, once every test has run.
func TestMain(m *testing.M) {
	code := m.Run()
	gatewaytest.RemoveBuilds()
	if devPlugins.dir != "" {
		_ = os.RemoveAll(devPlugins.dir)
	}
	os.Exit(code)
}

// linkCompileCache makes dir (a compilation cache folder the command under test will use) a
// link to the cache test binaries share (wasmtest.CompileCacheDir), so the plugins it runs are
// compiled once per machine rather than once per test. Without the shared cache, dir is left
// to the command.
func linkCompileCache(t *testing.T, dir string) {
	t.Helper()
	shared, err := wasmtest.CompileCacheDir()
	if err != nil {
		t.Logf("no shared compile cache, compiling plugins in this test: %v", err)
		return
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(shared, dir); err != nil {
		t.Fatal(err)
	}
}

// TestHelp checks that every way of asking for help prints the right usage exactly once to
// stdout and exits 0, and that unknown commands exit 2 with the command list on stderr.
func TestHelp(t *testing.T) {
	if len(commands) == 0 {
		t.Fatal("no commands registered")
	}
	mainText := fmt.Sprintf(mainUsage, commandList())
	type helpCase struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string // exact; "" means stdout must be empty
		wantStderr []string
	}
	tests := []helpCase{
		{name: "--help", args: []string{"--help"}, wantStdout: mainText},
		{name: "-h", args: []string{"-h"}, wantStdout: mainText},
		{name: "help", args: []string{"help"}, wantStdout: mainText},
		{name: "no arguments", args: nil, wantCode: 2, wantStdout: mainText},
		{name: "unknown command", args: []string{"nope"}, wantCode: 2,
			wantStderr: []string{`unknown command "nope"`, mainText}},
		{name: "help unknown command", args: []string{"help", "nope"}, wantCode: 2,
			wantStderr: []string{`unknown command "nope"`, mainText}},
	}
	for name, c := range commands {
		if c.summary == "" || c.usage == "" {
			t.Errorf("command %q has no summary or usage", name)
		}
		if !strings.Contains(mainText, "  "+name+" ") {
			t.Errorf("main usage does not list %q:\n%s", name, mainText)
		}
		tests = append(tests,
			helpCase{name: "help " + name, args: []string{"help", name}, wantStdout: c.usage},
			helpCase{name: name + " --help", args: []string{name, "--help"}, wantStdout: c.usage},
			helpCase{name: name + " -h", args: []string{name, "-h"}, wantStdout: c.usage},
		)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var stdout, stderr bytes.Buffer
			code := runMain(ctx, tc.args, &stdout, &stderr)
			if code != tc.wantCode {
				t.Errorf("exit code %d, want %d\nstderr:\n%s", code, tc.wantCode, stderr.String())
			}
			if got := stdout.String(); got != tc.wantStdout {
				t.Errorf("stdout:\n%s\nwant:\n%s", got, tc.wantStdout)
			}
			for _, want := range tc.wantStderr {
				if n := strings.Count(stderr.String(), want); n != 1 {
					t.Errorf("stderr holds %q %d times, want once:\n%s", want, n, stderr.String())
				}
			}
			if len(tc.wantStderr) == 0 && stderr.Len() != 0 {
				t.Errorf("stderr = %q, want nothing", stderr.String())
			}
		})
	}
}
