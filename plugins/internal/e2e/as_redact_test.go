package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tributary-gw/tributary/sdk/abi"
	"github.com/tributary-gw/tributary/sdk/sdktest"
	"github.com/tributary-gw/tributary/wasmhost"
)

// redactGuests returns the AssemblyScript redact plugin and its Go twin, both built from
// source.
func redactGuests(t testing.TB) map[string][]byte {
	t.Helper()
	asWasm := buildASGuest(t, "redact")
	goWasm, err := os.ReadFile(sdktest.Build(t, filepath.Join(repoRoot(t), "plugins", "assemblyscript", "redact", "goredact")))
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{"assemblyscript": asWasm, "go": goWasm}
}

// TestASRedact runs the AssemblyScript plugin through wasmhost on each case and checks the
// result, and that the Go twin gives the same results byte for byte.
func TestASRedact(t *testing.T) {
	guests := redactGuests(t)
	const cfg = `{"remove":["password","user.token"],"mask":["user.email","cards.0"],"with":"<redacted>"}`
	tests := []struct{ in, want string }{
		{`{"user":{"name":"ann","email":"a@x.org","token":"t1"},"password":"pw","n":1}`,
			`{"user":{"name":"ann","email":"<redacted>"},"n":1}`},
		{`{"cards":["4111 1111","5500"],"ok":true}`, `{"cards":["<redacted>","5500"],"ok":true}`},
		{`{"temp":21.5}`, "unchanged"},
		{`{"password":{"nested":[1,2]}}`, `{}`},
		{`not json`, "error: redact: payload is not JSON"},
		{`{"user":"a string, not an object"}`, "unchanged"},
	}
	results := map[string][]abi.Result{}
	msgs := make([]abi.Message, len(tests))
	for i, tc := range tests {
		msgs[i] = sdktest.Msg("t", tc.in)
	}
	for lang, wasm := range guests {
		in := newInstance(t, "redact-"+lang, wasm, cfg, wasmhost.Limits{})
		rs, err := in.Handle(context.Background(), msgs)
		if err != nil {
			t.Fatalf("%s: %v", lang, err)
		}
		results[lang] = rs
	}
	for i, tc := range tests {
		r := results["assemblyscript"][i]
		var got string
		switch {
		case r.Failed:
			got = "error: " + r.Err
		case len(r.Outputs) != 1:
			got = fmt.Sprintf("%d outputs", len(r.Outputs))
		case r.Outputs[0].Flags == abi.PayloadUnchanged:
			got = "unchanged"
		case r.Outputs[0].Flags == 0:
			got = string(r.Outputs[0].Payload)
		default:
			got = fmt.Sprintf("flags %04b", r.Outputs[0].Flags)
		}
		if got != tc.want {
			t.Errorf("redact(%s) = %s, want %s", tc.in, got, tc.want)
		}
		g := results["go"][i]
		if fmt.Sprint(g) != fmt.Sprint(r) {
			t.Errorf("redact(%s): Go twin gives %+v, AssemblyScript %+v", tc.in, g, r)
		}
	}

	t.Run("non_json pass", func(t *testing.T) {
		in := newInstance(t, "redact-assemblyscript", guests["assemblyscript"], `{"mask":["a"],"non_json":"pass"}`, wasmhost.Limits{})
		rs, err := in.Handle(context.Background(), []abi.Message{sdktest.Msg("t", "plain text")})
		if err != nil || rs[0].Failed || len(rs[0].Outputs) != 1 || rs[0].Outputs[0].Flags != abi.PayloadUnchanged {
			t.Fatalf("plain text with non_json pass: %+v, %v", rs, err)
		}
	})
	for _, tc := range []struct{ cfg, wantErr string }{
		{`{}`, "set at least one field"},
		{`{"mask":["a"],"colour":1}`, `unknown key "colour"`},
		{`{"mask":"a"}`, "mask: want an array of strings"},
		{`{"mask":["a",2]}`, "mask.1: want a string"},
		{`{"remove":[""]}`, "empty path"},
		{`{"mask":["a"],"non_json":"drop"}`, `non_json: want "reject" or "pass"`},
	} {
		t.Run("bad config "+tc.cfg, func(t *testing.T) {
			ctx := context.Background()
			p, err := sharedHost(t).Compile(ctx, "redact-assemblyscript", guests["assemblyscript"])
			if err != nil {
				t.Fatal(err)
			}
			in, err := wasmhost.NewInstance(ctx, sharedHost(t), p, []byte(tc.cfg), wasmhost.Limits{})
			if err == nil {
				in.Close(ctx)
				t.Fatalf("config %s accepted", tc.cfg)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("config %s: %v, want an error containing %q", tc.cfg, err, tc.wantErr)
			}
		})
	}
}

// BenchmarkRedact compares the AssemblyScript guest with its Go twin doing the same work
// (one json_find, one json_edit masking one field and removing another) through wasmhost on
// batches of 64 sensor readings; it reports ns/msg, the module's size and the instance's
// memory after the run.
//
//	go test -run '^$' -bench Redact -benchtime 2s ./plugins/internal/e2e
func BenchmarkRedact(b *testing.B) {
	guests := redactGuests(b)
	for _, lang := range []string{"assemblyscript", "go"} {
		b.Run(lang, func(b *testing.B) {
			in := newInstance(b, "redact-"+lang, guests[lang], `{"remove":["rssi"],"mask":["device_id"]}`,
				wasmhost.Limits{RecycleAfterCalls: 1 << 30})
			batch := make([]abi.Message, 64)
			for i := range batch {
				batch[i] = sdktest.Msg(fmt.Sprintf("building/f1/r101/s%03d", i), benchPayload)
			}
			ctx := context.Background()
			rs, err := in.Handle(ctx, batch)
			if err != nil || rs[0].Failed || len(rs[0].Outputs) != 1 || !bytes.Contains(rs[0].Outputs[0].Payload, []byte(`"device_id":"***"`)) {
				b.Fatalf("benchmark message: %+v, %v", rs[0], err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := in.Handle(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/msg")
			b.ReportMetric(float64(len(guests[lang])), "wasm-bytes")
			b.ReportMetric(float64(in.MemorySize()), "mem-bytes")
		})
	}
}
