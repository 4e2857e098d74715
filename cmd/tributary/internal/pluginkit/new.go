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
	"strings"
	"text/template"

	"github.com/tributary-gw/tributary/cmd/tributary/internal/sdksource"
	"github.com/tributary-gw/tributary/sdk/abi"
)

// TributaryModule is the module path of the gateway's repository. A plugin created inside it
// is one of its packages (a first-party plugin) and uses the repository's sdk folder.
const TributaryModule = "github.com/tributary-gw/tributary"

// SDKFolder is the folder, inside a new plugin's folder, that New writes the carried Go SDK
// module's source into, and that the plugin's go.mod points to with a replace directive.
const SDKFolder = "tributary-sdk"

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
	// Name is the plugin's name.
	Name string
	// Dir is the plugin's folder, as given (Parent joined with Name).
	Dir string
	// Files lists the plugin's files written, relative to Dir with '/' separators, in order;
	// the SDK's files are in SDKFiles.
	Files []string
	// SDKFiles lists the files of the Go SDK's source written into Dir/SDKFolder, relative to
	// that folder, sorted; empty when the plugin is a package of the Tributary module.
	SDKFiles []string
	// GoMod is the module path of the go.mod written, "" when none was.
	GoMod string
	// Enclosing is the module path of the Go module the folder lies in when no go.mod was
	// written, "" otherwise; EnclosingGoMod is that module's go.mod (absolute).
	Enclosing, EnclosingGoMod string
	// Wasm is where `plugin build Dir` writes the module by default (DefaultOutput).
	Wasm string
}

// Ready reports whether the plugin builds and tests as created, without a step of its own:
// it has its own go.mod pointing at the SDK's source, or it is a package of the Tributary
// module itself. Otherwise the enclosing module must require the SDK first (NextSteps).
func (c *Created) Ready() bool { return c.GoMod != "" || c.Enclosing == TributaryModule }

// SDKDir returns the folder of the SDK's source written for the plugin, "" when none was.
func (c *Created) SDKDir() string {
	if len(c.SDKFiles) == 0 {
		return ""
	}
	return filepath.Join(c.Dir, SDKFolder)
}

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

// New creates a plugin's source folder, Parent/Name, from the Go template: main.go
// (registration), NAME.go (the logic: a JSON field edit driven by the route's config, using
// sdk/jsonfield), NAME_test.go (native tests with sdk.Init and sdk.Process), README.md and
// testdata/input.jsonl (input for `tributary plugin test`).
//
// Outside any Go module, or with NewOptions.Module, the plugin is a module of its own: New also
// writes the Go SDK's source carried in the binary into Name/SDKFolder and a go.mod that
// requires the SDK (sdksource.Version) and points to that folder with a replace directive, so
// it builds and tests as created, with no network. Inside another Go module the plugin is one
// of its packages: the SDK's source is written the same way and NextSteps says how that module
// requires it. Inside the Tributary module the plugin is a first-party plugin using the
// repository's sdk folder.
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
	created := &Created{Name: opts.Name, Dir: dir}
	switch enclosing, gomod, err := enclosingModule(filepath.Dir(abs)); {
	case err != nil:
		return nil, err
	case opts.Module != "":
		created.GoMod = opts.Module
	case enclosing == "":
		created.GoMod = opts.Name
	default:
		created.Enclosing, created.EnclosingGoMod = enclosing, gomod
	}
	if created.GoMod != "" && strings.ContainsAny(created.GoMod, " \t\r\n\"'`") {
		return nil, fmt.Errorf("module path %q: must not contain spaces or quotes", created.GoMod)
	}
	if created.Wasm, err = defaultOutput(dir, created.GoMod == "" && created.Enclosing == TributaryModule, created.EnclosingGoMod); err != nil {
		return nil, err
	}
	// Mkdir, not MkdirAll: it fails if the folder appeared since the check, so nothing of
	// someone else's is ever written into.
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("plugin folder %s: %w", dir, err)
	}
	if err := created.writeGo(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return created, nil
}

// writeGo writes the Go template into c.Dir, and the SDK's source and go.mod as New says.
func (c *Created) writeGo() error {
	withSDK := c.Enclosing != TributaryModule || c.GoMod != ""
	if withSDK {
		files, err := sdksource.Write(filepath.Join(c.Dir, SDKFolder))
		if err != nil {
			return err
		}
		c.SDKFiles = files
	}
	wasm := relTo(c.Dir, c.Wasm)
	data := struct {
		Name, Wasm, SDKModule, SDKVersion, SDKDir string
		ABI                                       int
	}{Name: c.Name, Wasm: filepath.ToSlash(wasm), SDKModule: sdksource.Module, SDKVersion: sdksource.Version, ABI: abi.Version}
	if withSDK {
		data.SDKDir = SDKFolder
	}
	files := []templateFile{
		{"main.go.tmpl", "main.go"},
		{"logic.go.tmpl", c.Name + ".go"},
		{"logic_test.go.tmpl", c.Name + "_test.go"},
		{"README.md.tmpl", "README.md"},
		{"testdata/input.jsonl.tmpl", "testdata/input.jsonl"},
	}
	if err := c.render(templates, "template", files, data); err != nil {
		return err
	}
	if c.GoMod != "" {
		goLine, err := sdksource.GoVersion()
		if err != nil {
			return err
		}
		mod := fmt.Sprintf("module %s\n\ngo %s\n\nrequire %s %s\n\n"+
			"// The SDK's source, written by `tributary plugin new` from the tributary binary: nothing\n"+
			"// to download. Drop this line to use the published module instead.\n"+
			"replace %s => ./%s\n",
			c.GoMod, goLine, sdksource.Module, sdksource.Version, sdksource.Module, SDKFolder)
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

// Step is one next step New's caller prints: a shell command and what it does.
type Step struct {
	// Command runs as printed, in a POSIX shell, from the folder the previous step left.
	Command string
	// Comment says what it does; "" for none.
	Comment string
}

// NextSteps returns the commands that take the plugin from created to tested as a wasm
// module, to run in order from the working directory New ran in; tributary is how to run the
// tributary command (its name on PATH, or its path).
func (c *Created) NextSteps(tributary string) []Step {
	wasm := relTo(c.Dir, c.Wasm)
	steps := []Step{{Command: "cd " + shellQuote(c.Dir)}}
	if c.GoMod == "" && c.Enclosing != TributaryModule {
		root := filepath.Dir(c.EnclosingGoMod)
		absDir, _ := filepath.Abs(c.Dir)
		sdkRel, err1 := filepath.Rel(root, filepath.Join(absDir, SDKFolder))
		modRel, err2 := filepath.Rel(absDir, c.EnclosingGoMod)
		if err1 != nil || err2 != nil {
			sdkRel, modRel = filepath.Join(absDir, SDKFolder), c.EnclosingGoMod
		} else {
			sdkRel = "./" + filepath.ToSlash(sdkRel)
		}
		steps = append(steps, Step{
			Command: fmt.Sprintf("go mod edit -require=%s@%s -replace=%s=%s %s", sdksource.Module, sdksource.Version,
				sdksource.Module, shellQuote(sdkRel), shellQuote(modRel)),
			Comment: fmt.Sprintf("module %s requires the SDK, from the source in %s", c.Enclosing, SDKFolder),
		})
	}
	steps = append(steps,
		Step{Command: "go test ./...", Comment: fmt.Sprintf("the logic, natively; edit %s.go", c.Name)},
		Step{Command: tributary + " plugin build .", Comment: "-> " + filepath.ToSlash(wasm)},
		Step{Command: fmt.Sprintf("%s plugin test %s --input testdata/input.jsonl --config '{\"field\":\"temp\",\"unit\":\"F\"}'",
			tributary, shellQuote(filepath.ToSlash(wasm))), Comment: "the wasm module, no broker needed"},
	)
	return steps
}

// shellQuote returns s as one POSIX shell word: unchanged when it holds only safe characters,
// else in single quotes.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./@=:+,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// enclosingModule returns the module path declared by the nearest go.mod in dir or above and
// that go.mod's path, "" when there is none.
func enclosingModule(dir string) (module, gomod string, err error) {
	for {
		gomod := filepath.Join(dir, "go.mod")
		f, err := os.Open(gomod)
		if err == nil {
			defer f.Close()
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				line := strings.TrimSpace(sc.Text())
				if rest, ok := strings.CutPrefix(line, "module"); ok && rest != "" && (rest[0] == ' ' || rest[0] == '\t') {
					return strings.Trim(strings.TrimSpace(rest), `"`), gomod, nil
				}
			}
			if err := sc.Err(); err != nil {
				return "", "", fmt.Errorf("reading %s: %w", gomod, err)
			}
			return "", "", fmt.Errorf("%s declares no module path", gomod)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", "", fmt.Errorf("looking for go.mod: %w", err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", "", nil
		}
		dir = parent
	}
}

// templateFile is one file of a plugin template: the template's name and the file it writes.
type templateFile struct{ tmpl, out string }

// render executes each of files from folder dir of fsys with data and writes the result
// into the plugin's folder.
func (c *Created) render(fsys fs.FS, dir string, files []templateFile, data any) error {
	for _, f := range files {
		text, err := fs.ReadFile(fsys, dir+"/"+f.tmpl)
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
	return nil
}
