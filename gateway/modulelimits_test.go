package gateway

import (
	"testing"

	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/wasmhost"
)

// TestModuleLimitDefaults: the configuration's default module limits are wasmhost's, so the
// effective configuration `tributary validate` prints is what the pre-check applies; a
// tenant's limits.module fields override the gateway's one by one.
func TestModuleLimitDefaults(t *testing.T) {
	def := config.Default().Plugins.Limits
	got := ModuleLimits(def)
	want := wasmhost.ModuleLimits{MaxMemoryPages: uint32(def.MemoryMB) * 16}.WithDefaults()
	if got != want {
		t.Errorf("config defaults map to %+v, wasmhost's defaults are %+v", got, want)
	}
	tm := tenantModuleLimits(def.Module, config.ModuleLimits{MaxNesting: 100})
	if tm.MaxNesting != 100 || tm.MaxFunctions != def.Module.MaxFunctions {
		t.Errorf("tenant override: %+v", tm)
	}
}
