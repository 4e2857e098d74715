package loadbench

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/iskorotkov/avro/v2"

	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/gatewaytest"
)

// confluent returns body behind the Confluent header with schema id.
func confluent(id uint32, body []byte, indexes ...byte) []byte {
	v := binary.BigEndian.AppendUint32([]byte{0}, id)
	return append(append(v, indexes...), body...)
}

func TestSchemaDecoder(t *testing.T) {
	payload := appendPayload(nil, "0123456789abcdef", 7, 42, 99, 180)
	js, err := newSchemaDecoder(SchemaJSONSchema, 5)
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := js.decode(confluent(5, payload)); !ok || string(f.run) != "0123456789abcdef" || f.topic != 7 || f.seq != 42 || f.ts != 99 {
		t.Errorf("json_schema: decoded %+v, %v; want run 0123456789abcdef, topic 7, seq 42, ts 99", f, ok)
	}
	for name, v := range map[string][]byte{"no header": payload, "other id": confluent(6, payload), "truncated": {0, 0, 0}} {
		if f, ok := js.decode(v); ok {
			t.Errorf("json_schema %s: decoded %+v, want a failure", name, f)
		}
	}

	av, err := newSchemaDecoder(SchemaAvro, 1)
	if err != nil {
		t.Fatal(err)
	}
	body, err := avro.Marshal(av.avro, benchRecord{Run: "r", T: 3, Seq: 1 << 40, TS: 5, Pad: "xx"})
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := av.decode(confluent(1, body)); !ok || f.topic != 3 || f.seq != 1<<40 {
		t.Errorf("avro: decoded %+v, %v; want topic 3, seq 2^40", f, ok)
	}
	if f, ok := av.decode(confluent(1, payload)); ok {
		t.Errorf("avro: decoded JSON as %+v, want a failure", f)
	}

	pb, err := newSchemaDecoder(SchemaProtobuf, 2)
	if err != nil {
		t.Fatal(err)
	}
	// run = "r" (field 1), t = 3 (field 2), seq = 9 (field 3), after the index [0] written
	// both ways: the short form 0 and the count 1 then index 0.
	msg := []byte{0x0a, 1, 'r', 0x10, 3, 0x18, 9}
	for _, idx := range [][]byte{{0}, {2, 0}} {
		if f, ok := pb.decode(confluent(2, msg, idx...)); !ok || f.topic != 3 || f.seq != 9 || string(f.run) != "r" {
			t.Errorf("protobuf indexes %v: decoded %+v, %v; want run r, topic 3, seq 9", idx, f, ok)
		}
	}
	if f, ok := pb.decode(confluent(2, msg, 2, 2)); ok {
		t.Errorf("protobuf: decoded the second message's index as %+v, want a failure", f)
	}
}

func TestGatewayConfig_Schema(t *testing.T) {
	o := Defaults()
	o.Schema = SchemaProtobuf
	y, err := gatewayConfig(&o, newLayout(&o, "kt"), "tcp://127.0.0.1:1", []string{"127.0.0.1:2"}, "http://127.0.0.1:5", "127.0.0.1:3", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadBytes(y, nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, y)
	}
	vs := cfg.Routes[0].To.ValueSchema
	if cfg.Kafka.SchemaRegistry.URL != "http://127.0.0.1:5" || vs.Format != "protobuf" || vs.Subject != "kt-value" {
		t.Errorf("registry %q, value_schema %+v; want the registry and protobuf subject kt-value\n%s", cfg.Kafka.SchemaRegistry.URL, vs, y)
	}
}

// TestRun_SchemaBacklogMosquitto drains a small backlog through a route encoding its values
// in each format, reading every record back through the run's own decoders: a record without
// the header and schema id, or that does not decode, counts as foreign and fails runSmall.
func TestRun_SchemaBacklogMosquitto(t *testing.T) {
	if _, err := os.Stat(DefaultMosquitto); err != nil {
		if os.Getenv("TRIBUTARY_REQUIRE_MOSQUITTO") == "1" {
			t.Fatalf("mosquitto: %v", err)
		}
		t.Skipf("%s not found (apt-get install mosquitto, or set TRIBUTARY_REQUIRE_MOSQUITTO=1 to fail instead)", DefaultMosquitto)
	}
	for _, format := range SchemaFormats {
		t.Run(format, func(t *testing.T) {
			o := Defaults()
			o.Mode, o.Count, o.Topics, o.Publishers, o.Mosquitto, o.Schema = ModeBacklog, 600, 20, 2, true, format
			res := runSmall(t, o)
			if res.Published != 600 || res.Schema == nil || res.Schema.Format != format || res.Schema.ID < 1 {
				t.Errorf("published %d, schema %+v; want 600 with a registered %s schema", res.Published, res.Schema, format)
			}
			if !strings.Contains(res.String(), "schema") {
				t.Errorf("the table does not show the schema:\n%s", res)
			}
		})
	}
}

// TestCompareSchema runs one small round of each side with a gateway subprocess and checks
// that only the second side encodes and the table states the encoding's cost.
func TestCompareSchema(t *testing.T) {
	if _, err := os.Stat(DefaultMosquitto); err != nil {
		t.Skipf("%s not found", DefaultMosquitto)
	}
	o := Defaults()
	o.Executable = gatewaytest.BuildBinary(t, "./cmd/tributary")
	o.Gateway, o.Mode, o.Count, o.Topics, o.Publishers, o.Mosquitto, o.Schema = GatewaySubprocess, ModeBacklog, 500, 10, 2, true, SchemaAvro
	o.Settle, o.Timeout = 10*time.Second, time.Minute
	runs := 0
	c, err := CompareSchema(context.Background(), o, 1, func(int, *Result) { runs++ })
	if err != nil {
		t.Fatal(err)
	}
	if runs != 2 || len(c.Without) != 1 || len(c.With) != 1 || c.Without[0].Schema != nil || c.With[0].Schema == nil {
		t.Fatalf("%d runs, without %v, with %v; want one run without a schema, then one with", runs, c.Without, c.With)
	}
	for _, r := range append(c.Without, c.With...) {
		// The drain's own CPU of 500 messages may be below the clock tick: not asserted.
		if r.Received != 500 || r.Lost != 0 || r.Foreign != 0 || r.CPUSecondsPer100k <= 0 {
			t.Errorf("received %d, lost %d, foreign %d, cpu %v; want all 500 and a CPU figure\n%s", r.Received, r.Lost, r.Foreign, r.CPUSecondsPer100k, r)
		}
	}
	var b strings.Builder
	if err := c.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("encoding cost: %+.2f µs CPU per message vs no schema", c.EncodingMicros); !strings.Contains(b.String(), want) {
		t.Errorf("table lacks %q:\n%s", want, b.String())
	}
	if _, err := CompareSchema(context.Background(), Options{Schema: SchemaAvro, Gateway: GatewayInProcess, Mode: ModeBacklog}, 1, nil); err == nil || !strings.Contains(err.Error(), "gateway inprocess") {
		t.Errorf("CompareSchema in process: %v, want an error naming the gateway", err)
	}
}
