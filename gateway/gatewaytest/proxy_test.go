package gatewaytest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

// echoServer echoes every connection on a loopback port until cleanup.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = io.Copy(c, c)
				c.Close()
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// roundTrip writes msg and reads it back within a generous deadline.
func roundTrip(c net.Conn, msg string) error {
	if _, err := c.Write([]byte(msg)); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if string(buf) != msg {
		return fmt.Errorf("read %q, want %q", buf, msg)
	}
	return nil
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestProxy_CutAndRestore(t *testing.T) {
	p := Proxy(t, echoServer(t))
	c := dial(t, p.Addr())
	if err := roundTrip(c, "before"); err != nil {
		t.Fatal(err)
	}
	if p.Conns() != 1 {
		t.Fatalf("Conns() = %d, want 1", p.Conns())
	}

	p.Cut()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read on a cut connection = %d, %v; want it closed", n, err)
	}
	if c2, err := net.Dial("tcp", p.Addr()); err == nil {
		c2.Close()
		t.Fatal("dial succeeded while cut, want refused")
	}
	WaitFor(t, 10*time.Second, func() error {
		if n := p.Conns(); n != 0 {
			return fmt.Errorf("%d connections after Cut", n)
		}
		return nil
	})

	p.Restore()
	if err := roundTrip(dial(t, p.Addr()), "after"); err != nil {
		t.Fatalf("after Restore: %v", err)
	}
}

func TestProxy_PauseResume(t *testing.T) {
	p := Proxy(t, echoServer(t))
	c := dial(t, p.Addr())
	if err := roundTrip(c, "warm"); err != nil {
		t.Fatal(err)
	}
	p.Pause()
	if _, err := c.Write([]byte("held")); err != nil {
		t.Fatal(err)
	}
	// Nothing may come back while paused; a short bounded read shows it.
	_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, err := c.Read(make([]byte, 4)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read while paused = %d, %v; want a deadline timeout", n, err)
	}
	if p.Conns() != 1 {
		t.Fatalf("Conns() = %d while paused, want 1 (pause must not close)", p.Conns())
	}
	p.Resume()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "held" {
		t.Fatalf("after Resume read %q, %v; want the held bytes", buf, err)
	}
}

func TestProxy_Delay(t *testing.T) {
	p := Proxy(t, echoServer(t))
	c := dial(t, p.Addr())
	const d = 30 * time.Millisecond
	p.Delay(d)
	start := time.Now()
	if err := roundTrip(c, "slow"); err != nil {
		t.Fatal(err)
	}
	// A lower bound only: the proxy guarantees it, scheduling cannot break it.
	if el := time.Since(start); el < 2*d {
		t.Fatalf("round trip took %v, want at least %v (delay each way)", el, 2*d)
	}
	p.Delay(0)
	if err := roundTrip(c, "fast"); err != nil {
		t.Fatal(err)
	}
}

func TestProxy_TargetDown(t *testing.T) {
	p := Proxy(t, "127.0.0.1:"+fmt.Sprint(FreePort(t)))
	c := dial(t, p.Addr())
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read through a proxy whose target is down = %v, want closed", err)
	}
}

// TestProxy_MQTT cuts a real MQTT connection: publishing through the proxy
// fails after Cut and works with a new publisher after Restore.
func TestProxy_MQTT(t *testing.T) {
	mq := Mosquitto(t)
	p := Proxy(t, mq.Addr())
	pub := NewPublisher(t, p.URL())
	msgs := Messages([]string{"p/1"}, 3)
	if err := pub.Publish(t.Context(), 1, msgs[:1]); err != nil {
		t.Fatalf("publish through proxy: %v", err)
	}
	p.Cut()
	WaitFor(t, 10*time.Second, func() error {
		if pub.Err() == nil {
			return errors.New("publisher has not noticed the cut")
		}
		return nil
	})
	p.Restore()
	Publish(t, p.URL(), 1, msgs[1:])
}
