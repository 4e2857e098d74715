package wasmbuild

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Stale reports whether out is missing or older than some file under srcDir (recursively;
// hidden folders and testdata are skipped). Files outside srcDir, such as the sdk package a
// plugin imports, are not considered.
//
// # Errors
//
// Stale returns an error when srcDir cannot be read or holds no .go file.
func Stale(srcDir, out string) (bool, error) {
	var newest time.Time
	goFiles := 0
	err := filepath.WalkDir(srcDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != srcDir && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(d.Name(), ".go") {
			goFiles++
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.ModTime().After(newest) {
			newest = info.ModTime()
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("plugin source %s: %w", srcDir, err)
	}
	if goFiles == 0 {
		return false, fmt.Errorf("plugin source %s: no .go files", srcDir)
	}
	info, err := os.Stat(out)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("plugin module %s: %w", out, err)
	}
	return info.ModTime().Before(newest), nil
}

// Build compiles the Go main package in srcDir into out when Stale says so, printing one
// progress line to progress before it starts ("building plugin NAME from DIR ...") and the
// time taken after. It writes to a temporary file beside out and renames it, so a reader never
// sees half a module. It reports whether it built.
//
// # Errors
//
// Build returns an error naming srcDir when there is no go command on PATH, when the build
// fails (with the compiler's output), or when out cannot be written.
func Build(ctx context.Context, srcDir, out string, progress io.Writer) (built bool, err error) {
	stale, err := Stale(srcDir, out)
	if err != nil || !stale {
		return false, err
	}
	name := strings.TrimSuffix(filepath.Base(out), ".wasm")
	fmt.Fprintf(progress, "building plugin %s from %s (GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared) ...\n", name, srcDir)
	start := time.Now()
	if err := GoBuild(ctx, srcDir, out); err != nil {
		return false, err
	}
	fmt.Fprintf(progress, "built plugin %s -> %s in %s\n", name, out, time.Since(start).Round(time.Millisecond))
	return true, nil
}

// ReleaseFlags returns the go build flags `tributary plugin build` adds: no local paths in the
// module and no symbol table or DWARF, for smaller, reproducible modules. The slice is new on
// every call.
func ReleaseFlags() []string { return []string{"-trimpath", "-ldflags=-s -w"} }

// GoBuild compiles the Go main package in srcDir into out with GOOS=wasip1 GOARCH=wasm
// CGO_ENABLED=0 go build -buildmode=c-shared, adding flags (for example ReleaseFlags()) before
// the package, whether or not out is stale. It writes to a temporary file beside out and
// renames it, so a reader never sees half a module and a failed build leaves out as it was.
//
// # Errors
//
// GoBuild returns an error naming srcDir when there is no go command on PATH, when the build
// fails (with the compiler's output), or when out cannot be written.
func GoBuild(ctx context.Context, srcDir, out string, flags ...string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("building plugin %s: the go command is needed and is not on PATH: %w", srcDir, err)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return fmt.Errorf("building plugin %s: %w", srcDir, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*")
	if err != nil {
		return fmt.Errorf("building plugin %s: %w", srcDir, err)
	}
	tmpName := tmp.Name()
	_ = tmp.Close()
	defer os.Remove(tmpName) // a no-op once renamed

	args := append([]string{"build", "-buildmode=c-shared"}, flags...)
	args = append(args, "-o", tmpName, ".")
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = srcDir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building plugin %s: %w\n%s", srcDir, err, bytes.TrimSpace(output.Bytes()))
	}
	if err := os.Rename(tmpName, out); err != nil {
		return fmt.Errorf("building plugin %s: %w", srcDir, err)
	}
	return nil
}

// CFlags are the flags every C guest is built with: freestanding wasm32, no libc,
// bulk-memory so memcpy/memset lower to memory.copy/fill, sign-extension operators, and a
// reactor without an entry point. Exports come from export_name attributes. The slice is new
// on every call.
func CFlags() []string {
	return []string{"--target=wasm32", "-O2", "-nostdlib", "-ffreestanding", "-mbulk-memory", "-msign-ext",
		"-Wl,--no-entry", "-Wl,--strip-all"}
}

// CToolsMissing returns an error naming what to install when clang or wasm-ld is not on
// PATH, or nil.
func CToolsMissing() error {
	for _, tool := range []string{"clang", "wasm-ld"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("C guests need clang and wasm-ld: apt-get install -y clang lld (Debian/Ubuntu) or brew install llvm: %w", err)
		}
	}
	return nil
}

// CBuild compiles the C guest src into out with clang, [CFlags], flags (for example
// warnings, or -I for headers beyond sdk/c) and the directory of sdk/c/tributary.h given as
// include. Like [GoBuild] it writes beside out and renames, so out is whole or untouched.
//
// # Errors
//
// CBuild returns an error naming src when clang is not on PATH, when the build fails (with
// the compiler's output), or when out cannot be written.
func CBuild(ctx context.Context, src, out, include string, flags ...string) error {
	clang, err := exec.LookPath("clang")
	if err != nil {
		return fmt.Errorf("building C guest %s: %w", src, CToolsMissing())
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*")
	if err != nil {
		return fmt.Errorf("building C guest %s: %w", src, err)
	}
	tmpName := tmp.Name()
	_ = tmp.Close()
	defer os.Remove(tmpName) // a no-op once renamed
	args := append(CFlags(), flags...)
	args = append(args, "-I", include, "-o", tmpName, src)
	var output bytes.Buffer
	cmd := exec.CommandContext(ctx, clang, args...)
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building C guest %s: clang %s: %w\n%s", src, strings.Join(args, " "), err, bytes.TrimSpace(output.Bytes()))
	}
	if err := os.Rename(tmpName, out); err != nil {
		return fmt.Errorf("building C guest %s: %w", src, err)
	}
	return nil
}
