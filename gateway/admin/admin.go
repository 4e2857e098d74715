package admin

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Default body limits of the admin API.
const (
	// DefaultMaxPluginBytes bounds an uploaded or validated module: 32 MiB.
	DefaultMaxPluginBytes = 32 << 20
	// DefaultMaxConfigBytes bounds a configuration file sent to /api/v1/validate/config: 1 MiB.
	DefaultMaxConfigBytes = 1 << 20
	// DefaultRequestTimeout bounds one /api/v1 request, from its handler's start (reading the
	// body, compiling, reloading) to its answer: 60 s.
	DefaultRequestTimeout = 60 * time.Second
	// DefaultMaxModuleRequests bounds the module uploads and validations handled at once
	// (each holds its body, up to MaxPluginBytes, in memory): 4.
	DefaultMaxModuleRequests = 4
)

// Options are what the admin endpoint serves. The zero value serves /healthz and /readyz.
type Options struct {
	// Gatherer is served on /metrics. Nil disables the route.
	Gatherer prometheus.Gatherer
	// ProtectMetrics requires the operator token on /metrics. Defaults to false: /metrics
	// is open, like /healthz and /readyz, which are always open. With ProtectMetrics and no
	// operator token every /metrics request answers 401.
	ProtectMetrics bool
	// Ready returns nil when the gateway can move messages, else why not. /readyz answers 200
	// or 503 with the error text. Nil means always ready.
	Ready func() error
	// Detail returns lines /readyz adds after its verdict, such as tenants that are held or
	// stale: degraded parts that do not make the gateway unready. Nil adds none.
	Detail func() []string
	// Status returns a JSON-encodable value served on GET /api/v1/status, to the operator
	// (to anyone while Auth has no operator token). Nil disables the route.
	Status func() any
	// Auth holds the bearer tokens of /api/v1. The zero value has none, and every /api/v1
	// endpoint but /api/v1/status answers 401. Handler does not call Auth.Validate; the
	// configuration loader should.
	Auth Auth
	// Backend serves /api/v1/tenants, /api/v1/reload and /api/v1/validate. Nil disables
	// those routes (404).
	Backend Backend
	// MaxPluginBytes bounds a module's request body; larger ones get 413. Defaults to
	// DefaultMaxPluginBytes.
	MaxPluginBytes int64
	// MaxConfigBytes bounds a configuration's request body; larger ones get 413. Defaults
	// to DefaultMaxConfigBytes.
	MaxConfigBytes int64
	// RequestTimeout bounds each /api/v1 request: its context, which the Backend receives,
	// is done after it, and a request that could not finish in time (waiting for another
	// change of the same plugin folder, compiling, reloading) answers 503. Defaults to
	// DefaultRequestTimeout. The http.Server's WriteTimeout must be longer, so that the 503
	// can still be written.
	RequestTimeout time.Duration
	// MaxModuleRequests bounds the plugin uploads and validations handled at once; more
	// wait for a turn until their RequestTimeout, then answer 503. Defaults to
	// DefaultMaxModuleRequests.
	MaxModuleRequests int
	// ModuleTurns, when set, replaces MaxModuleRequests: its capacity bounds the module
	// requests handled at once by every handler built with the same channel, so that a
	// caller rebuilding its handler (new tokens, a reload) keeps one bound. Make it with
	// make(chan struct{}, n) and never send on it or close it.
	ModuleTurns chan struct{}
	// Log receives an audit line for every change (upload, rollback, delete, reload) naming
	// who made it, and a warning for every refused request. Tokens are never logged. Nil
	// discards.
	Log *slog.Logger
}

// Handler returns the admin HTTP handler. It is safe for concurrent use; Options must not be
// changed after the call.
//
// Endpoints:
//
//	GET    /metrics, /healthz, /readyz                open (ProtectMetrics: /metrics operator)
//	GET    /api/v1/status                             operator
//	GET    /api/v1/reload                             operator: the last reload's outcome
//	POST   /api/v1/reload                             operator: reload now
//	POST   /api/v1/validate/config                    operator: body is YAML
//	GET    /api/v1/tenants                            any token (a tenant token sees its own)
//	GET    /api/v1/tenants/{t}                        operator or t's token
//	PUT    /api/v1/tenants/{t}/plugins/{name}         operator or t's token; body is .wasm
//	POST   /api/v1/tenants/{t}/plugins/{name}/rollback
//	DELETE /api/v1/tenants/{t}/plugins/{name}
//	POST   /api/v1/tenants/{t}/validate/plugin        operator or t's token; body is .wasm
//
// {t} is a tenant's name or TopLevel (operator only). API responses are JSON; errors are
// {"error": "..."} with 400 (bad input, named), 401 (no or unknown token, with
// WWW-Authenticate: Bearer), 403 (a token without access), 404, 409, 413 (body too large),
// 422 (a plugin or configuration that does not validate) or 503 (the gateway could not do
// it within RequestTimeout, or the Backend said it is busy: try again).
func Handler(o Options) http.Handler {
	if o.MaxPluginBytes <= 0 {
		o.MaxPluginBytes = DefaultMaxPluginBytes
	}
	if o.MaxConfigBytes <= 0 {
		o.MaxConfigBytes = DefaultMaxConfigBytes
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.MaxModuleRequests <= 0 {
		o.MaxModuleRequests = DefaultMaxModuleRequests
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	turns := o.ModuleTurns
	if turns == nil {
		turns = make(chan struct{}, o.MaxModuleRequests)
	}
	a := &api{o: o, auth: newAuthenticator(o.Auth), log: log, modules: turns}

	mux := http.NewServeMux()
	if o.Gatherer != nil {
		metrics := promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{})
		if o.ProtectMetrics {
			mux.Handle("GET /metrics", a.operator(func(w http.ResponseWriter, r *http.Request, _ principal) {
				metrics.ServeHTTP(w, r)
			}))
		} else {
			mux.Handle("GET /metrics", metrics)
		}
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		body := "ready\n"
		if o.Ready != nil {
			if err := o.Ready(); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				body = "not ready: " + err.Error() + "\n"
			}
		}
		if o.Detail != nil {
			for _, line := range o.Detail() {
				body += "degraded: " + line + "\n"
			}
		}
		_, _ = w.Write([]byte(body))
	})
	if o.Status != nil {
		status := func(w http.ResponseWriter, _ *http.Request, _ principal) {
			w.Header().Set("Content-Type", "application/json")
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			_ = enc.Encode(o.Status())
		}
		if a.auth.hasOperator {
			mux.Handle("GET /api/v1/status", a.operator(status))
		} else {
			mux.HandleFunc("GET /api/v1/status", func(w http.ResponseWriter, r *http.Request) { status(w, r, principal{}) })
		}
	}
	if o.Backend != nil {
		a.routes(mux)
	}
	return mux
}
