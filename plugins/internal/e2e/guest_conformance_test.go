package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tributary-gw/tributary/sdk/abi"
	"github.com/tributary-gw/tributary/sdk/sdktest"
	"github.com/tributary-gw/tributary/wasmhost"
)

// The checks every conformance guest written without the Go SDK passes (the C guest in
// plugins/c/conformance, the AssemblyScript guest in plugins/assemblyscript/conformance),
// each named by the language's tests.

// checkConformance runs the ABI conformance kit against wasm, the plugin name.
//
// wasmhost's frame-level call is unexported, so the Caller goes through Instance.Handle,
// which validates the guest's result frame in full (abi.DecodeResults), and re-encodes the
// decoded results for the kit.
func checkConformance(t *testing.T, name string, wasm []byte) {
	in := newInstance(t, name, wasm, "{}", wasmhost.Limits{})
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

// initCase is a configuration handed to a conformance guest's init and the error it must
// reject it with ("" for none).
type initCase struct{ cfg, wantErr string }

// initCases are the init checks every conformance guest passes.
var initCases = []initCase{
	{`{}`, ""},
	{` { } `, ""},
	{`{"fail_init":""}`, ""},
	{`{"fail_init":"boom \u00e9"}`, "boom é"},
	{`{"colour":"red"}`, `unknown key "colour"`},
	{`{"fail_init":3}`, "fail_init: want a string"},
	{`[]`, "want a JSON object"},
	{`{"fail_init":"x"`, "malformed JSON"},
}

// checkInit checks that the conformance guest wasm accepts and rejects each of cases as an
// init configuration, a rejection carrying the guest's error text.
func checkInit(t *testing.T, name string, wasm []byte, cases []initCase) {
	ctx := context.Background()
	p, err := sharedHost(t).Compile(ctx, name, wasm)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
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

// checkFailures checks the optional commands that end an instance: each is classified by
// the host as the ABI says, and a log line (logText) reaches the host.
func checkFailures(t *testing.T, name string, wasm []byte, logText string) {
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
			in := newInstance(t, name, wasm, "{}", wasmhost.Limits{MemoryPages: 256, CallTimeout: tc.timeout})
			_, err := in.Handle(context.Background(), []abi.Message{sdktest.Msg("t", tc.payload)})
			pe, ok := wasmhost.AsPluginError(err)
			if !ok || pe.Kind != tc.want {
				t.Fatalf("Handle(%q) error = %v, want kind %v", tc.payload, err, tc.want)
			}
		})
	}
	t.Run("log", func(t *testing.T) {
		in := newInstance(t, name, wasm, "{}", wasmhost.Limits{})
		rs, err := in.Handle(context.Background(), []abi.Message{sdktest.Msg("t", "log:2:"+logText)})
		if err != nil || rs[0].Failed || len(rs[0].Outputs) != 1 || rs[0].Outputs[0].Flags != abi.PayloadUnchanged {
			t.Fatalf("log: %+v, %v", rs, err)
		}
	})
}
