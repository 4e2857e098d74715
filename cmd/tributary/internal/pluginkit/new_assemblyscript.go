package pluginkit

import (
	"embed"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/tributary-gw/tributary/cmd/tributary/internal/sdksource"
	"github.com/tributary-gw/tributary/sdk/wasmbuild"
)

// The plugin languages `plugin new --lang` accepts.
const (
	// LangGo is a Go plugin with the Go SDK (the default).
	LangGo = "go"
	// LangAssemblyScript is an AssemblyScript plugin, built with asc from npm, with the
	// AssemblyScript SDK that New writes into the plugin's folder.
	LangAssemblyScript = "assemblyscript"
)

// ASSDKFolder is the folder, inside a new AssemblyScript plugin, that holds the SDK's
// source; the plugin's package.json depends on it as file:tributary-sdk.
const ASSDKFolder = "tributary-sdk"

// ASAbortHandler is the internal name asc gives the SDK's abort handler when the SDK is the
// npm package @tributary-gw/sdk in node_modules (see wasmbuild.ASFlags).
const ASAbortHandler = "~lib/@tributary-gw/sdk/assembly/log/abortHandler"

// assemblyscript holds the AssemblyScript template.
//
//go:embed assemblyscript/template
var assemblyscript embed.FS

// asSDKArchive is sdk/assemblyscript's package.json, README.md and assembly/*.ts (which
// //go:embed cannot reach from here), packed by sdksource.PackFiles and kept equal to the
// source by TestAssemblyScriptSDKCopy.
//
//go:generate go test -run TestAssemblyScriptSDKCopy -update-as-sdk .
//go:embed assemblyscript/sdk.tar.gz
var asSDKArchive []byte

// asSDK returns the carried AssemblyScript SDK's files by relative path (shared: do not
// change them).
var asSDK = sync.OnceValues(func() (map[string][]byte, error) {
	files, err := sdksource.Unpack(asSDKArchive)
	if err != nil {
		return nil, fmt.Errorf("embedded AssemblyScript SDK: %w", err)
	}
	return files, nil
})

// ASCompilerVersion returns the AssemblyScript compiler version the SDK pins (its
// package.json's devDependencies.assemblyscript), which new plugins pin too.
func ASCompilerVersion() (string, error) {
	files, err := asSDK()
	if err != nil {
		return "", err
	}
	raw, ok := files["package.json"]
	if !ok {
		return "", fmt.Errorf("embedded AssemblyScript SDK: no package.json")
	}
	var pkg struct {
		DevDependencies map[string]string `json:"devDependencies"`
	}
	if err := json.Unmarshal(raw, &pkg); err != nil {
		return "", fmt.Errorf("embedded AssemblyScript SDK package.json: %w", err)
	}
	v := pkg.DevDependencies["assemblyscript"]
	if v == "" {
		return "", fmt.Errorf("embedded AssemblyScript SDK package.json pins no assemblyscript version")
	}
	return v, nil
}

// newAssemblyScript creates an AssemblyScript plugin in Parent/Name: package.json (build
// script with wasmbuild.ASFlags, the compiler pinned, the SDK as a file: dependency),
// assembly/index.ts (the same sample as the Go template), tsconfig.json, README.md,
// .gitignore, testdata/input.jsonl and the SDK's source in tributary-sdk/. Module is ignored.
func newAssemblyScript(opts NewOptions) (*Created, error) {
	compiler, err := ASCompilerVersion()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(opts.Parent, opts.Name)
	if _, err := os.Lstat(dir); err == nil {
		return nil, fmt.Errorf("plugin folder %s already exists: choose another name or --dir", dir)
	}
	if err := os.MkdirAll(opts.Parent, 0o755); err != nil {
		return nil, fmt.Errorf("plugin folder %s: %w", dir, err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil { // fails if it appeared since the check
		return nil, fmt.Errorf("plugin folder %s: %w", dir, err)
	}
	c := &Created{Dir: dir}
	data := struct{ Name, Compiler, Flags string }{opts.Name, compiler, strings.Join(wasmbuild.ASFlags(ASAbortHandler), " ")}
	if err := c.writeAS(data); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return c, nil
}

func (c *Created) writeAS(data any) error {
	files := []templateFile{
		{"package.json.tmpl", "package.json"},
		{"index.ts.tmpl", "assembly/index.ts"},
		{"tsconfig.json.tmpl", "tsconfig.json"},
		{"README.md.tmpl", "README.md"},
		{"gitignore.tmpl", ".gitignore"},
		{"input.jsonl.tmpl", "testdata/input.jsonl"},
	}
	if err := c.render(assemblyscript, "assemblyscript/template", files, data); err != nil {
		return err
	}
	sdk, err := asSDK()
	if err != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(sdk)) {
		if err := c.writeFile(path.Join(ASSDKFolder, name), sdk[name]); err != nil {
			return err
		}
	}
	return nil
}

// IsAssemblyScript reports whether dir holds an AssemblyScript plugin: a package.json and no
// .go file. `plugin build` then says how such a plugin is built instead of running go build.
func IsAssemblyScript(dir string) bool {
	if _, err := os.Stat(filepath.Join(dir, "package.json")); err != nil {
		return false
	}
	goFiles, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	return len(goFiles) == 0
}
