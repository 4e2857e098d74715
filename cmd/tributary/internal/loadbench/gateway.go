package loadbench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tributary-gw/tributary/cmd/tributary/internal/devstack"
	"github.com/tributary-gw/tributary/gateway"
	"github.com/tributary-gw/tributary/gateway/config"
)

// Gateway modes for Options.Gateway.
const (
	GatewayInProcess  = "inprocess"
	GatewaySubprocess = "subprocess"
	GatewayExternal   = "external"
)

// gatewayConfig returns the YAML of the gateway under test: the routes l lays out (payload as
// is, key the MQTT topic, with the plugin chain, values encoded with Options.Schema through
// the registry at registryURL when set), top-level or in tenant folders it writes under dir,
// and the plugins' folders.
func gatewayConfig(o *Options, l layout, mqttURL string, brokers []string, registryURL, adminAddr, dir string) ([]byte, error) {
	var b bytes.Buffer
	q := strconv.Quote
	fmt.Fprintf(&b, "mqtt:\n  url: %s\n  client_id: %s\n  clean_start: false\n  session_expiry: 1h\n", q(mqttURL), q(o.ClientID))
	if o.Protocol != "" {
		fmt.Fprintf(&b, "  protocol: %s\n", q(o.Protocol))
	}
	b.WriteString("kafka:\n  brokers: [")
	for i, k := range brokers {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(q(k))
	}
	b.WriteString("]\n")
	if registryURL != "" {
		fmt.Fprintf(&b, "  schema_registry:\n    url: %s\n", q(registryURL))
	}
	if o.PluginDir != "" {
		fmt.Fprintf(&b, "plugins:\n  dir: %s\n", q(o.PluginDir))
		if o.PluginCacheDir != "" {
			fmt.Fprintf(&b, "  cache_dir: %s\n", q(o.PluginCacheDir))
		}
	}
	fmt.Fprintf(&b, "admin:\n  listen: %s\nlog:\n  level: warn\n", q(adminAddr))
	if o.Tenants > 0 {
		root, err := l.writeTenants(dir)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "tenants:\n  dir: %s\n", q(root))
		return b.Bytes(), nil
	}
	b.WriteString("routes:\n")
	l.writeRoutes(&b, 0, "  ")
	return b.Bytes(), nil
}

// runningGateway is the gateway under test, whichever way it runs.
type runningGateway struct {
	pid       int    // the subprocess, or 0
	adminAddr string // "" for an external gateway
	stop      func() error
	exited    <-chan struct{} // closed if the gateway stops on its own
	errOut    *cappedBuffer   // the subprocess's stderr (capped)
}

// startGateway starts the gateway as Options.Gateway says. For external it returns a gateway
// with nothing to stop. Once hurry is closed (the run was interrupted), stopping a subprocess
// gives its drain 2s instead of 40s before killing it; nil never hurries.
func startGateway(o *Options, cfgYAML []byte, adminAddr, dir string, hurry <-chan struct{}) (*runningGateway, error) {
	switch o.Gateway {
	case GatewayExternal:
		return &runningGateway{stop: func() error { return nil }, exited: make(chan struct{})}, nil
	case GatewayInProcess:
		cfg, err := config.LoadBytes(cfgYAML, nil)
		if err != nil {
			return nil, fmt.Errorf("gateway config: %w", err)
		}
		log := slog.New(slog.NewTextHandler(o.logOut(), &slog.HandlerOptions{Level: slog.LevelWarn}))
		// Build and run the gateway under the profiler label part=gateway, which every
		// goroutine it starts inherits: `go tool pprof -tagfocus part=gateway` then shows the
		// gateway's own costs in a --cpuprofile of the whole process.
		ctx, cancel := context.WithCancel(context.Background())
		built, done := make(chan error, 1), make(chan struct{})
		var runErr error
		go pprof.Do(ctx, pprof.Labels("part", "gateway"), func(ctx context.Context) {
			defer close(done)
			gw, err := gateway.New(cfg, gateway.WithLogger(log))
			built <- err
			if err != nil {
				return
			}
			runErr = gw.Run(ctx)
		})
		if err := <-built; err != nil {
			cancel()
			return nil, fmt.Errorf("gateway: %w", err)
		}
		return &runningGateway{adminAddr: adminAddr, exited: done, stop: func() error {
			cancel()
			<-done
			return runErr
		}}, nil
	case GatewaySubprocess:
		path := filepath.Join(dir, "gateway.yaml")
		if err := os.WriteFile(path, cfgYAML, 0o600); err != nil {
			return nil, fmt.Errorf("gateway config %s: %w", path, err)
		}
		exe := o.Executable
		if exe == "" {
			return nil, errors.New("gateway subprocess: no executable (Options.Executable)")
		}
		cmd := exec.Command(exe, "run", "--config", path)
		cmd.Env = gatewayEnv(os.Environ(), o.GatewayEnv)
		errOut := &cappedBuffer{max: 64 << 10}
		cmd.Stdout = io.Discard
		cmd.Stderr = io.MultiWriter(errOut, o.logOut())
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("gateway subprocess %s: %w", exe, err)
		}
		done := make(chan struct{})
		var waitErr error
		go func() { waitErr = cmd.Wait(); close(done) }()
		return &runningGateway{pid: cmd.Process.Pid, adminAddr: adminAddr, exited: done, errOut: errOut,
			stop: func() error {
				_ = cmd.Process.Signal(syscall.SIGTERM)
				grace := 40 * time.Second
				select {
				case <-hurry:
					grace = 2 * time.Second
				default:
				}
				select {
				case <-done:
				case <-time.After(grace):
					_ = cmd.Process.Kill()
					<-done
				}
				if waitErr != nil {
					return fmt.Errorf("gateway subprocess: %w: %s", waitErr, lastLines(errOut.String(), 5))
				}
				return nil
			}}, nil
	}
	return nil, fmt.Errorf("gateway mode %q: want %s, %s or %s", o.Gateway, GatewayInProcess, GatewaySubprocess, GatewayExternal)
}

// gatewayEnv drops TRIBUTARY_* variables (they would override the generated config) and
// adds extra.
func gatewayEnv(environ, extra []string) []string {
	out := make([]string, 0, len(environ)+len(extra))
	for _, kv := range environ {
		if !strings.HasPrefix(kv, "TRIBUTARY_") {
			out = append(out, kv)
		}
	}
	return append(out, extra...)
}

// waitReady polls the gateway's /readyz until it answers 200, the gateway exits, or ctx ends.
func (g *runningGateway) waitReady(ctx context.Context) error {
	if g.adminAddr == "" {
		return nil
	}
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		resp, err := client.Get("http://" + g.adminAddr + "/readyz")
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Errorf("readyz %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
		} else {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("gateway not ready: %v", last)
		case <-g.exited:
			msg := ""
			if g.errOut != nil {
				msg = ": " + lastLines(g.errOut.String(), 5)
			}
			return fmt.Errorf("gateway exited before it was ready%s", msg)
		case <-tick.C:
		}
	}
}

// reserveAdmin returns a free loopback address for the gateway's admin endpoint.
func reserveAdmin() (string, error) {
	addr, _, err := devstack.ReserveAddr(0, false)
	if err != nil {
		return "", fmt.Errorf("gateway admin address: %w", err)
	}
	return addr, nil
}

// cappedBuffer keeps the first max bytes written to it.
// Safe for concurrent use.
type cappedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (c *cappedBuffer) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := c.max - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(len(lines)-n, 0):], "\n")
}
