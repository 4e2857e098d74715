package pluginkit

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tributary-gw/tributary/sdk/wasmbuild"
	"github.com/tributary-gw/tributary/wasmhost"
)

// Built describes a module Build wrote.
type Built struct {
	// Out is the module's path.
	Out string
	// Plugin is the module compiled and checked by the Host passed to Build.
	Plugin *wasmhost.Plugin
	// BuildTime is how long go build took.
	BuildTime time.Duration
}

// Build compiles the Go plugin in srcDir with GOOS=wasip1 GOARCH=wasm go build
// -buildmode=c-shared -trimpath -ldflags="-s -w", always (no staleness check), then compiles
// the result with host, which checks the ABI exports and imports, and only then puts it at
// out. A module that fails the check never replaces out. The plugin is named after out's file
// name without .wasm.
//
// # Errors
//
// The go build error with the compiler's output, the wasmhost compile error (for example
// "missing export tributary_abi_v1") naming the plugin, or a write error naming out.
func Build(ctx context.Context, host *wasmhost.Host, srcDir, out string) (*Built, error) {
	tmpDir, err := os.MkdirTemp("", "tributary-plugin-build-")
	if err != nil {
		return nil, fmt.Errorf("building plugin %s: %w", srcDir, err)
	}
	defer os.RemoveAll(tmpDir)
	tmp := filepath.Join(tmpDir, filepath.Base(out))
	start := time.Now()
	if err := wasmbuild.GoBuild(ctx, srcDir, tmp, wasmbuild.ReleaseFlags()...); err != nil {
		return nil, err
	}
	built := &Built{Out: out, BuildTime: time.Since(start)}
	wasm, err := os.ReadFile(tmp)
	if err != nil {
		return nil, fmt.Errorf("building plugin %s: %w", srcDir, err)
	}
	name := strings.TrimSuffix(filepath.Base(out), ".wasm")
	if built.Plugin, err = host.Compile(ctx, name, wasm); err != nil {
		return nil, fmt.Errorf("%w (built from %s; %s left unchanged)", err, srcDir, out)
	}
	if err := writeAtomic(out, wasm); err != nil {
		return nil, err
	}
	return built, nil
}

// Load reads and compiles the module at path with host, naming the plugin after the file, and
// checks what it declares against lim as a gateway does (zero fields: wasmhost's defaults).
//
// # Errors
//
// A read error naming path, or the wasmhost compile error naming the plugin.
func Load(ctx context.Context, host *wasmhost.Host, path string, lim wasmhost.ModuleLimits) (*wasmhost.Plugin, error) {
	wasm, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("plugin module: %w", err)
	}
	return host.CompileWithLimits(ctx, strings.TrimSuffix(filepath.Base(path), ".wasm"), wasm, lim)
}

// writeAtomic writes b to a temporary file beside path and renames it over path, so a
// gateway watching the folder never sees half a module.
func writeAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("plugin module %s: %w", path, err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("plugin module %s: %w", path, err)
	}
	defer os.Remove(f.Name()) // a no-op once renamed
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("plugin module %s: %w", path, err)
	}
	return nil
}
