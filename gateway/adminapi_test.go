package gateway_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tributary-gw/tributary/gateway"
	"github.com/tributary-gw/tributary/gateway/gatewaytest"
	"github.com/tributary-gw/tributary/gateway/pluginstore"
)

const (
	operatorToken = "operator-token-0123456789abcdef"
	acmeToken     = "acme-token-0123456789abcdef"
	globexToken   = "globex-token-0123456789abcdef"
)

// apiCall sends one admin API request and returns the status and body.
func apiCall(t *testing.T, method, url, token string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func sha(b []byte) string { return pluginstore.Hash(b) }

// TestAdminAPI_TenantPluginLifecycle drives a tenant's plugin through the admin API of a
// running gateway: replace it under a tenant token, see the new version serve and listed,
// refuse a broken module (the running version keeps serving), roll back, and check the
// tokens: another tenant's token gets 403, none or a wrong one 401.
func TestAdminAPI_TenantPluginLifecycle(t *testing.T) {
	mq := gatewaytest.Mosquitto(t)
	kf := gatewaytest.Kafka(t)
	s := newTenantSetup(t, mq.URL(), kf, map[string]string{
		"acme":   tenantDoc("acme", "p", "admin_token: "+acmeToken),
		"globex": tenantDoc("globex", "stamp", "admin_token: "+globexToken),
	})
	stamp, err := os.ReadFile(filepath.Join(s.pluginsDir, "stamp.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	conformance, err := os.ReadFile(filepath.Join(s.pluginsDir, "conformance.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.tenantsDir, "acme", "p.wasm"), stamp, 0o644); err != nil {
		t.Fatal(err)
	}
	cfgDoc, err := os.ReadFile(s.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfgDoc = append(cfgDoc, []byte("\nadmin: {listen: \"127.0.0.1:0\", token: "+operatorToken+"}\n")...)
	cfgDoc = bytes.Replace(cfgDoc, []byte(`admin: {listen: "127.0.0.1:0"}`), nil, 1)
	if err := os.WriteFile(s.cfgPath, cfgDoc, 0o644); err != nil {
		t.Fatal(err)
	}
	gw := startGateway(t, s.load(t), gateway.WithReloadFrom(s.cfgPath, nil))
	api := "http://" + gw.AdminAddr() + "/api/v1"
	pluginURL := api + "/tenants/acme/plugins/p"

	// probe publishes "meta" to acme and returns what the record says: the stamp guest passes
	// it through unchanged, the conformance guest answers with JSON naming the tenant.
	seq := 0
	probe := func() string {
		t.Helper()
		seq++
		topic := fmt.Sprintf("acme/probe/%d", seq)
		gatewaytest.Publish(t, mq.URL(), 1, []gatewaytest.PublishMsg{{Topic: topic, Payload: []byte("meta")}})
		recs := kf.WaitRecords(t, "acme.out", seq, 30*time.Second)
		for _, r := range recs {
			if string(r.Key) == topic {
				if string(r.Value) == "meta" {
					return "stamp"
				}
				return "conformance"
			}
		}
		t.Fatalf("no record of %s", topic)
		return ""
	}
	if got := probe(); got != "stamp" {
		t.Fatalf("before any change acme runs %s", got)
	}

	for _, c := range []struct {
		name, method, url, token string
		want                     int
	}{
		{"no token", "GET", api + "/tenants", "", 401},
		{"wrong token", "GET", api + "/tenants", "not-a-token-0123456789", 401},
		{"other tenant reads", "GET", api + "/tenants/acme", globexToken, 403},
		{"other tenant uploads", "PUT", pluginURL, globexToken, 403},
		{"tenant reloads", "POST", api + "/reload", acmeToken, 403},
		{"tenant reads top level", "GET", api + "/tenants/_", acmeToken, 403},
		{"own tenant reads", "GET", api + "/tenants/acme", acmeToken, 200},
		{"operator reads", "GET", api + "/tenants/acme", operatorToken, 200},
		{"unknown tenant", "GET", api + "/tenants/nobody", operatorToken, 404},
	} {
		body := []byte(nil)
		if c.method == "PUT" {
			body = conformance
		}
		if code, resp := apiCall(t, c.method, c.url, c.token, body); code != c.want {
			t.Errorf("%s: %s %s = %d %s, want %d", c.name, c.method, c.url, code, resp, c.want)
		}
	}
	if got := probe(); got != "stamp" {
		t.Fatalf("a refused upload changed acme's plugin to %s", got)
	}

	// Replace under the tenant's token.
	code, resp := apiCall(t, "PUT", pluginURL, acmeToken, conformance)
	if code != 200 || !strings.Contains(resp, sha(conformance)) || !strings.Contains(resp, sha(stamp)) {
		t.Fatalf("PUT = %d %s, want 200 naming the new and previous versions", code, resp)
	}
	if got := probe(); got != "conformance" {
		t.Fatalf("after the upload acme runs %s", got)
	}
	var tenant struct {
		Routes []struct {
			Stages []struct{ Plugin, Version string }
		}
		Plugins []struct {
			Name, Version string
			Previous      []string
		}
	}
	code, resp = apiCall(t, "GET", api+"/tenants/acme", acmeToken, nil)
	if err := json.Unmarshal([]byte(resp), &tenant); err != nil || code != 200 {
		t.Fatalf("GET tenant = %d %s (%v)", code, resp, err)
	}
	if len(tenant.Routes) != 1 || len(tenant.Routes[0].Stages) != 1 || tenant.Routes[0].Stages[0].Version != sha(conformance) {
		t.Errorf("acme's route stages = %+v, want the uploaded version %s", tenant.Routes, sha(conformance)[:12])
	}
	if len(tenant.Plugins) != 1 || tenant.Plugins[0].Version != sha(conformance) || len(tenant.Plugins[0].Previous) == 0 ||
		tenant.Plugins[0].Previous[0] != sha(stamp) {
		t.Errorf("acme's plugins = %+v", tenant.Plugins)
	}

	// A module that is not valid wasm is refused and changes nothing.
	broken := append([]byte("\x00asm\x01\x00\x00\x00"), bytes.Repeat([]byte{0xff}, 64)...)
	if code, resp := apiCall(t, "PUT", pluginURL, acmeToken, broken); code != 422 {
		t.Errorf("PUT broken module = %d %s, want 422", code, resp)
	}
	if got := probe(); got != "conformance" {
		t.Fatalf("after a refused upload acme runs %s", got)
	}

	// Roll back: the previous version serves again.
	code, resp = apiCall(t, "POST", pluginURL+"/rollback", acmeToken, nil)
	if code != 200 || !strings.Contains(resp, sha(stamp)) {
		t.Fatalf("rollback = %d %s", code, resp)
	}
	if got := probe(); got != "stamp" {
		t.Fatalf("after the rollback acme runs %s", got)
	}
	// The plugin is in use: deleting it is refused.
	if code, resp := apiCall(t, "DELETE", pluginURL, acmeToken, nil); code != 409 || !strings.Contains(resp, "acme/r") {
		t.Errorf("DELETE of a plugin in use = %d %s, want 409 naming the route", code, resp)
	}
	// A tenant token lists only its tenant.
	code, resp = apiCall(t, "GET", api+"/tenants", globexToken, nil)
	if code != 200 || strings.Contains(resp, `"acme"`) || !strings.Contains(resp, `"globex"`) {
		t.Errorf("GET /tenants as globex = %d %s", code, resp)
	}
	if code, resp := apiCall(t, "POST", api+"/validate/config", operatorToken, []byte("routes: [\n")); code != 422 {
		t.Errorf("validate a broken config = %d %s, want 422", code, resp)
	}
	logs := gw.logs.String()
	for _, tok := range []string{operatorToken, acmeToken, globexToken} {
		if strings.Contains(logs, tok) {
			t.Fatalf("a token reached the logs")
		}
	}
}
