package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/tributary-gw/tributary/sdk/abi"
)

const versionUsage = `Usage: tributary version   (or tributary --version)

Prints one line: the gateway's version, the commit it was built from, the plugin ABI version
it runs (plugins built for another ABI version are refused), the wazero version that compiles
plugins, and the Go version and platform, for example

  tributary v1.4.0, commit 5b5731c6f1a2 (2026-12-07T02:30:00Z), plugin ABI 1, wazero v1.12.0, go1.27.3 linux/amd64

The version is the module version the binary was built as: a release tag for
'go install github.com/tributary-gw/tributary/cmd/tributary@vX.Y.Z', a pseudo-version or
"(devel)" for a build from a checkout, or what the release build set with
-ldflags "-X main.version=...". The commit and its time come from the version control
information go build records (with "-dirty" when the tree had uncommitted changes);
"commit unknown" when the binary carries none (go run, go test, -buildvcs=false, or a
build outside a repository).
`

// version, when set at link time (-ldflags "-X main.version=v1.2.3"), overrides the module
// version read from the build information.
var version string

func init() {
	commands["version"] = &command{summary: "print the version, commit and plugin ABI version", usage: versionUsage, run: versionCommand}
}

// versionCommand runs `tributary version`; see versionUsage.
func versionCommand(_ context.Context, args []string, stdout, _ io.Writer) error {
	fs := newFlagSet("version", versionUsage, stdout)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	info, _ := debug.ReadBuildInfo()
	fmt.Fprintln(stdout, versionLine(info))
	return nil
}

// versionLine words the build information info (nil when the binary has none) as one line.
func versionLine(info *debug.BuildInfo) string {
	v, commit, when, dirty, wazero := version, "", "", false, ""
	if info != nil {
		if v == "" {
			v = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.time":
				when = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		for _, d := range info.Deps {
			if d.Path == "github.com/tetratelabs/wazero" {
				wazero = d.Version
				if d.Replace != nil {
					wazero = d.Replace.Version + " (replaced)"
				}
			}
		}
	}
	if v == "" {
		v = "(devel)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "tributary %s, ", v)
	switch {
	case commit == "":
		b.WriteString("commit unknown")
	default:
		if len(commit) > 12 {
			commit = commit[:12]
		}
		b.WriteString("commit " + commit)
		if dirty {
			b.WriteString("-dirty")
		}
		if when != "" {
			b.WriteString(" (" + when + ")")
		}
	}
	fmt.Fprintf(&b, ", plugin ABI %d", abi.Version)
	if wazero != "" {
		b.WriteString(", wazero " + wazero)
	}
	fmt.Fprintf(&b, ", %s %s/%s", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return b.String()
}
