package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tributary-gw/tributary/gateway/gatewaytest"
)

// child is a tributary (or test binary) process under test, its output captured.
type child struct {
	cmd            *exec.Cmd
	stdout, stderr gatewaytest.SyncBuffer
	done           chan struct{}
}

func startChild(t *testing.T, env []string, bin string, args ...string) *child {
	t.Helper()
	c := &child{cmd: exec.Command(bin, args...), done: make(chan struct{})}
	c.cmd.Env = env
	c.cmd.Stdout, c.cmd.Stderr = &c.stdout, &c.stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = c.cmd.Wait(); close(c.done) }()
	t.Cleanup(func() {
		_ = c.cmd.Process.Kill()
		<-c.done
	})
	return c
}

// waitOutput waits until re matches the child's stdout or stderr and returns the match,
// failing the test when the child exits first or timeout passes.
func (c *child) waitOutput(t *testing.T, re *regexp.Regexp, timeout time.Duration) []string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		for _, out := range []string{c.stdout.String(), c.stderr.String()} {
			if m := re.FindStringSubmatch(out); m != nil {
				return m
			}
		}
		select {
		case <-c.done:
			t.Fatalf("exited (%v) before printing %q\nstdout:\n%s\nstderr:\n%s", c.cmd.ProcessState, re, c.stdout.String(), c.stderr.String())
		case <-deadline:
			t.Fatalf("no %q within %s\nstdout:\n%s\nstderr:\n%s", re, timeout, c.stdout.String(), c.stderr.String())
		case <-time.After(50 * time.Millisecond): // polling the output
		}
	}
}

// interrupt sends SIGINT n times and returns the exit code, failing the test when the
// process has not exited within bound.
func (c *child) interrupt(t *testing.T, n int, bound time.Duration) int {
	t.Helper()
	for range n {
		if err := c.cmd.Process.Signal(syscall.SIGINT); err != nil && !errors.Is(err, os.ErrProcessDone) {
			t.Fatal(err)
		}
	}
	select {
	case <-c.done:
		return c.cmd.ProcessState.ExitCode()
	case <-time.After(bound):
		t.Fatalf("still running %s after SIGINT\nstdout:\n%s\nstderr:\n%s", bound, c.stdout.String(), c.stderr.String())
		return -1
	}
}

// devPlugins is the --plugin-cache the dev tests share, so the example plugins are built
// once per test binary: see devPluginCache.
var devPlugins struct {
	once sync.Once
	dir  string
	err  error
}

// devPluginCache returns the plugin cache folder the dev tests share (built plugins and a
// link to the shared compile cache), removed by TestMain.
func devPluginCache(t *testing.T) string {
	t.Helper()
	devPlugins.once.Do(func() {
		devPlugins.dir, devPlugins.err = os.MkdirTemp("", "tributary-dev-test-plugins-")
		if devPlugins.err == nil {
			linkCompileCache(t, filepath.Join(devPlugins.dir, "compiled")) // where dev keeps machine code
		}
	})
	if devPlugins.err != nil {
		t.Fatal(devPlugins.err)
	}
	return devPlugins.dir
}

// stopBound is how long the tests give dev and bench to exit after SIGINT: stopGrace plus
// room for a loaded machine; a hang shows as a failure rather than a stuck test.
const stopBound = stopGrace + 20*time.Second

var (
	devCurlStatus = regexp.MustCompile(`curl -s -H 'Authorization: Bearer (\S+)' (http://\S+)/api/v1/status\n`)
	devCurlUpload = regexp.MustCompile(`curl -s -X PUT -H 'Authorization: Bearer \S+' --data-binary @(\S+) (http://\S+/api/v1/tenants/_/plugins/\S+)\n`)
)

// adminCall makes the request a printed curl line makes and returns status and body.
func adminCall(t *testing.T, method, url, token string, body io.Reader) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestDev_AdminAPIAndInterrupt runs `tributary dev` as a user would at a high rate: the curl
// lines of its banner work as printed (status, reload, plugin upload), and SIGINT stops it,
// with its summary and exit code 0, within a bounded time.
func TestDev_AdminAPIAndInterrupt(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and the example plugins")
	}
	bin := gatewaytest.BuildBinary(t, "./cmd/tributary")
	cache := devPluginCache(t)
	c := startChild(t, childEnv(), bin, "dev", "--quiet", "--mqtt-port", "0", "--kafka-port", "0", "--admin-port", "0",
		"--sensors", "50", "--rate", "2000", "--plugin-cache", cache)
	m := c.waitOutput(t, devCurlStatus, 4*time.Minute) // a cold first run builds the plugins
	token, base := m[1], m[2]
	gatewaytest.WaitFor(t, 30*time.Second, func() error {
		code, body := adminCall(t, "GET", base+"/api/v1/status", token, nil)
		if code != http.StatusOK || !strings.Contains(body, `"building-sensors-raw"`) {
			return fmt.Errorf("GET /api/v1/status: %d %s", code, body)
		}
		return nil
	})
	if code, body := adminCall(t, "GET", base+"/api/v1/status", "wrong-token-0123456789", nil); code != http.StatusUnauthorized {
		t.Errorf("status with a wrong token: %d %s, want 401", code, body)
	}
	if code, body := adminCall(t, "POST", base+"/api/v1/reload", token, nil); code != http.StatusOK {
		t.Errorf("POST /api/v1/reload as printed: %d %s", code, body)
	}
	up := devCurlUpload.FindStringSubmatch(c.stdout.String())
	if up == nil {
		t.Fatalf("no plugin upload line in the banner:\n%s", c.stdout.String())
	}
	wasm, err := os.Open(up[1])
	if err != nil {
		t.Fatalf("the banner's upload names %s: %v", up[1], err)
	}
	defer wasm.Close()
	if code, body := adminCall(t, "PUT", up[2], token, wasm); code/100 != 2 {
		t.Errorf("PUT %s as printed: %d %s", up[2], code, body)
	}

	if code := c.interrupt(t, 1, stopBound); code != 0 {
		t.Errorf("exit code %d after SIGINT, want 0\nstderr:\n%s", code, c.stderr.String())
	}
	if out := c.stdout.String(); !strings.Contains(out, "stopped after") {
		t.Errorf("no summary after SIGINT:\n%s", out)
	}
}

// TestBench_Interrupt interrupts a default-broker `tributary bench` while it publishes: it
// must exit within a bounded time, saying it was interrupted.
func TestBench_Interrupt(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := gatewaytest.BuildBinary(t, "./cmd/tributary")
	c := startChild(t, childEnv(), bin, "bench", "--mode", "rate", "--rate", "2000", "--duration", "5m", "--topics", "50")
	c.waitOutput(t, regexp.MustCompile(`publishing`), 2*time.Minute)
	code := c.interrupt(t, 1, stopBound)
	if code == 0 || !strings.Contains(c.stderr.String(), "interrupted") {
		t.Errorf("exit code %d, want non-zero and a message saying interrupted\nstderr:\n%s", code, c.stderr.String())
	}
}

// stuckCommandEnv makes this test binary, run as a child, act as a command that never stops
// (see TestMain's caller below), so that the second-interrupt and grace paths can be seen.
const stuckCommandEnv = "TRIBUTARY_TEST_STUCK_COMMAND"

// TestQuitOnSecondInterrupt runs a command stuck in its stop (this test binary as a child):
// a second SIGINT quits at once with 130, and without one the grace period ends it with 1.
func TestQuitOnSecondInterrupt(t *testing.T) {
	if os.Getenv(stuckCommandEnv) != "" {
		t.Skip("runs only in the parent")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		signals  int
		wantCode int
		wantErr  string
	}{
		{"second interrupt", 2, exitInterrupted, "quit on second interrupt"},
		{"grace passes", 1, 1, "did not stop within 1s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := append(os.Environ(), stuckCommandEnv+"=1")
			c := startChild(t, env, self, "-test.run=^TestStuckCommand$")
			c.waitOutput(t, regexp.MustCompile(`stuck command ready`), time.Minute)
			if tc.signals == 2 {
				if err := c.cmd.Process.Signal(syscall.SIGINT); err != nil {
					t.Fatal(err)
				}
				c.waitOutput(t, regexp.MustCompile(`stopping \(Ctrl-C again`), time.Minute)
				tc.signals = 1
			}
			if code := c.interrupt(t, tc.signals, time.Minute); code != tc.wantCode {
				t.Errorf("exit code %d, want %d\nstderr:\n%s", code, tc.wantCode, c.stderr.String())
			}
			if !strings.Contains(c.stderr.String(), tc.wantErr) {
				t.Errorf("stderr lacks %q:\n%s", tc.wantErr, c.stderr.String())
			}
		})
	}
}

// TestStuckCommand is the child of TestQuitOnSecondInterrupt: a command that ignores its
// context, as a dev or bench stuck in a broker would.
func TestStuckCommand(t *testing.T) {
	if os.Getenv(stuckCommandEnv) == "" {
		t.Skip("run by TestQuitOnSecondInterrupt")
	}
	release := quitOnSecondInterrupt("test", time.Second, os.Stderr)
	defer release()
	fmt.Fprintln(os.Stderr, "stuck command ready")
	time.Sleep(time.Hour) // stuck; only quitOnSecondInterrupt's os.Exit ends the process
}
