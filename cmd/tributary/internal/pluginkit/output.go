package pluginkit

import (
	"fmt"
	"path/filepath"
)

// BuildFolder is where `plugin build` writes the module of a plugin that is a package of the
// Tributary module (a first-party plugin, or one made by `plugin new` inside the checkout),
// relative to the checkout's root: never among the plugins' sources.
const BuildFolder = "build/plugins"

// DefaultOutput returns where `plugin build DIR` writes the module: NAME.wasm beside the
// source folder (DIR/../NAME.wasm, NAME = DIR's base name), relative when DIR is. For a plugin
// made by New under ./plugins that is ./plugins/NAME.wasm, the gateway's default plugins.dir.
// When DIR is a package of the Tributary module (inside the repository's checkout) it is
// BuildFolder/NAME.wasm under the checkout's root instead, so built modules never land among
// the first-party sources.
//
// # Errors
//
// DefaultOutput returns an error when DIR is the root folder or its go.mod cannot be read.
func DefaultOutput(srcDir string) (string, error) {
	abs, err := filepath.Abs(srcDir)
	if err != nil {
		return "", fmt.Errorf("plugin source %s: %w", srcDir, err)
	}
	module, gomod, err := enclosingModule(abs)
	if err != nil {
		return "", err
	}
	return defaultOutput(srcDir, module == TributaryModule, gomod)
}

// defaultOutput is DefaultOutput for srcDir, which may not exist yet: inTributary says whether
// it is a package of the Tributary module, whose go.mod is gomod.
func defaultOutput(srcDir string, inTributary bool, gomod string) (string, error) {
	clean := filepath.Clean(srcDir)
	abs, err := filepath.Abs(clean)
	if err != nil {
		return "", fmt.Errorf("plugin source %s: %w", srcDir, err)
	}
	if filepath.Dir(abs) == abs {
		return "", fmt.Errorf("plugin source %s: the root folder has no name; use -o", srcDir)
	}
	name := filepath.Base(abs)
	if inTributary {
		return filepath.Join(filepath.Dir(gomod), filepath.FromSlash(BuildFolder), name+".wasm"), nil
	}
	if base := filepath.Base(clean); base != "." && base != ".." && base != string(filepath.Separator) {
		return filepath.Join(filepath.Dir(clean), base+".wasm"), nil
	}
	return filepath.Join(filepath.Dir(abs), name+".wasm"), nil // "." or "..": name it after the real folder
}

// relTo returns target relative to dir when both resolve, else target as it is.
func relTo(dir, target string) string {
	absDir, err1 := filepath.Abs(dir)
	absTarget, err2 := filepath.Abs(target)
	if err1 != nil || err2 != nil {
		return target
	}
	rel, err := filepath.Rel(absDir, absTarget)
	if err != nil {
		return target
	}
	return rel
}
