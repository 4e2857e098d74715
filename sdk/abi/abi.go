package abi

import "errors"

// Version is the ABI version this package implements. It is the first u32 of
// every input and result frame (ABI.md §3, §4, §8).
const Version = 1

// Export and import names of ABI v1 (ABI.md §1 and §2).
const (
	// ExportMarker is the version marker export, () -> (). Never called (§1).
	ExportMarker = "tributary_abi_v1"
	// ExportAlloc is (size i32) -> (ptr i32); 0 means it could not allocate (§1, §6).
	ExportAlloc = "tributary_alloc"
	// ExportInit is (ptr i32, len i32) -> (i64): 0 or err_ptr<<32|err_len (§1, §5).
	ExportInit = "tributary_init"
	// ExportHandle is (ptr i32, len i32) -> (i64): out_ptr<<32|out_len (§1, §3, §4).
	ExportHandle = "tributary_handle"
	// ExportInitialize is the optional reactor initializer, called once
	// right after instantiation when present (§1).
	ExportInitialize = "_initialize"
	// ImportModule is the host module guests import from (§2).
	ImportModule = "tributary"
	// ImportLog is (level i32, ptr i32, len i32) -> () in [ImportModule] (§2).
	ImportLog = "log"
)

// The optional JSON field access imports of [ImportModule] (ABI.md §2.1).
// A host provides them as an extension it registers; a guest imports only
// those it calls. Signatures are in ABI.md §2.1; results are spans or sizes
// (>= 0) or one of [JSONNotFound] and [JSONMalformed].
const (
	// ImportJSONParse is (doc_ptr, doc_len i32) -> i64 (§2.1).
	ImportJSONParse = "json_parse"
	// ImportJSONGet is (doc_ptr, doc_len, path_ptr, path_len i32) -> i64 (§2.1).
	ImportJSONGet = "json_get"
	// ImportJSONSet is (doc_ptr, doc_len, path_ptr, path_len, val_ptr,
	// val_len, out_ptr, out_cap i32) -> i64 (§2.1).
	ImportJSONSet = "json_set"
	// ImportJSONDelete is (doc_ptr, doc_len, path_ptr, path_len, out_ptr,
	// out_cap i32) -> i64 (§2.1).
	ImportJSONDelete = "json_delete"
	// ImportJSONFloat is (val_ptr, val_len i32) -> f64 (§2.1).
	ImportJSONFloat = "json_float"
	// ImportJSONSetFloat is (doc_ptr, doc_len, path_ptr, path_len i32, f
	// f64, out_ptr, out_cap i32) -> i64 (§2.1).
	ImportJSONSetFloat = "json_set_float"
	// ImportJSONEdit is (doc_ptr, doc_len, prog_ptr, prog_len, out_ptr,
	// out_cap i32) -> i64 (§2.1).
	ImportJSONEdit = "json_edit"
	// ImportJSONFind is (doc_ptr, doc_len, paths_ptr, paths_len, out_ptr, n
	// i32) -> i64 (§2.1).
	ImportJSONFind = "json_find"
	// ImportJSONChildren is (val_ptr, val_len, out_ptr, out_cap i32) -> i64 (§2.1).
	ImportJSONChildren = "json_children"
)

// ImportsJSON lists the JSON import names, in ABI.md §2.1's order of
// definition. Do not modify it.
var ImportsJSON = []string{
	ImportJSONParse, ImportJSONGet, ImportJSONFloat, ImportJSONSet, ImportJSONSetFloat,
	ImportJSONDelete, ImportJSONEdit, ImportJSONFind, ImportJSONChildren,
}

// Failure codes of the JSON imports' i64 results (ABI.md §2.1).
const (
	// JSONNotFound (-1): the path does not exist in a well-formed part of
	// the document (json_get, json_delete; per path in json_find).
	JSONNotFound int64 = -1
	// JSONMalformed (-2): the document or value is not valid JSON, or the
	// edit is impossible (§2.1).
	JSONMalformed int64 = -2
)

// Log levels passed to the [ImportLog] host function (ABI.md §2). Other
// values are treated as [LogInfo] by the host.
const (
	LogDebug int32 = 0
	LogInfo  int32 = 1
	LogWarn  int32 = 2
	LogError int32 = 3
)

// ErrMalformed is returned, wrapped with the offset and the field, by
// [DecodeBatch] and [DecodeResults] for any frame that breaks ABI.md §3/§4.
// Test for it with errors.Is.
var ErrMalformed = errors.New("abi: malformed frame")

// Property is one name/value pair: an MQTT v5 user property or a Kafka
// header. Name is UTF-8 by convention; Value may hold any bytes.
type Property struct {
	Name, Value string
}

// Message is one message of an input frame (ABI.md §3).
//
// Topic, ContentType, Route, Tenant, QoS, Retain, ArrivedAtMs and Properties
// describe the original MQTT message and are the same at every stage of a
// chain; Payload, KafkaTopic, Key/KeySet and Headers are what the previous
// stage produced.
type Message struct {
	Topic       string // MQTT topic
	Payload     []byte // arbitrary bytes
	ContentType string // MQTT v5 content type, "" when absent
	Route       string // route running the chain
	Tenant      string // "" for the default tenant
	QoS         byte   // 0, 1 or 2
	Retain      bool
	ArrivedAtMs int64  // Unix milliseconds when the gateway received it
	KafkaTopic  string // "" means the route's default topic
	Key         []byte // meaningful only when KeySet
	KeySet      bool
	Properties  []Property // MQTT v5 user properties, in arrival order
	Headers     []Property // Kafka headers set by earlier stages
}

// OutputFlags says which fields of an [Output] are present (ABI.md §4).
type OutputFlags uint8

// Output flag bits. Any other bit in a result frame is malformed.
const (
	// PayloadUnchanged: the output's payload is the input payload; Output.Payload is ignored.
	PayloadUnchanged OutputFlags = 1 << 0
	// SetKafkaTopic: Output.KafkaTopic replaces the topic ("" resets to the route default).
	SetKafkaTopic OutputFlags = 1 << 1
	// SetKey: Output.Key replaces the key, possibly with an empty one.
	SetKey OutputFlags = 1 << 2
	// SetHeaders: Output.Headers replaces the headers set so far.
	SetHeaders OutputFlags = 1 << 3

	knownFlags = PayloadUnchanged | SetKafkaTopic | SetKey | SetHeaders
)

// Output is one message a guest produced from an input message (ABI.md §4).
// Fields whose flag is not set keep the input's value; see [Output.Apply].
type Output struct {
	Flags      OutputFlags
	Payload    []byte // ignored when Flags has PayloadUnchanged
	KafkaTopic string // used when Flags has SetKafkaTopic
	Key        []byte // used when Flags has SetKey
	Headers    []Property
}

// Result is a guest's answer for one input message (ABI.md §4): either an
// error (Failed, with Err set; the message goes to dead letters) or zero
// (filtered), one (mapped) or more (split) outputs.
type Result struct {
	Err     string
	Failed  bool
	Outputs []Output // nil or empty when Failed
}

// Apply returns the message the next stage of a chain sees for output o of
// input message in: in with the fields o carries replaced. The returned
// message shares slices with in and o; neither is modified.
func (o Output) Apply(in Message) Message {
	out := in
	if o.Flags&PayloadUnchanged == 0 {
		out.Payload = o.Payload
	}
	if o.Flags&SetKafkaTopic != 0 {
		out.KafkaTopic = o.KafkaTopic
	}
	if o.Flags&SetKey != 0 {
		out.Key = o.Key
		out.KeySet = true
	}
	if o.Flags&SetHeaders != 0 {
		out.Headers = o.Headers
	}
	return out
}
