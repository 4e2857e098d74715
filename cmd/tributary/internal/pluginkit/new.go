package pluginkit

import (
	"bufio"
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"text/template"
)

// SDKModule is the module path of Tributary, which provides the plugin SDK.
const SDKModule = "github.com/tributary-gw/tributary"

// DefaultParent is where New creates a plugin's folder when NewOptions.Parent is empty: the
// gateway's default plugins.dir, so `plugin build` puts NAME.wasm where the gateway looks.
const DefaultParent = "plugins"

//go:embed template
var templates embed.FS

// NewOptions says what New creates.
type NewOptions struct {
	// Name is the plugin's name: lower-case letters, digits and '-', starting with a letter,
	// at most 64 bytes. It names the folder, NAME.go and the NAME.wasm a route refers to.
	Name string
	// Parent is the folder the plugin's folder NAME is created in. Defaults to DefaultParent.
	Parent string
	// Module, when set, makes the plugin its own Go module: a go.mod declaring this path
	// is written. When empty, no go.mod is written if the folder lies inside a Go module
	// (the plugin is a package of it); otherwise the module path is Name.
	Module string
	// Lang is the plugin's language: LangGo (the default when empty) or LangAssemblyScript
	// (new_assemblyscript.go).
	Lang string
}

// Created describes what New wrote.
type Created struct {
	// Dir is the plugin's folder, as given (Parent joined with Name).
	Dir string
	// Files lists the files written, relative to Dir with '/' separators, in order.
	Files []string
	// GoMod is the module path of the go.mod written, "" when none was.
	GoMod string
	// Enclosing is the module path of the Go module the folder lies in when no go.mod was
	// written, "" otherwise.
	Enclosing string
}

// Ready reports whether the plugin builds and tests as created, without fetching anything:
// it is a package of the Tributary module itself. Otherwise the SDK must be required first
// (go mod tidy, or go get SDKModule).
func (c *Created) Ready() bool { return c.Enclosing == SDKModule }

// CheckName returns an error saying why name cannot be a new plugin's name, or nil.
// Names are [a-z][a-z0-9-]*, at most 64 bytes: they are file names (NAME.go, NAME.wasm) and
// gateway plugin names, and '_' is left out because Go reads suffixes like _linux or _test in
// file names as build constraints.
func CheckName(name string) error {
	switch {
	case name == "":
		return errors.New("plugin name is empty")
	case len(name) > 64:
		return fmt.Errorf("plugin name %q: longer than 64 bytes", name)
	case name[0] < 'a' || name[0] > 'z':
		return fmt.Errorf("plugin name %q: must start with a lower-case letter", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("plugin name %q: use only lower-case letters, digits and '-' (not %q)", name, c)
		}
	}
	return nil
}

// New creates a plugin's source folder, Parent/Name, from the template: main.go (registration),
// NAME.go (the logic: a JSON field edit driven by the route's config, using sdk/jsonfield),
// NAME_test.go (native tests with sdk.Init and sdk.Process), README.md and
// testdata/input.jsonl (input for `tributary plugin test`), plus go.mod when NewOptions.Module
// says so. Inside the Tributary module the result builds and its tests pass as created.
//
// # Errors
//
// New refuses a bad name (see CheckName) and an existing Parent/Name, file or folder; it never
// overwrites anything. On a write error it removes what it created.
func New(opts NewOptions) (*Created, error) {
	if err := CheckName(opts.Name); err != nil {
		return nil, err
	}
	if opts.Parent == "" {
		opts.Parent = DefaultParent
	}
	switch opts.Lang {
	case "", LangGo:
	case LangAssemblyScript:
		return newAssemblyScript(opts)
	default:
		return nil, fmt.Errorf("plugin language %q: want %s or %s", opts.Lang, LangGo, LangAssemblyScript)
	}
	dir := filepath.Join(opts.Parent, opts.Name)
	if _, err := os.Lstat(dir); err == nil {
		return nil, fmt.Errorf("plugin folder %s already exists: choose another name or --dir", dir)
	}
	if err := os.MkdirAll(opts.Parent, 0o755); err != nil {
		return nil, fmt.Errorf("plugin folder %s: %w", dir, err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("plugin folder %s: %w", dir, err)
	}
	created := &Created{Dir: dir}
	switch enclosing, err := enclosingModule(filepath.Dir(abs)); {
	case err != nil:
		return nil, err
	case opts.Module != "":
		created.GoMod = opts.Module
	case enclosing == "":
		created.GoMod = opts.Name
	default:
		created.Enclosing = enclosing
	}
	if created.GoMod != "" && strings.ContainsAny(created.GoMod, " \t\r\n\"'`") {
		return nil, fmt.Errorf("module path %q: must not contain spaces or quotes", created.GoMod)
	}
	// Mkdir, not MkdirAll: it fails if the folder appeared since the check, so nothing of
	// someone else's is ever written into.
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("plugin folder %s: %w", dir, err)
	}
	if err := created.write(opts.Name); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return created, nil
}

// write renders the templates into c.Dir.
func (c *Created) write(name string) error {
	data := struct{ Name string }{Name: name}
	files := []struct{ tmpl, out string }{
		{"main.go.tmpl", "main.go"},
		{"logic.go.tmpl", name + ".go"},
		{"logic_test.go.tmpl", name + "_test.go"},
		{"README.md.tmpl", "README.md"},
		{"testdata/input.jsonl.tmpl", "testdata/input.jsonl"},
	}
	for _, f := range files {
		text, err := fs.ReadFile(templates, "template/"+f.tmpl)
		if err != nil {
			return fmt.Errorf("plugin template %s: %w", f.tmpl, err)
		}
		t, err := template.New(f.tmpl).Option("missingkey=error").Parse(string(text))
		if err != nil {
			return fmt.Errorf("plugin template %s: %w", f.tmpl, err)
		}
		var out bytes.Buffer
		if err := t.Execute(&out, data); err != nil {
			return fmt.Errorf("plugin template %s: %w", f.tmpl, err)
		}
		if err := c.writeFile(f.out, out.Bytes()); err != nil {
			return err
		}
	}
	if c.GoMod != "" {
		mod := fmt.Sprintf("module %s\n\ngo %s\n", c.GoMod, goVersion())
		if err := c.writeFile("go.mod", []byte(mod)); err != nil {
			return err
		}
	}
	return nil
}

func (c *Created) writeFile(rel string, content []byte) error {
	path := filepath.Join(c.Dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("plugin file %s: %w", path, err)
	}
	// O_EXCL: never overwrite.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("plugin file %s: %w", path, err)
	}
	_, err = f.Write(content)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("plugin file %s: %w", path, err)
	}
	c.Files = append(c.Files, rel)
	return nil
}

// enclosingModule returns the module path declared by the nearest go.mod in dir or above,
// "" when there is none.
func enclosingModule(dir string) (string, error) {
	for {
		f, err := os.Open(filepath.Join(dir, "go.mod"))
		if err == nil {
			defer f.Close()
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				line := strings.TrimSpace(sc.Text())
				if rest, ok := strings.CutPrefix(line, "module"); ok && rest != "" && (rest[0] == ' ' || rest[0] == '\t') {
					return strings.Trim(strings.TrimSpace(rest), `"`), nil
				}
			}
			if err := sc.Err(); err != nil {
				return "", fmt.Errorf("reading %s: %w", filepath.Join(dir, "go.mod"), err)
			}
			return "", fmt.Errorf("%s declares no module path", filepath.Join(dir, "go.mod"))
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("looking for go.mod: %w", err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", nil
		}
		dir = parent
	}
}

// goVersion returns the running toolchain's language version ("1.26") for a new go.mod,
// or a conservative one for development builds.
func goVersion() string {
	v := strings.TrimPrefix(runtime.Version(), "go")
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 || parts[0] == "" || strings.ContainsAny(parts[0]+parts[1], " -+abcdefghijklmnopqrstuvwxyz") {
		return "1.24"
	}
	return parts[0] + "." + parts[1]
}
