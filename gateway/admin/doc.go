// Package admin serves the gateway's HTTP admin endpoint: /metrics (Prometheus), /healthz
// (the process is up), /readyz (MQTT connected and subscribed, Kafka answering) and the JSON
// API under /api/v1: status, tenants with their routes, counters and plugin versions, the
// last reload, plugin upload, rollback and delete, reload, and validation of a configuration
// or a plugin without applying it.
//
// The entry point is Handler, configured by Options:
//
//	h := admin.Handler(admin.Options{
//		Gatherer: registry,
//		Ready:    gw.readiness,
//		Auth:     admin.Auth{Operator: opToken, Tenants: map[string]string{"acme": acmeToken}},
//		Backend:  backend, // implements admin.Backend
//	})
//
// # Authentication
//
// /api/v1 takes bearer tokens (Authorization: Bearer TOKEN): the operator token may do
// everything; a tenant token sees and changes only its own tenant. No or an unknown token is
// 401 with WWW-Authenticate: Bearer; a token reaching what it may not is 403. Tokens are
// compared as sha256 digests in constant time, and never logged or echoed. /healthz and
// /readyz are always open, /metrics unless Options.ProtectMetrics.
//
// The package declares what it needs (Options' functions and the Backend interface), which
// package gateway supplies, so it never imports gateway (that import would be a cycle). It may
// import gateway/config for types only, and no other package of this module.
package admin
