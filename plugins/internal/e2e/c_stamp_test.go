package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/gatewaytest"
	"github.com/tributary-gw/tributary/sdk/abi"
	"github.com/tributary-gw/tributary/sdk/sdktest"
	"github.com/tributary-gw/tributary/wasmhost"
)

// benchPayload is the ~180-byte sensor reading the plugin benchmarks use.
const benchPayload = `{"device_id":"bldg1-f1-r101-s000","floor":1,"room":101,"metric":"temperature","ts":1795580496255,"value":21.25,"unit":"celsius","battery":76.07,"rssi":-48,"seq":12}`

// stampGuests returns the C stamp plugin and its Go twin, both built from
// source.
func stampGuests(t testing.TB) map[string][]byte {
	t.Helper()
	goWasm, err := os.ReadFile(sdktest.Build(t, filepath.Join(repoRoot(t), "plugins", "c", "stamp", "gostamp")))
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{"c": buildCGuest(t, "stamp"), "go": goWasm}
}

func TestCStamp(t *testing.T) {
	for lang, wasm := range stampGuests(t) {
		t.Run(lang, func(t *testing.T) {
			in := newInstance(t, "stamp-"+lang, wasm, `{"name":"gw","value":"edge-1"}`, wasmhost.Limits{})
			msgs := []abi.Message{
				{Topic: "a", Payload: []byte(benchPayload)},
				{Topic: "b", Payload: []byte("x"), Headers: []abi.Property{{Name: "gw", Value: "old"}, {Name: "k", Value: "v"}, {Name: "gw", Value: "older"}}},
			}
			rs, err := in.Handle(context.Background(), msgs)
			if err != nil {
				t.Fatal(err)
			}
			want := [][]abi.Property{
				{{Name: "gw", Value: "edge-1"}},
				{{Name: "k", Value: "v"}, {Name: "gw", Value: "edge-1"}},
			}
			for i, r := range rs {
				if r.Failed || len(r.Outputs) != 1 {
					t.Fatalf("message %d: %+v", i, r)
				}
				o := r.Outputs[0]
				if o.Flags != abi.PayloadUnchanged|abi.SetHeaders || !slices.Equal(o.Headers, want[i]) {
					t.Errorf("message %d: flags %b headers %v, want headers %v", i, o.Flags, o.Headers, want[i])
				}
			}
		})
	}
	for _, cfg := range []string{`{}`, `{"name":"gw","extra":"1"}`, `{"name":1}`} {
		t.Run("bad config "+cfg, func(t *testing.T) {
			ctx := context.Background()
			p, err := sharedHost(t).Compile(ctx, "stamp-c", buildCGuest(t, "stamp"))
			if err != nil {
				t.Fatal(err)
			}
			if in, err := wasmhost.NewInstance(ctx, sharedHost(t), p, []byte(cfg), wasmhost.Limits{}); err == nil {
				in.Close(ctx)
				t.Fatalf("config %s accepted", cfg)
			}
		})
	}
}

// BenchmarkStamp compares the C guest with the Go SDK guest doing the same
// work (pass on, set one header) through wasmhost, batch of 64.
func BenchmarkStamp(b *testing.B) {
	guests := stampGuests(b)
	for _, lang := range []string{"c", "go"} {
		b.Run(lang, func(b *testing.B) {
			in := newInstance(b, "stamp-"+lang, guests[lang], `{"name":"gw","value":"edge-1"}`,
				wasmhost.Limits{RecycleAfterCalls: 1 << 30})
			batch := make([]abi.Message, 64)
			for i := range batch {
				batch[i] = abi.Message{Topic: fmt.Sprintf("building/f1/r101/s%03d", i), Payload: []byte(benchPayload),
					Headers: []abi.Property{{Name: "stage", Value: "1"}}}
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := in.Handle(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/msg")
		})
	}
}

// TestCStamp_EndToEnd runs the C plugin in a real gateway: Mosquitto in,
// kfake out, the header set on every record.
func TestCStamp_EndToEnd(t *testing.T) {
	wasm := buildCGuest(t, "stamp")
	mq := gatewaytest.Mosquitto(t)
	kf := gatewaytest.Kafka(t)
	r := config.Route{Name: "stamped", From: []string{"cstamp/#"}, To: config.Destination{Topic: "stamped"},
		Chain: []config.Stage{{Plugin: "stamp", Config: map[string]any{"name": "gw", "value": "edge-1"}}}}
	startChainGateway(t, mq, kf, map[string][]byte{"stamp": wasm}, r)
	msgs := gatewaytest.Messages(gatewaytest.Topics("cstamp/s%d", 4), 20)
	gatewaytest.Publish(t, mq.URL(), 1, msgs)
	recs := kf.WaitRecords(t, "stamped", len(msgs), 60*time.Second)
	if err := gatewaytest.CheckDelivery(msgs, recs).AtLeastOnce(); err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs {
		if got := recordHeader(rec, "gw"); got != "edge-1" {
			t.Fatalf("record %s: header gw = %q, want edge-1", rec.Key, got)
		}
	}
}
