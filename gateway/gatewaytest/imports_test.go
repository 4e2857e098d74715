package gatewaytest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path"
	"strings"
	"testing"
)

// importRule states what the packages under one path may import (STYLE.md
// B1). Paths are relative to the module; "x/..." means x and everything under
// it, anything else means exactly that package.
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

// stdlibOnly is an empty allowlist: standard library only.
var stdlibOnly = []string{}

// importRules is the table of STYLE.md B1. The most specific rule for a package
// applies; packages no rule covers (cmd, examples) may import anything.
var importRules = []importRule{
	{pkgs: "sdk/...", ours: []string{"sdk/..."}, thirdParty: stdlibOnly,
		why: "the guest SDK imports only the standard library and sdk/..., so plugin builds stay small"},
	{pkgs: "sdk/abi/...", ours: []string{"sdk/abi/..."}, thirdParty: stdlibOnly,
		why: "sdk/abi is the wire format leaf shared by host and guests"},
	{pkgs: "sdk/sdktest/...", ours: []string{"sdk/..."}, thirdParty: []string{"github.com/tetratelabs/wazero/..."},
		why: "sdktest may import sdk/abi (DESIGN.md layout); running guests needs wazero"},
	{pkgs: "wasmhost/...", ours: []string{"wasmhost/...", "sdk/abi/..."},
		thirdParty: []string{"github.com/tetratelabs/wazero/...", "golang.org/x/sync/..."},
		forbidDeps: []string{"gateway/...", "cmd/...", "sdk/jsonfield/..."},
		why:        "wasmhost sits below gateway and imports only sdk/abi and wazero; host imports beyond log are extensions registered by its user"},
	{pkgs: "wasmhost/hostfunc/...", ours: []string{"wasmhost/hostfunc/..."}, thirdParty: []string{"github.com/tetratelabs/wazero/api"},
		why: "hostfunc is the leaf wasmhost and its extensions share: one host function and the guest-memory accessors"},
	{pkgs: "wasmhost/jsonimports/...", ours: []string{"wasmhost/jsonimports/...", "wasmhost/hostfunc/...", "sdk/abi/...", "sdk/jsonfield/..."},
		thirdParty: []string{"github.com/tetratelabs/wazero/api"},
		forbidDeps: []string{"wasmhost", "gateway/...", "cmd/..."},
		why:        "the JSON imports extension runs sdk/jsonfield on guest memory and is registered with wasmhost, never importing it"},
	{pkgs: "gateway", ours: []string{"gateway/...", "wasmhost/...", "sdk/abi/..."}, forbidDeps: []string{"cmd/..."},
		why: "gateway imports its subpackages and wasmhost"},
	{pkgs: "gateway/internal/...", forbidDeps: []string{"gateway", "cmd/..."},
		why: "gateway/internal serves gateway and cannot import it"},
	{pkgs: "gateway/mqtttopic/...", ours: []string{"gateway/mqtttopic/..."}, thirdParty: stdlibOnly,
		why: "mqtttopic is pure and standard library only"},
	{pkgs: "gateway/config/...", ours: []string{"gateway/config/...", "gateway/mqtttopic/..."}, forbidDeps: []string{"gateway"},
		why: "config imports only mqtttopic, never gateway"},
	{pkgs: "gateway/admin/...", ours: []string{"gateway/admin/...", "gateway/config/...", "gateway/mqtttopic/...", "gateway/pluginstore/..."},
		forbidDeps: []string{"gateway"},
		why:        "admin declares the interfaces it needs; importing gateway would be a cycle"},
	{pkgs: "gateway/pluginstore/...", ours: []string{"gateway/pluginstore/..."}, thirdParty: stdlibOnly,
		why: "pluginstore keeps plugin files and their versions with the standard library alone"},
	{pkgs: "gateway/gatewaytest/...", ours: []string{"gateway/gatewaytest/...", "gateway/config/...", "gateway/mqtttopic/..."},
		forbidDeps: []string{"gateway"},
		why:        "in-package gateway tests import gatewaytest; the reverse edge is a cycle"},
	{pkgs: "plugins/internal/...", ours: []string{"sdk/...", "wasmhost/...", "plugins/internal/..."}, forbidDeps: []string{"cmd/..."},
		why: "test support for the plugins' tests: runs them through wasmhost; plugin code never imports it"},
	{pkgs: "plugins/...", ours: []string{"sdk/..."},
		thirdParty: []string{"google.golang.org/protobuf/encoding/protowire"},
		why:        "first-party plugins are built with the SDK alone (protowire is the listed exception)"},
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
	modOut, err := exec.Command(goTool(), "list", "-m").Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	module := strings.TrimSpace(string(modOut))

	cmd := exec.Command(goTool(), "list", "-e", "-json=ImportPath,Name,Imports,Deps", "./...")
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
	for _, msg := range checkBoundaries(module, pkgs, importRules) {
		t.Error(msg)
	}
}

func TestCheckBoundaries(t *testing.T) {
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
			listedPackage{ImportPath: m + "/sdk/abi", Name: "abi", Imports: []string{m + "/sdk"}}, "sdk/abi/... may import only"},
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
			listedPackage{ImportPath: m + "/gateway/gatewaytest", Name: "gatewaytest", Deps: []string{m + "/gateway"}}, "cycle"},
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
			got := checkBoundaries(m, []listedPackage{tc.pkg}, importRules)
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
