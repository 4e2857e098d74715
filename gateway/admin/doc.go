// Package admin serves the gateway's HTTP admin endpoint: /metrics (Prometheus), /healthz
// (the process is up), /readyz (MQTT connected and subscribed, Kafka answering) and
// /api/v1/status (counters as JSON).
//
// It declares what it needs as plain functions in Options, which the gateway supplies, so it
// never imports package gateway (that import would be a cycle). It may import gateway/config
// for types only.
package admin
