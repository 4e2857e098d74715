package devrun

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tributary-gw/tributary/cmd/tributary/internal/sdksource"
	"github.com/tributary-gw/tributary/plugins"
)

// carriedStamp is the file in the plugin cache naming the carried source its modules were
// last built from (a hash); another binary's source makes them stale.
const carriedStamp = "carried-source"

// carriedModule is the module path of the folder carried sources are written to.
const carriedModule = "tributary-dev-plugins"

// carriedFiles returns the files of one Go module holding the first-party plugins names (as
// plugins/NAME) and the SDK (as sdk, required through a replace directive), by '/'-separated
// path, and the hash naming that content.
func carriedFiles(names []string) (map[string][]byte, string, error) {
	sdk, err := sdksource.Files()
	if err != nil {
		return nil, "", err
	}
	goLine, err := sdksource.GoVersion()
	if err != nil {
		return nil, "", err
	}
	files := map[string][]byte{
		"go.mod": fmt.Appendf(nil, "// Written by tributary dev or bench: first-party plugins, built from the source the\n"+
			"// tributary binary carries, with the Go SDK's source in ./sdk.\nmodule %s\n\ngo %s\n\nrequire %s %s\n\nreplace %s => ./sdk\n",
			carriedModule, goLine, sdksource.Module, sdksource.Version, sdksource.Module),
	}
	for name, b := range sdk {
		files["sdk/"+name] = b
	}
	for _, name := range names {
		src := plugins.Source(name)
		if src == nil {
			return nil, "", fmt.Errorf("first-party plugin %q: not in a tributary checkout, and this binary carries no source for it (it carries %s)",
				name, strings.Join(plugins.Names(), ", "))
		}
		for file, b := range src {
			files["plugins/"+name+"/"+file] = b
		}
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	h := sha256.New()
	for _, p := range paths {
		fmt.Fprintf(h, "%s %d\n", p, len(files[p]))
		h.Write(files[p])
	}
	return files, hex.EncodeToString(h.Sum(nil))[:16], nil
}

// writeCarried makes cache/src the module of carriedFiles(names), unless the stamp says it
// already is, and returns each plugin's source folder by name. When it writes, it removes the
// plugins' modules (cache/NAME.wasm) so that they are built again from the new source, and
// says so on out.
func writeCarried(cache string, names []string, out io.Writer) (map[string]string, error) {
	files, hash, err := carriedFiles(names)
	if err != nil {
		return nil, err
	}
	src := filepath.Join(cache, "src")
	dirs := map[string]string{}
	for _, name := range names {
		dirs[name] = filepath.Join(src, "plugins", name)
	}
	stamp, err := os.ReadFile(filepath.Join(cache, carriedStamp))
	if err == nil && strings.TrimSpace(string(stamp)) == hash {
		if _, err := os.Stat(filepath.Join(src, "go.mod")); err == nil {
			return dirs, nil
		}
	}
	fmt.Fprintf(out, "not in a tributary checkout: writing the source of the first-party plugins (%s) and of the Go SDK %s, carried in this binary, to %s\n",
		strings.Join(names, ", "), sdksource.Version, src)
	if err := os.RemoveAll(src); err != nil {
		return nil, fmt.Errorf("plugin source %s: %w", src, err)
	}
	for p, b := range files {
		path := filepath.Join(src, filepath.FromSlash(p))
		err := os.MkdirAll(filepath.Dir(path), 0o755)
		if err == nil {
			err = os.WriteFile(path, b, 0o644)
		}
		if err != nil {
			return nil, fmt.Errorf("plugin source %s: %w", path, err)
		}
	}
	for _, name := range names {
		if err := os.Remove(filepath.Join(cache, name+".wasm")); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("plugin cache: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(cache, carriedStamp), []byte(hash+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("plugin cache: %w", err)
	}
	return dirs, nil
}

// forgetCarried removes the stamp of the carried source from cache, after modules were built
// there from a checkout: the next build from carried source must not take them for its own.
func forgetCarried(cache string) {
	_ = os.Remove(filepath.Join(cache, carriedStamp))
}
