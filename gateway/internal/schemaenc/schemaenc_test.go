package schemaenc

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bufbuild/protocompile"
	"github.com/iskorotkov/avro/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/gatewaytest/schemaregistry"
)

const readingAvro = `{"type":"record","name":"Reading","namespace":"acme","fields":[
 {"name":"device_id","type":"string"},
 {"name":"temp","type":"double"},
 {"name":"humidity","type":["null","int"],"default":null},
 {"name":"status","type":{"type":"enum","name":"Status","symbols":["OK","FAULT"]}},
 {"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},
 {"name":"location","type":{"type":"record","name":"Location","fields":[{"name":"lat","type":"double"},{"name":"lon","type":"double"}]}},
 {"name":"tags","type":{"type":"array","items":"string"},"default":[]}
]}`

// sensorJSON is the 180-byte sensor payload of the benchmarks (and a valid Reading).
const sensorJSON = `{"device_id":"sensor-000042","temp":21.375,"humidity":48,"status":"OK","ts":1765094400123,"location":{"lat":52.520008,"lon":13.404954},"tags":["roof","north","calibrated-2026-12"]}`

func newTestRegistry(t testing.TB, cfg config.SchemaRegistry) (*Registry, Metrics) {
	t.Helper()
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Second
	}
	m := Metrics{
		Encoded:        prometheus.NewCounterVec(prometheus.CounterOpts{Name: "encoded"}, []string{"subject"}),
		Invalid:        prometheus.NewCounterVec(prometheus.CounterOpts{Name: "invalid"}, []string{"subject"}),
		RegistryErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "errors"}),
	}
	r, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), m)
	if err != nil {
		t.Fatal(err)
	}
	r.retryBase, r.retryMax = 20*time.Millisecond, 100*time.Millisecond
	t.Cleanup(r.Close)
	return r, m
}

// ready waits until e resolves, failing the test after 10s. An UnresolvableError is not the
// end: the resolver goes on asking.
func ready(t testing.TB, e *Encoder) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		err := e.Wait(ctx)
		var unresolvable *UnresolvableError
		if errors.As(err, &unresolvable) && ctx.Err() == nil {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatalf("schema %s not resolved: %v (last error: %s)", e.conf, err, *e.lastErr.Load())
		}
		return
	}
}

// header strips the Confluent header of b, returning the schema id, the message indexes when
// withIndex, and the rest.
func header(t *testing.T, b []byte, withIndex bool) (int, []int, []byte) {
	t.Helper()
	var h sr.ConfluentHeader
	id, rest, err := h.DecodeID(b)
	if err != nil {
		t.Fatalf("header of % x: %v", b[:min(len(b), 8)], err)
	}
	var idx []int
	if withIndex {
		if idx, rest, err = h.DecodeIndex(rest, 8); err != nil {
			t.Fatal(err)
		}
	}
	return id, idx, rest
}

func TestAvro(t *testing.T) {
	reg := schemaregistry.Start(t)
	id, err := reg.Register("readings-value", schemaregistry.Schema{Text: readingAvro})
	if err != nil {
		t.Fatal(err)
	}
	r, m := newTestRegistry(t, config.SchemaRegistry{URL: reg.URL()})
	e := r.Encoder(config.Schema{Format: config.SchemaAvro, Subject: "readings-value"})
	ready(t, e)

	out, err := e.Encode(nil, []byte(sensorJSON))
	if err != nil {
		t.Fatal(err)
	}
	gotID, _, body := header(t, out, false)
	if gotID != id {
		t.Errorf("schema id %d in the header, registered %d", gotID, id)
	}
	sch := avro.MustParse(readingAvro)
	var got map[string]any
	if err := avro.Unmarshal(sch, body, &got); err != nil {
		t.Fatalf("decoding the record back: %v", err)
	}
	loc := got["location"].(map[string]any)
	if got["device_id"] != "sensor-000042" || got["temp"] != 21.375 || got["status"] != "OK" ||
		loc["lon"] != 13.404954 || got["ts"].(time.Time).UnixMilli() != 1765094400123 ||
		len(got["tags"].([]any)) != 3 {
		t.Errorf("decoded %v", got)
	}
	if got["humidity"] != 48 {
		t.Errorf("humidity = %#v, want 48 (the int branch)", got["humidity"])
	}

	// Absent fields: a default, a nullable union; the Avro JSON form of a union.
	out, err = e.Encode(nil, []byte(`{"device_id":"d","temp":1,"humidity":{"int":7},"status":"FAULT","ts":"2026-12-07T00:00:00Z","location":{"lat":0,"lon":0}}`))
	if err != nil {
		t.Fatal(err)
	}
	_, _, body = header(t, out, false)
	got = nil
	if err := avro.Unmarshal(sch, body, &got); err != nil {
		t.Fatal(err)
	}
	if got["humidity"] != 7 || got["ts"].(time.Time).Year() != 2026 {
		t.Errorf("decoded %v", got)
	}

	for _, c := range []struct{ doc, path, reason string }{
		{`{"device_id":"d","temp":"hot","status":"OK","ts":1,"location":{"lat":0,"lon":0}}`, "/temp", "want a number, got a string"},
		{`{"device_id":"d","temp":1,"status":"OK","ts":1,"location":{"lat":"x","lon":0}}`, "/location/lat", "want a number"},
		{`{"device_id":"d","temp":1,"status":"MELTED","ts":1,"location":{"lat":0,"lon":0}}`, "/status", "not a symbol of enum acme.Status"},
		{`{"device_id":"d","temp":1,"status":"OK","ts":1}`, "/location", "required field is missing"},
		{`{"device_id":"d","temp":1,"status":"OK","ts":1,"location":{"lat":0,"lon":0},"extra":1}`, "/extra", "not in record acme.Reading"},
		{`{"device_id":"d","temp":1,"humidity":2.5,"status":"OK","ts":1,"location":{"lat":0,"lon":0}}`, "/humidity", "want an integer"},
		{`{"device_id":"d","temp":1,"status":"OK","ts":1,"location":{"lat":0,"lon":0},"tags":["a",2]}`, "/tags/1", "want a string"},
		{`not json`, "", "not JSON"},
	} {
		_, err := e.Encode(nil, []byte(c.doc))
		var ie *InvalidError
		if !errors.As(err, &ie) || ie.Path != c.path || !strings.Contains(ie.Reason, c.reason) {
			t.Errorf("%s: error %v, want path %q and reason containing %q", c.doc, err, c.path, c.reason)
		}
	}
	if n := testutil.ToFloat64(m.Invalid.WithLabelValues("readings-value")); n != 8 {
		t.Errorf("invalid count %v, want 8", n)
	}
	if n := testutil.ToFloat64(m.Encoded.WithLabelValues("readings-value")); n != 2 {
		t.Errorf("encoded count %v, want 2", n)
	}
}

const readingProto = `syntax = "proto3";
package acme.v1;
import "google/protobuf/timestamp.proto";
import "acme/location.proto";
message Envelope { string note = 1; }
message Reading {
  string device_id = 1;
  double temp = 2;
  google.protobuf.Timestamp ts = 3;
  acme.common.Location location = 4;
  message Calibration { int32 offset = 1; }
  Calibration calibration = 5;
}
`

const locationProto = `syntax = "proto3";
package acme.common;
message Location { double lat = 1; double lon = 2; }
`

func TestProtobuf(t *testing.T) {
	reg := schemaregistry.Start(t)
	if _, err := reg.Register("location", schemaregistry.Schema{Type: schemaregistry.TypeProtobuf, Text: locationProto}); err != nil {
		t.Fatal(err)
	}
	id, err := reg.Register("readings-value", schemaregistry.Schema{Type: schemaregistry.TypeProtobuf, Text: readingProto,
		References: []schemaregistry.Reference{{Name: "acme/location.proto", Subject: "location", Version: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := newTestRegistry(t, config.SchemaRegistry{URL: reg.URL()})

	// An independent decoder: the schema compiled here, the record read with proto.Unmarshal.
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
		Accessor: protocompile.SourceAccessorFromMap(map[string]string{"r.proto": readingProto, "acme/location.proto": locationProto})})}
	fds, err := c.Compile(context.Background(), "r.proto")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		message string
		index   []int
	}{{"acme.v1.Reading", []int{1}}, {"acme.v1.Reading.Calibration", []int{1, 0}}, {"", []int{0}}} {
		e := r.Encoder(config.Schema{Format: config.SchemaProtobuf, Subject: "readings-value", Message: tc.message})
		ready(t, e)
		doc := map[string]string{
			"acme.v1.Reading":             `{"device_id":"sensor-000042","temp":21.375,"ts":"2026-12-07T08:00:00Z","location":{"lat":52.5,"lon":13.4},"calibration":{"offset":-2}}`,
			"acme.v1.Reading.Calibration": `{"offset":3}`,
			"":                            `{"note":"hi"}`,
		}[tc.message]
		out, err := e.Encode(nil, []byte(doc))
		if err != nil {
			t.Fatalf("%s: %v", tc.message, err)
		}
		gotID, idx, body := header(t, out, true)
		if gotID != id || len(idx) != len(tc.index) || idx[0] != tc.index[0] || idx[len(idx)-1] != tc.index[len(tc.index)-1] {
			t.Errorf("%s: id %d indexes %v, want %d %v", tc.message, gotID, idx, id, tc.index)
		}
		name := tc.message
		if name == "" {
			name = "acme.v1.Envelope"
		}
		md := fds[0].FindDescriptorByName(protoreflect.FullName(name)).(protoreflect.MessageDescriptor)
		msg := dynamicpb.NewMessage(md)
		if err := proto.Unmarshal(body, msg); err != nil {
			t.Fatalf("%s: decoding back: %v", name, err)
		}
		switch name {
		case "acme.v1.Reading":
			if msg.Get(md.Fields().ByName("temp")).Float() != 21.375 ||
				msg.Get(md.Fields().ByName("location")).Message().Get(md.Fields().ByName("location").Message().Fields().ByName("lon")).Float() != 13.4 ||
				msg.Get(md.Fields().ByName("ts")).Message().Get(md.Fields().ByName("ts").Message().Fields().ByName("seconds")).Int() != time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC).Unix() {
				t.Errorf("decoded %v", msg)
			}
		case "acme.v1.Reading.Calibration":
			if msg.Get(md.Fields().ByName("offset")).Int() != 3 {
				t.Errorf("decoded %v", msg)
			}
		}
	}
	e := r.Encoder(config.Schema{Format: config.SchemaProtobuf, Subject: "readings-value", Message: "acme.v1.Reading"})
	_, err = e.Encode(nil, []byte(`{"device_id":"d","temp":"hot"}`))
	var ie *InvalidError
	if !errors.As(err, &ie) || !strings.Contains(ie.Reason, "temp") {
		t.Errorf("invalid payload: error %v, want one naming the field temp", err)
	}
	bad := r.Encoder(config.Schema{Format: config.SchemaProtobuf, Subject: "readings-value", Message: "acme.v1.Nope"})
	time.Sleep(50 * time.Millisecond)
	if bad.Ready() || !strings.Contains(*bad.lastErr.Load(), `no message "acme.v1.Nope"`) {
		t.Errorf("unknown message: ready %v, last error %q", bad.Ready(), *bad.lastErr.Load())
	}
}

const readingJSONSchema = `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object",
 "properties":{"device_id":{"type":"string"},"temp":{"type":"number"},"location":{"$ref":"location.json"}},
 "required":["device_id","temp"]}`

func TestJSONSchema(t *testing.T) {
	reg := schemaregistry.Start(t)
	if _, err := reg.Register("location", schemaregistry.Schema{Type: schemaregistry.TypeJSON,
		Text: `{"type":"object","properties":{"lat":{"type":"number","minimum":-90,"maximum":90}}}`}); err != nil {
		t.Fatal(err)
	}
	id, err := reg.Register("readings-value", schemaregistry.Schema{Type: schemaregistry.TypeJSON, Text: readingJSONSchema,
		References: []schemaregistry.Reference{{Name: "location.json", Subject: "location", Version: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := newTestRegistry(t, config.SchemaRegistry{URL: reg.URL()})
	e := r.Encoder(config.Schema{Format: config.SchemaJSONSchema, Subject: "readings-value"})
	ready(t, e)
	doc := `{"device_id":"d","temp":1.5,"location":{"lat":52}}`
	out, err := e.Encode(nil, []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if gotID, _, body := header(t, out, false); gotID != id || string(body) != doc {
		t.Errorf("id %d body %s, want %d %s", gotID, body, id, doc)
	}
	for _, c := range []struct{ doc, path, reason string }{
		{`{"device_id":"d","temp":"hot"}`, "/temp", "want number"},
		{`{"device_id":"d","temp":1,"location":{"lat":123}}`, "/location/lat", "maximum"},
		{`{"temp":1}`, "", "missing property 'device_id'"},
	} {
		_, err := e.Encode(nil, []byte(c.doc))
		var ie *InvalidError
		if !errors.As(err, &ie) || ie.Path != c.path || !strings.Contains(ie.Reason, c.reason) {
			t.Errorf("%s: error %v, want path %q and reason containing %q", c.doc, err, c.path, c.reason)
		}
	}
}

func TestKeyAsString(t *testing.T) {
	reg := schemaregistry.Start(t)
	if _, err := reg.Register("readings-key", schemaregistry.Schema{Text: `"string"`}); err != nil {
		t.Fatal(err)
	}
	r, _ := newTestRegistry(t, config.SchemaRegistry{URL: reg.URL()})
	e := r.Encoder(config.Schema{Format: config.SchemaAvro, Subject: "readings-key"})
	ready(t, e)
	out, err := e.EncodeKey(nil, []byte("42"))
	if err != nil {
		t.Fatal(err)
	}
	_, _, body := header(t, out, false)
	var s string
	if err := avro.Unmarshal(avro.MustParse(`"string"`), body, &s); err != nil || s != "42" {
		t.Errorf("key decoded as %q, %v; want \"42\"", s, err)
	}
}

// TestOutage: while the registry fails the encoder waits, is listed by Waiting and counts
// errors; once it answers again the encoder resolves without anyone asking.
func TestOutage(t *testing.T) {
	reg := schemaregistry.Start(t)
	if _, err := reg.Register("readings-value", schemaregistry.Schema{Text: readingAvro}); err != nil {
		t.Fatal(err)
	}
	reg.SetOutage(schemaregistry.OutageUnavailable)
	r, m := newTestRegistry(t, config.SchemaRegistry{URL: reg.URL()})
	e := r.Encoder(config.Schema{Format: config.SchemaAvro, Subject: "readings-value"})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := e.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait during the outage: %v", err)
	}
	if _, err := e.Encode(nil, []byte(sensorJSON)); !errors.Is(err, ErrNotReady) {
		t.Errorf("Encode during the outage: %v, want ErrNotReady", err)
	}
	if w := r.Waiting(); len(w) != 1 || !strings.Contains(w[0], "readings-value") {
		t.Errorf("Waiting = %q", w)
	}
	if testutil.ToFloat64(m.RegistryErrors) < 1 {
		t.Error("no registry error counted")
	}
	reg.SetOutage(schemaregistry.OutageNone)
	ready(t, e)
	if w := r.Waiting(); len(w) != 0 {
		t.Errorf("Waiting after the outage = %q", w)
	}
}

// TestSchemaFile: a schema file is looked up in its subject (absent: the encoder waits, saying
// why), or registered with auto_register.
func TestSchemaFile(t *testing.T) {
	reg := schemaregistry.Start(t)
	file := filepath.Join(t.TempDir(), "reading.avsc")
	if err := os.WriteFile(file, []byte(readingAvro), 0o600); err != nil {
		t.Fatal(err)
	}
	s := config.Schema{Format: config.SchemaAvro, Subject: "readings-value", File: file}
	lookup, _ := newTestRegistry(t, config.SchemaRegistry{URL: reg.URL()})
	e := lookup.Encoder(s)
	time.Sleep(50 * time.Millisecond)
	if e.Ready() || !strings.Contains(*e.lastErr.Load(), "auto_register is false") {
		t.Errorf("unregistered file: ready %v, last error %q", e.Ready(), *e.lastErr.Load())
	}
	var unresolvable *UnresolvableError
	if err := e.Wait(context.Background()); !errors.As(err, &unresolvable) {
		t.Errorf("Wait for an unregistered file: %v, want an UnresolvableError (its routes dead-letter, not hold)", err)
	}
	auto, _ := newTestRegistry(t, config.SchemaRegistry{URL: reg.URL(), AutoRegister: true})
	a := auto.Encoder(s)
	ready(t, a)
	id, err := reg.Register("readings-value", schemaregistry.Schema{Text: readingAvro}) // the same: its id
	if err != nil || a.ID() != id {
		t.Errorf("auto-registered id %d, registry says %d (%v)", a.ID(), id, err)
	}
	ready(t, e) // now registered, the lookup finds it
}

func TestAuth(t *testing.T) {
	cases := []struct {
		name string
		opts []schemaregistry.Option
		cfg  func(*schemaregistry.Registry) config.SchemaRegistry
		ok   bool
	}{
		{"basic", []schemaregistry.Option{schemaregistry.WithBasicAuth("u", "pw")},
			func(r *schemaregistry.Registry) config.SchemaRegistry {
				return config.SchemaRegistry{URL: r.URL(), Username: "u", Password: "pw"}
			}, true},
		{"basic, wrong password", []schemaregistry.Option{schemaregistry.WithBasicAuth("u", "pw")},
			func(r *schemaregistry.Registry) config.SchemaRegistry {
				return config.SchemaRegistry{URL: r.URL(), Username: "u", Password: "nope"}
			}, false},
		{"bearer", []schemaregistry.Option{schemaregistry.WithBearerToken("tok")},
			func(r *schemaregistry.Registry) config.SchemaRegistry {
				return config.SchemaRegistry{URL: r.URL(), Token: "tok"}
			}, true},
		{"mutual TLS", []schemaregistry.Option{schemaregistry.WithTLS(true)},
			func(r *schemaregistry.Registry) config.SchemaRegistry {
				f := r.TLSFiles()
				return config.SchemaRegistry{URL: r.URL(), TLS: config.RegistryTLS{CAFile: f.CAFile, CertFile: f.CertFile, KeyFile: f.KeyFile}}
			}, true},
		{"TLS without the client certificate", []schemaregistry.Option{schemaregistry.WithTLS(true)},
			func(r *schemaregistry.Registry) config.SchemaRegistry {
				return config.SchemaRegistry{URL: r.URL(), TLS: config.RegistryTLS{CAFile: r.TLSFiles().CAFile}}
			}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			reg := schemaregistry.Start(t, c.opts...)
			if _, err := reg.Register("readings-value", schemaregistry.Schema{Text: readingAvro}); err != nil {
				t.Fatal(err)
			}
			r, _ := newTestRegistry(t, c.cfg(reg))
			e := r.Encoder(config.Schema{Format: config.SchemaAvro, Subject: "readings-value"})
			if c.ok {
				ready(t, e)
				return
			}
			time.Sleep(100 * time.Millisecond)
			if e.Ready() {
				t.Error("resolved without the right credentials")
			}
		})
	}
}
