package jsonimports_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/tributary-gw/tributary/sdk/abi"
	"github.com/tributary-gw/tributary/sdk/sdktest"
	"github.com/tributary-gw/tributary/wasmhost"
	"github.com/tributary-gw/tributary/wasmhost/jsonimports"
	"github.com/tributary-gw/tributary/wasmhost/wasmtest"
)

// One Host with the JSON extension and one build directory per test binary:
// each guest is built and compiled once (the machine has 2 cores). The Go
// guests live in wasmhost/testdata/guests, shared with wasmhost's own tests.
var (
	testHostV *wasmhost.Host
	buildDir  string // holds the compilation cache
)

func TestMain(m *testing.M) {
	code := func() int {
		ctx := context.Background()
		var err error
		if buildDir, err = os.MkdirTemp("", "jsonimports-guests-"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(buildDir)
		testHostV, err = wasmhost.NewHost(ctx, wasmhost.HostConfig{
			CacheDir:   filepath.Join(buildDir, "cache"),
			Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
			Extensions: jsonimports.Functions(),
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer testHostV.Close(ctx)
		defer sdktest.Cleanup()
		return m.Run()
	}()
	os.Exit(code)
}

// guestWasm builds wasmhost/testdata/guests/<name> with sdktest.Build, once
// per test binary, and returns the module's bytes.
func guestWasm(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(sdktest.Build(tb, "../testdata/guests/"+name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// instantiateJSON adds module tributary with the JSON imports alone
// (Functions) to rt, as wasmhost does next to log.
func instantiateJSON(ctx context.Context, rt wazero.Runtime) error {
	b := rt.NewHostModuleBuilder(abi.ImportModule)
	for _, f := range jsonimports.Functions() {
		b = b.NewFunctionBuilder().
			WithGoModuleFunction(f.Func, f.Params, f.Results).
			WithParameterNames(f.ParamNames...).
			Export(f.Name)
	}
	_, err := b.Instantiate(ctx)
	return err
}

const (
	i32 = wasmtest.I32
	i64 = wasmtest.I64
)

// passthroughModule returns wasmtest's passthrough guest, which answers a
// batch of up to 64 messages with each payload unchanged.
func passthroughModule() wasmtest.Module { return wasmtest.PassthroughModule(64) }

// msg is a message with the given payload and fixed metadata.
func msg(payload string) abi.Message {
	return abi.Message{Topic: "building/1/temp", Payload: []byte(payload), Route: "r1", QoS: 1, ArrivedAtMs: 1700000000000}
}

func msgs(payloads ...string) []abi.Message {
	out := make([]abi.Message, len(payloads))
	for i, p := range payloads {
		out[i] = msg(p)
	}
	return out
}
