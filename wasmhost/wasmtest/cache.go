package wasmtest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// CompileCacheDir returns a compilation cache directory that every test binary of this user on
// this machine shares, creating it on first use. Tests that run real plugins pass it as
// wasmhost.HostConfig.CacheDir (or plugins.cache_dir), so each distinct module is compiled once
// per machine instead of once per test: compiling a Go guest takes seconds, and ten times that
// under the race detector, while loading it from the cache takes milliseconds. Sharing is
// safe: wazero keys each entry on the module's bytes, its own version and the runtime's
// settings, and writes every entry to a temporary file renamed into place.
//
// Tests of compiling itself (budgets, cache failures, what Validate keeps) must not use it.
//
// The directory must be this user's alone (mode 0700): machine code in it runs. When it is
// not, or cannot be made, CompileCacheDir returns an error and the caller compiles without it.
func CompileCacheDir() (string, error) {
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("tributary-test-compile-cache-%d", os.Getuid()))
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return "", err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return "", err
	}
	if !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		return "", fmt.Errorf("%s is not a directory of mode 0700", dir)
	}
	if !ownedByMe(fi) {
		return "", fmt.Errorf("%s belongs to another user", dir)
	}
	return dir, nil
}
