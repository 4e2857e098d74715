// Package tenants is the multi-tenant example: one gateway configuration (tributary.yaml)
// whose tenants.dir holds one folder per tenant (tenants/acme, tenants/globex), each with its
// tenant.yaml: MQTT and Kafka namespaces, limits, an admin token file and routes that use the
// shared first-party plugins. The package holds no code; its test loads the example with the
// real loader so it cannot drift from the configuration format.
package tenants
