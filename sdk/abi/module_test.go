package abi_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/tributary-gw/tributary/sdk/abi"
)

// The module version's minor number is the ABI version, and the module's go.mod declares
// ModulePath.
func TestModuleVersionFollowsABI(t *testing.T) {
	var major, minor, patch int
	if n, err := fmt.Sscanf(abi.ModuleVersion, "v%d.%d.%d", &major, &minor, &patch); n != 3 || err != nil ||
		fmt.Sprintf("v%d.%d.%d", major, minor, patch) != abi.ModuleVersion {
		t.Fatalf("ModuleVersion %q is not vMAJOR.MINOR.PATCH (%v)", abi.ModuleVersion, err)
	}
	if major != 0 || minor != abi.Version {
		t.Fatalf("ModuleVersion %s: want v0.%d.PATCH (minor = abi.Version)", abi.ModuleVersion, abi.Version)
	}
	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	if first, _, _ := strings.Cut(string(mod), "\n"); first != "module "+abi.ModulePath {
		t.Fatalf("sdk/go.mod starts %q, want module %s", first, abi.ModulePath)
	}
}
