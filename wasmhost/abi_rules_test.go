package wasmhost

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tributary-gw/tributary/sdk/abi"
	"github.com/tributary-gw/tributary/wasmhost/wasmtest"
)

// countingGuest is wasmtest's passthrough plugin whose tributary_alloc also
// counts its calls at address 0 and stores the last size asked at address 4.
func countingGuest(t *testing.T) *Instance {
	t.Helper()
	ctx := context.Background()
	m := wasmtest.PassthroughModule(64)
	count := []byte{
		0x41, 0x00, 0x41, 0x00, 0x28, 0x02, 0x00, 0x41, 0x01, 0x6a, 0x36, 0x02, 0x00, // mem[0] += 1
		0x41, 0x04, 0x20, 0x00, 0x36, 0x02, 0x00, // mem[4] = size
	}
	m.Funcs[1].Body = append(count, m.Funcs[1].Body...)
	p, err := testHostV.Compile(ctx, "counting", m.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	in, err := NewInstance(ctx, testHostV, p, nil, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(ctx) })
	return in
}

// TestInstance_inputBuffer checks sdk/ABI.md §6 on the host's side: one input
// buffer per instance, asked for again only when a frame outgrows it (after
// tributary_init, afresh for the first frame), and written only inside it.
func TestInstance_inputBuffer(t *testing.T) {
	in := countingGuest(t)
	ctx := context.Background()
	allocs := func() (calls, last uint32) {
		calls, _ = in.mem.ReadUint32Le(0)
		last, _ = in.mem.ReadUint32Le(4)
		return calls, last
	}
	if calls, last := allocs(); calls != 1 || last != 2 {
		t.Fatalf("after init: %d alloc calls, last size %d; want 1 for the 2-byte config {}", calls, last)
	}
	frame := func(ms []abi.Message) uint32 { return uint32(len(abi.AppendBatch(nil, ms))) }
	small, large := msgs("aaaa"), msgs("aaaa", strings.Repeat("b", 3000))
	steps := []struct {
		name      string
		batch     []abi.Message
		wantCalls uint32
		wantLast  uint32
	}{
		{"first frame", small, 2, frame(small)},
		{"same size", msgs("cccc"), 2, frame(small)},
		{"smaller", msgs("d"), 2, frame(small)},
		{"larger", large, 3, frame(large)},
		{"small again", small, 3, frame(large)},
	}
	for _, s := range steps {
		if _, err := in.Handle(ctx, s.batch); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if calls, last := allocs(); calls != s.wantCalls || last != s.wantLast {
			t.Fatalf("%s: %d alloc calls, last size %d; want %d, %d", s.name, calls, last, s.wantCalls, s.wantLast)
		}
	}
	// The host wrote the last frame at the buffer's start and nothing after it.
	want := abi.AppendBatch(nil, small)
	got, _ := in.mem.Read(wasmtest.PassthroughIn, uint32(len(want)))
	if string(got) != string(want) {
		t.Fatalf("input buffer holds % x, want the last frame % x", got[:16], want[:16])
	}
	rest, _ := in.mem.Read(wasmtest.PassthroughIn-16, 16)
	if strings.Trim(string(rest), "\x00") != "" {
		t.Fatalf("host wrote before the input buffer: % x", rest)
	}
}

// TestInstance_allocReturnsZero: tributary_alloc returning 0 is out_of_memory
// and ends the instance (sdk/ABI.md §7).
func TestInstance_allocReturnsZero(t *testing.T) {
	in := countingGuest(t)
	// The passthrough's alloc returns 0 for more than its memory holds.
	_, err := in.Handle(context.Background(), msgs(strings.Repeat("x", 2*65536)))
	pe := wantKind(t, err, OutOfMemory)
	if !strings.Contains(pe.Error(), "returned 0") {
		t.Fatalf("error %q does not say alloc returned 0", pe)
	}
	if _, err := in.Handle(context.Background(), msgs("x")); !errors.Is(err, ErrInstanceClosed) {
		t.Fatalf("Handle after out_of_memory: %v, want ErrInstanceClosed", err)
	}
}

// TestMemoryMaximum: a module loads whatever maximum it declares; one above
// the instance's memory cap is lowered to the cap (sdk/ABI.md §1.2).
func TestMemoryMaximum(t *testing.T) {
	ctx := context.Background()
	for _, max := range []uint32{0, 2, DefaultMemoryPages, DefaultMemoryPages + 1, 65536} {
		m := wasmtest.PassthroughModule(64)
		m.MemMax = max
		p, err := testHostV.Compile(ctx, "memmax", m.Bytes())
		if err != nil {
			t.Fatalf("maximum %d pages: Compile: %v", max, err)
		}
		in, err := NewInstance(ctx, testHostV, p, nil, Limits{})
		p.Close()
		if err != nil {
			t.Fatalf("maximum %d pages with a cap of %d: %v", max, DefaultMemoryPages, err)
		}
		if _, err := in.Handle(ctx, msgs("x")); err != nil {
			t.Fatalf("maximum %d pages: Handle: %v", max, err)
		}
		in.Close(ctx)
	}
}
