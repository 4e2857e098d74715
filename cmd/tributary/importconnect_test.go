package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tributary-gw/tributary/gateway/config"
)

// TestImportConnectGolden runs `import-connect` in-process on every
// testdata/importconnect/*.json and compares standard output with the .golden.yaml beside it
// (rewrite with -update). Every output must load with config.LoadBytes, print each warning
// on stderr as well as in a comment, and never contain a secret: every secret in the inputs
// holds secretMarker.
func TestImportConnectGolden(t *testing.T) {
	cases, err := filepath.Glob(filepath.Join("testdata", "importconnect", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) < 4 {
		t.Fatalf("found %d cases in testdata/importconnect, want at least 4", len(cases))
	}
	for _, path := range cases {
		name := strings.TrimSuffix(filepath.Base(path), ".json")
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := runMain(context.Background(), []string{"import-connect", path}, &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
			}
			got := stdout.String()
			if strings.Contains(got+stderr.String(), secretMarker) {
				t.Errorf("output contains a secret (%q):\n%s\n%s", secretMarker, got, stderr.String())
			}
			// A registry user name needs its password, which the import never copies: the YAML
			// says to set it in the environment, as the user then does.
			var env []string
			if strings.Contains(got, "\n    username: ") {
				env = append(env, config.EnvPrefix+"KAFKA__SCHEMA_REGISTRY__PASSWORD=from-the-environment")
			}
			if _, err := config.LoadBytes(stdout.Bytes(), env); err != nil {
				t.Errorf("config.LoadBytes rejects the output: %v\n%s", err, got)
			}
			warnings := strings.Count(stderr.String(), "warning: ")
			if comments := strings.Count(got, "\n# - "); warnings != comments || warnings == 0 {
				t.Errorf("%d warnings on stderr, %d in the YAML; want the same, more than 0\nstderr:\n%s", warnings, comments, stderr.String())
			}

			checkGolden(t, strings.TrimSuffix(path, ".json")+".golden.yaml", "import-connect "+path, got)
		})
	}
}

// TestImportConnectOutputFile checks -o, after the file name, writes what stdout would get.
func TestImportConnectOutputFile(t *testing.T) {
	in := filepath.Join("testdata", "importconnect", "streamreactor-rest.json")
	var want, stderr bytes.Buffer
	if code := runMain(context.Background(), []string{"import-connect", in}, &want, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	out := filepath.Join(t.TempDir(), "tributary.yaml")
	var stdout bytes.Buffer
	stderr.Reset()
	if code := runMain(context.Background(), []string{"import-connect", in, "-o", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout with -o = %q, want nothing", stdout.String())
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Errorf("-o wrote\n%s\nwant\n%s", got, want.String())
	}
	if !strings.Contains(stderr.String(), "wrote "+out) {
		t.Errorf("stderr does not say where the file went: %s", stderr.String())
	}
}

func TestImportConnectErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"no file", []string{}, 2, "FILE.json is required"},
		{"two files", []string{"a.json", "b.json"}, 2, "one FILE.json at a time"},
		{"bad flag", []string{"-x", "a.json"}, 2, "flag provided but not defined"},
		{"-o without a value", []string{"a.json", "-o"}, 2, "flag needs an argument: -o"},
		{"missing file", []string{filepath.Join(dir, "nope.json")}, 1, "no such file"},
		{"not json", []string{write("bad.json", "mqtt.topics=a")}, 1, "not a JSON object"},
		{"sink", []string{write("sink.json", `{"connector.class":"io.confluent.connect.mqtt.MqttSinkConnector"}`)}, 1, "is a sink connector"},
		{"other connector", []string{write("other.json", `{"connector.class":"io.example.FooSource"}`)}, 1, "not a known MQTT source"},
		{"no kafka topic", []string{write("nokt.json", `{"mqtt.server.uri":"tcp://b:1883","mqtt.topics":"a/#"}`)}, 1, "kafka.topic: required"},
		{"bad kcql", []string{write("kcql.json", `{"connect.mqtt.hosts":"tcp://b:1883","connect.mqtt.kcql":"SELECT * FROM a"}`)}, 1,
			"connect.mqtt.kcql statement 1: want INSERT"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := runMain(context.Background(), append([]string{"import-connect"}, tc.args...), &stdout, &stderr)
			if code != tc.wantCode || !strings.Contains(stderr.String(), tc.wantErr) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr.String(), tc.wantCode, tc.wantErr)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q, want nothing on error", stdout.String())
			}
		})
	}
}

func TestImportConnectHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := runMain(context.Background(), []string{"import-connect", "--help"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.HasPrefix(stdout.String(), "Usage: tributary import-connect FILE.json [-o FILE]") {
		t.Errorf("--help printed %q", stdout.String())
	}
}
