//go:build ignore

// generate.go writes sdk.tar.gz from the repository's sdk folder: go generate runs it in
// cmd/tributary/internal/sdksource.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/tributary-gw/tributary/cmd/tributary/internal/sdksource"
)

func main() {
	src := filepath.Join("..", "..", "..", "..", "sdk")
	b, err := sdksource.Pack(src)
	if err == nil {
		err = os.WriteFile(sdksource.ArchiveName, b, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sdksource:", err)
		os.Exit(1)
	}
	fmt.Printf("wrote %s from %s (%d bytes)\n", sdksource.ArchiveName, src, len(b))
}
