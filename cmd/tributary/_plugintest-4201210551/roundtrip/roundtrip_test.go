package main

import (
	"strings"
	"testing"

	"github.com/tributary-gw/tributary/sdk"
	"github.com/tributary-gw/tributary/sdk/abi"
)

// The tests run the handler natively, through the same encode/dispatch/decode path as the
// wasm export: sdk.Init hands over a config as the gateway would, sdk.Process runs messages.
// They share the SDK's package state, so they must not call t.Parallel.

func TestHandle(t *testing.T) {
	tests := []struct {
		name, config, payload string
		want                  string // the output payload; "" when filtered or failed
		wantHeader            string // the "unit" header, "" for none
		filtered              bool
		wantErr               string
	}{
		{name: "defaults: celsius to fahrenheit", config: `{}`, payload: `{"temp":20,"unit":"C"}`, want: `{"temp":68,"unit":"C"}`},
		{name: "scale, offset and unit header", config: `{"field":"w","scale":0.001,"offset":0,"unit":"kW"}`, payload: `{"w":1500}`, want: `{"w":1.5}`, wantHeader: "kW"},
		{name: "nested path", config: `{"field":"reading.value","scale":2,"offset":0}`, payload: `{"reading":{"value":4}}`, want: `{"reading":{"value":8}}`},
		{name: "missing field goes on unchanged", config: `{}`, payload: `{"rh":40}`, want: `{"rh":40}`},
		{name: "missing field dropped", config: `{"drop_missing":true}`, payload: `{"rh":40}`, filtered: true},
		{name: "not a number", config: `{}`, payload: `{"temp":"warm"}`, wantErr: "want a number, got string"},
		{name: "not JSON", config: `{}`, payload: `hello`, wantErr: "not JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := sdk.Init([]byte(tc.config)); err != nil {
				t.Fatalf("Init(%s): %v", tc.config, err)
			}
			in := abi.Message{Topic: "building/floor1/sensor/001", Payload: []byte(tc.payload), QoS: 1}
			rs, err := sdk.Process(in)
			if err != nil {
				t.Fatal(err)
			}
			r := rs[0]
			switch {
			case tc.wantErr != "":
				if !r.Failed || !strings.Contains(r.Err, tc.wantErr) {
					t.Fatalf("result %+v, want an error containing %q", r, tc.wantErr)
				}
				return
			case r.Failed:
				t.Fatalf("unexpected error %q", r.Err)
			case tc.filtered:
				if len(r.Outputs) != 0 {
					t.Fatalf("got %d outputs, want the message filtered", len(r.Outputs))
				}
				return
			case len(r.Outputs) != 1:
				t.Fatalf("got %d outputs, want 1", len(r.Outputs))
			}
			out := r.Outputs[0].Apply(in)
			if string(out.Payload) != tc.want {
				t.Errorf("payload %s, want %s", out.Payload, tc.want)
			}
			var unit string
			for _, h := range out.Headers {
				if h.Name == "unit" {
					unit = h.Value
				}
			}
			if unit != tc.wantHeader {
				t.Errorf("unit header %q, want %q", unit, tc.wantHeader)
			}
		})
	}
}

func TestConfigure_Errors(t *testing.T) {
	tests := []struct{ name, config, wantErr string }{
		{name: "empty field", config: `{"field":""}`, wantErr: "field must not be empty"},
		{name: "unknown key", config: `{"feild":"temp"}`, wantErr: "feild"},
		{name: "wrong type", config: `{"scale":"big"}`, wantErr: "scale"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := sdk.Init([]byte(tc.config)); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Init(%s) = %v, want an error containing %q", tc.config, err, tc.wantErr)
			}
		})
	}
}
