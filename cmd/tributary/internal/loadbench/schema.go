package loadbench

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/iskorotkov/avro/v2"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/tributary-gw/tributary/gateway/gatewaytest/schemaregistry"
)

// Schema formats for Options.Schema: the values of a route's to.value_schema.format.
const (
	SchemaAvro       = "avro"
	SchemaProtobuf   = "protobuf"
	SchemaJSONSchema = "json_schema"
)

// SchemaFormats lists the accepted Options.Schema values.
var SchemaFormats = []string{SchemaAvro, SchemaProtobuf, SchemaJSONSchema}

// The schemas of the benchmark's payload (see appendPayload), one per format. Each fits the
// payload exactly: the identifying fields and the padding are required, the sensor fields
// (left out of small payloads) optional, and nothing else is allowed.
const (
	benchAvroSchema = `{"type":"record","name":"BenchReading","namespace":"tributary.bench","fields":[
 {"name":"run","type":"string"},
 {"name":"t","type":"int"},
 {"name":"seq","type":"long"},
 {"name":"ts","type":"long"},
 {"name":"value","type":"double","default":0},
 {"name":"metric","type":"string","default":""},
 {"name":"humidity","type":"double","default":0},
 {"name":"co2","type":"int","default":0},
 {"name":"unit","type":"string","default":""},
 {"name":"pad","type":"string"}]}`

	benchProtoSchema = `syntax = "proto3";
package tributary.bench;

message BenchReading {
  string run = 1;
  int32 t = 2;
  int64 seq = 3;
  int64 ts = 4;
  double value = 5;
  string metric = 6;
  double humidity = 7;
  int32 co2 = 8;
  string unit = 9;
  string pad = 10;
}
`

	benchJSONSchema = `{"$schema":"https://json-schema.org/draft/2020-12/schema","title":"BenchReading","type":"object",
 "properties":{"run":{"type":"string"},"t":{"type":"integer","minimum":0},"seq":{"type":"integer","minimum":0},
  "ts":{"type":"integer"},"value":{"type":"number"},"metric":{"type":"string"},"humidity":{"type":"number"},
  "co2":{"type":"integer"},"unit":{"type":"string"},"pad":{"type":"string"}},
 "required":["run","t","seq","ts","pad"],"additionalProperties":false}`
)

// registrySchema returns the benchmark's schema in format as the registry takes it.
func registrySchema(format string) (schemaregistry.Schema, error) {
	switch format {
	case SchemaAvro:
		return schemaregistry.Schema{Type: "AVRO", Text: benchAvroSchema}, nil
	case SchemaProtobuf:
		return schemaregistry.Schema{Type: "PROTOBUF", Text: benchProtoSchema}, nil
	case SchemaJSONSchema:
		return schemaregistry.Schema{Type: "JSON", Text: benchJSONSchema}, nil
	}
	return schemaregistry.Schema{}, fmt.Errorf("schema %q: want %s, %s or %s", format, SchemaAvro, SchemaProtobuf, SchemaJSONSchema)
}

// schemaSubject returns the registry subject of a Kafka topic's values (TopicNameStrategy).
func schemaSubject(kafkaTopic string) string { return kafkaTopic + "-value" }

// startRegistry starts the in-process Schema Registry and registers the benchmark's schema in
// format under the value subject of every topic. It returns the registry (closed by st) and
// the schema's id.
func startRegistry(format string, kafkaTopics []string, st *stack) (*schemaregistry.Registry, int, error) {
	s, err := registrySchema(format)
	if err != nil {
		return nil, 0, err
	}
	reg, err := schemaregistry.New()
	if err != nil {
		return nil, 0, fmt.Errorf("schema registry: %w", err)
	}
	st.push(func() { _ = reg.Close() })
	id := 0
	for _, topic := range kafkaTopics {
		if id, err = reg.Register(schemaSubject(topic), s); err != nil {
			return nil, 0, fmt.Errorf("schema registry: registering the %s schema under %s: %w", format, schemaSubject(topic), err)
		}
	}
	return reg, id, nil
}

// benchRecord is the payload as the Avro schema decodes it.
type benchRecord struct {
	Run      string  `avro:"run" json:"run"`
	T        int32   `avro:"t" json:"t"`
	Seq      int64   `avro:"seq" json:"seq"`
	TS       int64   `avro:"ts" json:"ts"`
	Value    float64 `avro:"value" json:"value"`
	Metric   string  `avro:"metric" json:"metric"`
	Humidity float64 `avro:"humidity" json:"humidity"`
	CO2      int32   `avro:"co2" json:"co2"`
	Unit     string  `avro:"unit" json:"unit"`
	Pad      string  `avro:"pad" json:"pad"`
}

// schemaDecoder reads the identifying fields of records written in the Confluent wire
// format with the benchmark's schema, with decoders of its own (iskorotkov/avro, dynamicpb,
// encoding/json), independent of the gateway's encoders. A record without the header, with
// another schema id or that does not decode is not the run's.
type schemaDecoder struct {
	format string
	id     uint32
	avro   avro.Schema
	proto  protoreflect.MessageDescriptor
}

func newSchemaDecoder(format string, id int) (*schemaDecoder, error) {
	d := &schemaDecoder{format: format, id: uint32(id)}
	var err error
	switch format {
	case SchemaAvro:
		d.avro, err = avro.Parse(benchAvroSchema)
	case SchemaProtobuf:
		d.proto, err = benchProtoDescriptor()
	case SchemaJSONSchema:
	default:
		_, err = registrySchema(format)
	}
	if err != nil {
		return nil, fmt.Errorf("bench %s decoder: %w", format, err)
	}
	return d, nil
}

// benchProtoDescriptor builds the descriptor of benchProtoSchema's message by hand, so that
// the check does not share the gateway's .proto parser.
func benchProtoDescriptor() (protoreflect.MessageDescriptor, error) {
	field := func(name string, num int32, typ descriptorpb.FieldDescriptorProto_Type) *descriptorpb.FieldDescriptorProto {
		return &descriptorpb.FieldDescriptorProto{Name: proto.String(name), JsonName: proto.String(name), Number: proto.Int32(num),
			Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), Type: typ.Enum()}
	}
	const (
		str = descriptorpb.FieldDescriptorProto_TYPE_STRING
		i32 = descriptorpb.FieldDescriptorProto_TYPE_INT32
		i64 = descriptorpb.FieldDescriptorProto_TYPE_INT64
		dbl = descriptorpb.FieldDescriptorProto_TYPE_DOUBLE
	)
	fd := &descriptorpb.FileDescriptorProto{
		Name: proto.String("tributary_bench.proto"), Package: proto.String("tributary.bench"), Syntax: proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("BenchReading"), Field: []*descriptorpb.FieldDescriptorProto{
			field("run", 1, str), field("t", 2, i32), field("seq", 3, i64), field("ts", 4, i64), field("value", 5, dbl),
			field("metric", 6, str), field("humidity", 7, dbl), field("co2", 8, i32), field("unit", 9, str), field("pad", 10, str),
		}}},
	}
	f, err := protodesc.NewFile(fd, nil)
	if err != nil {
		return nil, err
	}
	return f.Messages().Get(0), nil
}

// errWireFormat is a record that is not in the Confluent wire format with the run's schema.
var errWireFormat = errors.New("not in the wire format with the run's schema id")

// body strips the Confluent header from v: magic byte 0, the 4-byte schema id, and for
// Protobuf the message indexes (a zigzag varint count, then each index; 0 alone is the first
// message). Only the first message is accepted.
func (d *schemaDecoder) body(v []byte) ([]byte, error) {
	if len(v) < 5 || v[0] != 0 || binary.BigEndian.Uint32(v[1:5]) != d.id {
		return nil, errWireFormat
	}
	v = v[5:]
	if d.format != SchemaProtobuf {
		return v, nil
	}
	n, k := binary.Varint(v)
	if k <= 0 || n < 0 || n > 1 {
		return nil, fmt.Errorf("protobuf message indexes: want the first message, got count %d", n)
	}
	v = v[k:]
	if n == 1 {
		idx, k := binary.Varint(v)
		if k <= 0 || idx != 0 {
			return nil, fmt.Errorf("protobuf message index %d: want the first message", idx)
		}
		v = v[k:]
	}
	return v, nil
}

// decode returns the identifying fields of record value v.
func (d *schemaDecoder) decode(v []byte) (fields, bool) {
	body, err := d.body(v)
	if err != nil {
		return fields{}, false
	}
	var r benchRecord
	switch d.format {
	case SchemaAvro:
		err = avro.Unmarshal(d.avro, body, &r)
	case SchemaJSONSchema:
		err = json.Unmarshal(body, &r)
	case SchemaProtobuf:
		m := dynamicpb.NewMessage(d.proto)
		if err = proto.Unmarshal(body, m); err == nil {
			fs := d.proto.Fields()
			r.Run = m.Get(fs.ByName("run")).String()
			r.T = int32(m.Get(fs.ByName("t")).Int())
			r.Seq = m.Get(fs.ByName("seq")).Int()
			r.TS = m.Get(fs.ByName("ts")).Int()
		}
	}
	if err != nil || r.Run == "" || r.T < 0 || r.Seq < 0 {
		return fields{}, false
	}
	return fields{run: []byte(r.Run), topic: int(r.T), seq: r.Seq, ts: r.TS}, true
}
