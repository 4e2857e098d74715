package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/tributary-gw/tributary/cmd/tributary/internal/pluginkit"
)

// printNewAssemblyScript prints what `plugin new --lang assemblyscript` wrote and the next
// steps, each runnable as printed from the current folder, in order.
func printNewAssemblyScript(stdout io.Writer, name string, c *pluginkit.Created) error {
	compiler, err := pluginkit.ASCompilerVersion()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created AssemblyScript plugin %s in %s:\n", name, c.Dir)
	sdkFiles := 0
	for _, f := range c.Files {
		if strings.HasPrefix(f, pluginkit.ASSDKFolder+"/") {
			sdkFiles++
			continue
		}
		fmt.Fprintf(stdout, "  %s\n", filepath.Join(c.Dir, filepath.FromSlash(f)))
	}
	fmt.Fprintf(stdout, "  %s%c  (the Tributary AssemblyScript SDK, ABI v1: %d files from this binary;\n", filepath.Join(c.Dir, pluginkit.ASSDKFolder), filepath.Separator, sdkFiles)
	fmt.Fprintf(stdout, "      package.json depends on it as \"@tributary-gw/sdk\": \"file:%s\")\n", pluginkit.ASSDKFolder)
	wasm := "../" + name + ".wasm"
	fmt.Fprintln(stdout, "\nNext steps (Node.js 20 or later and npm):")
	fmt.Fprintf(stdout, "  cd %s\n", c.Dir)
	fmt.Fprintf(stdout, "  npm install       # the AssemblyScript compiler %s from npm\n", compiler)
	fmt.Fprintf(stdout, "  npm run build     # asc -> %s; edit assembly/index.ts\n", wasm)
	fmt.Fprintf(stdout, "  tributary plugin test %s --input testdata/input.jsonl --config '{\"field\":\"temp\",\"unit\":\"F\"}'\n", wasm)
	fmt.Fprintf(stdout, "  then put %s.wasm in the gateway's plugins.dir (%s, where the build writes it)\n  and add it to a route's chain:\n", name, filepath.Dir(c.Dir))
	fmt.Fprintf(stdout, "    chain: [{plugin: %s, config: {field: temp, unit: F}}]\n", name)
	return nil
}

// asBuildError is `plugin build`'s answer for an AssemblyScript plugin folder: how to build it.
func asBuildError(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	return fmt.Errorf("%s is an AssemblyScript plugin (package.json, no .go files): build it with npm: cd %s && npm install && npm run build (writes ../%s.wasm), then tributary plugin test it",
		abs, dir, filepath.Base(abs))
}
