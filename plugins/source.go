// Package plugins carries the source of the first-party plugins `tributary dev` runs (the
// building-sensors example's chains: filter, topic-fields and units), so that a tributary
// binary outside the repository checkout can build them (with the SDK source it also carries,
// package cmd/tributary/internal/sdksource). The plugins themselves are the folders beside
// this file, one Go main package each.
//
// Only what a build needs is written out: tests stay behind. A plugin the example starts to
// use must be added to the embed line below; devrun's tests fail until it is.
package plugins

import (
	"embed"
	"io/fs"
	"path"
	"slices"
	"strings"
)

//go:embed filter/*.go topic-fields/*.go units/*.go
var source embed.FS

// Source returns the carried files of plugin name (a folder of plugins/), by file name, tests
// left out; nil when the plugin is not carried.
func Source(name string) map[string][]byte {
	entries, err := fs.ReadDir(source, name)
	if err != nil {
		return nil
	}
	files := map[string][]byte{}
	for _, e := range entries {
		if e.IsDir() || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		b, err := fs.ReadFile(source, path.Join(name, e.Name()))
		if err != nil {
			return nil
		}
		files[e.Name()] = b
	}
	return files
}

// Names returns the carried plugins' names, sorted.
func Names() []string {
	entries, _ := fs.ReadDir(source, ".")
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names
}
