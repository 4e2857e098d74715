package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
)

// api serves /api/v1 from Options.Backend.
type api struct {
	o       Options
	auth    *authenticator
	log     *slog.Logger
	modules chan struct{} // a token per module request being handled (MaxModuleRequests)
}

// wasmMagic starts every WebAssembly binary module.
var wasmMagic = []byte("\x00asm")

// maxNameLen bounds tenant and plugin names in paths.
const maxNameLen = 128

func (a *api) routes(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/reload", a.bounded(a.operator(a.lastReload)))
	mux.Handle("POST /api/v1/reload", a.bounded(a.operator(a.reload)))
	mux.Handle("POST /api/v1/validate/config", a.bounded(a.operator(a.validateConfig)))
	mux.Handle("GET /api/v1/tenants", a.bounded(a.authenticated(a.listTenants)))
	mux.Handle("GET /api/v1/tenants/{t}", a.bounded(a.tenant(a.getTenant)))
	mux.Handle("PUT /api/v1/tenants/{t}/plugins/{name}", a.bounded(a.tenant(a.moduleTurn(a.putPlugin))))
	mux.Handle("POST /api/v1/tenants/{t}/plugins/{name}/rollback", a.bounded(a.tenant(a.rollbackPlugin)))
	mux.Handle("DELETE /api/v1/tenants/{t}/plugins/{name}", a.bounded(a.tenant(a.deletePlugin)))
	mux.Handle("POST /api/v1/tenants/{t}/validate/plugin", a.bounded(a.tenant(a.moduleTurn(a.validatePlugin))))
}

// bounded gives h's request a context that is done after RequestTimeout.
func (a *api) bounded(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), a.o.RequestTimeout)
		defer cancel()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// moduleTurn runs h once fewer than MaxModuleRequests module requests are being handled,
// else answers 503 when the request's context is done first.
func (a *api) moduleTurn(h tenantHandler) tenantHandler {
	return func(w http.ResponseWriter, r *http.Request, p principal, t TenantInfo) {
		select {
		case a.modules <- struct{}{}:
		case <-r.Context().Done():
			a.fail(w, r, Unavailable(fmt.Errorf("busy: %d plugin uploads and validations are being handled; try again", cap(a.modules))), 0)
			return
		}
		defer func() { <-a.modules }()
		h(w, r, p, t)
	}
}

// fail answers err with its status (def when it has none). Once the request's context is
// done, an error caused by that is 503 and says so.
func (a *api) fail(w http.ResponseWriter, r *http.Request, err error, def int) {
	code, msg := a.errorOf(r, err, def)
	writeError(w, code, msg)
}

// errorOf returns the status and text answering err (see fail).
func (a *api) errorOf(r *http.Request, err error, def int) (int, string) {
	code, msg := statusOf(err, def), err.Error()
	if cerr := r.Context().Err(); cerr != nil && (errors.Is(err, cerr) || code == http.StatusServiceUnavailable) {
		code = http.StatusServiceUnavailable
		if errors.Is(cerr, context.DeadlineExceeded) {
			msg = fmt.Sprintf("gave up after the request's time limit of %s: %s", a.o.RequestTimeout, msg)
		}
	}
	return code, msg
}

// authenticated runs h for a request with a valid token, else answers 401.
func (a *api) authenticated(h func(http.ResponseWriter, *http.Request, principal)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, fail := a.auth.authenticate(r)
		if fail != authOK {
			a.refuse(r, http.StatusUnauthorized, fail.String(), principal{})
			challenge := `Bearer realm="tributary"`
			if fail != authMissing {
				challenge += `, error="invalid_token"`
			}
			w.Header().Set("WWW-Authenticate", challenge)
			writeError(w, http.StatusUnauthorized, "unauthorized: a valid bearer token is required")
			return
		}
		h(w, r, p)
	})
}

// operator runs h for the operator, else answers 401 or 403.
func (a *api) operator(h func(http.ResponseWriter, *http.Request, principal)) http.Handler {
	return a.authenticated(func(w http.ResponseWriter, r *http.Request, p principal) {
		if !p.operator {
			a.refuse(r, http.StatusForbidden, "operator token required", p)
			writeError(w, http.StatusForbidden, "forbidden: this endpoint needs the operator token")
			return
		}
		h(w, r, p)
	})
}

// tenantHandler serves a request about one tenant; tenant is "" for the top level.
type tenantHandler func(w http.ResponseWriter, r *http.Request, p principal, tenant TenantInfo)

// tenant runs h for a principal allowed to access the path's tenant {t} that Backend lists,
// else answers 401, 403, 400 (bad name) or 404. It also checks {name} when the path has one.
func (a *api) tenant(h tenantHandler) http.Handler {
	return a.authenticated(func(w http.ResponseWriter, r *http.Request, p principal) {
		seg := r.PathValue("t")
		if !p.canAccess(seg) {
			a.refuse(r, http.StatusForbidden, "tenant not accessible", p)
			writeError(w, http.StatusForbidden, fmt.Sprintf("forbidden: this token may not access tenant %q", seg))
			return
		}
		if seg != TopLevel && !validTenantName(seg) {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("tenant %q: invalid name: use letters, digits, '.', '_' and '-'", seg))
			return
		}
		if name := r.PathValue("name"); name != "" && !validPluginName(name) {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("plugin %q: invalid name: use letters, digits, '_' and '-'", name))
			return
		}
		name := seg
		if seg == TopLevel {
			name = ""
		}
		for _, t := range a.o.Backend.Tenants() {
			if t.Name == name {
				h(w, r, p, t)
				return
			}
		}
		writeError(w, http.StatusNotFound, fmt.Sprintf("tenant %q: not found", seg))
	})
}

func (a *api) refuse(r *http.Request, code int, reason string, p principal) {
	attrs := []any{slog.String("method", r.Method), slog.String("path", r.URL.Path),
		slog.String("remote", r.RemoteAddr), slog.Int("status", code), slog.String("reason", reason)}
	if code == http.StatusForbidden {
		attrs = append(attrs, slog.String("by", p.String()))
	}
	a.log.Warn("admin: request refused", attrs...)
}

// audit logs a change; never a token.
func (a *api) audit(r *http.Request, msg string, p principal, attrs ...any) {
	a.log.Info(msg, append([]any{slog.String("by", p.String()), slog.String("remote", r.RemoteAddr)}, attrs...)...)
}

func (a *api) lastReload(w http.ResponseWriter, _ *http.Request, _ principal) {
	writeJSON(w, http.StatusOK, map[string]any{"reload": a.o.Backend.LastReload()})
}

func (a *api) reload(w http.ResponseWriter, r *http.Request, p principal) {
	res, err := a.o.Backend.Reload(r.Context())
	a.audit(r, "admin: reload", p, slog.Bool("ok", err == nil))
	if err != nil {
		code, msg := a.errorOf(r, err, http.StatusUnprocessableEntity)
		writeJSON(w, code, map[string]any{"error": msg, "reload": res})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"reload": res})
}

func (a *api) validateConfig(w http.ResponseWriter, r *http.Request, _ principal) {
	body, ok := a.readBody(w, r, a.o.MaxConfigBytes, "configuration")
	if !ok {
		return
	}
	if err := a.o.Backend.ValidateConfig(r.Context(), body); err != nil {
		a.fail(w, r, err, http.StatusUnprocessableEntity)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"valid": true})
}

func (a *api) listTenants(w http.ResponseWriter, _ *http.Request, p principal) {
	out := []TenantInfo{}
	for _, t := range a.o.Backend.Tenants() {
		if p.canAccess(pathName(t.Name)) {
			out = append(out, shown(t))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tenants": out})
}

func (a *api) getTenant(w http.ResponseWriter, _ *http.Request, _ principal, t TenantInfo) {
	writeJSON(w, http.StatusOK, shown(t))
}

func (a *api) putPlugin(w http.ResponseWriter, r *http.Request, p principal, t TenantInfo) {
	wasm, ok := a.readModule(w, r)
	if !ok {
		return
	}
	name := r.PathValue("name")
	v, err := a.o.Backend.PutPlugin(r.Context(), t.Name, name, wasm)
	if err != nil {
		a.log.Warn("admin: plugin upload rejected", slog.String("by", p.String()), slog.String("tenant", pathName(t.Name)),
			slog.String("plugin", name), slog.String("error", err.Error()))
		a.fail(w, r, err, http.StatusInternalServerError)
		return
	}
	v.Tenant, v.Plugin = pathName(t.Name), name
	a.audit(r, "admin: plugin uploaded", p, slog.String("tenant", v.Tenant), slog.String("plugin", name),
		slog.String("version", v.Version), slog.Int64("size", v.Size))
	writeJSON(w, http.StatusOK, v)
}

func (a *api) rollbackPlugin(w http.ResponseWriter, r *http.Request, p principal, t TenantInfo) {
	name := r.PathValue("name")
	v, err := a.o.Backend.RollbackPlugin(r.Context(), t.Name, name)
	if err != nil {
		a.fail(w, r, err, http.StatusInternalServerError)
		return
	}
	v.Tenant, v.Plugin = pathName(t.Name), name
	a.audit(r, "admin: plugin rolled back", p, slog.String("tenant", v.Tenant), slog.String("plugin", name),
		slog.String("version", v.Version))
	writeJSON(w, http.StatusOK, v)
}

func (a *api) deletePlugin(w http.ResponseWriter, r *http.Request, p principal, t TenantInfo) {
	name := r.PathValue("name")
	if err := a.o.Backend.DeletePlugin(r.Context(), t.Name, name); err != nil {
		a.fail(w, r, err, http.StatusInternalServerError)
		return
	}
	a.audit(r, "admin: plugin deleted", p, slog.String("tenant", pathName(t.Name)), slog.String("plugin", name))
	w.WriteHeader(http.StatusNoContent)
}

func (a *api) validatePlugin(w http.ResponseWriter, r *http.Request, _ principal, t TenantInfo) {
	wasm, ok := a.readModule(w, r)
	if !ok {
		return
	}
	v, err := a.o.Backend.ValidatePlugin(r.Context(), t.Name, wasm)
	if err != nil {
		a.fail(w, r, err, http.StatusUnprocessableEntity)
		return
	}
	v.Tenant = pathName(t.Name)
	writeJSON(w, http.StatusOK, v)
}

// readModule reads a request body that must be a WebAssembly module.
func (a *api) readModule(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, ok := a.readBody(w, r, a.o.MaxPluginBytes, "plugin module")
	if !ok {
		return nil, false
	}
	if !bytes.HasPrefix(body, wasmMagic) {
		writeError(w, http.StatusBadRequest, "request body: not a WebAssembly module (it must start with \\0asm; send the .wasm file with --data-binary)")
		return nil, false
	}
	return body, true
}

// readBody reads at most limit bytes; on failure it has answered 400 or 413.
func (a *api) readBody(w http.ResponseWriter, r *http.Request, limit int64, what string) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body: %s larger than the limit of %d bytes", what, limit))
		return nil, false
	case err != nil:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("request body: %v", err))
		return nil, false
	case len(body) == 0:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("request body: empty, want a %s", what))
		return nil, false
	}
	return body, true
}

// pathName maps a Backend tenant name to the API's ("" is TopLevel).
func pathName(tenant string) string {
	if tenant == "" {
		return TopLevel
	}
	return tenant
}

// shown returns t as the API shows it: the top level named TopLevel, empty lists as [].
func shown(t TenantInfo) TenantInfo {
	t.Name = pathName(t.Name)
	if t.Routes == nil {
		t.Routes = []RouteInfo{}
	}
	if t.Plugins == nil {
		t.Plugins = []PluginInfo{}
	}
	return t
}

func validTenantName(s string) bool {
	if s == "." || s == ".." {
		return false
	}
	return validName(s, true)
}

func validPluginName(s string) bool { return validName(s, false) }

// validName checks [a-zA-Z0-9_-]+ (plus '.' when dot), at most maxNameLen bytes.
func validName(s string, dot bool) bool {
	if s == "" || len(s) > maxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || dot && c == '.') {
			return false
		}
	}
	return true
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
