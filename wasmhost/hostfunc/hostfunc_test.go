package hostfunc

import (
	"errors"
	"testing"

	"github.com/tetratelabs/wazero/api"
)

// memory is an api.Memory of n bytes; only Read is implemented.
type memory struct {
	api.Memory
	b []byte
}

func (m memory) Read(off, n uint32) ([]byte, bool) {
	if uint64(off)+uint64(n) > uint64(len(m.b)) {
		return nil, false
	}
	return m.b[off : off+n : off+n], true
}

func panicsWithGuestPointer(t *testing.T, name string, f func()) {
	t.Helper()
	defer func() {
		r := recover()
		if err, _ := r.(error); !errors.Is(err, ErrGuestPointer) {
			t.Errorf("%s: recovered %v, want ErrGuestPointer", name, r)
		}
	}()
	f()
}

func TestAccessors(t *testing.T) {
	mem := memory{b: []byte("0123456789abcdef")}
	if got := String(Bytes(mem, 2, 3)); got != "234" {
		t.Fatalf("Bytes(2, 3) = %q, want 234", got)
	}
	if got := I64s(mem, 8, 1); string(got) != "89abcdef" {
		t.Fatalf("I64s(8, 1) = %q", got)
	}
	if got := String(Bytes(mem, 16, 0)); got != "" {
		t.Fatalf("Bytes(16, 0) = %q, want empty", got)
	}
	panicsWithGuestPointer(t, "Bytes past the end", func() { Bytes(mem, 15, 2) })
	panicsWithGuestPointer(t, "I64s past the end", func() { I64s(mem, 8, 2) })
	panicsWithGuestPointer(t, "I64s overflowing u32", func() { I64s(mem, 0, 1<<30) })
}
