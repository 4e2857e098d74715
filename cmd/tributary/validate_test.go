package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/validate/*.golden from the current output")

// secretMarker is part of every secret value in testdata/validate: no output may contain it.
const secretMarker = "sekrit"

// TestValidate runs `validate --config` in-process on every testdata/validate/*.yaml and
// compares exit code, stdout and stderr with the .golden file beside it (rewrite with
// -update). An optional .env file beside the YAML holds KEY=VALUE lines set in the
// environment for that case, the way secrets reach the gateway in production.
func TestValidate(t *testing.T) {
	cases, err := filepath.Glob(filepath.Join("testdata", "validate", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) < 3 {
		t.Fatalf("found %d cases in testdata/validate, want at least 3", len(cases))
	}
	for _, path := range cases {
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		t.Run(name, func(t *testing.T) {
			clearTributaryEnv(t)
			setEnvFile(t, strings.TrimSuffix(path, ".yaml")+".env")
			var stdout, stderr bytes.Buffer
			code := runMain(context.Background(), []string{"validate", "--config", path}, &stdout, &stderr)
			got := fmt.Sprintf("exit: %d\n-- stdout --\n%s-- stderr --\n%s", code, stdout.String(), stderr.String())
			// Relative paths in the file resolve against its folder, printed absolute.
			got = strings.ReplaceAll(got, absDir(t, filepath.Dir(path)), "$CONFIG_DIR")

			if strings.Contains(got, secretMarker) {
				t.Errorf("output contains a secret (%q):\n%s", secretMarker, got)
			}
			checkGolden(t, strings.TrimSuffix(path, ".yaml")+".golden", "validate --config "+path, got)
		})
	}
}

// TestValidate_Contract checks what the golden files must show regardless of wording: a
// valid file exits 0, an invalid one exits 1 naming every bad key, and no secret is printed.
func TestValidate_Contract(t *testing.T) {
	tests := []struct {
		file       string
		wantCode   int
		wantStdout []string
		wantStderr []string
	}{
		{
			file:       "good.yaml",
			wantCode:   0,
			wantStdout: []string{"is valid", "client_id: gw-good", "route building-sensors:", "route envelope:"},
		},
		{
			file:     "errors.yaml",
			wantCode: 1,
			wantStderr: []string{
				"is invalid",
				"mqtt.clientid",
				"mqtt.session_expiry",
				"kafka.sasl.mechanism",
				"log.level",
				"routes[0] (temps).from[0]",
				"routes[0] (temps).qos",
				"routes[1] (temps).name",
				"routes[1] (temps).to.topic",
			},
		},
		{
			file:       "secret-env.yaml",
			wantCode:   0,
			wantStdout: []string{"password: '[redacted]'", "[redacted]@127.0.0.1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			clearTributaryEnv(t)
			path := filepath.Join("testdata", "validate", tc.file)
			setEnvFile(t, strings.TrimSuffix(path, ".yaml")+".env")
			var stdout, stderr bytes.Buffer
			code := runMain(context.Background(), []string{"validate", "--config", path}, &stdout, &stderr)
			if code != tc.wantCode {
				t.Errorf("exit code %d, want %d\nstderr:\n%s", code, tc.wantCode, stderr.String())
			}
			for _, want := range tc.wantStdout {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
				}
			}
			for _, want := range tc.wantStderr {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
				}
			}
			if all := stdout.String() + stderr.String(); strings.Contains(all, secretMarker) {
				t.Errorf("output contains a secret (%q):\nstdout:\n%s\nstderr:\n%s", secretMarker, stdout.String(), stderr.String())
			}
		})
	}
}

// clearTributaryEnv unsets every TRIBUTARY_ variable for the rest of the test.
func clearTributaryEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "TRIBUTARY_") {
			t.Setenv(k, "") // restores the old value after the test
			os.Unsetenv(k)
		}
	}
}

// setEnvFile sets the KEY=VALUE lines of path in the environment for the rest of the test;
// a missing file sets nothing.
func setEnvFile(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: line %q is not KEY=VALUE", path, line)
		}
		t.Setenv(k, v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}

// checkGolden compares got, the output of what, with the golden file (rewritten with -update).
func checkGolden(t *testing.T, golden, what, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s (run with -update if the change is intended)\n--- got ---\n%s\n--- want ---\n%s",
			what, golden, got, want)
	}
}

// absDir is dir made absolute.
func absDir(t *testing.T, dir string) string {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// TestValidate_MissingPluginHint checks that validate names the absolute file of a missing
// plugin and prints the plugin build command for it when its Go source is in a plugins/NAME
// folder above the config file, and says where it looked when there is none.
func TestValidate_MissingPluginHint(t *testing.T) {
	clearTributaryEnv(t)
	dir := t.TempDir()
	for path, doc := range map[string]string{
		"plugins/units/main.go": "package main\n",
		"conf/tributary.yaml":   "routes: [{name: r, from: [a], to: {topic: t}, chain: [{plugin: units}, {plugin: other}]}]\n",
	} {
		path = filepath.Join(dir, path)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(filepath.Join(dir, "conf"))
	var stdout, stderr bytes.Buffer
	code := runMain(context.Background(), []string{"validate", "--config", "tributary.yaml"}, &stdout, &stderr)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, stderr.String())
	}
	wasm := filepath.Join(dir, "conf", "plugins", "units.wasm")
	for _, want := range []string{
		`plugin "units": file ` + wasm + ` does not exist (plugins.dir "./plugins" is relative to the config file's folder)`,
		"tributary plugin build " + filepath.Join(dir, "plugins", "units") + " -o " + wasm,
		"other: no Go source found in " + filepath.Join(dir, "conf", "plugins", "other"),
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
}
