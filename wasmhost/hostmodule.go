package wasmhost

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/tributary-gw/tributary/sdk/abi"
	"github.com/tributary-gw/tributary/wasmhost/hostfunc"
)

// logFunction is tributary.log (sdk/ABI.md §2), the one function of module
// tributary every Host provides. Func is nil: tributaryFunctions binds it
// to a Host.
var logFunction = hostfunc.Function{
	Name:       abi.ImportLog,
	Params:     []api.ValueType{api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32},
	ParamNames: []string{"level", "ptr", "len"},
}

// checkExtensions reports every extension that cannot be added to module
// tributary next to log: a duplicate name, the name log, no name, no
// implementation, or parameter names that do not match the parameters.
func checkExtensions(exts []hostfunc.Function) error {
	var errs []error
	seen := map[string]bool{logFunction.Name: true}
	for i, f := range exts {
		switch {
		case f.Name == "":
			errs = append(errs, fmt.Errorf("wasmhost: extension %d has no name", i))
		case f.Name == logFunction.Name:
			errs = append(errs, fmt.Errorf("wasmhost: extension %s.%s clashes with the ABI's own %s.%s",
				abi.ImportModule, f.Name, abi.ImportModule, logFunction.Name))
		case seen[f.Name]:
			errs = append(errs, fmt.Errorf("wasmhost: extension %s.%s is registered twice", abi.ImportModule, f.Name))
		}
		seen[f.Name] = true
		if f.Func == nil {
			errs = append(errs, fmt.Errorf("wasmhost: extension %s.%s has no implementation (Func is nil)", abi.ImportModule, f.Name))
		}
		if len(f.ParamNames) != 0 && len(f.ParamNames) != len(f.Params) {
			errs = append(errs, fmt.Errorf("wasmhost: extension %s.%s has %d parameter names for %d parameters",
				abi.ImportModule, f.Name, len(f.ParamNames), len(f.Params)))
		}
	}
	return errors.Join(errs...)
}

// tributaryFunctions returns log, implemented by h, then exts: every
// function of h's module tributary.
func (h *Host) tributaryFunctions(exts []hostfunc.Function) []hostfunc.Function {
	log := logFunction
	log.Func = h.hostLog
	return append([]hostfunc.Function{log}, exts...)
}

// findImport returns the function of h's module tributary called name.
func (h *Host) findImport(name string) (hostfunc.Function, bool) {
	for _, f := range h.tributary {
		if f.Name == name {
			return f, true
		}
	}
	return hostfunc.Function{}, false
}

// tributaryNames lists the names of h's module tributary, for errors.
func (h *Host) tributaryNames() string {
	names := make([]string, len(h.tributary))
	for i, f := range h.tributary {
		names[i] = f.Name
	}
	return strings.Join(names, ", ")
}

// instantiateTributary adds module tributary, with every function of
// h.tributary, to rt.
func (h *Host) instantiateTributary(ctx context.Context, rt wazero.Runtime) error {
	b := rt.NewHostModuleBuilder(abi.ImportModule)
	for _, f := range h.tributary {
		b = b.NewFunctionBuilder().
			WithGoModuleFunction(f.Func, f.Params, f.Results).
			WithParameterNames(f.ParamNames...).
			Export(f.Name)
	}
	_, err := b.Instantiate(ctx)
	return err
}

// extensionSignature is an extension's name and wasm signature: what the
// compile child needs to check imports as the Host does.
type extensionSignature struct {
	Name    string          `json:"name"`
	Params  []api.ValueType `json:"params,omitempty"`
	Results []api.ValueType `json:"results,omitempty"`
}

// extensionSignatures returns the signatures of h's extensions (every
// function of module tributary but log).
func (h *Host) extensionSignatures() []extensionSignature {
	var sigs []extensionSignature
	for _, f := range h.tributary[1:] {
		sigs = append(sigs, extensionSignature{Name: f.Name, Params: f.Params, Results: f.Results})
	}
	return sigs
}

// signatureFunctions turns sigs back into functions without
// implementations: enough for checkModule, not for a runtime.
func signatureFunctions(sigs []extensionSignature) []hostfunc.Function {
	fs := make([]hostfunc.Function, len(sigs))
	for i, s := range sigs {
		fs[i] = hostfunc.Function{Name: s.Name, Params: s.Params, Results: s.Results}
	}
	return fs
}
