package main

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/tributary-gw/tributary/sdk/abi"
)

// TestVersionLine words build information of each kind: a release, a dirty checkout, none.
func TestVersionLine(t *testing.T) {
	platform := fmt.Sprintf(", %s %s/%s", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	abiPart := fmt.Sprintf(", plugin ABI %d", abi.Version)
	wazero := []*debug.Module{{Path: "github.com/tetratelabs/wazero", Version: "v1.12.0"}}
	tests := []struct {
		name   string
		linked string // main.version set at link time
		info   *debug.BuildInfo
		want   string
	}{
		{
			name: "release",
			info: &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}, Deps: wazero, Settings: []debug.BuildSetting{
				{Key: "vcs.revision", Value: "5b5731c6f1a2d4e0aa00bb11cc22dd33ee44ff55"}, {Key: "vcs.time", Value: "2026-12-07T02:30:00Z"}, {Key: "vcs.modified", Value: "false"}}},
			want: "tributary v1.4.0, commit 5b5731c6f1a2 (2026-12-07T02:30:00Z)" + abiPart + ", wazero v1.12.0" + platform,
		},
		{
			name: "modified checkout",
			info: &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
				{Key: "vcs.revision", Value: "abc"}, {Key: "vcs.modified", Value: "true"}}},
			want: "tributary (devel), commit abc-dirty" + abiPart + platform,
		},
		{
			name:   "linked version, no vcs",
			linked: "v2.0.0-rc1",
			info:   &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}},
			want:   "tributary v2.0.0-rc1, commit unknown" + abiPart + platform,
		},
		{name: "no build info", want: "tributary (devel), commit unknown" + abiPart + platform},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			old := version
			version = tc.linked
			defer func() { version = old }()
			if got := versionLine(tc.info); got != tc.want {
				t.Errorf("versionLine =\n %q\nwant\n %q", got, tc.want)
			}
		})
	}
}

// TestVersionCommand checks that --version, -version and version print the same one line.
func TestVersionCommand(t *testing.T) {
	var first string
	for _, args := range [][]string{{"--version"}, {"-version"}, {"version"}} {
		var stdout, stderr bytes.Buffer
		if code := runMain(context.Background(), args, &stdout, &stderr); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr.String())
		}
		out := stdout.String()
		if strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, "tributary ") || !strings.Contains(out, fmt.Sprintf("plugin ABI %d", abi.Version)) {
			t.Errorf("%v printed %q, want one line with the ABI version", args, out)
		}
		if first == "" {
			first = out
		} else if out != first {
			t.Errorf("%v printed %q, --version %q", args, out, first)
		}
	}
}

// TestDidYouMean checks the suggestions for a mistyped command and flag.
func TestDidYouMean(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"valdate"}, `unknown command "valdate"; did you mean validate?`},
		{[]string{"help", "imprt-connect"}, `unknown command "imprt-connect"; did you mean import-connect?`},
		{[]string{"validate", "--confg", "x.yaml"}, "flag provided but not defined: -confg; did you mean --config?"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"` + "\n"},
	} {
		var stdout, stderr bytes.Buffer
		if code := runMain(context.Background(), tc.args, &stdout, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2", tc.args, code)
		}
		if !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: stderr lacks %q:\n%s", tc.args, tc.want, stderr.String())
		}
	}
}
