package gatewaytest

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/tributary-gw/tributary/gateway/gatewaytest/mosquitto"
)

// RequireMosquittoEnv names the environment variable that turns a missing
// Mosquitto binary from a skip into a test failure. CI sets it to 1.
const RequireMosquittoEnv = "TRIBUTARY_REQUIRE_MOSQUITTO"

// MosquittoBinEnv names an optional environment variable holding the path of
// the mosquitto binary, checked before PATH and the usual sbin folders. If it
// names a file that does not exist, Mosquitto counts as not installed.
const MosquittoBinEnv = mosquitto.BinEnv

// DefaultMaxInflight is the max_inflight_messages the broker is started with
// (a [WithConfig] line can change it). Mosquitto uses it both for QoS 1/2
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
	*mosquitto.Process
	t testing.TB
}

// MosquittoOption changes how [Mosquitto] configures the broker.
type MosquittoOption func(*mosquittoSettings)

type mosquittoSettings = mosquitto.Config

// WithPersistence keeps sessions, subscriptions and queued QoS 1/2 messages
// across a restart: the broker gets a persistence directory in the test's temp
// dir and saves it after every change (autosave_interval 1 with
// autosave_on_changes), so even [Broker.Kill] loses at most the change being
// written. Saving after every change costs a full database write each time:
// fine for crash tests with hundreds of messages, slow for 200k backlogs
// (Stop saves on exit anyway; use [WithConfig] with a larger
// autosave_interval there).
func WithPersistence() MosquittoOption {
	return func(s *mosquittoSettings) { s.Persistence = true }
}

// WithPasswordFile requires clients to log in: it writes a Mosquitto password
// file (PBKDF2-SHA512, the "$7$" format of mosquitto_passwd, generated in Go)
// with user and pass, and turns allow_anonymous off. Call it more than once for
// more users.
func WithPasswordFile(user, pass string) MosquittoOption {
	return func(s *mosquittoSettings) { s.Users = append(s.Users, [2]string{user, pass}) }
}

// WithConfig appends raw lines to the generated mosquitto.conf, after the
// defaults, for settings no other option covers. Later lines win where
// Mosquitto allows repeating a setting.
func WithConfig(lines ...string) MosquittoOption {
	return func(s *mosquittoSettings) { s.Extra = append(s.Extra, lines...) }
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
	bin := mosquitto.Find()
	if bin == "" {
		const install = "install it with `apt-get install -y mosquitto` (Debian/Ubuntu) or `brew install mosquitto`"
		if os.Getenv(RequireMosquittoEnv) == "1" {
			t.Fatal("mosquitto not found and " + RequireMosquittoEnv + "=1: " + install)
		}
		t.Skip("mosquitto not found: " + install + "; set " + RequireMosquittoEnv + "=1 to make this a failure")
	}
	set := mosquitto.Config{MaxInflight: DefaultMaxInflight, Dir: t.TempDir()}
	for _, o := range opts {
		o(&set)
	}
	b := &Broker{t: t}
	t.Cleanup(b.cleanup)

	// The port was free when freePort looked; if someone took it since, try
	// another one rather than fail the test.
	var lastErr error
	for range 3 {
		port, err := freePort()
		if err != nil {
			t.Fatalf("mosquitto: %v", err)
		}
		set.Port = port
		if b.Process, err = mosquitto.New(bin, set); err != nil {
			t.Fatalf("mosquitto: %v", err)
		}
		if lastErr = b.start(); lastErr == nil {
			return b
		}
	}
	t.Fatalf("mosquitto: %v\n%s", lastErr, b.LogTail())
	return nil
}

// Start starts the broker again on the same port with the same config, after
// Stop or Kill, and waits until it accepts connections. It fails the test if
// the broker is already running or does not come up.
func (b *Broker) Start() {
	b.t.Helper()
	if err := b.start(); err != nil {
		b.t.Fatalf("mosquitto: restart on %s: %v\n%s", b.Addr(), err, b.LogTail())
	}
}

// Stop sends SIGTERM and waits for the broker to exit (with persistence it
// saves its database first). If it has not exited after 15s it is killed and
// the test fails. Stopping a stopped broker does nothing.
func (b *Broker) Stop() {
	b.t.Helper()
	if err := b.Signal(syscall.SIGTERM, startTimeout); err != nil {
		b.t.Fatalf("mosquitto on %s: stop: %v\n%s", b.Addr(), err, b.LogTail())
	}
}

// Kill sends SIGKILL and waits for the broker to exit, like a crash: state not
// yet saved is lost. Killing a stopped broker does nothing.
func (b *Broker) Kill() {
	b.t.Helper()
	if err := b.Signal(syscall.SIGKILL, startTimeout); err != nil {
		b.t.Fatalf("mosquitto on %s: kill: %v", b.Addr(), err)
	}
}

func (b *Broker) start() error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	return b.Process.Start(ctx)
}

func (b *Broker) cleanup() {
	if b.Process == nil {
		return
	}
	_ = b.Signal(syscall.SIGKILL, startTimeout)
	if b.t.Failed() {
		b.t.Logf("mosquitto on %s, log %s:\n%s", b.Addr(), b.LogFile(), b.LogTail())
	}
}
