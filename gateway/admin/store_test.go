package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/tributary-gw/tributary/gateway/admin"
	"github.com/tributary-gw/tributary/gateway/pluginstore"
	"github.com/tributary-gw/tributary/sdk/sdktest"
	"github.com/tributary-gw/tributary/wasmhost"
	"github.com/tributary-gw/tributary/wasmhost/jsonimports"
)

func TestMain(m *testing.M) {
	code := m.Run()
	sdktest.Cleanup()
	os.Exit(code)
}

// storeBackend is the shape of the gateway's Backend for plugins: compile with wasmhost
// first, then store with pluginstore, one store per tenant folder. It has no routes and
// does not reload.
type storeBackend struct {
	host   *wasmhost.Host
	stores map[string]*pluginstore.Store // "" is plugins.dir
}

func (b *storeBackend) Tenants() []admin.TenantInfo {
	var out []admin.TenantInfo
	for _, name := range []string{"", "acme"} {
		t := admin.TenantInfo{Name: name}
		list, _ := b.stores[name].List()
		for _, p := range list {
			t.Plugins = append(t.Plugins, admin.PluginInfo{Name: p.Name, Version: p.Hash, Size: p.Size, Modified: p.ModTime, Previous: p.Previous})
		}
		out = append(out, t)
	}
	return out
}

func (b *storeBackend) LastReload() any { return nil }

func (b *storeBackend) compile(ctx context.Context, name string, wasm []byte) (*wasmhost.Plugin, error) {
	p, err := b.host.Compile(ctx, name, wasm)
	if err != nil {
		return nil, admin.Invalid(err)
	}
	return p, nil
}

func (b *storeBackend) version(st *pluginstore.Store, v pluginstore.Version) admin.PluginVersion {
	pv := admin.PluginVersion{Version: v.Hash, Size: v.Size}
	if p, err := st.Get(v.Name); err == nil && len(p.Previous) > 0 {
		pv.Previous = p.Previous[0]
	}
	return pv
}

func (b *storeBackend) PutPlugin(ctx context.Context, tenant, name string, wasm []byte) (admin.PluginVersion, error) {
	if _, err := b.compile(ctx, name, wasm); err != nil {
		return admin.PluginVersion{}, err
	}
	st := b.stores[tenant]
	v, err := st.Put(name, wasm)
	if err != nil {
		return admin.PluginVersion{}, admin.StoreError(err)
	}
	return b.version(st, v), nil
}

func (b *storeBackend) RollbackPlugin(ctx context.Context, tenant, name string) (admin.PluginVersion, error) {
	st := b.stores[tenant]
	prev, wasm, err := st.Previous(name)
	if err != nil {
		return admin.PluginVersion{}, admin.StoreError(err)
	}
	if _, err := b.compile(ctx, name, wasm); err != nil {
		return admin.PluginVersion{}, fmt.Errorf("previous version %s: %w", prev.Hash, err)
	}
	v, err := st.Rollback(name)
	if err != nil {
		return admin.PluginVersion{}, admin.StoreError(err)
	}
	return b.version(st, v), nil
}

func (b *storeBackend) DeletePlugin(_ context.Context, tenant, name string) error {
	return admin.StoreError(b.stores[tenant].Delete(name))
}

func (b *storeBackend) Reload(context.Context) (any, error) { return nil, nil }

func (b *storeBackend) ValidateConfig(context.Context, []byte) error { return nil }

func (b *storeBackend) ValidatePlugin(ctx context.Context, _ string, wasm []byte) (admin.PluginVersion, error) {
	p, err := b.compile(ctx, "uploaded", wasm)
	if err != nil {
		return admin.PluginVersion{}, err
	}
	return admin.PluginVersion{Version: p.Version(), Size: int64(p.Size())}, nil
}

// TestPluginLifecycle_RealModules drives upload, validation, rollback and delete through the
// HTTP API with a real guest compiled from Go source, wasmhost compiling it, and pluginstore
// writing the tenant's folder.
func TestPluginLifecycle_RealModules(t *testing.T) {
	guest, err := os.ReadFile(sdktest.BuildConformanceGuest(t))
	if err != nil {
		t.Fatal(err)
	}
	// A second, different valid module: the same code with an extra custom section.
	guest2 := append(append([]byte{}, guest...), 0x00, 0x06, 0x04, 'n', 'o', 't', 'e', 0x01)
	// Valid magic and version, then garbage: passes the API's check, fails compilation.
	broken := append(append([]byte{}, guest[:8]...), 0xff, 0xff, 0xff)

	ctx := context.Background()
	host, err := wasmhost.NewHost(ctx, wasmhost.HostConfig{Extensions: jsonimports.Functions()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = host.Close(ctx) })
	top, acmeDir := t.TempDir(), t.TempDir()
	b := &storeBackend{host: host, stores: map[string]*pluginstore.Store{}}
	for name, dir := range map[string]string{"": top, "acme": acmeDir} {
		if b.stores[name], err = pluginstore.Open(dir); err != nil {
			t.Fatal(err)
		}
	}
	s := newServer(t, func(o *admin.Options) { o.Backend = b })
	path := "/api/v1/tenants/acme/plugins/conf"

	decode := func(r response) admin.PluginVersion {
		t.Helper()
		var v admin.PluginVersion
		if err := json.Unmarshal([]byte(r.body), &v); err != nil {
			t.Fatalf("%s: %v", r.body, err)
		}
		return v
	}
	onDisk := func() string {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(acmeDir, "conf.wasm"))
		if errors.Is(err, os.ErrNotExist) {
			return ""
		}
		if err != nil {
			t.Fatal(err)
		}
		return pluginstore.Hash(data)
	}
	h1, h2 := pluginstore.Hash(guest), pluginstore.Hash(guest2)

	steps := []struct {
		name         string
		method, path string
		body         []byte
		wantCode     int
		wantVersion  string // in the response, when 200
		wantOnDisk   string // hash of conf.wasm afterwards, "" for none
	}{
		{"validate does not store", "POST", "/api/v1/tenants/acme/validate/plugin", guest, 200, h1, ""},
		{"broken module is 422", "PUT", path, broken, 422, "", ""},
		{"rollback before any upload is 409", "POST", path + "/rollback", nil, 409, "", ""},
		{"upload", "PUT", path, guest, 200, h1, h1},
		{"replace", "PUT", path, guest2, 200, h2, h2},
		{"broken replacement keeps the current", "PUT", path, broken, 422, "", h2},
		{"rollback", "POST", path + "/rollback", nil, 200, h1, h1},
		{"rollback again swaps back", "POST", path + "/rollback", nil, 200, h2, h2},
		{"delete", "DELETE", path, nil, 204, "", ""},
		{"delete again is 404", "DELETE", path, nil, 404, "", ""},
		{"rollback undoes the delete", "POST", path + "/rollback", nil, 200, h2, h2},
	}
	for _, st := range steps {
		resp := s.do(t, st.method, st.path, acmeToken, st.body)
		if resp.code != st.wantCode {
			t.Fatalf("%s: status %d, want %d (%s)", st.name, resp.code, st.wantCode, resp.body)
		}
		if st.wantCode == 200 {
			if v := decode(resp); v.Version != st.wantVersion || v.Tenant != "acme" {
				t.Fatalf("%s: response %+v, want version %.12s of tenant acme", st.name, v, st.wantVersion)
			}
		}
		if got := onDisk(); got != st.wantOnDisk {
			t.Fatalf("%s: conf.wasm on disk has hash %.12q, want %.12q", st.name, got, st.wantOnDisk)
		}
	}

	resp := s.do(t, "GET", "/api/v1/tenants/acme", acmeToken, nil)
	var acme admin.TenantInfo
	if err := json.Unmarshal([]byte(resp.body), &acme); err != nil {
		t.Fatal(err)
	}
	if len(acme.Plugins) != 1 || acme.Plugins[0].Version != h2 || len(acme.Plugins[0].Previous) == 0 || acme.Plugins[0].Previous[0] != h1 {
		t.Fatalf("GET /api/v1/tenants/acme plugins = %+v, want conf at %.12s with %.12s previous", acme.Plugins, h2, h1)
	}
	if entries, _ := os.ReadDir(top); len(entries) != 0 {
		t.Fatalf("the tenant's uploads touched plugins.dir: %v", entries)
	}
	if resp := s.do(t, "PUT", "/api/v1/tenants/_/plugins/conf", acmeToken, guest); resp.code != http.StatusForbidden {
		t.Fatalf("tenant upload to the top level: status %d, want 403", resp.code)
	}
}
