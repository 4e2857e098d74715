package wasmhost

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/tributary-gw/tributary/sdk/abi"
)

// instrumented compiles the guest dir rewritten by instrumentLoops, under
// its own name.
func instrumented(tb testing.TB, dir string) *Plugin {
	tb.Helper()
	wasm, err := instrumentLoops(guestWasm(tb, dir))
	if err != nil {
		tb.Fatal(err)
	}
	p, err := testHostV.Compile(context.Background(), dir+"-interruptible", wasm)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// interruptGlobal returns the instance's interrupt global.
func interruptGlobal(tb testing.TB, in *Instance) api.MutableGlobal {
	tb.Helper()
	g, ok := in.mod.ExportedGlobal(interruptExport).(api.MutableGlobal)
	if !ok {
		tb.Fatalf("no mutable global %s", interruptExport)
	}
	return g
}

// spin starts the test guest's endless loop on in and returns once the guest
// is in it; the channel receives Handle's error when the loop is stopped.
func spin(t *testing.T, ctx context.Context, in *Instance) <-chan error {
	t.Helper()
	marker := fmt.Sprintf("spinning-%d", time.Now().UnixNano())
	done := make(chan error, 1)
	go func() {
		_, err := in.Handle(ctx, msgs("log:"+marker, "loop"))
		done <- err
	}()
	waitFor(t, 30*time.Second, func() error {
		if !testLogs.contains(marker) {
			return errors.New("guest has not logged its marker yet")
		}
		return nil
	})
	return done
}

// TestInstrumentLoops_stopsALoopingGuest runs the test guest, rewritten by
// instrumentLoops, without wazero's checks: it behaves as before, and a
// guest spinning in a loop stops with a trap when another goroutine sets
// the interrupt global.
func TestInstrumentLoops_stopsALoopingGuest(t *testing.T) {
	ctx := context.Background()
	p := instrumented(t, "testguest")
	lim := Limits{Trusted: true}
	in, err := NewInstance(ctx, testHostV, p, []byte(`{"prefix":"p-"}`), lim)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close(ctx)
	res, err := in.Handle(ctx, msgs("a", "split:x,y"))
	if err != nil || string(res[0].Outputs[0].Payload) != "p-a" || len(res[1].Outputs) != 2 {
		t.Fatalf("instrumented guest: %v %+v", err, res)
	}

	stop := interruptGlobal(t, in) // before Handle may close the instance
	done := spin(t, ctx, in)
	stop.Set(1)
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("guest still running 30s after the interrupt")
	}
	if pe, ok := AsPluginError(err); !ok || pe.Kind != Trap || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("err = %v, want a trap at unreachable", err)
	}
}

// TestInstrumentLoops_sameResults checks the rewritten jsonfastdiff guest
// gives the same outputs as the original, for every operation on a few
// documents (wasmhost/jsonimports checks the original against
// sdk/jsonfield run natively).
func TestInstrumentLoops_sameResults(t *testing.T) {
	ctx := context.Background()
	plain, err := testHostV.Compile(ctx, "jsonfastdiff", guestWasm(t, "jsonfastdiff"))
	if err != nil {
		t.Fatal(err)
	}
	p := instrumented(t, "jsonfastdiff")
	var batch []abi.Message
	for _, c := range []struct{ doc, path, value string }{
		{sensorPayload, "value", "70.25"},
		{` {"a":{"b":[1,2,{"c":"d"}]}} `, "a.b.2.c", `[true,null]`},
		{`{"a":1}`, "x.y.z", ` "v" `},
		{`{"a":1,}`, "a", `1`},
		{`{"m":{"q":1,"r":2,"s":3}}`, "m", `r`},
	} {
		for _, op := range []string{"parse", "lookup", "get", "value.get", "float", "set", "setstring", "setfloat",
			"delete", "edit", "edit.move", "edit.select", "find", "children"} {
			batch = append(batch, abi.Message{Topic: op, Payload: []byte(c.doc), Properties: []abi.Property{
				{Name: "path", Value: c.path}, {Name: "value", Value: c.value}}})
		}
	}
	var got [2][]abi.Result
	for i, pl := range []*Plugin{plain, p} {
		in, err := NewInstance(ctx, testHostV, pl, nil, Limits{Trusted: true})
		if err != nil {
			t.Fatal(err)
		}
		if got[i], err = in.Handle(ctx, batch); err != nil {
			t.Fatal(err)
		}
		in.Close(ctx)
	}
	for i := range batch {
		a, b := got[0][i], got[1][i]
		if a.Failed || b.Failed || len(a.Outputs) != 1 || len(b.Outputs) != 1 {
			t.Fatalf("%s on %q: plain %+v, instrumented %+v", batch[i].Topic, batch[i].Payload, a, b)
		}
		if string(a.Outputs[0].Payload) != string(b.Outputs[0].Payload) {
			t.Errorf("%s on %q:\n plain:        %s\n instrumented: %s", batch[i].Topic, batch[i].Payload,
				a.Outputs[0].Payload, b.Outputs[0].Payload)
		}
	}
	if plain.Size() >= p.Size() {
		t.Fatalf("instrumented module (%d bytes) is not larger than the original (%d)", p.Size(), plain.Size())
	}
}

// TestInstrumentLoops_rejects checks what the rewriter refuses.
func TestInstrumentLoops_rejects(t *testing.T) {
	simd := passthroughModule()
	simd.Funcs[3].Body = append([]byte{0xfd, 0x0c}, simd.Funcs[3].Body...)
	tests := []struct {
		name, wantErr string
		wasm          []byte
	}{
		{"not wasm", "not a wasm 1.0 module", []byte("hello")},
		{"truncated", "unexpected end", passthroughModule().Bytes()[:40]},
		{"simd", "opcode 0xfd", simd.Bytes()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := instrumentLoops(tc.wasm)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// BenchmarkInterrupt compares, per message at batch 64, a Go SDK guest
// under wazero's termination checks ("checks"), with none ("trusted") and
// rewritten by instrumentLoops without wazero's checks ("global").
func BenchmarkInterrupt(b *testing.B) {
	for _, dir := range []string{"jsonfastnop", "jsonfast"} {
		plainWasm := guestWasm(b, dir)
		plain, err := testHostV.Compile(context.Background(), dir, plainWasm)
		if err != nil {
			b.Fatal(err)
		}
		inst := instrumented(b, dir)
		for _, run := range []struct {
			name    string
			p       *Plugin
			trusted bool
		}{{"checks", plain, false}, {"trusted", plain, true}, {"global", inst, true}} {
			for _, n := range []int{1, 64} {
				b.Run(fmt.Sprintf("%s/%s/batch=%d", dir, run.name, n), func(b *testing.B) {
					ctx := context.Background()
					lim := noRecycle
					lim.Trusted = run.trusted
					in, err := NewInstance(ctx, testHostV, run.p, nil, lim)
					if err != nil {
						b.Fatal(err)
					}
					defer in.Close(ctx)
					batch := make([]abi.Message, n)
					for i := range batch {
						batch[i] = msg(sensorPayload)
					}
					loopPerMsg(b, n, func() {
						if _, err := in.Handle(ctx, batch); err != nil {
							b.Fatal(err)
						}
					})
				})
			}
		}
	}
}

// TestInstrumentLoops_garbageCollectionWhileSpinning runs a guest that loops
// for ever, with no deadline, while the Go runtime collects garbage: a
// collection stops every goroutine, so one spinning in machine code without a
// safe point would hang it, and the whole process with it. The collection
// must finish; then closing the caller's context stops the guest.
func TestInstrumentLoops_garbageCollectionWhileSpinning(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p, err := testHostV.Compile(context.Background(), "testguest", guestWasm(t, "testguest"))
	if err != nil {
		t.Fatal(err)
	}
	if p.entry.interruptible == nil {
		t.Fatal("Compile did not rewrite the test guest")
	}
	in, err := NewInstance(context.Background(), testHostV, p, []byte(`{"prefix":"p-"}`), Limits{CallTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close(context.Background())
	done := spin(t, ctx, in)
	gcDone := make(chan struct{})
	go func() {
		for range 3 {
			runtime.GC()
		}
		close(gcDone)
	}()
	select {
	case <-gcDone:
	case <-time.After(60 * time.Second):
		// Not a timing assertion: without safe points the collection never ends.
		t.Fatal("garbage collection did not finish while the guest spun")
	}
	cancel()
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("guest still running 30s after its caller's context ended")
	}
	if pe, ok := AsPluginError(err); !ok || pe.Kind != Timeout {
		t.Fatalf("err = %v, want a timeout", err)
	}
}
