//go:build unix

package regularfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "tenant.yaml")
	if err := os.WriteFile(file, []byte("name: acme\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "units.wasm")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}

	if b, err := Read(file, 64); err != nil || string(b) != "name: acme\n" {
		t.Fatalf("Read(file) = %q, %v", b, err)
	}
	var tooLarge *TooLargeError
	if _, err := Read(file, 4); !errors.As(err, &tooLarge) || tooLarge.Size != 11 || tooLarge.Max != 4 {
		t.Fatalf("Read over the bound: %v, want a TooLargeError of 11 bytes", err)
	}
	if _, err := Read(filepath.Join(dir, "missing"), 64); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Read(missing): %v, want fs.ErrNotExist", err)
	}
	if _, err := Read(dir, 64); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("Read(dir): %v, want not a regular file", err)
	}

	// A named pipe with no writer: os.ReadFile would wait in open(2) for ever.
	done := make(chan error, 1)
	go func() {
		_, err := Read(fifo, 64)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Fatalf("Read(fifo): %v, want not a regular file", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Read of a named pipe with no writer did not return")
	}
}
