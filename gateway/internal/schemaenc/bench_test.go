package schemaenc

import (
	"syscall"
	"testing"
	"time"

	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/gatewaytest/schemaregistry"
)

// BenchmarkEncode measures encoding the 180-byte sensor payload (sensorJSON) in each format,
// the wire format's header included, as the sink does per record:
//
//	go test -run '^$' -bench 'Encode|DecodeJSON' -benchmem ./gateway/internal/schemaenc
func BenchmarkEncode(b *testing.B) {
	if len(sensorJSON) != 180 {
		b.Fatalf("the sensor payload is %d bytes, not 180", len(sensorJSON))
	}
	reg := schemaregistry.Start(b)
	r, _ := newTestRegistry(b, config.SchemaRegistry{URL: reg.URL()})
	for _, f := range []struct {
		name, typ, text string
		format          string
	}{
		{"avro", schemaregistry.TypeAvro, readingAvro, config.SchemaAvro},
		{"protobuf", schemaregistry.TypeProtobuf, benchProto, config.SchemaProtobuf},
		{"json_schema", schemaregistry.TypeJSON, benchJSONSchema, config.SchemaJSONSchema},
	} {
		subject := f.name + "-value"
		if _, err := reg.Register(subject, schemaregistry.Schema{Type: f.typ, Text: f.text}); err != nil {
			b.Fatal(err)
		}
		e := r.Encoder(config.Schema{Format: f.format, Subject: subject})
		ready(b, e)
		b.Run(f.name, func(b *testing.B) {
			doc := []byte(sensorJSON)
			buf := make([]byte, 0, 512)
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			cpu := processCPU()
			for b.Loop() {
				var err error
				if buf, err = e.Encode(buf[:0], doc); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, cpu)
		})
	}
}

const benchProto = `syntax = "proto3";
package acme.v1;
message Reading {
  string device_id = 1;
  double temp = 2;
  optional int32 humidity = 3;
  enum Status { OK = 0; FAULT = 1; }
  Status status = 4;
  int64 ts = 5;
  message Location { double lat = 1; double lon = 2; }
  Location location = 6;
  repeated string tags = 7;
}
`

const benchJSONSchema = `{"type":"object","additionalProperties":false,"required":["device_id","temp","status","ts","location"],
 "properties":{"device_id":{"type":"string"},"temp":{"type":"number"},"humidity":{"type":["integer","null"]},
 "status":{"enum":["OK","FAULT"]},"ts":{"type":"integer"},
 "location":{"type":"object","required":["lat","lon"],"properties":{"lat":{"type":"number"},"lon":{"type":"number"}}},
 "tags":{"type":"array","items":{"type":"string"}}}}`

// BenchmarkDecodeJSON is the share of BenchmarkEncode that only reads the JSON, for scale.
func BenchmarkDecodeJSON(b *testing.B) {
	doc := []byte(sensorJSON)
	b.ReportAllocs()
	cpu := processCPU()
	for b.Loop() {
		if _, err := decodeJSON(doc); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, cpu)
}

// processCPU returns the CPU time the process has used (user and system).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the process's CPU time per iteration since start ("cpu-ns/op"): on a
// machine shared with other work the wall time per iteration (ns/op) grows with the load,
// the CPU time much less. It includes the garbage collector's work.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
}
