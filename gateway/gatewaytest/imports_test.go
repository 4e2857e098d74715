package gatewaytest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// importRule states what the packages under one path may import: one row of
// the table "Packages and allowed imports" in ARCHITECTURE.md. Paths are
// relative to the module; "x/..." means x and everything under it, anything
// else means exactly that package.
type importRule struct {
	pkgs string
	// ours lists the module packages a package may import directly; nil
	// means any.
	ours []string
	// thirdParty lists the non-module, non-standard imports allowed directly;
	// nil means any, an empty non-nil slice means none (standard library only).
	thirdParty []string
	// forbidDeps lists module packages that must not appear anywhere in the
	// transitive dependencies.
	forbidDeps []string
	why        string
}

// architectureDoc is the document whose import table the check enforces,
// relative to the module root.
const architectureDoc = "ARCHITECTURE.md"

// Markers around the import table in architectureDoc.
const (
	rulesBegin = "<!-- import-rules"
	rulesEnd   = "<!-- end import-rules -->"
)

// parseImportRules reads the import table of the architecture document: one
// row per package pattern, with columns package, owns, may import (ours),
// may import (third party), must never depend on. Patterns are written in
// backquotes; "any" means no limit, "standard library" no third-party
// import, "—" none.
func parseImportRules(doc string) ([]importRule, error) {
	_, rest, ok := strings.Cut(doc, rulesBegin)
	if !ok {
		return nil, fmt.Errorf("no %q marker", rulesBegin)
	}
	table, _, ok := strings.Cut(rest, rulesEnd)
	if !ok {
		return nil, fmt.Errorf("no %q marker", rulesEnd)
	}
	var rules []importRule
	for i, line := range strings.Split(table, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") || strings.HasPrefix(line, "|---") || strings.HasPrefix(line, "| package ") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) != 5 {
			return nil, fmt.Errorf("table line %d: %d cells, want 5: %s", i, len(cells), line)
		}
		pkgs := quoted(cells[0])
		if len(pkgs) != 1 {
			return nil, fmt.Errorf("table line %d: the package cell must hold one `pattern`: %s", i, cells[0])
		}
		ours, err := patternCell(cells[2], false)
		if err != nil {
			return nil, fmt.Errorf("table line %d, may import (ours): %w", i, err)
		}
		third, err := patternCell(cells[3], true)
		if err != nil {
			return nil, fmt.Errorf("table line %d, may import (third party): %w", i, err)
		}
		forbid, err := patternCell(cells[4], false)
		if err != nil {
			return nil, fmt.Errorf("table line %d, must never depend on: %w", i, err)
		}
		if forbid == nil {
			return nil, fmt.Errorf("table line %d: \"any\" makes no sense in must never depend on", i)
		}
		rules = append(rules, importRule{pkgs: pkgs[0], ours: ours, thirdParty: third, forbidDeps: forbid,
			why: pkgs[0] + " owns " + strings.TrimSpace(cells[1])})
	}
	if len(rules) == 0 {
		return nil, errors.New("the import table has no rows")
	}
	return rules, nil
}

// patternCell reads one cell of patterns: "any" is nil, "—" (or, for third
// parties, "standard library") an empty non-nil slice, else the quoted
// patterns.
func patternCell(cell string, thirdParty bool) ([]string, error) {
	c := strings.TrimSpace(cell)
	switch {
	case c == "any":
		return nil, nil
	case c == "—", thirdParty && c == "standard library":
		return []string{}, nil
	}
	ps := quoted(c)
	if len(ps) == 0 {
		return nil, fmt.Errorf("%q: want `patterns`, \"any\", \"—\" or \"standard library\"", c)
	}
	return ps, nil
}

// quoted returns the backquoted strings of s, in order.
func quoted(s string) []string {
	var out []string
	for {
		_, rest, ok := strings.Cut(s, "`")
		if !ok {
			return out
		}
		q, after, ok := strings.Cut(rest, "`")
		if !ok {
			return out
		}
		out = append(out, q)
		s = after
	}
}

// importRules returns the rules of the module's architecture document.
func importRules(t *testing.T) []importRule {
	t.Helper()
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join(root, architectureDoc))
	if err != nil {
		t.Fatalf("the import rules live in %s: %v", architectureDoc, err)
	}
	rules, err := parseImportRules(string(doc))
	if err != nil {
		t.Fatalf("%s: %v", architectureDoc, err)
	}
	return rules
}

// forbiddenNames are package names that say nothing about their contents.
var forbiddenNames = []string{"util", "utils", "common", "helpers"}

// listedPackage is the part of `go list -json` output the check needs.
type listedPackage struct {
	ImportPath string
	Name       string
	Imports    []string
	Deps       []string
}

// matchPattern reports whether rel matches a rule pattern ("x/..." or "x").
func matchPattern(pattern, rel string) bool {
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return rel == base || strings.HasPrefix(rel, base+"/")
	}
	return rel == pattern
}

func matchAny(patterns []string, p string) bool {
	for _, pat := range patterns {
		if matchPattern(pat, p) {
			return true
		}
	}
	return false
}

// ruleFor returns the most specific rule covering rel, or nil.
func ruleFor(rules []importRule, rel string) *importRule {
	var best *importRule
	bestLen := -1
	for i := range rules {
		r := &rules[i]
		if matchPattern(r.pkgs, rel) {
			if n := len(strings.TrimSuffix(r.pkgs, "/...")); n > bestLen {
				best, bestLen = r, n
			}
		}
	}
	return best
}

// isStd reports whether an import path is in the standard library: its first
// element has no dot.
func isStd(p string) bool {
	first, _, _ := strings.Cut(p, "/")
	return !strings.Contains(first, ".")
}

// checkBoundaries returns one message per forbidden edge or name.
func checkBoundaries(module string, pkgs []listedPackage, rules []importRule) []string {
	rel := func(p string) (string, bool) {
		if p == module {
			return "", true
		}
		r, ok := strings.CutPrefix(p, module+"/")
		return r, ok
	}
	var bad []string
	for _, pkg := range pkgs {
		me, ok := rel(pkg.ImportPath)
		if !ok {
			continue
		}
		for _, n := range []string{pkg.Name, path.Base(pkg.ImportPath)} {
			for _, f := range forbiddenNames {
				if n == f {
					bad = append(bad, fmt.Sprintf("%s: package named %q; name it for what it holds", pkg.ImportPath, n))
				}
			}
		}
		r := ruleFor(rules, me)
		if r == nil {
			continue
		}
		for _, imp := range pkg.Imports {
			if isStd(imp) {
				continue
			}
			if target, ours := rel(imp); ours {
				if r.ours != nil && !matchAny(r.ours, target) {
					bad = append(bad, fmt.Sprintf("%s imports %s: %s may import only %v of ours (%s)",
						pkg.ImportPath, imp, r.pkgs, r.ours, r.why))
				}
				continue
			}
			if r.thirdParty != nil && !matchAny(r.thirdParty, imp) {
				allowed := "the standard library"
				if len(r.thirdParty) > 0 {
					allowed = fmt.Sprintf("the standard library and %v", r.thirdParty)
				}
				bad = append(bad, fmt.Sprintf("%s imports %s: %s may import only %s from outside the module (%s)",
					pkg.ImportPath, imp, r.pkgs, allowed, r.why))
			}
		}
		for _, dep := range pkg.Deps {
			if target, ours := rel(dep); ours && matchAny(r.forbidDeps, target) {
				bad = append(bad, fmt.Sprintf("%s depends on %s: forbidden for %s (%s)", pkg.ImportPath, dep, r.pkgs, r.why))
			}
		}
	}
	return bad
}

// TestImportBoundaries runs go list over the whole module and fails on any
// import edge STYLE.md B1 forbids. Packages that do not exist yet are simply
// not checked; packages that do not compile are still checked by their
// imports.
func TestImportBoundaries(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	// The workspace (go.work) joins this module and the SDK's (./sdk, whose path lies under
	// this one's, so one table covers both). A pattern stops at a nested go.mod: list each
	// module's packages by its own pattern.
	listCmd := exec.Command(goTool(), "list", "-m", "-f", "{{.Path}} {{.Dir}}")
	listCmd.Dir = root
	modOut, err := listCmd.Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	var module string
	patterns := []string{"-e", "-json=ImportPath,Name,Imports,Deps"}
	for _, line := range strings.Split(strings.TrimSpace(string(modOut)), "\n") {
		path, dir, _ := strings.Cut(line, " ")
		rel, err := filepath.Rel(root, dir)
		if err != nil || strings.HasPrefix(rel, "..") {
			t.Fatalf("workspace module %s in %s lies outside %s", path, dir, root)
		}
		if rel == "." {
			module = path
		}
		patterns = append(patterns, "./"+filepath.ToSlash(filepath.Join(rel, "...")))
	}
	if module == "" {
		t.Fatalf("go list -m in %s: no module rooted there:\n%s", root, modOut)
	}

	cmd := exec.Command(goTool(), append([]string{"list"}, patterns...)...)
	cmd.Dir = root
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go list in %s: %v\n%s", root, err, stderr.Bytes())
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(&stdout)
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decoding go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) == 0 {
		t.Fatal("go list found no packages; the check would pass vacuously")
	}
	rules := importRules(t)
	for _, msg := range checkBoundaries(module, pkgs, rules) {
		t.Error(msg)
	}
	for _, msg := range checkCoverage(module, pkgs, rules) {
		t.Error(msg)
	}
}

// checkCoverage returns one message per module package no row of the import
// table covers, and per row that covers no package: the document describes
// every package there is and no package that is not.
func checkCoverage(module string, pkgs []listedPackage, rules []importRule) []string {
	var bad []string
	used := make([]bool, len(rules))
	for _, pkg := range pkgs {
		me, ok := strings.CutPrefix(pkg.ImportPath, module+"/")
		if !ok {
			continue
		}
		r := ruleFor(rules, me)
		if r == nil {
			bad = append(bad, fmt.Sprintf("%s: no row of %s's import table covers it; add one saying what it owns and may import", pkg.ImportPath, architectureDoc))
			continue
		}
		for i := range rules {
			if &rules[i] == r {
				used[i] = true
			}
		}
	}
	for i, r := range rules {
		if !used[i] {
			bad = append(bad, fmt.Sprintf("%s: the import table's row %q covers no package; remove it or fix the pattern", architectureDoc, r.pkgs))
		}
	}
	return bad
}

func TestCheckBoundaries(t *testing.T) {
	rules := importRules(t)
	const m = "example.com/trib"
	tests := []struct {
		name string
		pkg  listedPackage
		want string // substring of the only message; "" means no message
	}{
		{"sdk stdlib only is fine",
			listedPackage{ImportPath: m + "/sdk", Name: "sdk", Imports: []string{"encoding/binary", m + "/sdk/abi"}}, ""},
		{"sdk importing wazero",
			listedPackage{ImportPath: m + "/sdk", Name: "sdk", Imports: []string{"github.com/tetratelabs/wazero"}}, "only the standard library"},
		{"abi importing sdk",
			listedPackage{ImportPath: m + "/sdk/abi", Name: "abi", Imports: []string{m + "/sdk"}}, "sdk/abi may import only"},
		{"wasmhost depending on gateway",
			listedPackage{ImportPath: m + "/wasmhost", Name: "wasmhost", Deps: []string{m + "/gateway/config"}}, "depends on " + m + "/gateway/config"},
		{"wasmhost importing abi and wazero is fine",
			listedPackage{ImportPath: m + "/wasmhost", Name: "wasmhost", Imports: []string{m + "/sdk/abi", "github.com/tetratelabs/wazero/api"}}, ""},
		{"mqtttopic importing koanf",
			listedPackage{ImportPath: m + "/gateway/mqtttopic", Name: "mqtttopic", Imports: []string{"github.com/knadh/koanf/v2"}}, "only the standard library"},
		{"config importing gateway",
			listedPackage{ImportPath: m + "/gateway/config", Name: "config", Imports: []string{m + "/gateway"}, Deps: []string{m + "/gateway"}}, "config"},
		{"admin depending on gateway",
			listedPackage{ImportPath: m + "/gateway/admin", Name: "admin", Deps: []string{m + "/gateway"}}, "depends on " + m + "/gateway:"},
		{"gatewaytest importing config is fine",
			listedPackage{ImportPath: m + "/gateway/gatewaytest", Name: "gatewaytest", Imports: []string{m + "/gateway/config"}, Deps: []string{m + "/gateway/config", m + "/gateway/mqtttopic"}}, ""},
		{"gatewaytest depending on gateway",
			listedPackage{ImportPath: m + "/gateway/gatewaytest", Name: "gatewaytest", Deps: []string{m + "/gateway"}}, "depends on " + m + "/gateway:"},
		{"plugin importing wasmhost",
			listedPackage{ImportPath: m + "/plugins/celsius", Name: "main", Imports: []string{m + "/wasmhost"}}, "plugins/... may import only"},
		{"plugin with protowire is fine",
			listedPackage{ImportPath: m + "/plugins/sparkplug", Name: "main", Imports: []string{m + "/sdk", "google.golang.org/protobuf/encoding/protowire"}}, ""},
		{"package named util",
			listedPackage{ImportPath: m + "/gateway/util", Name: "util"}, `package named "util"`},
		{"cmd may import anything",
			listedPackage{ImportPath: m + "/cmd/tributary", Name: "main", Imports: []string{m + "/gateway", "github.com/x/y"}}, ""},
		{"other modules are not checked",
			listedPackage{ImportPath: "other.org/sdk", Name: "sdk", Imports: []string{"github.com/x/y"}}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := checkBoundaries(m, []listedPackage{tc.pkg}, rules)
			if tc.want == "" {
				if len(got) != 0 {
					t.Fatalf("unexpected violations: %q", got)
				}
				return
			}
			if len(got) == 0 || !strings.Contains(strings.Join(got, "\n"), tc.want) {
				t.Fatalf("violations %q, want one containing %q", got, tc.want)
			}
		})
	}
}

func TestParseImportRules(t *testing.T) {
	row := func(cells string) string {
		return "intro\n" + rulesBegin + " -->\n| package | owns | ours | third | never |\n|---|---|---|---|---|\n" + cells + "\n" + rulesEnd + "\n"
	}
	rules, err := parseImportRules(row("| `a/...` | things | `b`, `c/...` | standard library | `d` |\n| `b` | more | any | any | — |"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 2 || rules[0].pkgs != "a/..." || len(rules[0].ours) != 2 || rules[0].ours[1] != "c/..." ||
		rules[0].thirdParty == nil || len(rules[0].thirdParty) != 0 || len(rules[0].forbidDeps) != 1 {
		t.Fatalf("first row parsed as %+v", rules[0])
	}
	if rules[1].ours != nil || rules[1].thirdParty != nil || rules[1].forbidDeps == nil || len(rules[1].forbidDeps) != 0 {
		t.Fatalf("second row parsed as %+v", rules[1])
	}
	for name, doc := range map[string]string{
		"no table":      "nothing here",
		"no end":        rulesBegin + " -->\n| `a` | x | any | any | — |\n",
		"no rows":       row(""),
		"four cells":    row("| `a` | x | any | any |"),
		"two packages":  row("| `a`, `b` | x | any | any | — |"),
		"bare word":     row("| `a` | x | gateway | any | — |"),
		"any forbidden": row("| `a` | x | any | any | any |"),
	} {
		if _, err := parseImportRules(doc); err == nil {
			t.Errorf("%s: parsed without error", name)
		}
	}
}

func TestCheckCoverage(t *testing.T) {
	const m = "example.com/trib"
	rules := []importRule{{pkgs: "sdk/..."}, {pkgs: "gateway"}, {pkgs: "gone/..."}}
	got := strings.Join(checkCoverage(m, []listedPackage{
		{ImportPath: m + "/sdk/abi"}, {ImportPath: m + "/gateway"}, {ImportPath: m + "/gateway/newpkg"}, {ImportPath: "other.org/x"},
	}, rules), "\n")
	for _, want := range []string{m + "/gateway/newpkg: no row", `row "gone/..." covers no package`} {
		if !strings.Contains(got, want) {
			t.Errorf("coverage messages %q lack %q", got, want)
		}
	}
	if strings.Contains(got, "sdk/abi") || strings.Contains(got, "other.org") || strings.Contains(got, `"gateway"`) {
		t.Errorf("coverage messages %q name a covered package or another module", got)
	}
}

// TestWorkspace checks go.work: it lists this module and the SDK's (sdk/go.mod) and nothing
// else, and its go and toolchain lines equal go.mod's, because with go.work present the go
// command takes the toolchain from go.work, not go.mod.
func TestWorkspace(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	read := func(name string) map[string]string {
		b, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		lines := map[string]string{}
		for _, l := range strings.Split(string(b), "\n") {
			for _, key := range []string{"go", "toolchain"} {
				if v, ok := strings.CutPrefix(strings.TrimSpace(l), key+" "); ok {
					lines[key] = v
				}
			}
		}
		return lines
	}
	mod, work := read("go.mod"), read("go.work")
	for _, key := range []string{"go", "toolchain"} {
		if mod[key] != work[key] {
			t.Errorf("go.work's %s line is %q, go.mod's %q: keep them equal", key, work[key], mod[key])
		}
	}
	cmd := exec.Command(goTool(), "list", "-m", "-f", "{{.Dir}}")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	want := root + "\n" + filepath.Join(root, "sdk")
	if got := strings.TrimSpace(string(out)); got != want {
		t.Fatalf("workspace modules:\n%s\nwant:\n%s", got, want)
	}
}
