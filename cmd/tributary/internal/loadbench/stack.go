package loadbench

import (
	"context"

	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"github.com/tributary-gw/tributary/cmd/tributary/internal/devstack"
)

// DefaultMosquitto is where --mosquitto looks for the broker binary.
const DefaultMosquitto = "/usr/sbin/mosquitto"

// mosquitto is a Mosquitto process on a free loopback port, configured to queue without limit
// for offline persistent sessions.
type mosquitto struct {
	cmd  *exec.Cmd
	addr string
	done chan struct{}
}

// startMosquitto starts bin with a generated config in dir and waits until it accepts
// connections.
func startMosquitto(ctx context.Context, bin, dir string) (*mosquitto, error) {
	return startMosquittoAt(ctx, bin, dir, "", false)
}

// startMosquittoAt is startMosquitto on addr ("" picks a free port), with persistence in dir
// when persist is set: the broker then saves its sessions and queues on a clean stop and
// loads them when started again on the same dir, as the soak's broker restarts need.
func startMosquittoAt(ctx context.Context, bin, dir, addr string, persist bool) (*mosquitto, error) {
	if addr == "" {
		var err error
		if addr, _, err = devstack.ReserveAddr(0, false); err != nil {
			return nil, fmt.Errorf("mosquitto: %w", err)
		}
	}
	_, port, _ := net.SplitHostPort(addr)
	var c strings.Builder
	if os.Geteuid() == 0 { // as root mosquitto would switch to its own user
		name := "root"
		if u, err := user.Current(); err == nil && u.Username != "" {
			name = u.Username
		}
		fmt.Fprintf(&c, "user %s\n", name)
	}
	fmt.Fprintf(&c, "listener %s 127.0.0.1\n", port)
	if persist {
		fmt.Fprintf(&c, "persistence true\npersistence_location %s/\npersistence_file mosquitto.db\nautosave_interval 30\n", dir)
	} else {
		c.WriteString("persistence false\n")
	}
	c.WriteString("allow_anonymous true\nset_tcp_nodelay true\n" +
		"max_queued_messages 0\nmax_queued_bytes 0\nmax_inflight_messages 0\nmax_inflight_bytes 0\n" +
		"max_keepalive 65535\nlog_dest stderr\nlog_type error\nlog_type warning\n")
	conf := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(conf, []byte(c.String()), 0o600); err != nil {
		return nil, fmt.Errorf("mosquitto config %s: %w", conf, err)
	}
	logPath := filepath.Join(dir, "mosquitto.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("mosquitto log %s: %w", logPath, err)
	}
	cmd := exec.Command(bin, "-c", conf)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start mosquitto %s: %w", bin, err)
	}
	m := &mosquitto{cmd: cmd, addr: addr, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); logf.Close(); close(m.done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return m, nil
		}
		select {
		case <-m.done:
			out, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("mosquitto %s exited at start: %s", bin, strings.TrimSpace(string(out)))
		case <-ctx.Done():
			m.stop()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			m.stop()
			return nil, fmt.Errorf("mosquitto on %s: not accepting connections after 10s", addr)
		}
	}
}

func (m *mosquitto) url() string { return "tcp://" + m.addr }

// stop terminates the broker and waits for it.
func (m *mosquitto) stop() {
	_ = m.cmd.Process.Signal(os.Interrupt)
	select {
	case <-m.done:
	case <-time.After(5 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.done
	}
}

// stack is what Run started and must stop, in reverse order.
type stack struct {
	stops []func()
}

func (s *stack) push(f func()) { s.stops = append(s.stops, f) }

func (s *stack) close() {
	for i := len(s.stops) - 1; i >= 0; i-- {
		s.stops[i]()
	}
	s.stops = nil
}

// startBroker returns the MQTT URL to use and a description of the broker: the URL given, a
// Mosquitto process, or an embedded mochi broker.
func startBroker(ctx context.Context, o *Options, st *stack, dir string) (url, desc string, err error) {
	switch {
	case o.MQTT != "":
		return o.MQTT, "external " + o.MQTT, nil
	case o.Mosquitto:
		bin := o.MosquittoPath
		if bin == "" {
			bin = DefaultMosquitto
		}
		m, err := startMosquitto(ctx, bin, dir)
		if err != nil {
			return "", "", err
		}
		st.push(m.stop)
		return m.url(), "mosquitto " + m.url(), nil
	}
	b, _, err := devstack.StartBroker(0, false, nil)
	if err != nil {
		return "", "", err
	}
	st.push(func() { _ = b.Close() })
	return b.URL(), "embedded mochi " + b.URL(), nil
}

// startKafka returns the seed brokers to use and a description: those given, or an embedded
// kfake cluster.
func startKafka(o *Options, st *stack) (brokers []string, desc string, err error) {
	if len(o.Kafka) > 0 {
		return o.Kafka, "external " + strings.Join(o.Kafka, ","), nil
	}
	k, _, err := devstack.StartKafka(0, false)
	if err != nil {
		return nil, "", err
	}
	st.push(k.Close)
	return []string{k.Addr()}, "embedded kfake " + k.Addr(), nil
}
