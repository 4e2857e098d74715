// Package schemaregistry is a small Confluent-compatible Schema Registry for
// tests and `tributary dev`: an HTTP server on a loopback port speaking the
// registry's REST API as clients (franz-go's pkg/sr, Confluent's serializers)
// use it, with real compatibility checks for Avro, basic and bearer
// authentication, TLS and mutual TLS, and switches that make it fail or stall
// so that outage tests can be written.
//
// franz-go ships srfake, an in-memory registry, but it answers every
// compatibility check with "compatible" and accepts one fixed Authorization
// header, so tests of schema evolution and registry authentication need this
// one.
//
// # Entry points
//
//	reg := schemaregistry.Start(t, schemaregistry.WithBasicAuth("user", "secret"))
//	// reg.URL() is http://127.0.0.1:PORT; point the client or the gateway's
//	// kafka.schema_registry.url at it.
//	reg.SetOutage(schemaregistry.OutageUnavailable) // every request: 503
//	reg.SetOutage(schemaregistry.OutageNone)
//
// [New] is the same without a testing.TB, for `tributary dev` and benchmarks;
// its caller closes the registry.
//
// # What it serves
//
//   - POST /subjects/{subject}/versions registers a schema and returns its id
//     ({"id":N}); the same schema (same type, same text once JSON is
//     normalised, same references) gets the same id in every subject, and
//     registering it again under a subject that has it returns its id
//     without a new version.
//   - POST /subjects/{subject} looks a schema up in a subject.
//   - GET /subjects, GET /subjects/{subject}/versions,
//     GET /subjects/{subject}/versions/{version|latest|-1}[/schema],
//     GET /subjects/{subject}/versions/{version}/referencedby.
//   - DELETE /subjects/{subject}[/versions/{version}], soft by default and
//     hard with ?permanent=true (which, as in Confluent, needs a soft delete
//     first); ?deleted=true shows soft-deleted versions.
//   - GET /schemas/ids/{id}, /schemas/ids/{id}/schema, /schemas/ids/{id}/subjects,
//     /schemas/ids/{id}/versions, GET /schemas/types.
//   - POST /compatibility/subjects/{subject}/versions[/{version}] with
//     ?verbose=true for the reasons.
//   - GET/PUT/DELETE /config and /config/{subject} (compatibility levels,
//     BACKWARD by default; GET /config/{subject} answers 40408 without a
//     subject-level setting unless ?defaultToGlobal=true), GET /mode.
//
// Errors carry Confluent's bodies, {"error_code":40401,"message":"..."}:
// 40401 subject not found, 40402 version not found, 40403 schema not found,
// 40404/40405/40406/40407 for the soft-delete rules, 40408 no subject-level
// compatibility, 409 incompatible schema (HTTP 409), 42201 invalid schema,
// 42202 invalid version, 42203 invalid compatibility level (HTTP 422), 401
// unauthorized.
//
// # Schema types and what is checked
//
//   - AVRO (the default when schemaType is absent): parsed with
//     github.com/iskorotkov/avro/v2, references first (each reference's schema
//     is parsed into the same cache, so its named types resolve); an
//     unparsable schema is 42201. Compatibility is iskorotkov/avro's
//     SchemaCompatibility, the Avro specification's schema resolution:
//     BACKWARD checks that the new schema reads data written with the
//     previous one, FORWARD the reverse, FULL both; *_TRANSITIVE against
//     every live version instead of the latest only; NONE nothing.
//   - PROTOBUF: parsed with github.com/bufbuild/protocompile's parser, so
//     a syntax error is 42201; imports are not resolved and no compatibility
//     rule is checked (every level accepts every valid schema).
//   - JSON: the schema must be a JSON object or boolean (else 42201); no
//     compatibility rule is checked.
//
// References must name an existing subject and version (-1 is the latest),
// else the schema is invalid (42201).
//
// # Not served
//
// Schema contexts, modes other than READWRITE, import mode (ids and
// versions given by the client are ignored), metadata and rule sets (kept
// out of identity and not returned), normalisation beyond JSON whitespace
// and key order.
//
// # Import boundaries
//
// Standard library plus iskorotkov/avro (Avro parsing and compatibility) and
// protocompile's parser; never the gateway.
package schemaregistry
