package main

import (
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// The Sparkplug B schema (sparkplug_b.proto of Eclipse Tahu, proto2),
// rebuilt as a descriptor so the tests encode payloads with an independent
// protobuf implementation (google.golang.org/protobuf, test-only import)
// rather than with the plugin's own decoder's assumptions.

const pkg = "org.eclipse.tahu.protobuf"

type fieldSpec struct {
	name     string
	num      int32
	typ      descriptorpb.FieldDescriptorProto_Type
	repeated bool
	msg      string // message type name for TYPE_MESSAGE
}

const (
	tU32   = descriptorpb.FieldDescriptorProto_TYPE_UINT32
	tU64   = descriptorpb.FieldDescriptorProto_TYPE_UINT64
	tF32   = descriptorpb.FieldDescriptorProto_TYPE_FLOAT
	tF64   = descriptorpb.FieldDescriptorProto_TYPE_DOUBLE
	tBool  = descriptorpb.FieldDescriptorProto_TYPE_BOOL
	tStr   = descriptorpb.FieldDescriptorProto_TYPE_STRING
	tBytes = descriptorpb.FieldDescriptorProto_TYPE_BYTES
	tMsg   = descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
)

func message(name string, fields ...fieldSpec) *descriptorpb.DescriptorProto {
	d := &descriptorpb.DescriptorProto{Name: proto.String(name)}
	for _, f := range fields {
		label := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL
		if f.repeated {
			label = descriptorpb.FieldDescriptorProto_LABEL_REPEATED
		}
		fd := &descriptorpb.FieldDescriptorProto{Name: proto.String(f.name), Number: proto.Int32(f.num),
			Type: f.typ.Enum(), Label: label.Enum()}
		if f.msg != "" {
			fd.TypeName = proto.String("." + pkg + "." + f.msg)
		}
		d.Field = append(d.Field, fd)
	}
	return d
}

func sparkplugSchema(t testing.TB) protoreflect.FileDescriptor {
	t.Helper()
	fd := &descriptorpb.FileDescriptorProto{
		Name: proto.String("sparkplug_b.proto"), Package: proto.String(pkg), Syntax: proto.String("proto2"),
		MessageType: []*descriptorpb.DescriptorProto{
			message("Payload", fieldSpec{"timestamp", 1, tU64, false, ""}, fieldSpec{"metrics", 2, tMsg, true, "Metric"},
				fieldSpec{"seq", 3, tU64, false, ""}, fieldSpec{"uuid", 4, tStr, false, ""}, fieldSpec{"body", 5, tBytes, false, ""}),
			message("Metric", fieldSpec{"name", 1, tStr, false, ""}, fieldSpec{"alias", 2, tU64, false, ""},
				fieldSpec{"timestamp", 3, tU64, false, ""}, fieldSpec{"datatype", 4, tU32, false, ""},
				fieldSpec{"is_historical", 5, tBool, false, ""}, fieldSpec{"is_transient", 6, tBool, false, ""},
				fieldSpec{"is_null", 7, tBool, false, ""}, fieldSpec{"metadata", 8, tMsg, false, "MetaData"},
				fieldSpec{"properties", 9, tMsg, false, "PropertySet"}, fieldSpec{"int_value", 10, tU32, false, ""},
				fieldSpec{"long_value", 11, tU64, false, ""}, fieldSpec{"float_value", 12, tF32, false, ""},
				fieldSpec{"double_value", 13, tF64, false, ""}, fieldSpec{"boolean_value", 14, tBool, false, ""},
				fieldSpec{"string_value", 15, tStr, false, ""}, fieldSpec{"bytes_value", 16, tBytes, false, ""},
				fieldSpec{"dataset_value", 17, tMsg, false, "DataSet"}, fieldSpec{"template_value", 18, tMsg, false, "Template"}),
			message("MetaData", fieldSpec{"is_multi_part", 1, tBool, false, ""}, fieldSpec{"content_type", 2, tStr, false, ""},
				fieldSpec{"size", 3, tU64, false, ""}, fieldSpec{"seq", 4, tU64, false, ""}, fieldSpec{"file_name", 5, tStr, false, ""},
				fieldSpec{"file_type", 6, tStr, false, ""}, fieldSpec{"md5", 7, tStr, false, ""}, fieldSpec{"description", 8, tStr, false, ""}),
			message("PropertySet", fieldSpec{"keys", 1, tStr, true, ""}, fieldSpec{"values", 2, tMsg, true, "PropertyValue"}),
			message("PropertyValue", fieldSpec{"type", 1, tU32, false, ""}, fieldSpec{"is_null", 2, tBool, false, ""},
				fieldSpec{"int_value", 3, tU32, false, ""}, fieldSpec{"long_value", 4, tU64, false, ""},
				fieldSpec{"float_value", 5, tF32, false, ""}, fieldSpec{"double_value", 6, tF64, false, ""},
				fieldSpec{"boolean_value", 7, tBool, false, ""}, fieldSpec{"string_value", 8, tStr, false, ""},
				fieldSpec{"propertyset_value", 9, tMsg, false, "PropertySet"},
				fieldSpec{"propertysets_value", 10, tMsg, false, "PropertySetList"}),
			message("PropertySetList", fieldSpec{"propertyset", 1, tMsg, true, "PropertySet"}),
			message("DataSet", fieldSpec{"num_of_columns", 1, tU64, false, ""}, fieldSpec{"columns", 2, tStr, true, ""},
				fieldSpec{"types", 3, tU32, true, ""}, fieldSpec{"rows", 4, tMsg, true, "Row"}),
			message("Row", fieldSpec{"elements", 1, tMsg, true, "DataSetValue"}),
			message("DataSetValue", fieldSpec{"int_value", 1, tU32, false, ""}, fieldSpec{"long_value", 2, tU64, false, ""},
				fieldSpec{"float_value", 3, tF32, false, ""}, fieldSpec{"double_value", 4, tF64, false, ""},
				fieldSpec{"boolean_value", 5, tBool, false, ""}, fieldSpec{"string_value", 6, tStr, false, ""}),
			message("Template", fieldSpec{"version", 1, tStr, false, ""}, fieldSpec{"metrics", 2, tMsg, true, "Metric"},
				fieldSpec{"template_ref", 4, tStr, false, ""}, fieldSpec{"is_definition", 5, tBool, false, ""}),
		},
	}
	f, err := protodesc.NewFile(fd, nil)
	if err != nil {
		t.Fatalf("sparkplug schema: %v", err)
	}
	return f
}

// encodePayload marshals a Sparkplug Payload given in protojson form (proto
// field names, uint64 as numbers or strings, bytes as base64).
func encodePayload(t testing.TB, js string) []byte {
	t.Helper()
	md := sparkplugSchema(t).Messages().ByName("Payload")
	m := dynamicpb.NewMessage(md)
	if err := protojson.Unmarshal([]byte(js), m); err != nil {
		t.Fatalf("protojson %s: %v", js, err)
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
