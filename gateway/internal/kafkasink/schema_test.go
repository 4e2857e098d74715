package kafkasink

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/iskorotkov/avro/v2"
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
	if ok, why := s.awaitSchemas(ctx, r); !ok || why != nil || r.SchemasPending() != "" {
		t.Fatalf("schemas not resolved: %s (%+v)", r.SchemasPending(), why)
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

	// A subject that does not exist: the registry's answer will not change by waiting, so the
	// route's messages are dead-lettered (saying why) instead of holding the shard for ever;
	// once the subject is registered the route encodes again without a reload.
	missing := testRoute(t, config.Destination{Topic: "hums",
		ValueSchema: config.Schema{Format: config.SchemaAvro, Subject: "hums-value"}}, "hums_dlq")
	missing.UseSchemas(client)
	ok, why := s.awaitSchemas(ctx, missing)
	if !ok || why == nil || why.Kind != KindSchemaUnresolved || !strings.Contains(why.Err, "to.value_schema") || !strings.Contains(why.Err, "hums-value") {
		t.Fatalf("unknown subject: ok %v, reason %+v; want a %s dead letter naming to.value_schema and the subject", ok, why, KindSchemaUnresolved)
	}
	if _, err := reg.Register("hums-value", schemaregistry.Schema{Text: `{"type":"record","name":"H","fields":[{"name":"h","type":"double"}]}`}); err != nil {
		t.Fatal(err)
	}
	for {
		if ok, why := s.awaitSchemas(ctx, missing); ok && why == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the subject registered later was never resolved")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
