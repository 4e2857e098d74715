package main

import (
	"testing"

	"github.com/tributary-gw/tributary/sdk"
	"github.com/tributary-gw/tributary/sdk/abi"
	"github.com/tributary-gw/tributary/sdk/sdktest"
)

// native calls the guest through the SDK's dispatch path, without wasm.
func native(frame []byte) ([]byte, error) { return sdk.HandleFrame(frame), nil }

func TestConformanceNative(t *testing.T) {
	if err := sdk.Init([]byte(`{}`)); err != nil {
		t.Fatalf("Init: %v", err)
	}
	sdktest.Conformance(t, native)
}

func TestInit(t *testing.T) {
	tests := []struct {
		name, config, wantErr string
	}{
		{"empty object", `{}`, ""},
		{"absent", ``, ""},
		{"fail_init", `{"fail_init":"no way"}`, "no way"},
		{"unknown field", `{"fial_init":"x"}`, `config: json: unknown field "fial_init"`},
		{"not json", `{`, "config: unexpected EOF"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := sdk.Init([]byte(tc.config))
			if got := errText(err); got != tc.wantErr {
				t.Fatalf("Init(%q) = %q, want %q", tc.config, got, tc.wantErr)
			}
		})
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestPanicIsAnError(t *testing.T) {
	rs := sdktest.Call(t, native, sdktest.Msg("t", "panic:boom"), sdktest.Msg("t", "echo"))
	if !rs[0].Failed || rs[0].Err != "panic: boom" {
		t.Fatalf("panic result = %+v, want error %q", rs[0], "panic: boom")
	}
	if rs[1].Failed || len(rs[1].Outputs) != 1 || rs[1].Outputs[0].Flags != abi.PayloadUnchanged {
		t.Fatalf("message after a panic = %+v, want echoed", rs[1])
	}
}
