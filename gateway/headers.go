package gateway

import "github.com/tributary-gw/tributary/gateway/internal/kafkasink"

// Record header names. They are part of the documented contract (README, "Kafka records"):
// never change them silently. The sink (gateway/internal/kafkasink) writes them; they are
// repeated here for embedders and tests.
const (
	HeaderMQTTTopic   = kafkasink.HeaderMQTTTopic
	HeaderMQTTQoS     = kafkasink.HeaderMQTTQoS
	HeaderMQTTRetain  = kafkasink.HeaderMQTTRetain
	HeaderContentType = kafkasink.HeaderContentType

	HeaderRoute          = kafkasink.HeaderRoute
	HeaderErrorKind      = kafkasink.HeaderErrorKind
	HeaderError          = kafkasink.HeaderError
	HeaderStage          = kafkasink.HeaderStage
	HeaderPlugin         = kafkasink.HeaderPlugin
	HeaderPluginVersion  = kafkasink.HeaderPluginVersion
	HeaderOriginalTopic  = kafkasink.HeaderOriginalTopic
	HeaderTruncatedBytes = kafkasink.HeaderTruncatedBytes
	HeaderTenant         = kafkasink.HeaderTenant
	// HeaderDropped lists, comma-separated, what a dead letter too large for Kafka left out:
	// "user_properties", "payload", "headers".
	HeaderDropped = kafkasink.HeaderDropped
)

// Dead-letter error kinds raised by the gateway itself; plugin kinds come from wasmhost.
const (
	KindRecordTooLarge = kafkasink.KindRecordTooLarge
	KindBadTopic       = kafkasink.KindBadTopic
	KindProduceFailed  = kafkasink.KindProduceFailed
	// KindNamespace: a plugin chose a Kafka topic outside its tenant's kafka_prefixes.
	KindNamespace = kafkasink.KindNamespace
	// KindMessageTooLarge: the MQTT payload exceeds the tenant's limits.max_message_bytes.
	KindMessageTooLarge = kafkasink.KindMessageTooLarge
	// KindMissingField: a {{.Payload "path"}} action of to.topic or to.key found no field to
	// render and the route's to.missing is dead_letter (the default).
	KindMissingField = kafkasink.KindMissingField
)
