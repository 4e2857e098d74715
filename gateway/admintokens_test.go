package gateway_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tributary-gw/tributary/gateway"
	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/gatewaytest"
)

// replaceFile writes data to path the way editors do: a temporary file renamed over it.
func replaceFile(t *testing.T, path, data string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// swapSecret updates a Kubernetes-style secret folder: dir/..data is a symlink to a versioned
// folder, dir/NAME a symlink to ..data/NAME; a new version is a new folder and an atomic
// rename of a new ..data symlink.
func swapSecret(t *testing.T, dir, version, name, value string) {
	t.Helper()
	vdir := filepath.Join(dir, version)
	if err := os.Mkdir(vdir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(vdir, name), []byte(value+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(version, filepath.Join(dir, "..data_tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, name)
	if _, err := os.Lstat(link); os.IsNotExist(err) {
		if err := os.Symlink(filepath.Join("..data", name), link); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAdminTokens_RotatedWithinTwoSeconds rotates the operator's token (a Kubernetes secret
// swap) and a tenant's (an editor's rename) on a running gateway: within 2 s the old token
// gets 401 and the new one 200, also while the configuration file is broken so that every
// reload fails. A token file made empty refuses its principal (fail closed), and an
// unusable operator token does not open /api/v1/status.
func TestAdminTokens_RotatedWithinTwoSeconds(t *testing.T) {
	mq := gatewaytest.Mosquitto(t)
	kf := gatewaytest.Kafka(t)
	dir := t.TempDir()
	secrets := filepath.Join(dir, "secrets")
	if err := os.Mkdir(secrets, 0o755); err != nil {
		t.Fatal(err)
	}
	swapSecret(t, secrets, "v1", "operator", operatorToken)
	acmeFile := filepath.Join(dir, "acme.token")
	replaceFile(t, acmeFile, acmeToken)
	cfgPath := filepath.Join(dir, "tributary.yaml")
	clientID := "tributary-" + strings.ReplaceAll(t.Name(), "/", "-")
	doc := fmt.Sprintf(`
mqtt: {url: %q, client_id: %q, reconnect_max: 500ms}
kafka: {brokers: [%s], compression: none}
admin: {listen: "127.0.0.1:0", token_file: %q}
flow: {drain_timeout: 20s}
plugins: {dir: %q}
tenants:
  inline:
    - name: acme
      mqtt_prefixes: [acme/]
      kafka_prefixes: [acme.]
      admin_token_file: %q
      routes: [{name: r, from: ["acme/#"], to: {topic: acme.out}}]
`, mq.URL(), clientID, strings.Join(kf.Brokers(), ", "), filepath.Join(secrets, "operator"), filepath.Join(dir, "plugins"), acmeFile)
	if err := os.WriteFile(cfgPath, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	gw := startGateway(t, cfg, gateway.WithReloadFrom(cfgPath, nil))
	api := "http://" + gw.AdminAddr() + "/api/v1"
	acmeURL := api + "/tenants/acme"

	// within2s waits at most 2 s for every token to get its status on url.
	within2s := func(what, url string, want map[string]int) {
		t.Helper()
		gatewaytest.WaitFor(t, 2*time.Second, func() error {
			for tok, code := range want {
				if got, body := apiCall(t, "GET", url, tok, nil); got != code {
					return fmt.Errorf("%s: token %.8s… gets %d %s, want %d", what, tok, got, body, code)
				}
			}
			return nil
		})
	}
	within2s("at start", acmeURL, map[string]int{operatorToken: 200, acmeToken: 200})

	// A tenant's token rotated by an editor's rename, with reloads working.
	acme2 := acmeToken + "-rotated"
	replaceFile(t, acmeFile, acme2)
	within2s("acme rotated", acmeURL, map[string]int{acmeToken: 401, acme2: 200})

	// Break the configuration: every reload fails from now on.
	if err := os.WriteFile(cfgPath, []byte("mqtt: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gw.TriggerReload()
	gatewaytest.WaitFor(t, 20*time.Second, func() error {
		if st := gw.Stats().LastReload; st == nil || st.OK {
			return fmt.Errorf("last reload %+v, want a failed one", st)
		}
		return nil
	})

	// The operator's token rotated by a Kubernetes secret update.
	op2 := operatorToken + "-rotated"
	swapSecret(t, secrets, "v2", "operator", op2)
	within2s("operator rotated while reloads fail", acmeURL, map[string]int{operatorToken: 401, op2: 200, acme2: 200})
	acme3 := acmeToken + "-third"
	replaceFile(t, acmeFile, acme3)
	within2s("acme rotated while reloads fail", acmeURL, map[string]int{acme2: 401, acme3: 200})
	if st := gw.Stats().LastReload; st == nil || st.OK {
		t.Fatalf("last reload %+v: the configuration should still be refused", st)
	}

	// Emptied token files refuse their principals; status stays closed without an operator.
	replaceFile(t, acmeFile, "")
	swapSecret(t, secrets, "v3", "operator", "")
	within2s("token files emptied", acmeURL, map[string]int{acme3: 401, op2: 401})
	if code, body := apiCall(t, "GET", api+"/status", "", nil); code != 401 {
		t.Errorf("GET /api/v1/status without a token while the operator's file is empty = %d %s, want 401", code, body)
	}
	logs := gw.logs.String()
	for _, f := range []string{acmeFile, filepath.Join(secrets, "operator")} {
		if !strings.Contains(logs, f) {
			t.Errorf("no log line names the unusable token file %s", f)
		}
	}
	for _, tok := range []string{operatorToken, op2, acmeToken, acme2, acme3} {
		if strings.Contains(logs, tok) {
			t.Fatalf("a token reached the logs")
		}
	}
}
