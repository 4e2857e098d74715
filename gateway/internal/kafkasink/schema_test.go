package kafkasink

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/gatewaytest/schemaregistry"
	"github.com/tributary-gw/tributary/gateway/internal/schemaenc"
)

// TestRecordSchemas: a route with a value and a key schema writes both in the wire format; a
// value that does not fit is a schema_invalid reason naming the field.
func TestRecordSchemas(t *testing.T) {
	reg := schemaregistry.Start(t)
	valueID, err := reg.Register("temps-value", schemaregistry.Schema{Text: `{"type":"record","name":"T","fields":[{"name":"t","type":"double"}]}`})
	if err != nil {
		t.Fatal(err)
	}
	keyID, err := reg.Register("temps-key", schemaregistry.Schema{Text: `"string"`})
	if err != nil {
		t.Fatal(err)
	}
	client, err := schemaenc.New(config.SchemaRegistry{URL: reg.URL(), Timeout: 2 * time.Second},
		slog.New(slog.NewTextHandler(io.Discard, nil)), schemaenc.Metrics{
			Encoded:        prometheus.NewCounterVec(prometheus.CounterOpts{Name: "e"}, []string{"subject"}),
			Invalid:        prometheus.NewCounterVec(prometheus.CounterOpts{Name: "i"}, []string{"subject"}),
			RegistryErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "r"}),
		})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	r := testRoute(t, config.Destination{Topic: "temps", Key: "{{.Segment 3}}",
		ValueSchema: config.Schema{Format: config.SchemaAvro, Subject: "temps-value"},
		KeySchema:   config.Schema{Format: config.SchemaAvro, Subject: "temps-key"}}, "temps_dlq")
	r.UseSchemas(client)
	s := &Sink{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if !s.awaitSchemas(ctx, r) || r.SchemasPending() != "" {
		t.Fatalf("schemas not resolved: %s", r.SchemasPending())
	}

	m := testMessage()
	rec, why := r.record(m, &Output{Payload: m.Payload}, 1<<20)
	if why != nil {
		t.Fatal(why.Err)
	}
	var h sr.ConfluentHeader
	id, body, err := h.DecodeID(rec.Value)
	var v map[string]any
	if err != nil || id != valueID || avro.Unmarshal(avro.MustParse(`{"type":"record","name":"T","fields":[{"name":"t","type":"double"}]}`), body, &v) != nil || v["t"] != 21.5 {
		t.Errorf("value: id %d (want %d), %v, decoded %v", id, valueID, err, v)
	}
	id, body, err = h.DecodeID(rec.Key)
	var key string
	if err != nil || id != keyID || avro.Unmarshal(avro.MustParse(`"string"`), body, &key) != nil || key != "7" {
		t.Errorf("key: id %d (want %d), %v, decoded %q", id, keyID, err, key)
	}

	_, why = r.record(m, &Output{Payload: []byte(`{"t":"warm"}`)}, 1<<20)
	if why == nil || why.Kind != KindSchemaInvalid || why.Path != "/t" {
		t.Fatalf("invalid value: reason %+v", why)
	}
	dl := r.deadLetterRecord(m, why, 1<<20)
	if p, _ := header(dl, HeaderErrorPath); p != "/t" {
		t.Errorf("dead letter %s = %q, want /t", HeaderErrorPath, p)
	}
}
