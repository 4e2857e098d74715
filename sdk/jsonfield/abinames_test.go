package jsonfield

import (
	"os"
	"regexp"
	"slices"
	"strconv"
	"testing"

	"github.com/tributary-gw/tributary/sdk/abi"
)

// TestHostImportNames checks that the //go:wasmimport directives of
// host_wasip1.go (which must be literal strings) name exactly the JSON
// imports sdk/abi defines, in module abi.ImportModule, and that the result
// codes there equal abi's, so the guest's names cannot drift from the host's.
func TestHostImportNames(t *testing.T) {
	src, err := os.ReadFile("host_wasip1.go")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range regexp.MustCompile(`(?m)^//go:wasmimport (\S+) (\S+)\s*$`).FindAllSubmatch(src, -1) {
		if mod := string(m[1]); mod != abi.ImportModule {
			t.Errorf("//go:wasmimport %s %s: module %q, want abi.ImportModule %q", m[1], m[2], mod, abi.ImportModule)
		}
		name := string(m[2])
		if !slices.Contains(abi.ImportsJSON, name) {
			t.Errorf("//go:wasmimport %s %s: %q is not one of abi.ImportsJSON %v", m[1], m[2], name, abi.ImportsJSON)
		}
		got = append(got, name)
	}
	for _, name := range abi.ImportsJSON {
		if !slices.Contains(got, name) {
			t.Errorf("abi import %q has no //go:wasmimport in host_wasip1.go (found %v)", name, got)
		}
	}
	for name, want := range map[string]int64{"codeNotFound": abi.JSONNotFound, "codeMalformed": abi.JSONMalformed} {
		m := regexp.MustCompile(`(?m)^\s*` + name + `\s*=\s*(-?\d+)\s*$`).FindSubmatch(src)
		if m == nil {
			t.Errorf("host_wasip1.go: no constant %s", name)
			continue
		}
		if v, _ := strconv.ParseInt(string(m[1]), 10, 64); v != want {
			t.Errorf("host_wasip1.go: %s = %d, want %d (sdk/abi)", name, v, want)
		}
	}
}
