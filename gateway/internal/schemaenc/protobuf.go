package schemaenc

import (
	"context"
	"fmt"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// protoCodec encodes JSON documents (protojson's mapping) as one Protobuf message of a schema,
// through a dynamic message.
type protoCodec struct {
	md   protoreflect.MessageDescriptor
	idx  []int      // the message's indexes in its file, for the wire format
	fast *pbMessage // md compiled for the fast path (protofast.go); nil when not covered
}

// mainProtoFile is the name the schema's own text is compiled under; its imports are the
// names of its references.
const mainProtoFile = "tributary-schema.proto"

// newProtoCodec compiles text, a .proto file, with files (the texts of its imports by import
// path; the well-known types need none) and picks message, a fully-qualified name, or the
// file's first message when message is "".
func newProtoCodec(ctx context.Context, text string, files map[string]string, message string) (*protoCodec, error) {
	all := map[string]string{mainProtoFile: text}
	for name, src := range files {
		if name != mainProtoFile {
			all[name] = src
		}
	}
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
		Accessor: protocompile.SourceAccessorFromMap(all),
	})}
	fds, err := c.Compile(ctx, mainProtoFile)
	if err != nil {
		return nil, fmt.Errorf("protobuf schema: %w", err)
	}
	fd := fds[0]
	var md protoreflect.MessageDescriptor
	if message == "" {
		if fd.Messages().Len() == 0 {
			return nil, fmt.Errorf("protobuf schema: declares no message")
		}
		md = fd.Messages().Get(0)
	} else {
		d := fd.FindDescriptorByName(protoreflect.FullName(message))
		m, ok := d.(protoreflect.MessageDescriptor)
		if !ok || m.ParentFile().Path() != mainProtoFile {
			return nil, fmt.Errorf("protobuf schema: no message %q in the schema (package %q)", message, fd.Package())
		}
		md = m
	}
	return &protoCodec{md: md, idx: messageIndexes(md), fast: compilePbFast(md)}, nil
}

// messageIndexes returns the path of md in its file as the Confluent wire format writes it:
// the index of its top-level message, then of each nested message down to md.
func messageIndexes(md protoreflect.MessageDescriptor) []int {
	var idx []int
	for d := protoreflect.Descriptor(md); ; d = d.Parent() {
		m, ok := d.(protoreflect.MessageDescriptor)
		if !ok {
			break
		}
		idx = append([]int{m.Index()}, idx...)
	}
	return idx
}

func (c *protoCodec) wantsString() bool { return false }

func (c *protoCodec) index() []int { return c.idx }

func (c *protoCodec) encode(dst, doc []byte) ([]byte, error) {
	if c.fast != nil {
		if out, ok := c.fast.encodeFast(dst, doc); ok {
			return out, nil
		}
	}
	return c.encodeGeneral(dst, doc)
}

// encodeGeneral is encode without the fast path: protojson fills a dynamic message that
// proto.Marshal writes, deterministically (fields by number, map entries by key) so that the
// same document always gives the same bytes.
func (c *protoCodec) encodeGeneral(dst, doc []byte) ([]byte, error) {
	m := dynamicpb.NewMessage(c.md)
	if err := protojson.Unmarshal(doc, m); err != nil {
		return nil, &InvalidError{Reason: err.Error()}
	}
	b, err := proto.MarshalOptions{Deterministic: true}.MarshalAppend(dst, m)
	if err != nil {
		return nil, &InvalidError{Reason: err.Error()}
	}
	return b, nil
}
