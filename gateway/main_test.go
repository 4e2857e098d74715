package gateway_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/tributary-gw/tributary/gateway"
	"github.com/tributary-gw/tributary/gateway/gatewaytest"
	"github.com/tributary-gw/tributary/sdk/sdktest"
	"github.com/tributary-gw/tributary/wasmhost/wasmtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	sdktest.Cleanup()
	gatewaytest.RemoveBuilds()
	os.Exit(code)
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// compileCache returns the compile cache that test binaries share (wasmtest.CompileCacheDir),
// so each distinct plugin is compiled once per machine rather than once per test; "" (compile
// without a cache) when it cannot be had.
func compileCache(t *testing.T) string {
	dir, err := wasmtest.CompileCacheDir()
	if err != nil {
		t.Logf("no shared compile cache, compiling plugins in this test: %v", err)
		return ""
	}
	return dir
}

func gatewayWithReload(path string) gateway.Option { return gateway.WithReloadFrom(path, nil) }

// containsLine reports whether the Prometheus text m has metric name with a value of at least min.
func containsLine(m, name string, min float64) bool {
	for _, line := range strings.Split(m, "\n") {
		var v float64
		if strings.HasPrefix(line, name+" ") {
			if _, err := fmt.Sscanf(line[len(name)+1:], "%g", &v); err == nil && v >= min {
				return true
			}
		}
	}
	return false
}
