package main

import (
	"os"
	"testing"

	"github.com/tributary-gw/tributary/sdk/sdktest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	sdktest.Cleanup()
	os.Exit(code)
}
