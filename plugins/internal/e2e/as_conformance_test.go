package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tributary-gw/tributary/sdk/abi"
	"github.com/tributary-gw/tributary/sdk/sdktest"
	"github.com/tributary-gw/tributary/wasmhost"
)

// buildASGuest compiles plugins/assemblyscript/<name>/<name>.ts with sdktest.BuildAS
// (skipped without node and npm unless TRIBUTARY_REQUIRE_NODE=1) and returns the .wasm bytes.
func buildASGuest(t testing.TB, name string) []byte {
	t.Helper()
	return sdktest.BuildAS(t, filepath.Join(repoRoot(t), "plugins", "assemblyscript", name, name+".ts"))
}

// TestASGuest_Conformance runs the ABI conformance kit against the AssemblyScript guest
// (plugins/assemblyscript/conformance), built from source with asc and the SDK in
// sdk/assemblyscript, through Instance.Handle as TestCGuest_Conformance does.
func TestASGuest_Conformance(t *testing.T) {
	wasm := buildASGuest(t, "conformance")
	in := newInstance(t, "as-conformance", wasm, "{}", wasmhost.Limits{})
	ctx := context.Background()
	var msgs []abi.Message
	sdktest.Conformance(t, func(frame []byte) ([]byte, error) {
		var err error
		if msgs, err = abi.DecodeBatch(frame, msgs[:0]); err != nil {
			return nil, err
		}
		rs, err := in.Handle(ctx, msgs)
		if err != nil {
			return nil, err
		}
		return abi.AppendResults(nil, rs), nil
	})
}

func TestASGuest_Init(t *testing.T) {
	wasm := buildASGuest(t, "conformance")
	ctx := context.Background()
	p, err := sharedHost(t).Compile(ctx, "as-conformance", wasm)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ cfg, wantErr string }{
		{`{}`, ""},
		{` { } `, ""},
		{`{"fail_init":""}`, ""},
		{`{"fail_init":"boom \u00e9"}`, "boom é"},
		{`{"fail_init":"a\"b\\c\n\ud83d\ude00"}`, "a\"b\\c\n\U0001F600"},
		{`{"colour":"red"}`, `unknown key "colour"`},
		{`{"fail_init":3}`, "fail_init: want a string"},
		{`[]`, "want a JSON object"},
		{`{"fail_init":"x"`, "malformed JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.cfg, func(t *testing.T) {
			in, err := wasmhost.NewInstance(ctx, sharedHost(t), p, []byte(tc.cfg), wasmhost.Limits{})
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("NewInstance: %v", err)
				}
				in.Close(ctx)
				return
			}
			if err == nil {
				in.Close(ctx)
				t.Fatalf("NewInstance succeeded, want an error containing %q", tc.wantErr)
			}
			if pe, ok := wasmhost.AsPluginError(err); !ok || pe.Kind != wasmhost.Rejected || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("NewInstance error = %v, want a rejection containing %q", err, tc.wantErr)
			}
		})
	}
}

// TestASGuest_Failures checks the optional commands that end an instance: each is classified
// by the host as the ABI says, and a log line reaches the host.
func TestASGuest_Failures(t *testing.T) {
	wasm := buildASGuest(t, "conformance")
	tests := []struct {
		payload string
		timeout time.Duration // short only where the timeout is the point
		want    wasmhost.Kind
	}{
		{"exit:3", 10 * time.Second, wasmhost.Trap},
		{"loop", 200 * time.Millisecond, wasmhost.Timeout},
		{"grow:64", 10 * time.Second, wasmhost.OutOfMemory},
	}
	for _, tc := range tests {
		t.Run(tc.payload, func(t *testing.T) {
			in := newInstance(t, "as-conformance", wasm, "{}", wasmhost.Limits{MemoryPages: 256, CallTimeout: tc.timeout})
			_, err := in.Handle(context.Background(), []abi.Message{sdktest.Msg("t", tc.payload)})
			pe, ok := wasmhost.AsPluginError(err)
			if !ok || pe.Kind != tc.want {
				t.Fatalf("Handle(%q) error = %v, want kind %v", tc.payload, err, tc.want)
			}
		})
	}
	t.Run("log", func(t *testing.T) {
		in := newInstance(t, "as-conformance", wasm, "{}", wasmhost.Limits{})
		rs, err := in.Handle(context.Background(), []abi.Message{sdktest.Msg("t", "log:2:hello from AssemblyScript")})
		if err != nil || rs[0].Failed || len(rs[0].Outputs) != 1 || rs[0].Outputs[0].Flags != abi.PayloadUnchanged {
			t.Fatalf("log: %+v, %v", rs, err)
		}
	})
}
