package mqttsource

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
)

// roundTrip returns only when the broker has answered its own PINGREQ: a PINGRESP that
// answers a keep-alive PINGREQ sent before it does not count.
func TestPingerRoundTripWaitsForItsAnswer(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	wc := &writeCounter{Conn: a}
	pc := newPacketConn(wc)
	defer pc.Close()
	p := &pinger{holding: func() bool { return false }}
	p.pings++ // a keep-alive PINGREQ already on its way

	done := make(chan error, 1)
	go func() { done <- p.roundTrip(t.Context(), pc) }()
	waitWritten(t, wc, packets.PINGREQ)
	p.PingResp() // the keep-alive's answer
	select {
	case err := <-done:
		t.Fatalf("roundTrip returned (%v) on the answer to an earlier PINGREQ", err)
	case <-time.After(50 * time.Millisecond):
	}
	p.PingResp() // its own
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("roundTrip still waiting after its PINGRESP")
	}

	// A connection that closes ends the wait.
	go func() { done <- p.roundTrip(t.Context(), pc) }()
	waitWritten(t, wc, packets.PINGREQ)
	pc.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("roundTrip on a closed connection returned nil")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("roundTrip still waiting after Close")
	}
}

// waitWritten waits until wc has had a packet of type typ written, and forgets what it holds.
func waitWritten(t *testing.T, wc *writeCounter, typ byte) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		wc.mu.Lock()
		for _, w := range wc.writes {
			r := bytes.NewReader(w)
			for r.Len() > 0 {
				cp, err := packets.ReadPacket(r)
				if err != nil {
					break
				}
				if cp.Type == typ {
					wc.writes = nil
					wc.mu.Unlock()
					return
				}
			}
		}
		wc.mu.Unlock()
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("no packet of type %d written", typ)
}

// A held gate makes Read wait, without consuming anything, until it opens or the
// connection closes.
func TestReadGate(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	pc := newPacketConn(a)
	gate := &readGate{}
	pc.gate = gate
	gate.hold()
	got := make(chan string, 1)
	go func() {
		buf := make([]byte, 5)
		n, _ := pc.Read(buf)
		got <- string(buf[:n])
	}()
	go func() { _, _ = b.Write([]byte("hello")) }()
	select {
	case s := <-got:
		t.Fatalf("read %q while the gate was held", s)
	case <-time.After(50 * time.Millisecond):
	}
	gate.open()
	select {
	case s := <-got:
		if s != "hello" {
			t.Fatalf("read %q, want hello", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("still waiting after the gate opened")
	}
	gate.hold()
	go func() {
		n, err := pc.Read(make([]byte, 1))
		got <- string(rune('0'+n)) + errString(err)
	}()
	pc.Close()
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("a read behind a held gate still waiting after Close")
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
