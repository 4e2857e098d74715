package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tributary-gw/tributary/gateway/config"
)

// writeFile writes doc to path, creating its folder.
func writeFile(t *testing.T, path, doc string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestPathsRelativeToConfigFile loads a file that names every kind of path key relatively,
// from another working directory: each resolves against the file's folder (a tenant.yaml's
// against its own folder), except a value from the environment, which resolves against the
// working directory.
func TestPathsRelativeToConfigFile(t *testing.T) {
	root := t.TempDir()
	cfgDir := filepath.Join(root, "etc", "gw")
	writeFile(t, filepath.Join(cfgDir, "plugins", "p.wasm"), "\x00asm")
	writeFile(t, filepath.Join(cfgDir, "secrets", "mqtt"), "mqtt-pass-0123\n")
	writeFile(t, filepath.Join(cfgDir, "secrets", "admin"), "admin-token-0123456789\n")
	writeFile(t, filepath.Join(cfgDir, "secrets", "globex"), "globex-token-0123456789\n")
	writeFile(t, filepath.Join(cfgDir, "tls", "ca.pem"), "not checked here")
	writeFile(t, filepath.Join(cfgDir, "tenants", "acme", "token"), "acme-token-0123456789\n")
	writeTenant(t, filepath.Join(cfgDir, "tenants"), "acme", `
mqtt_prefixes: [acme/]
kafka_prefixes: [acme.]
admin_token_file: token
routes: [{name: r, from: [acme/#], to: {topic: acme.t}, chain: [{plugin: p}]}]
`)
	writeFile(t, filepath.Join(cfgDir, "tributary.yaml"), `
mqtt: {password_file: secrets/mqtt, tls: {ca_file: ./tls/ca.pem}}
admin: {token_file: secrets/admin}
plugins: {cache_dir: cache}
tenants:
  dir: tenants
  inline:
    - name: globex
      mqtt_prefixes: [globex/]
      kafka_prefixes: [globex.]
      admin_token_file: secrets/globex
      routes: [{name: r, from: [globex/#], to: {topic: globex.t}}]
routes: [{name: r, from: [a/#], to: {topic: t}, chain: [{plugin: p}]}]
`)
	work := filepath.Join(root, "work")
	writeFile(t, filepath.Join(work, "kafka-ca.pem"), "not checked here")
	t.Chdir(work)

	cfg, err := config.Load("../etc/gw/tributary.yaml", []string{"TRIBUTARY_KAFKA__TLS__CA_FILE=kafka-ca.pem"})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	for key, got := range map[string]string{
		"plugins.dir":         cfg.Plugins.Dir, // the default, ./plugins
		"plugins.cache_dir":   cfg.Plugins.CacheDir,
		"tenants.dir":         cfg.Tenants.Dir,
		"mqtt.password_file":  cfg.MQTT.PasswordFile,
		"mqtt.tls.ca_file":    cfg.MQTT.TLS.CAFile,
		"admin.token_file":    cfg.Admin.TokenFile,
		"globex's token file": cfg.Tenant("globex").AdminTokenFile,
		"globex's plugins":    cfg.Tenant("globex").Dir,
		"acme's token file":   cfg.Tenant("acme").AdminTokenFile,
		"acme's plugins":      cfg.Tenant("acme").Dir,
		"kafka.tls.ca_file":   cfg.Kafka.TLS.CAFile,
	} {
		want := map[string]string{
			"plugins.dir":         filepath.Join(cfgDir, "plugins"),
			"plugins.cache_dir":   filepath.Join(cfgDir, "cache"),
			"tenants.dir":         filepath.Join(cfgDir, "tenants"),
			"mqtt.password_file":  filepath.Join(cfgDir, "secrets", "mqtt"),
			"mqtt.tls.ca_file":    filepath.Join(cfgDir, "tls", "ca.pem"),
			"admin.token_file":    filepath.Join(cfgDir, "secrets", "admin"),
			"globex's token file": filepath.Join(cfgDir, "secrets", "globex"),
			"globex's plugins":    filepath.Join(cfgDir, "plugins", "globex"),
			"acme's token file":   filepath.Join(cfgDir, "tenants", "acme", "token"),
			"acme's plugins":      filepath.Join(cfgDir, "tenants", "acme"),
			"kafka.tls.ca_file":   filepath.Join(work, "kafka-ca.pem"), // from the environment
		}[key]
		if got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	if cfg.MQTT.Password.Value() != "mqtt-pass-0123" || cfg.Tenant("acme").AdminToken.Value() != "acme-token-0123456789" {
		t.Error("secrets were not read from the resolved files")
	}
	if got := cfg.PluginPath("p"); got != filepath.Join(cfgDir, "plugins", "p.wasm") {
		t.Errorf("PluginPath = %q", got)
	}
}

// TestMissingPluginNamesAbsolutePath checks that a missing plugin's error names the absolute
// file looked for, the key it came from and how it was resolved, and carries a
// *MissingPluginError.
func TestMissingPluginNamesAbsolutePath(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "conf", "tributary.yaml"), "routes: [{name: r, from: [a], to: {topic: t}, chain: [{plugin: units}]}]\n")
	t.Chdir(dir)
	_, err := config.Load("conf/tributary.yaml", nil)
	want := filepath.Join(dir, "conf", "plugins", "units.wasm")
	if err == nil || !strings.Contains(err.Error(), `routes[0] (r).chain[0].plugin: plugin "units": file `+want+
		` does not exist (plugins.dir "./plugins" is relative to the config file's folder)`) {
		t.Fatalf("error = %v, want one naming %s and plugins.dir", err, want)
	}
	var mp *config.MissingPluginError
	if !errors.As(err, &mp) || mp.Plugin != "units" || mp.Path != want {
		t.Errorf("errors.As MissingPluginError = %+v", mp)
	}
}

// TestMisindentedFileNamesLine loads files with a key indented wrongly in various places:
// the error names the file and the line of that key, where yaml/v3 alone names the line the
// enclosing block starts at, counted from 0.
func TestMisindentedFileNamesLine(t *testing.T) {
	tests := []struct {
		name, doc string
		line      int
	}{
		{"one space too few", "mqtt:\n  url: tcp://h:1883\n client_id: x\n", 3},
		{"one space too many", "mqtt:\n  url: tcp://h:1883\n   client_id: x\n", 3},
		{"route key out of its item", "routes:\n  - name: a\n    from: [x]\n   to:\n      topic: t\n", 4},
		{"deep key", "routes:\n  - name: a\n    from: [x]\n    to:\n      topic: t\n      key: x\n     envelope: json\n", 7},
		{"list item key", "routes:\n  - name: a\n  from: [x]\n", 3},
		{"tab", "mqtt:\n\turl: x\n", 2},
	}
	dir := t.TempDir()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".yaml")
			writeFile(t, path, tc.doc)
			_, err := config.Load(path, nil)
			var se *config.SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error = %v, want a *SyntaxError", err)
			}
			if se.File != path || se.Line != tc.line {
				t.Errorf("at %s:%d, want %s:%d (%v)", se.File, se.Line, path, tc.line, err)
			}
			lines := strings.Split(tc.doc, "\n")
			if want := path + ":" + strconv.Itoa(tc.line) + ": invalid YAML: "; !strings.HasPrefix(err.Error(), want) ||
				!strings.Contains(err.Error(), "| "+lines[tc.line-1]) {
				t.Errorf("error = %q, want it to start %q and show the line", err, want)
			}
			if strings.Contains(tc.doc, "\t") && !strings.Contains(err.Error(), "not tabs") {
				t.Errorf("error = %q, want it to say YAML indents with spaces", err)
			}
		})
	}
}

// TestClosestName checks the "did you mean" picks.
func TestClosestName(t *testing.T) {
	known := []string{"client_id", "clean_start", "session_expiry", "url", "tls"}
	for name, want := range map[string]string{
		"clientid":       "client_id",
		"client-id":      "client_id",
		"CLIENT_ID":      "client_id",
		"sesion_expiry":  "session_expiry",
		"clean_strat":    "clean_start",
		"uri":            "url",
		"password":       "",
		"x":              "",
		"session_expire": "session_expiry",
	} {
		if got := config.ClosestName(name, known); got != want {
			t.Errorf("ClosestName(%q) = %q, want %q", name, got, want)
		}
	}
}

// TestKeyErrorsNameLines checks that problems with keys of a config file name the file and
// the line of the key (or of its nearest written parent), and that problems from the
// environment do not.
func TestKeyErrorsNameLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tributary.yaml")
	writeFile(t, path, `mqtt:
  client_id: x
  session_expiry: forever
tenants:
  inline:
    - name: acme
      mqtt_prefixes: [acme/]
      kafka_prefixes: [acme.]
      routes:
        - name: r
          from: [acme/#]
          to: {topic: acme.t, topik: x}
routes:
  - name: temps
    from: ["a/#/b"]
  - name: other
    from: [b]
    to:
      envelope: xml
`)
	_, err := config.Load(path, []string{"TRIBUTARY_MQTT__KEEP_ALIVE=5x"})
	if err == nil {
		t.Fatal("Load succeeded")
	}
	for _, want := range []string{
		path + ":3: mqtt.session_expiry: invalid duration",
		path + ":12: tenants.inline[0].routes[0].to.topik: unknown key; did you mean topic?",
		path + ":15: routes[0] (temps).from[0]: invalid topic filter",
		path + ":14: routes[0] (temps).to.topic: required", // left out: placed at its route
		path + ":19: routes[1] (other).to.envelope: \"xml\" is not one of none, json",
		"\nmqtt.keep_alive: invalid duration \"5x\" (from environment variable TRIBUTARY_MQTT__KEEP_ALIVE)",
	} {
		if !strings.Contains("\n"+err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// TestTenantFileUnknownKeys checks the "did you mean" in a tenant.yaml, whose root is a tenant.
func TestTenantFileUnknownKeys(t *testing.T) {
	dir := t.TempDir()
	writeTenant(t, dir, "acme", "mqtt_prefixs: [a/]\nkafka_prefixes: [a.]\nlimits: {memory_mbb: 1}\nroutes: [{name: r, from: [a/#], to: {topic: a.t}}]\n")
	cfg, err := config.LoadBytes([]byte("tenants: {dir: "+dir+"}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.BrokenTenants()) != 1 {
		t.Fatalf("broken tenants = %v, want acme", cfg.BrokenTenants())
	}
	msg := cfg.BrokenTenants()[0].Err.Error()
	for _, want := range []string{"mqtt_prefixs: unknown key; did you mean mqtt_prefixes?", "limits.memory_mbb: unknown key; did you mean memory_mb?"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
}

// TestOldRelativePathHint checks that a plugin missing under the config file's folder, where
// the working directory's folder of the same relative name exists (what the path meant
// before), says so.
func TestOldRelativePathHint(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "conf", "tributary.yaml"), "plugins: {dir: plugins}\nroutes: [{name: r, from: [a], to: {topic: t}, chain: [{plugin: p}]}]\n")
	writeFile(t, filepath.Join(dir, "plugins", "p.wasm"), "\x00asm")
	t.Chdir(dir)
	_, err := config.Load("conf/tributary.yaml", nil)
	want := filepath.Join(dir, "plugins") + " exists: relative paths in a config file were the working directory's before"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error = %v, want it to say %q", err, want)
	}
}

// TestRelativeFileErrors checks that a missing TLS or secret file named relatively is
// reported at its key with the absolute path and what it was relative to.
func TestRelativeFileErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tributary.yaml")
	writeFile(t, path, "mqtt: {password_file: pw.txt, tls: {ca_file: ca.pem}}\nroutes: [{name: r, from: [a], to: {topic: t}}]\n")
	_, err := config.Load(path, nil)
	for _, want := range []string{
		"mqtt.password_file: open " + filepath.Join(dir, "pw.txt") + `: no such file or directory (mqtt.password_file "pw.txt" is relative to the config file's folder)`,
		"mqtt.tls.ca_file: stat " + filepath.Join(dir, "ca.pem") + `: no such file or directory (mqtt.tls.ca_file "ca.pem" is relative to the config file's folder)`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}
