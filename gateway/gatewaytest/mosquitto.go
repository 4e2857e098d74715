package gatewaytest

import (
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RequireMosquittoEnv names the environment variable that turns a missing
// Mosquitto binary from a skip into a test failure. CI sets it to 1.
const RequireMosquittoEnv = "TRIBUTARY_REQUIRE_MOSQUITTO"

// MosquittoBinEnv names an optional environment variable holding the path of
// the mosquitto binary, checked before PATH and the usual sbin folders. If it
// names a file that does not exist, Mosquitto counts as not installed.
const MosquittoBinEnv = "TRIBUTARY_MOSQUITTO"

// DefaultMaxInflight is the max_inflight_messages the broker is started with
// unless [WithMaxInflight] says otherwise. Mosquitto uses it both for QoS 1/2
// messages it sends to a client (the gateway's own Receive Maximum can lower
// it) and as the Receive Maximum it announces to publishers.
const DefaultMaxInflight = 1000

// startTimeout bounds how long a broker may take to accept connections, and
// how long Stop waits for it to exit after SIGTERM before it is killed.
const startTimeout = 15 * time.Second

// Broker is a Mosquitto process started by [Mosquitto] for one test. Its
// address stays the same across [Broker.Stop] / [Broker.Start], so clients can
// reconnect after a restart.
//
// Its methods are safe for concurrent use, but Start, Stop and Kill fail the
// test with t.Fatal and so must be called from the test goroutine.
type Broker struct {
	t      testing.TB
	bin    string
	dir    string
	conf   string
	log    string
	port   int
	set    mosquittoSettings
	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

// MosquittoOption changes how [Mosquitto] configures the broker.
type MosquittoOption func(*mosquittoSettings)

type mosquittoSettings struct {
	persistence bool
	maxInflight int
	users       [][2]string
	extra       []string
}

// WithPersistence keeps sessions, subscriptions and queued QoS 1/2 messages
// across a restart: the broker gets a persistence directory in the test's temp
// dir and saves it after every change (autosave_interval 1 with
// autosave_on_changes), so even [Broker.Kill] loses at most the change being
// written. Saving after every change costs a full database write each time:
// fine for crash tests with hundreds of messages, slow for 200k backlogs
// (Stop saves on exit anyway; use [WithConfig] with a larger
// autosave_interval there).
func WithPersistence() MosquittoOption {
	return func(s *mosquittoSettings) { s.persistence = true }
}

// WithPasswordFile requires clients to log in: it writes a Mosquitto password
// file (PBKDF2-SHA512, the "$7$" format of mosquitto_passwd, generated in Go)
// with user and pass, and turns allow_anonymous off. Call it more than once for
// more users.
func WithPasswordFile(user, pass string) MosquittoOption {
	return func(s *mosquittoSettings) { s.users = append(s.users, [2]string{user, pass}) }
}

// WithMaxInflight sets max_inflight_messages (0 means no limit). Defaults to
// [DefaultMaxInflight].
func WithMaxInflight(n int) MosquittoOption {
	return func(s *mosquittoSettings) { s.maxInflight = n }
}

// WithConfig appends raw lines to the generated mosquitto.conf, after the
// defaults, for settings no other option covers. Later lines win where
// Mosquitto allows repeating a setting.
func WithConfig(lines ...string) MosquittoOption {
	return func(s *mosquittoSettings) { s.extra = append(s.extra, lines...) }
}

// Mosquitto starts /usr/sbin/mosquitto (or the one named by
// TRIBUTARY_MOSQUITTO if that exists, else the one on PATH) on a free port of 127.0.0.1 and waits
// until it accepts connections. The broker allows anonymous clients, queues
// without limit for offline persistent sessions (max_queued_messages 0,
// max_queued_bytes 0, no persistent_client_expiration, no max_packet_size) so
// 200k-message backlogs survive, and logs to a file that is printed when the
// test fails. Cleanup kills it.
//
// When no binary is found the test is skipped with install instructions, or
// fails if TRIBUTARY_REQUIRE_MOSQUITTO=1.
func Mosquitto(t testing.TB, opts ...MosquittoOption) *Broker {
	t.Helper()
	bin := findMosquitto()
	if bin == "" {
		const install = "install it with `apt-get install -y mosquitto` (Debian/Ubuntu) or `brew install mosquitto`"
		if os.Getenv(RequireMosquittoEnv) == "1" {
			t.Fatal("mosquitto not found and " + RequireMosquittoEnv + "=1: " + install)
		}
		t.Skip("mosquitto not found: " + install + "; set " + RequireMosquittoEnv + "=1 to make this a failure")
	}
	set := mosquittoSettings{maxInflight: DefaultMaxInflight}
	for _, o := range opts {
		o(&set)
	}
	b := &Broker{t: t, bin: bin, dir: t.TempDir(), set: set}
	b.conf = filepath.Join(b.dir, "mosquitto.conf")
	b.log = filepath.Join(b.dir, "mosquitto.log")
	t.Cleanup(b.cleanup)

	// The port was free when FreePort looked; if someone took it since, try
	// another one rather than fail the test.
	var lastErr error
	for range 3 {
		port, err := freePort()
		if err != nil {
			t.Fatalf("mosquitto: %v", err)
		}
		b.port = port
		if err := b.writeConfig(); err != nil {
			t.Fatalf("mosquitto: %v", err)
		}
		if lastErr = b.start(); lastErr == nil {
			return b
		}
	}
	t.Fatalf("mosquitto: %v\n%s", lastErr, b.logTail())
	return nil
}

// findMosquitto returns the mosquitto binary's path, or "".
func findMosquitto() string {
	if p := os.Getenv(MosquittoBinEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return ""
		}
		return p
	}
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/opt/homebrew/sbin/mosquitto"} {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	return ""
}

// URL returns the broker's MQTT URL, tcp://127.0.0.1:PORT.
func (b *Broker) URL() string { return "tcp://" + b.Addr() }

// Addr returns the broker's host:port, 127.0.0.1:PORT.
func (b *Broker) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(b.port)) }

// Port returns the broker's TCP port.
func (b *Broker) Port() int { return b.port }

// LogFile returns the path of the broker's log, which accumulates across
// restarts.
func (b *Broker) LogFile() string { return b.log }

// Dir returns the broker's working directory: config, log and, with
// [WithPersistence], the persistence database mosquitto.db.
func (b *Broker) Dir() string { return b.dir }

// Running reports whether the broker process is running.
func (b *Broker) Running() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.runningLocked()
}

func (b *Broker) runningLocked() bool {
	if b.cmd == nil {
		return false
	}
	select {
	case <-b.exited:
		return false
	default:
		return true
	}
}

// Start starts the broker again on the same port with the same config, after
// Stop or Kill, and waits until it accepts connections. It fails the test if
// the broker is already running or does not come up.
func (b *Broker) Start() {
	b.t.Helper()
	if err := b.start(); err != nil {
		b.t.Fatalf("mosquitto: restart on %s: %v\n%s", b.Addr(), err, b.logTail())
	}
}

// Stop sends SIGTERM and waits for the broker to exit (with persistence it
// saves its database first). If it has not exited after 15s it is killed and
// the test fails. Stopping a stopped broker does nothing.
func (b *Broker) Stop() {
	b.t.Helper()
	if err := b.signal(syscall.SIGTERM, startTimeout); err != nil {
		b.t.Fatalf("mosquitto on %s: stop: %v\n%s", b.Addr(), err, b.logTail())
	}
}

// Kill sends SIGKILL and waits for the broker to exit, like a crash: state not
// yet saved is lost. Killing a stopped broker does nothing.
func (b *Broker) Kill() {
	b.t.Helper()
	if err := b.signal(syscall.SIGKILL, startTimeout); err != nil {
		b.t.Fatalf("mosquitto on %s: kill: %v", b.Addr(), err)
	}
}

func (b *Broker) start() error {
	b.mu.Lock()
	if b.runningLocked() {
		b.mu.Unlock()
		return errors.New("already running")
	}
	logf, err := os.OpenFile(b.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		b.mu.Unlock()
		return fmt.Errorf("log file: %w", err)
	}
	fmt.Fprintf(logf, "--- gatewaytest: starting %s -c %s at %s\n", b.bin, b.conf, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(b.bin, "-c", b.conf)
	cmd.Dir = b.dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		b.mu.Unlock()
		logf.Close()
		return fmt.Errorf("start %s: %w", b.bin, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(exited)
	}()
	b.cmd, b.exited = cmd, exited
	b.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := waitPort(ctx, b.Addr(), exited); err != nil {
		_ = b.signal(syscall.SIGKILL, startTimeout)
		return fmt.Errorf("waiting for %s to accept connections: %w", b.Addr(), err)
	}
	return nil
}

// signal sends sig and waits up to d for the process to exit, then kills it.
func (b *Broker) signal(sig syscall.Signal, d time.Duration) error {
	b.mu.Lock()
	cmd, exited, running := b.cmd, b.exited, b.runningLocked()
	b.mu.Unlock()
	if !running {
		return nil
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-exited:
		return nil
	case <-time.After(d):
	}
	_ = cmd.Process.Kill()
	<-exited
	return fmt.Errorf("process %d did not exit within %v of %v; killed", cmd.Process.Pid, d, sig)
}

func (b *Broker) cleanup() {
	_ = b.signal(syscall.SIGKILL, startTimeout)
	if b.t.Failed() {
		b.t.Logf("mosquitto on %s, log %s:\n%s", b.Addr(), b.log, b.logTail())
	}
}

// logTail returns the end of the broker's log, at most 64 KiB.
func (b *Broker) logTail() string {
	const limit = 64 << 10
	data, err := os.ReadFile(b.log)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	if len(data) > limit {
		data = append([]byte("...\n"), data[len(data)-limit:]...)
	}
	return string(data)
}

// writeConfig writes mosquitto.conf (and the password file) for b.port.
func (b *Broker) writeConfig() error {
	var c strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&c, format+"\n", args...) }
	line("# generated by gatewaytest")
	// Run as ourselves: as root, mosquitto would otherwise drop to the
	// mosquitto user, which cannot read or write the test's temp dir.
	if os.Geteuid() == 0 {
		name := "root"
		if u, err := user.Current(); err == nil && u.Username != "" {
			name = u.Username
		}
		line("user %s", name)
	}
	line("per_listener_settings false")
	line("listener %d 127.0.0.1", b.port)
	line("log_dest stderr")
	line("log_type error")
	line("log_type warning")
	line("log_type notice")
	line("log_type information")
	line("log_timestamp_format %%Y-%%m-%%dT%%H:%%M:%%S")
	line("connection_messages true")
	line("set_tcp_nodelay true")
	// Backlogs: queue without limit for offline persistent sessions.
	line("max_queued_messages 0")
	line("max_queued_bytes 0")
	line("max_inflight_messages %d", b.set.maxInflight)
	line("max_inflight_bytes 0")
	line("max_keepalive 65535")
	if len(b.set.users) > 0 {
		pw := filepath.Join(b.dir, "passwd")
		var f strings.Builder
		for _, u := range b.set.users {
			entry, err := mosquittoPasswordEntry(u[0], u[1])
			if err != nil {
				return err
			}
			f.WriteString(entry + "\n")
		}
		if err := os.WriteFile(pw, []byte(f.String()), 0o600); err != nil {
			return fmt.Errorf("password file %s: %w", pw, err)
		}
		line("allow_anonymous false")
		line("password_file %s", pw)
	} else {
		line("allow_anonymous true")
	}
	if b.set.persistence {
		line("persistence true")
		line("persistence_location %s/", b.dir)
		line("persistence_file mosquitto.db")
		line("autosave_interval 1")
		line("autosave_on_changes true")
	} else {
		line("persistence false")
	}
	for _, l := range b.set.extra {
		line("%s", l)
	}
	if err := os.WriteFile(b.conf, []byte(c.String()), 0o600); err != nil {
		return fmt.Errorf("config %s: %w", b.conf, err)
	}
	return nil
}

// mosquittoPasswordEntry returns one password file line in Mosquitto 2's
// "$7$" format: user:$7$ITER$base64(salt)$base64(PBKDF2-HMAC-SHA512).
func mosquittoPasswordEntry(user, pass string) (string, error) {
	const (
		iterations = 101 // mosquitto_passwd's default
		saltLen    = 12
		hashLen    = 64
	)
	if user == "" || strings.ContainsAny(user, ":\n") {
		return "", fmt.Errorf("password file: user %q must be non-empty without ':' or newlines", user)
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password file: salt: %w", err)
	}
	return mosquittoPasswordEntryWithSalt(user, pass, salt, iterations, hashLen)
}

func mosquittoPasswordEntryWithSalt(user, pass string, salt []byte, iterations, hashLen int) (string, error) {
	hash, err := pbkdf2.Key(sha512.New, pass, salt, iterations, hashLen)
	if err != nil {
		return "", fmt.Errorf("password file: user %q: %w", user, err)
	}
	enc := base64.StdEncoding
	return fmt.Sprintf("%s:$7$%d$%s$%s", user, iterations, enc.EncodeToString(salt), enc.EncodeToString(hash)), nil
}
