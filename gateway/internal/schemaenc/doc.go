// Package schemaenc encodes record values and keys through a Confluent-compatible Schema
// Registry (kafka.schema_registry; a route's to.value_schema and to.key_schema): the JSON a
// route's chain produced is checked against the route's schema and written in the Confluent
// wire format (magic byte 0, the schema id as 4 big-endian bytes, for Protobuf the message
// indexes, then the encoding) as Avro (iskorotkov/avro), Protobuf (a dynamic message filled by
// protojson, schemas compiled with protocompile) or JSON (validated with
// santhosh-tekuri/jsonschema, written unchanged).
//
// Why a package of its own: the sink (gateway/internal/kafkasink) only asks an Encoder for
// bytes; how schemas are found, cached, compiled and retried is this package's, and so are
// its dependencies.
//
// A Registry holds one Encoder per distinct route schema. Each resolves once, in the
// background: by subject and version (0: the latest at that time), or by its schema file,
// looked up in the subject or registered there with auto_register; references are fetched and
// compiled with it; the result is cached by schema id. While the registry fails, resolution is
// retried with a backoff and the encoder is not ready: the sink holds the route's messages
// (unacknowledged) until it is, so an outage loses and dead-letters nothing. A payload that
// does not fit its schema is an *InvalidError naming the field (a JSON Pointer) and the
// reason: the sink dead-letters it.
//
// Each format has a fast path that reads the JSON bytes once, with no Go values in between,
// for the documents (and schemas) it covers; every other document takes the general path.
// Avro (avrofast.go): the schema compiled into a tree writing the encoding through iskorotkov/avro's
// Writer. Protobuf (protofast.go): a proto3 message compiled into a tree writing the wire
// format as the general path's deterministic proto.Marshal does. JSON Schema
// (jsonschemafast.go): a schema of a common keyword subset compiled into a checker that only
// ever accepts what the library accepts; a document it does not accept goes to the library,
// whose error (and path) is the one returned. Differential tests and fuzz tests hold each fast
// path to its general path.
package schemaenc
