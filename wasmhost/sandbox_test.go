package wasmhost

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tributary-gw/tributary/sdk/abi"
)

// The sandbox tests run guests that try to reach outside their instance
// (testdata/guests/escape and escapehoard) and check that every attempt
// fails or comes back empty: issue #7, and the WASI paragraph of sdk/ABI.md §2.

const sandboxEnv = "TRIBUTARY_SANDBOX_SECRET"

// sandboxSecret returns a random marker that cannot appear by chance.
func sandboxSecret(tb testing.TB) string {
	tb.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return "sandbox-secret-" + hex.EncodeToString(b)
}

// escapeResult runs one attempt through pool and returns the guest's report
// ("ok:..." or "err:...").
func escapeResult(tb testing.TB, pool *Pool, attempt string) string {
	tb.Helper()
	rs, err := pool.Handle(context.Background(), msgs(attempt))
	if err != nil {
		tb.Fatalf("attempt %q: %v", attempt, err)
	}
	if len(rs) != 1 || rs[0].Failed || len(rs[0].Outputs) != 1 {
		tb.Fatalf("attempt %q: result %+v, want one output", attempt, rs)
	}
	return string(rs[0].Outputs[0].Payload)
}

// TestSandbox_escapeAttempts: a guest cannot read or write the gateway's
// files, list directories, see its environment or arguments, or read stdin.
// The host is built after the secret is put into the process environment,
// so a host that passed its environment through would be caught.
func TestSandbox_escapeAttempts(t *testing.T) {
	secret := sandboxSecret(t)
	t.Setenv(sandboxEnv, secret)
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret.txt")
	if err := os.WriteFile(secretFile, []byte(secret), 0o644); err != nil {
		t.Fatal(err)
	}
	created := filepath.Join(dir, "created.txt")
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	logs := &syncBuffer{}
	h, err := NewHost(ctx, HostConfig{
		CacheDir: filepath.Join(buildDir, "cache"), // machine code shared with testHostV
		Logger:   slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close(ctx) })
	p, err := h.Compile(ctx, "escape", guestWasm(t, "escape"))
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, attempt string
		// wantErr, when set, must appear in the guest's error; otherwise
		// an error or an empty "ok:" both pass.
		wantErr string
	}{
		{"read a file the test wrote", "readfile:" + secretFile, "Bad file number"},
		{"read /etc/passwd", "readfile:/etc/passwd", "Bad file number"},
		{"read the environment through /proc", "readfile:/proc/self/environ", "Bad file number"},
		{"read a relative path", "readfile:sandbox_test.go", "Bad file number"},
		{"read from the test's working directory", "readfile:" + filepath.Join(wd, "sandbox_test.go"), "Bad file number"},
		{"list /", "readdir:/", "Bad file number"},
		{"list the current directory", "readdir:.", "Bad file number"},
		{"list the test's directory", "readdir:" + dir, "Bad file number"},
		{"create a file", "create:" + created, "Bad file number"},
		{"create a relative file", "create:escaped.txt", "Bad file number"},
		{"getenv of the secret variable", "getenv:" + sandboxEnv, "not set"},
		{"getenv PATH", "getenv:PATH", "not set"},
		{"getenv HOME", "getenv:HOME", "not set"},
		{"environ", "environ", ""},
		{"args", "args", ""},
		{"stdin", "stdin", ""},
	}
	for _, limits := range []Limits{{}, {Trusted: true}} {
		pool := newTestPoolOn(t, h, p, limits)
		for _, tc := range tests {
			t.Run(fmt.Sprintf("trusted=%v/%s", limits.Trusted, tc.name), func(t *testing.T) {
				got := escapeResult(t, pool, tc.attempt)
				if strings.Contains(got, secret) {
					t.Fatalf("the guest read the secret: %q", got)
				}
				switch {
				case tc.wantErr != "":
					if !strings.HasPrefix(got, "err:") || !strings.Contains(got, tc.wantErr) {
						t.Fatalf("got %q, want an error containing %q", got, tc.wantErr)
					}
				case got != "ok:" && !strings.HasPrefix(got, "err:"):
					t.Fatalf("got %q, want an error or nothing", got)
				}
			})
		}
	}
	for _, path := range []string{created, filepath.Join(wd, "escaped.txt"), "/escaped.txt"} {
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s exists after the guest tried to create it (stat: %v)", path, err)
		}
	}
	if logs.contains(secret) {
		t.Errorf("the secret appears in the plugin log")
	}
}

// newTestPoolOn is newTestPool on host h with one instance, so consecutive
// calls reach the same instance.
func newTestPoolOn(tb testing.TB, h *Host, p *Plugin, lim Limits) *Pool {
	tb.Helper()
	pool, err := NewPool(context.Background(), h, p, nil, lim, 1)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = pool.Close(context.Background()) })
	return pool
}

// TestSandbox_network: wasip1 has no call that opens a socket, and Go's net
// package compiles there against an in-memory network private to each
// instance (net_fake.go). So net.Listen "succeeds" and the instance can dial
// its own listener, but nothing outside the instance is reachable: not a
// real listener on the host, not another instance's listener; and the
// guest's listener never takes the host's port.
func TestSandbox_network(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	addr := ln.Addr().String()

	p, err := testHostV.Compile(context.Background(), "escape", guestWasm(t, "escape"))
	if err != nil {
		t.Fatal(err)
	}
	a := newTestPoolOn(t, testHostV, p, Limits{})
	b := newTestPoolOn(t, testHostV, p, Limits{})

	steps := []struct {
		name    string
		pool    *Pool
		attempt string
		want    string // exact report, or a prefix ending in ':'
	}{
		{"dial the host's listener", a, "dial:" + addr, "err:"},
		{"dial the host's listener from another instance", b, "dial:" + addr, "err:"},
		{"dial a name", a, "dial:localhost:80", "err:"},
		// Go's in-memory network: the port is the host's, yet the bind works.
		{"listen on the host's port", a, "listen:" + addr, "ok:" + addr},
		{"dial its own in-memory listener", a, "dial:" + addr, "ok:" + addr},
		{"another instance cannot dial it", b, "dial:" + addr, "err:"},
	}
	for _, s := range steps {
		got := escapeResult(t, s.pool, s.attempt)
		if strings.HasSuffix(s.want, ":") && strings.HasPrefix(got, s.want) || got == s.want {
			continue
		}
		t.Errorf("%s: got %q, want %q", s.name, got, s.want)
	}

	// Nothing reached the host's listener: the first connection it accepts
	// is the one the test makes now.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("the host's listener stopped working: %v", err)
	}
	defer c.Close()
	if err := ln.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	first, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if first.RemoteAddr().String() != c.LocalAddr().String() {
		t.Fatalf("the host's listener accepted a connection from %s before the test's own (%s)",
			first.RemoteAddr(), c.LocalAddr())
	}
}

// TestSandbox_memoryOutsideTrap: a guest that reads beyond its linear
// memory traps; the host does not hand it anything, and the pool goes on
// with a fresh instance.
func TestSandbox_memoryOutsideTrap(t *testing.T) {
	p, err := testHostV.Compile(context.Background(), "escape", guestWasm(t, "escape"))
	if err != nil {
		t.Fatal(err)
	}
	pool := newTestPoolOn(t, testHostV, p, Limits{})
	// Inside its memory the read works, so the trap below is about the address.
	if got := escapeResult(t, pool, "peek:4096"); !strings.HasPrefix(got, "ok:") {
		t.Fatalf("peek inside memory: got %q, want ok", got)
	}
	for _, addr := range []uint64{1 << 31, 1<<32 - 8} {
		_, err := pool.Handle(context.Background(), msgs("peek:"+strconv.FormatUint(addr, 10)))
		pe := wantKind(t, err, Trap)
		if !strings.Contains(pe.Error(), "out of bounds memory access") {
			t.Errorf("peek at %#x: error %q does not say out of bounds", addr, pe)
		}
	}
	if got := escapeResult(t, pool, "environ"); got != "ok:" {
		t.Fatalf("after the traps: got %q, want the replacement instance to answer", got)
	}
}

// TestSandbox_tenantIsolation: two chains built from the same Plugin, as two
// tenants' routes are, each with a pool of two instances, running at the
// same time. The guest answers with every payload its instance has seen, so
// anything shared between the chains would show in the outputs.
func TestSandbox_tenantIsolation(t *testing.T) {
	ctx := context.Background()
	p, err := testHostV.Compile(ctx, "escapehoard", guestWasm(t, "escapehoard"))
	if err != nil {
		t.Fatal(err)
	}
	newChain := func() *Chain {
		pool, err := NewPool(ctx, testHostV, p, nil, Limits{}, 2)
		if err != nil {
			t.Fatal(err)
		}
		c := NewChain([]*Pool{pool})
		t.Cleanup(func() { _ = c.Close(ctx) })
		return c
	}
	tenants := []struct {
		name  string
		chain *Chain
	}{{"tenant-a", newChain()}, {"tenant-b", newChain()}}

	const batches, perBatch = 20, 4
	outputs := make([][][]byte, len(tenants))
	var wg sync.WaitGroup
	for i, tn := range tenants {
		wg.Go(func() {
			for n := range batches {
				batch := make([]abi.Message, perBatch)
				for j := range batch {
					batch[j] = abi.Message{Topic: "t/" + tn.name, Tenant: tn.name, Route: tn.name,
						Payload: fmt.Appendf(nil, "%s-msg-%d-%d", tn.name, n, j)}
				}
				for k, r := range tn.chain.Process(ctx, batch) {
					if r.Err != nil || len(r.Outputs) != 1 {
						t.Errorf("%s batch %d message %d: %+v", tn.name, n, k, r)
						return
					}
					outputs[i] = append(outputs[i], r.Outputs[0].Payload)
				}
			}
		})
	}
	wg.Wait()

	for i, tn := range tenants {
		if len(outputs[i]) != batches*perBatch {
			t.Fatalf("%s: %d outputs, want %d", tn.name, len(outputs[i]), batches*perBatch)
		}
		// Positive control: the guest does hoard across calls, so the last
		// output lists more messages than one batch holds.
		if last := outputs[i][len(outputs[i])-1]; bytes.Count(last, []byte("\n"))+1 <= perBatch {
			t.Errorf("%s: last output %q lists one batch at most: the guest did not hoard", tn.name, last)
		}
		for j, other := range tenants {
			if j == i {
				continue
			}
			for _, out := range outputs[i] {
				if bytes.Contains(out, []byte(other.name)) {
					t.Fatalf("%s saw %s's message: %q", tn.name, other.name, out)
				}
			}
		}
	}
}
