package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tributary-gw/tributary/gateway/admin"
)

const (
	opToken     = "op-3f9a1c77e2b54d0e8c1a"
	acmeToken   = "acme-7d2e4b19c0f6a8e3"
	globexToken = "globex-0b8c5e2a9f4d71c6"
	wrongToken  = "op-3f9a1c77e2b54d0e8c1b" // differs from opToken in the last byte
)

var allTokens = []string{opToken, acmeToken, globexToken, wrongToken}

// wasm is the smallest valid module header; the fake backend does not compile it.
var wasm = []byte("\x00asm\x01\x00\x00\x00")

// fakeBackend records calls and answers from its fields.
type fakeBackend struct {
	mu    sync.Mutex
	calls []string
	err   error // returned by every method when set
	res   any   // Reload's result
	// hold, when set, runs in PutPlugin and Reload after the call is recorded; its error is
	// returned.
	hold func(ctx context.Context) error
}

func (f *fakeBackend) record(format string, args ...any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
	return f.err
}

func (f *fakeBackend) takeCalls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

func (f *fakeBackend) Tenants() []admin.TenantInfo {
	return []admin.TenantInfo{
		{Name: "", Routes: []admin.RouteInfo{{Name: "top", From: []string{"top/#"}, To: "top", Active: true, In: 7}}},
		{Name: "acme", Routes: []admin.RouteInfo{{Name: "acme-sensors", From: []string{"acme/#"}, To: "acme", Active: true, In: 3, Out: 3,
			Stages: []admin.StageInfo{{Plugin: "p", Version: "ab12"}}}},
			Plugins: []admin.PluginInfo{{Name: "p", Version: "ab12", Size: 8, Previous: []string{"cd34"}}}},
		{Name: "globex"},
	}
}

func (f *fakeBackend) LastReload() any { return map[string]bool{"ok": true} }

func (f *fakeBackend) PutPlugin(ctx context.Context, tenant, name string, wasm []byte) (admin.PluginVersion, error) {
	if err := f.record("PutPlugin %s/%s %d", tenant, name, len(wasm)); err != nil {
		return admin.PluginVersion{}, err
	}
	if f.hold != nil {
		if err := f.hold(ctx); err != nil {
			return admin.PluginVersion{}, err
		}
	}
	return admin.PluginVersion{Version: "ef56", Size: int64(len(wasm)), Previous: "ab12"}, nil
}

func (f *fakeBackend) RollbackPlugin(_ context.Context, tenant, name string) (admin.PluginVersion, error) {
	if err := f.record("RollbackPlugin %s/%s", tenant, name); err != nil {
		return admin.PluginVersion{}, err
	}
	return admin.PluginVersion{Version: "cd34", Size: 8, Previous: "ab12"}, nil
}

func (f *fakeBackend) DeletePlugin(_ context.Context, tenant, name string) error {
	return f.record("DeletePlugin %s/%s", tenant, name)
}

func (f *fakeBackend) Reload(ctx context.Context) (any, error) {
	err := f.record("Reload")
	if err == nil && f.hold != nil {
		err = f.hold(ctx)
	}
	return f.res, err
}

func (f *fakeBackend) ValidateConfig(_ context.Context, yaml []byte) error {
	return f.record("ValidateConfig %d", len(yaml))
}

func (f *fakeBackend) ValidatePlugin(_ context.Context, tenant string, wasm []byte) (admin.PluginVersion, error) {
	if err := f.record("ValidatePlugin %s %d", tenant, len(wasm)); err != nil {
		return admin.PluginVersion{}, err
	}
	return admin.PluginVersion{Version: "ef56", Size: int64(len(wasm))}, nil
}

var _ admin.Backend = (*fakeBackend)(nil)

type server struct {
	*httptest.Server
	backend *fakeBackend
	logs    *syncBuffer
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newServer(t *testing.T, mod func(*admin.Options)) *server {
	t.Helper()
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "test_things_total", Help: "things"})
	reg.MustRegister(c)
	fb := &fakeBackend{}
	logs := &syncBuffer{}
	o := admin.Options{
		Gatherer: reg,
		Status:   func() any { return map[string]int{"routes": 2} },
		Auth:     admin.Auth{Operator: opToken, Tenants: map[string]string{"acme": acmeToken, "globex": globexToken}},
		Backend:  fb,
		Log:      slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mod != nil {
		mod(&o)
	}
	srv := httptest.NewServer(admin.Handler(o))
	t.Cleanup(srv.Close)
	return &server{Server: srv, backend: fb, logs: logs}
}

type response struct {
	code   int
	header http.Header
	body   string
}

func (s *server) do(t *testing.T, method, path, token string, body []byte) response {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{code: resp.StatusCode, header: resp.Header, body: string(b)}
}

// TestAuthorizationMatrix calls every endpoint as every kind of caller and checks the status,
// that refused calls never reach the Backend, and that allowed ones reach it as expected.
func TestAuthorizationMatrix(t *testing.T) {
	s := newServer(t, func(o *admin.Options) { o.ProtectMetrics = true })
	type caller struct {
		name, token string
	}
	callers := []caller{
		{"operator", opToken},
		{"own tenant", acmeToken},
		{"other tenant", globexToken},
		{"no token", ""},
		{"wrong token", wrongToken},
	}
	const (
		ok   = http.StatusOK
		none = http.StatusNoContent
		u    = http.StatusUnauthorized
		f    = http.StatusForbidden
	)
	endpoints := []struct {
		method, path string
		body         []byte
		want         [5]int // per caller, in the order above
		call         string // the Backend call an allowed request makes, "" for none
	}{
		{"GET", "/metrics", nil, [5]int{ok, f, f, u, u}, ""},
		{"GET", "/api/v1/status", nil, [5]int{ok, f, f, u, u}, ""},
		{"GET", "/api/v1/reload", nil, [5]int{ok, f, f, u, u}, ""},
		{"POST", "/api/v1/reload", nil, [5]int{ok, f, f, u, u}, "Reload"},
		{"POST", "/api/v1/validate/config", []byte("routes: []\n"), [5]int{ok, f, f, u, u}, "ValidateConfig 11"},
		{"GET", "/api/v1/tenants", nil, [5]int{ok, ok, ok, u, u}, ""},
		{"GET", "/api/v1/tenants/acme", nil, [5]int{ok, ok, f, u, u}, ""},
		{"PUT", "/api/v1/tenants/acme/plugins/p", wasm, [5]int{ok, ok, f, u, u}, "PutPlugin acme/p 8"},
		{"POST", "/api/v1/tenants/acme/plugins/p/rollback", nil, [5]int{ok, ok, f, u, u}, "RollbackPlugin acme/p"},
		{"DELETE", "/api/v1/tenants/acme/plugins/p", nil, [5]int{none, none, f, u, u}, "DeletePlugin acme/p"},
		{"POST", "/api/v1/tenants/acme/validate/plugin", wasm, [5]int{ok, ok, f, u, u}, "ValidatePlugin acme 8"},
		{"GET", "/api/v1/tenants/_", nil, [5]int{ok, f, f, u, u}, ""},
		{"PUT", "/api/v1/tenants/_/plugins/p", wasm, [5]int{ok, f, f, u, u}, "PutPlugin /p 8"},
		{"POST", "/api/v1/tenants/_/plugins/p/rollback", nil, [5]int{ok, f, f, u, u}, "RollbackPlugin /p"},
		{"DELETE", "/api/v1/tenants/_/plugins/p", nil, [5]int{none, f, f, u, u}, "DeletePlugin /p"},
		{"POST", "/api/v1/tenants/_/validate/plugin", wasm, [5]int{ok, f, f, u, u}, "ValidatePlugin  8"},
		// A tenant token learns nothing about tenants that are not its own, existing or not.
		{"GET", "/api/v1/tenants/initech", nil, [5]int{http.StatusNotFound, f, f, u, u}, ""},
		{"PUT", "/api/v1/tenants/initech/plugins/p", wasm, [5]int{http.StatusNotFound, f, f, u, u}, ""},
	}
	var bodies strings.Builder
	for _, ep := range endpoints {
		for i, c := range callers {
			t.Run(ep.method+" "+ep.path+" as "+c.name, func(t *testing.T) {
				resp := s.do(t, ep.method, ep.path, c.token, ep.body)
				bodies.WriteString(resp.body)
				calls := s.backend.takeCalls()
				if resp.code != ep.want[i] {
					t.Fatalf("status %d, want %d (%s)", resp.code, ep.want[i], resp.body)
				}
				switch {
				case resp.code >= 400 && len(calls) > 0:
					t.Fatalf("refused with %d but the Backend was called: %v", resp.code, calls)
				case resp.code < 400 && ep.call != "" && !slices.Equal(calls, []string{ep.call}):
					t.Fatalf("Backend calls %q, want [%q]", calls, ep.call)
				}
				if resp.code == u {
					if got := resp.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
						t.Fatalf("401 without a Bearer challenge: WWW-Authenticate %q", got)
					}
				}
				if resp.code >= 400 && !strings.HasPrefix(ep.path, "/metrics") {
					var e struct{ Error string }
					if err := json.Unmarshal([]byte(resp.body), &e); err != nil || e.Error == "" {
						t.Fatalf("error body %q is not {\"error\": ...}", resp.body)
					}
				}
			})
		}
	}

	t.Run("tokens are never logged or echoed", func(t *testing.T) {
		logs := s.logs.String()
		if !strings.Contains(logs, "admin: request refused") || !strings.Contains(logs, "admin: plugin uploaded") {
			t.Fatalf("the log lacks the refusal and audit lines the test expects:\n%s", logs)
		}
		for _, tok := range allTokens {
			if strings.Contains(logs, tok) {
				t.Errorf("token %.6s… appears in the log", tok)
			}
			if strings.Contains(bodies.String(), tok) {
				t.Errorf("token %.6s… appears in a response body", tok)
			}
		}
	})
}

func TestTenantListFiltered(t *testing.T) {
	s := newServer(t, nil)
	tests := []struct {
		name, token string
		want        []string
	}{
		{"operator sees all", opToken, []string{"_", "acme", "globex"}},
		{"acme sees acme", acmeToken, []string{"acme"}},
		{"globex sees globex", globexToken, []string{"globex"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := s.do(t, "GET", "/api/v1/tenants", tc.token, nil)
			if resp.code != http.StatusOK {
				t.Fatalf("status %d: %s", resp.code, resp.body)
			}
			var got struct{ Tenants []admin.TenantInfo }
			if err := json.Unmarshal([]byte(resp.body), &got); err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, tn := range got.Tenants {
				names = append(names, tn.Name)
			}
			if !slices.Equal(names, tc.want) {
				t.Fatalf("tenants %v, want %v", names, tc.want)
			}
		})
	}
	resp := s.do(t, "GET", "/api/v1/tenants/acme", acmeToken, nil)
	var acme admin.TenantInfo
	if err := json.Unmarshal([]byte(resp.body), &acme); err != nil {
		t.Fatal(err)
	}
	if len(acme.Routes) != 1 || acme.Routes[0].In != 3 || acme.Plugins[0].Version != "ab12" || acme.Plugins[0].Previous[0] != "cd34" {
		t.Fatalf("GET /api/v1/tenants/acme = %+v", acme)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name         string
		backendErr   error
		limit        int64
		method, path string
		body         []byte
		wantCode     int
		wantError    string
	}{
		{name: "plugin does not compile", backendErr: admin.Invalid(errors.New(`plugin "p": compile: invalid magic`)),
			method: "PUT", path: "/api/v1/tenants/acme/plugins/p", body: wasm, wantCode: 422, wantError: `plugin "p": compile`},
		{name: "validate plugin fails (default 422)", backendErr: errors.New(`missing export tributary_abi_v1`),
			method: "POST", path: "/api/v1/tenants/acme/validate/plugin", body: wasm, wantCode: 422, wantError: "tributary_abi_v1"},
		{name: "config invalid (default 422)", backendErr: errors.New(`routes[0].from: at least one topic filter is required`),
			method: "POST", path: "/api/v1/validate/config", body: []byte("routes: [{}]"), wantCode: 422, wantError: "routes[0].from"},
		{name: "reload rejected", backendErr: errors.New("reload rejected, keeping the running routes"),
			method: "POST", path: "/api/v1/reload", wantCode: 422, wantError: "reload rejected"},
		{name: "unknown plugin", backendErr: admin.NotFound(errors.New(`plugin "p": not found`)),
			method: "POST", path: "/api/v1/tenants/acme/plugins/p/rollback", wantCode: 404, wantError: `plugin "p": not found`},
		{name: "no previous version", backendErr: admin.Conflict(errors.New(`plugin "p": no previous version to roll back to`)),
			method: "POST", path: "/api/v1/tenants/acme/plugins/p/rollback", wantCode: 409, wantError: "no previous version"},
		{name: "backend bad request", backendErr: fmt.Errorf("wrapped: %w", admin.BadRequest(errors.New("plugin name clashes"))),
			method: "DELETE", path: "/api/v1/tenants/acme/plugins/p", wantCode: 400, wantError: "clashes"},
		{name: "disk failure", backendErr: errors.New("write plugins/p.wasm: no space left on device"),
			method: "PUT", path: "/api/v1/tenants/acme/plugins/p", body: wasm, wantCode: 500, wantError: "no space left"},
		{name: "module too large", limit: 4,
			method: "PUT", path: "/api/v1/tenants/acme/plugins/p", body: wasm, wantCode: 413, wantError: "limit of 4 bytes"},
		{name: "config too large", limit: 4,
			method: "POST", path: "/api/v1/validate/config", body: []byte("routes: []"), wantCode: 413, wantError: "limit of 4 bytes"},
		{name: "empty module",
			method: "PUT", path: "/api/v1/tenants/acme/plugins/p", wantCode: 400, wantError: "request body: empty"},
		{name: "not wasm",
			method: "POST", path: "/api/v1/tenants/acme/validate/plugin", body: []byte(`{"json": true}`), wantCode: 400, wantError: "not a WebAssembly module"},
		{name: "bad plugin name",
			method: "PUT", path: "/api/v1/tenants/acme/plugins/a.b", body: wasm, wantCode: 400, wantError: `plugin "a.b": invalid name`},
		{name: "escaped slash in plugin name",
			method: "DELETE", path: "/api/v1/tenants/acme/plugins/..%2Fx", wantCode: 400, wantError: `plugin "../x": invalid name`},
		{name: "bad tenant name",
			method: "GET", path: "/api/v1/tenants/a%20b", wantCode: 400, wantError: `tenant "a b": invalid name`},
		{name: "unknown tenant",
			method: "POST", path: "/api/v1/tenants/initech/plugins/p/rollback", wantCode: 404, wantError: `tenant "initech": not found`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, func(o *admin.Options) { o.MaxPluginBytes, o.MaxConfigBytes = tc.limit, tc.limit })
			s.backend.err = tc.backendErr
			s.backend.res = map[string]string{"error": "x"}
			resp := s.do(t, tc.method, tc.path, opToken, tc.body)
			if resp.code != tc.wantCode {
				t.Fatalf("status %d, want %d (%s)", resp.code, tc.wantCode, resp.body)
			}
			var e struct{ Error string }
			if err := json.Unmarshal([]byte(resp.body), &e); err != nil {
				t.Fatalf("body %q: %v", resp.body, err)
			}
			if !strings.Contains(e.Error, tc.wantError) {
				t.Fatalf("error %q does not contain %q", e.Error, tc.wantError)
			}
			if calls := s.backend.takeCalls(); tc.backendErr == nil && len(calls) > 0 {
				t.Fatalf("bad input reached the Backend: %v", calls)
			}
		})
	}
}

func TestResponses(t *testing.T) {
	s := newServer(t, nil)
	s.backend.res = map[string]any{"ok": true, "changed": []string{"acme-sensors"}}

	resp := s.do(t, "PUT", "/api/v1/tenants/acme/plugins/p", acmeToken, wasm)
	var v admin.PluginVersion
	if err := json.Unmarshal([]byte(resp.body), &v); err != nil {
		t.Fatal(err)
	}
	if want := (admin.PluginVersion{Tenant: "acme", Plugin: "p", Version: "ef56", Size: 8, Previous: "ab12"}); v != want {
		t.Fatalf("PUT = %+v, want %+v", v, want)
	}
	if ct := resp.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}

	resp = s.do(t, "POST", "/api/v1/tenants/_/validate/plugin", opToken, wasm)
	if !strings.Contains(resp.body, `"tenant": "_"`) {
		t.Fatalf("top-level validate = %s, want tenant _", resp.body)
	}
	resp = s.do(t, "POST", "/api/v1/reload", opToken, nil)
	if resp.code != http.StatusOK || !strings.Contains(resp.body, `"acme-sensors"`) {
		t.Fatalf("POST /api/v1/reload = %d %s", resp.code, resp.body)
	}
	resp = s.do(t, "POST", "/api/v1/validate/config", opToken, []byte("routes: []"))
	if resp.code != http.StatusOK || !strings.Contains(resp.body, `"valid": true`) {
		t.Fatalf("POST /api/v1/validate/config = %d %s", resp.code, resp.body)
	}
	if logs := s.logs.String(); !strings.Contains(logs, `by="tenant acme"`) || !strings.Contains(logs, "version=ef56") {
		t.Fatalf("the upload's audit line lacks who or what:\n%s", logs)
	}
}

func TestAuthHeaderForms(t *testing.T) {
	s := newServer(t, nil)
	tests := []struct {
		name, header string
		wantCode     int
		wantInvalid  bool // WWW-Authenticate carries error="invalid_token"
	}{
		{"bearer", "Bearer " + opToken, 200, false},
		{"scheme is case-insensitive", "bearer " + opToken, 200, false},
		{"basic scheme", "Basic " + opToken, 401, true},
		{"no token after scheme", "Bearer ", 401, true},
		{"token alone", opToken, 401, true},
		{"prefix of a token", "Bearer " + opToken[:10], 401, true},
		{"token with a suffix", "Bearer " + opToken + "x", 401, true},
		{"empty header", "", 401, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest("GET", s.URL+"/api/v1/tenants", nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			resp, err := s.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.wantCode {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.wantCode)
			}
			if got := strings.Contains(resp.Header.Get("WWW-Authenticate"), "invalid_token"); tc.wantCode == 401 && got != tc.wantInvalid {
				t.Fatalf("WWW-Authenticate %q, want invalid_token=%v", resp.Header.Get("WWW-Authenticate"), tc.wantInvalid)
			}
		})
	}
}

func TestNoTokensConfigured(t *testing.T) {
	s := newServer(t, func(o *admin.Options) { o.Auth = admin.Auth{} })
	tests := []struct {
		method, path, token string
		wantCode            int
	}{
		{"GET", "/api/v1/status", "", 200}, // open while no operator token is set, as before
		{"GET", "/metrics", "", 200},
		{"GET", "/api/v1/tenants", "", 401},
		{"GET", "/api/v1/tenants", "anything-at-all-1234", 401},
		{"POST", "/api/v1/reload", "", 401},
		{"PUT", "/api/v1/tenants/_/plugins/p", "", 401},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			if resp := s.do(t, tc.method, tc.path, tc.token, wasm); resp.code != tc.wantCode {
				t.Fatalf("status %d, want %d (%s)", resp.code, tc.wantCode, resp.body)
			}
		})
	}
	if calls := s.backend.takeCalls(); len(calls) > 0 {
		t.Fatalf("the Backend was called without tokens configured: %v", calls)
	}
}

func TestAuthValidate(t *testing.T) {
	long := func(s string) string { return s + strings.Repeat("x", admin.MinTokenLen) }
	tests := []struct {
		name string
		auth admin.Auth
		want []string // substrings of the error; nil for no error
	}{
		{"empty", admin.Auth{}, nil},
		{"good", admin.Auth{Operator: long("op"), Tenants: map[string]string{"acme": long("a"), "globex": ""}}, nil},
		{"short operator", admin.Auth{Operator: "tiny1"}, []string{"operator: admin token is shorter than 16 bytes"}},
		{"space in token", admin.Auth{Tenants: map[string]string{"acme": long("a b")}}, []string{`tenant "acme": admin token contains whitespace`}},
		{"shared token", admin.Auth{Operator: long("s"), Tenants: map[string]string{"acme": long("s")}}, []string{`tenant "acme": admin token is the same as the operator's`}},
		{"reserved name", admin.Auth{Tenants: map[string]string{"_": long("a"), "": long("b")}}, []string{`tenant "_"`, `tenant ""`}},
		{"all reported", admin.Auth{Operator: "x", Tenants: map[string]string{"acme": "y"}}, []string{"operator:", `tenant "acme":`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.auth.Validate()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate() = nil, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			for _, tok := range []string{tc.auth.Operator, tc.auth.Tenants["acme"]} {
				if len(tok) > 1 && strings.Contains(err.Error(), tok) {
					t.Errorf("error %q contains a token", err)
				}
			}
		})
	}
}

// TestSharedTokenAuthenticatesNobody checks a token configured for two principals (which
// Auth.Validate refuses) grants neither's rights.
func TestSharedTokenAuthenticatesNobody(t *testing.T) {
	s := newServer(t, func(o *admin.Options) {
		o.Auth = admin.Auth{Operator: opToken, Tenants: map[string]string{"acme": opToken}}
	})
	if resp := s.do(t, "GET", "/api/v1/tenants", opToken, nil); resp.code != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401", resp.code)
	}
}

// TestRequestTimeout: a Backend call still running when the request's time limit is over
// gets a done context, and its error (whatever status it was marked with) answers 503 naming
// the limit; a Backend saying Unavailable answers 503 too.
func TestRequestTimeout(t *testing.T) {
	s := newServer(t, func(o *admin.Options) { o.RequestTimeout = 50 * time.Millisecond })
	s.backend.hold = func(ctx context.Context) error {
		<-ctx.Done()
		return admin.Invalid(fmt.Errorf("reload: %w", ctx.Err()))
	}
	for _, c := range []struct{ method, path string }{
		{"PUT", "/api/v1/tenants/acme/plugins/p"},
		{"POST", "/api/v1/reload"},
	} {
		r := s.do(t, c.method, c.path, opToken, wasm)
		if r.code != 503 || !strings.Contains(r.body, "time limit of 50ms") {
			t.Errorf("%s %s = %d %s, want 503 naming the time limit", c.method, c.path, r.code, r.body)
		}
	}
	s.backend.hold = func(context.Context) error {
		return admin.Unavailable(errors.New("tenant acme: another change is running"))
	}
	if r := s.do(t, "PUT", "/api/v1/tenants/acme/plugins/p", acmeToken, wasm); r.code != 503 || !strings.Contains(r.body, "another change") {
		t.Errorf("PUT while the Backend is busy = %d %s, want 503", r.code, r.body)
	}
}

// TestModuleRequestsBounded: with MaxModuleRequests 1, an upload arriving while another is
// handled waits for its turn and answers 503 when its time limit ends first; the first one
// finishes normally.
func TestModuleRequestsBounded(t *testing.T) {
	s := newServer(t, func(o *admin.Options) {
		o.MaxModuleRequests = 1
		o.RequestTimeout = 300 * time.Millisecond
	})
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	s.backend.hold = func(context.Context) error { // a Backend that is slow to give up
		once.Do(func() { close(entered) })
		<-release
		return nil
	}
	first := make(chan response, 1)
	go func() { first <- s.do(t, "PUT", "/api/v1/tenants/acme/plugins/p", acmeToken, wasm) }()
	<-entered
	r := s.do(t, "POST", "/api/v1/tenants/globex/validate/plugin", globexToken, wasm)
	if r.code != 503 || !strings.Contains(r.body, "busy") {
		t.Errorf("validation while an upload holds the only turn = %d %s, want 503 busy", r.code, r.body)
	}
	close(release)
	if r := <-first; r.code != 200 {
		t.Errorf("the first upload = %d %s, want 200 (its Backend call succeeded)", r.code, r.body)
	}
	if calls := s.backend.takeCalls(); slices.Contains(calls, "ValidatePlugin globex 8") {
		t.Errorf("the refused validation reached the Backend: %v", calls)
	}
}

// TestOperatorUnavailable: an operator token that is configured but unusable (its file is
// empty) fails closed: nobody is the operator, and /api/v1/status does not open up as it
// does when no operator token is configured at all.
func TestOperatorUnavailable(t *testing.T) {
	s := newServer(t, func(o *admin.Options) {
		o.Auth = admin.Auth{OperatorUnavailable: true, Tenants: map[string]string{"acme": acmeToken}}
	})
	for _, tok := range []string{"", opToken} {
		if r := s.do(t, "GET", "/api/v1/status", tok, nil); r.code != 401 {
			t.Errorf("GET /api/v1/status with token %q = %d %s, want 401", tok, r.code, r.body)
		}
	}
	if r := s.do(t, "GET", "/api/v1/tenants/acme", acmeToken, nil); r.code != 200 {
		t.Errorf("a tenant token while the operator's is unavailable = %d %s, want 200", r.code, r.body)
	}
}
