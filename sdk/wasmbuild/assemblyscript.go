package wasmbuild

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// ASToolsMissing returns an error naming what to install when node or npm is not on PATH,
// or nil. AssemblyScript guests are compiled by asc, which runs on Node.js and comes from
// the npm registry.
//
// The pinned compiler (asc 0.28) needs Node.js 20 or later: an older node is reported too.
func ASToolsMissing() error {
	const install = "AssemblyScript guests need Node.js 20 or later and npm: apt-get install -y nodejs npm (Debian/Ubuntu, if it has 20), brew install node, or https://nodejs.org"
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s: %w", install, err)
		}
	}
	out, err := exec.Command("node", "--version").Output()
	if err != nil {
		return fmt.Errorf("%s: node --version: %w", install, err)
	}
	version := strings.TrimSpace(string(out))
	major, _, _ := strings.Cut(strings.TrimPrefix(version, "v"), ".")
	if n, err := strconv.Atoi(major); err != nil || n < 20 {
		return fmt.Errorf("%s: found node %s", install, version)
	}
	return nil
}

// ASFlags are the asc flags every AssemblyScript guest is built with: optimized, the
// incremental garbage collector (memory freed between messages), asc's default non-trapping
// float-to-int conversions turned off (a float that does not fit an integer traps; the
// host would accept either, sdk/ABI.md §1.1), and abort
// (failed assertions, out-of-range accesses) routed to abortHandler, the internal name of
// the SDK's handler that logs the message and traps, instead of an env.abort import the host
// does not provide. The slice is new on every call.
func ASFlags(abortHandler string) []string {
	return []string{"--optimize", "--runtime", "incremental", "--disable", "nontrapping-f2i",
		"--use", "abort=" + abortHandler}
}

// NPMInstall runs npm ci for the package whose package.json and package-lock.json are in
// pkgDir into a folder under cacheRoot named after the lock file's hash, unless one is there
// already, and returns that folder's node_modules. Installs are written to a temporary
// folder renamed into place, so concurrent callers (test binaries run in parallel) never see
// half an install; npm's own cache makes repeated installs fast and offline.
//
// # Errors
//
// NPMInstall returns an error naming pkgDir when the lock file is missing, npm is not on PATH
// or npm ci fails (with npm's output).
func NPMInstall(ctx context.Context, pkgDir, cacheRoot string) (string, error) {
	lock, err := os.ReadFile(filepath.Join(pkgDir, "package-lock.json"))
	if err != nil {
		return "", fmt.Errorf("npm install for %s: %w", pkgDir, err)
	}
	manifest, err := os.ReadFile(filepath.Join(pkgDir, "package.json"))
	if err != nil {
		return "", fmt.Errorf("npm install for %s: %w", pkgDir, err)
	}
	sum := sha256.Sum256(append(append([]byte(nil), lock...), manifest...))
	target := filepath.Join(cacheRoot, "npm-"+hex.EncodeToString(sum[:8]))
	modules := filepath.Join(target, "node_modules")
	if _, err := os.Stat(filepath.Join(modules, ".package-lock.json")); err == nil {
		return modules, nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", fmt.Errorf("npm install for %s: %w", pkgDir, ASToolsMissing())
	}
	if err := os.MkdirAll(cacheRoot, 0o755); err != nil {
		return "", fmt.Errorf("npm install for %s: %w", pkgDir, err)
	}
	tmp, err := os.MkdirTemp(cacheRoot, ".npm-*")
	if err != nil {
		return "", fmt.Errorf("npm install for %s: %w", pkgDir, err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	for name, data := range map[string][]byte{"package.json": manifest, "package-lock.json": lock} {
		if err := os.WriteFile(filepath.Join(tmp, name), data, 0o644); err != nil {
			return "", fmt.Errorf("npm install for %s: %w", pkgDir, err)
		}
	}
	var output bytes.Buffer
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--prefer-offline")
	cmd.Dir = tmp
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("npm install for %s: npm ci: %w\n%s", pkgDir, err, bytes.TrimSpace(output.Bytes()))
	}
	if err := os.Rename(tmp, target); err != nil {
		// Another process finished first: use its install.
		if _, serr := os.Stat(filepath.Join(modules, ".package-lock.json")); serr == nil {
			return modules, nil
		}
		return "", fmt.Errorf("npm install for %s: %w", pkgDir, err)
	}
	return modules, nil
}

// ASBuild compiles the AssemblyScript entry file entry (relative to dir, which asc runs in)
// into out with the asc of nodeModules (from [NPMInstall]) and flags (for example
// [ASFlags]). Like [GoBuild] it writes beside out and renames, so out is whole or untouched.
//
// # Errors
//
// ASBuild returns an error naming the entry file when node is not on PATH, asc is not in
// nodeModules, the build fails (with the compiler's output) or out cannot be written.
func ASBuild(ctx context.Context, nodeModules, dir, entry, out string, flags ...string) error {
	src := filepath.Join(dir, entry)
	node, err := exec.LookPath("node")
	if err != nil {
		return fmt.Errorf("building AssemblyScript guest %s: %w", src, ASToolsMissing())
	}
	asc := filepath.Join(nodeModules, "assemblyscript", "bin", "asc.js")
	if _, err := os.Stat(asc); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("building AssemblyScript guest %s: no asc at %s (run npm install)", src, asc)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return fmt.Errorf("building AssemblyScript guest %s: %w", src, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*")
	if err != nil {
		return fmt.Errorf("building AssemblyScript guest %s: %w", src, err)
	}
	tmpName := tmp.Name()
	_ = tmp.Close()
	defer os.Remove(tmpName) // a no-op once renamed
	args := append([]string{asc, entry, "-o", tmpName}, flags...)
	var output bytes.Buffer
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building AssemblyScript guest %s: asc %s: %w\n%s", src, strings.Join(args[1:], " "), err, bytes.TrimSpace(output.Bytes()))
	}
	if err := os.Rename(tmpName, out); err != nil {
		return fmt.Errorf("building AssemblyScript guest %s: %w", src, err)
	}
	return nil
}
