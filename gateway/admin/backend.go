package admin

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/tributary-gw/tributary/gateway/pluginstore"
)

// TopLevel is the tenant segment of the API's paths (/api/v1/tenants/_/...) and the tenant
// name shown in its JSON for the routes and plugins outside any tenant: the top-level routes
// and plugins.dir. Only the operator may use it. Backend methods receive "" for it.
const TopLevel = "_"

// Backend is what the admin API reads and changes; the gateway implements it. Methods may be
// called concurrently and must be safe for concurrent use.
//
// A tenant argument is a tenant's name, or "" for the top level (TopLevel in paths). The admin
// API has already authorized the caller for that tenant, checked that Tenants lists it, and
// checked plugin names ([a-zA-Z0-9_-]+) and that a module starts with the WebAssembly magic.
//
// # Errors
//
// An error's HTTP status comes from the first error in its chain with a method
// HTTPStatus() int, such as those built by NotFound, Invalid, Conflict and BadRequest;
// otherwise it is 422 for ValidateConfig, ValidatePlugin and Reload (what they report is a
// problem of the input) and 500 for the other methods. An error wrapping the request
// context's error, once that context is done (its RequestTimeout ran out or the client went
// away), is 503 whatever it is marked. The error text is sent to the client as
// {"error": "..."}: it must not contain secrets.
//
// Every method receiving a context must give up when it is done.
type Backend interface {
	// Tenants returns the top-level entry (Name "") and every tenant, with their routes,
	// counters and plugins. The admin API filters it for tenant tokens.
	Tenants() []TenantInfo
	// LastReload returns the outcome of the last reload as a JSON-encodable value, or nil
	// before the first.
	LastReload() any
	// PutPlugin compiles and validates wasm as plugin name of tenant and, if it is sound,
	// stores it as the current version (the replaced one becomes the previous version) and
	// applies it as the Backend's reload policy says. A module that does not compile or
	// fails validation is an Invalid error and changes nothing.
	PutPlugin(ctx context.Context, tenant, name string, wasm []byte) (PluginVersion, error)
	// RollbackPlugin makes the previous version of plugin name current again; the current
	// one becomes the previous (so two rollbacks swap back). No previous version is a
	// Conflict error; an unknown plugin is a NotFound error.
	RollbackPlugin(ctx context.Context, tenant, name string) (PluginVersion, error)
	// DeletePlugin removes plugin name of tenant, keeping it as the previous version so a
	// rollback restores it. An unknown plugin is a NotFound error; a plugin that routes
	// still use may be refused with a Conflict error.
	DeletePlugin(ctx context.Context, tenant, name string) error
	// Reload reloads the configuration and plugins now. It returns the reload's outcome
	// (JSON-encodable) and, when the reload was rejected, an error saying why; the running
	// routes are then kept.
	Reload(ctx context.Context) (any, error)
	// ValidateConfig checks a whole configuration file (YAML) as a reload would, including
	// compiling its plugins, without applying it. nil means it would load.
	ValidateConfig(ctx context.Context, yaml []byte) error
	// ValidatePlugin compiles and validates wasm under tenant's limits without storing it,
	// and returns the version it would have (Version and Size set).
	ValidatePlugin(ctx context.Context, tenant string, wasm []byte) (PluginVersion, error)
}

// TenantInfo describes one tenant, or the top level, in GET /api/v1/tenants.
type TenantInfo struct {
	// Name is the tenant's name; "" for the top level, which the API shows as TopLevel.
	Name string `json:"name"`
	// Routes are the tenant's routes, with their counters.
	Routes []RouteInfo `json:"routes"`
	// Plugins are the modules in the tenant's plugin folder (plugins.dir for the top level).
	Plugins []PluginInfo `json:"plugins"`
}

// RouteInfo describes one route and counts its messages since the gateway started.
type RouteInfo struct {
	// Name is the route's name, unique in the gateway.
	Name string `json:"name"`
	// From lists the route's MQTT topic filters.
	From []string `json:"from"`
	// To is the route's Kafka topic (or topic template).
	To string `json:"to"`
	// DeadLetter is the route's dead-letter topic.
	DeadLetter string `json:"dead_letter,omitempty"`
	// Active is false for a route a reload removed (its counters remain).
	Active bool `json:"active"`
	// In counts messages that entered the route; Out records acknowledged by Kafka;
	// Filtered messages the chain dropped on purpose; DeadLettered dead-letter records.
	In           uint64 `json:"in"`
	Out          uint64 `json:"out"`
	Filtered     uint64 `json:"filtered"`
	DeadLettered uint64 `json:"dead_lettered"`
	// Stages are the route's chain in force, in order.
	Stages []StageInfo `json:"stages,omitempty"`
}

// StageInfo is one stage of a route's chain.
type StageInfo struct {
	// Plugin is the stage's plugin name.
	Plugin string `json:"plugin"`
	// Version is the sha256 hex of the module in use, as stamped on dead letters.
	Version string `json:"version"`
}

// PluginInfo describes one plugin module of a tenant.
type PluginInfo struct {
	// Name is the plugin's name: the module is NAME.wasm in the tenant's plugin folder.
	Name string `json:"name"`
	// Version is the sha256 hex of the current module; empty for a deleted plugin that can
	// still be rolled back.
	Version string `json:"version,omitempty"`
	// Size is the current module's length in bytes.
	Size int64 `json:"size,omitempty"`
	// Modified is when the current module was written.
	Modified time.Time `json:"modified,omitzero"`
	// Previous lists previous versions' hashes, newest first; Previous[0] is what a
	// rollback restores.
	Previous []string `json:"previous,omitempty"`
}

// PluginVersion is the outcome of an upload, rollback or validation of one plugin.
type PluginVersion struct {
	// Tenant and Plugin are filled in by the admin API from the request path (TopLevel for
	// the top level); the Backend may leave them empty.
	Tenant string `json:"tenant"`
	Plugin string `json:"plugin,omitempty"`
	// Version is the sha256 hex of the module now current (or validated).
	Version string `json:"version"`
	// Size is the module's length in bytes.
	Size int64 `json:"size"`
	// Previous is the version a rollback would now restore, if any.
	Previous string `json:"previous,omitempty"`
	// Reload is the outcome of the reload that applied the change, if the Backend ran one.
	Reload any `json:"reload,omitempty"`
}

// statusError gives an error an HTTP status for the admin API.
type statusError struct {
	code int
	err  error
}

func (e *statusError) Error() string   { return e.err.Error() }
func (e *statusError) Unwrap() error   { return e.err }
func (e *statusError) HTTPStatus() int { return e.code }

// NotFound marks err (which names the missing tenant or plugin) as 404 Not Found.
// errors.Is and errors.As still see err.
func NotFound(err error) error { return &statusError{http.StatusNotFound, err} }

// Invalid marks err as 422 Unprocessable Entity: a plugin that fails to compile or
// validate, or a configuration that would not load.
func Invalid(err error) error { return &statusError{http.StatusUnprocessableEntity, err} }

// Conflict marks err as 409 Conflict: the request is valid but the state does not allow it,
// such as a rollback without a previous version.
func Conflict(err error) error { return &statusError{http.StatusConflict, err} }

// Unavailable marks err as 503 Service Unavailable: the gateway could not do it now (another
// change of the same plugins still running past the request's time limit, a gateway that is
// stopping); the client may try again. err says what it waited for.
func Unavailable(err error) error { return &statusError{http.StatusServiceUnavailable, err} }

// BadRequest marks err (which names the bad input) as 400 Bad Request.
func BadRequest(err error) error { return &statusError{http.StatusBadRequest, err} }

// StoreError gives the errors of a gateway/pluginstore Store their status: an unknown
// plugin is NotFound, a rollback without a previous version a Conflict, a bad name a
// BadRequest. Other errors are returned unchanged.
func StoreError(err error) error {
	switch {
	case errors.Is(err, pluginstore.ErrNotFound):
		return NotFound(err)
	case errors.Is(err, pluginstore.ErrNoPrevious):
		return Conflict(err)
	case errors.Is(err, pluginstore.ErrInvalidName):
		return BadRequest(err)
	}
	return err
}

// statusOf returns err's HTTP status: the first HTTPStatus() in its chain, else def.
func statusOf(err error, def int) int {
	var hs interface{ HTTPStatus() int }
	if errors.As(err, &hs) {
		if c := hs.HTTPStatus(); c >= 400 && c <= 599 {
			return c
		}
	}
	return def
}
