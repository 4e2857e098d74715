package mqttsource

import (
	"bytes"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
)

// writeCounter is a net.Conn that records each Write separately.
type writeCounter struct {
	net.Conn
	mu     sync.Mutex
	writes [][]byte
}

func (w *writeCounter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes = append(w.writes, bytes.Clone(p))
	return len(p), nil
}

func TestPacketConnWritesWholePackets(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	wc := &writeCounter{Conn: a}
	pc := newPacketConn(wc)

	const writers, each = 4, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				p := packets.NewControlPacket(packets.PUBLISH)
				pub := p.Content.(*packets.Publish)
				pub.Topic = "t/x"
				pub.QoS = 1
				pub.PacketID = uint16(w*each + i + 1)
				pub.Payload = bytes.Repeat([]byte{'p'}, 100+i)
				if _, err := p.WriteTo(pc); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	pc.Close()
	// Every write holds whole packets only: parsing each write on its own finds no partial
	// packet, and all of them together are every packet sent.
	packetsSeen := 0
	wc.mu.Lock()
	defer wc.mu.Unlock()
	for i, w := range wc.writes {
		r := bytes.NewReader(w)
		for r.Len() > 0 {
			cp, err := packets.ReadPacket(r)
			if err != nil {
				t.Fatalf("write %d holds a partial packet: %v", i, err)
			}
			if cp.Type != packets.PUBLISH {
				t.Fatalf("write %d: packet type %d", i, cp.Type)
			}
			packetsSeen++
		}
	}
	if packetsSeen != writers*each {
		t.Fatalf("%d packets written, want %d", packetsSeen, writers*each)
	}
	t.Logf("%d packets in %d writes", packetsSeen, len(wc.writes))
}

func TestPacketConnBufferedRead(t *testing.T) {
	a, b := net.Pipe()
	pc := newPacketConn(a)
	defer pc.Close()
	go func() {
		p := packets.NewControlPacket(packets.PINGRESP)
		_, _ = p.WriteTo(b)
		b.Close()
	}()
	cp, err := packets.ReadPacket(pc)
	if err != nil || cp.Type != packets.PINGRESP {
		t.Fatalf("read %v, %v", cp, err)
	}
	if _, err := pc.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("after close: %v, want EOF", err)
	}
}

// gatedConn is a net.Conn whose writes wait until open is closed.
type gatedConn struct {
	net.Conn
	open chan struct{}
}

func (g *gatedConn) Write(p []byte) (int, error) {
	<-g.open
	return len(p), nil
}

func (g *gatedConn) Close() error { return nil }

// The drain waits for the acknowledgements it gave to leave: waitAcks returns once as many
// PUBACK or PUBREC packets as were expected before it was called have been written to the
// network (not merely queued), counts no other packet, and returns when the connection
// closes, since nothing is written after that.
func TestPacketConnWaitAcks(t *testing.T) {
	gc := &gatedConn{open: make(chan struct{})}
	pc := newPacketConn(gc)
	ctx := t.Context()
	if err := pc.waitAcks(ctx); err != nil {
		t.Fatalf("waitAcks with nothing expected = %v", err)
	}
	pc.expectAck()
	pc.expectAck()
	pc.expectAck()
	pc.unexpectAck() // paho's Ack failed: not written, not waited for
	write := func(cp *packets.ControlPacket) {
		t.Helper()
		if _, err := cp.WriteTo(pc); err != nil {
			t.Fatal(err)
		}
	}
	// A PUBLISH (the remaining length takes two bytes) is no acknowledgement.
	pub := packets.NewControlPacket(packets.PUBLISH)
	pub.Content.(*packets.Publish).Topic, pub.Content.(*packets.Publish).QoS = "t", 1
	pub.Content.(*packets.Publish).PacketID = 1
	pub.Content.(*packets.Publish).Payload = bytes.Repeat([]byte{'p'}, 300)
	write(pub)
	ack := func(typ byte, id uint16) *packets.ControlPacket {
		cp := packets.NewControlPacket(typ)
		switch c := cp.Content.(type) {
		case *packets.Puback:
			c.PacketID = id
		case *packets.Pubrec:
			c.PacketID = id
		}
		return cp
	}
	write(packets.NewControlPacket(packets.PINGREQ)) // no acknowledgement either
	write(ack(packets.PUBACK, 1))
	done := make(chan error, 1)
	go func() { done <- pc.waitAcks(ctx) }()
	write(ack(packets.PUBREC, 2)) // QoS 2
	select {
	case err := <-done:
		t.Fatalf("waitAcks returned (%v) before the acknowledgements were written", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(gc.open)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waitAcks still waiting after the acknowledgements were written")
	}

	// One expected but never written: a closed connection ends the wait.
	pc.expectAck()
	go func() { done <- pc.waitAcks(ctx) }()
	select {
	case err := <-done:
		t.Fatalf("waitAcks returned (%v) with an acknowledgement unwritten", err)
	case <-time.After(50 * time.Millisecond):
	}
	pc.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waitAcks still waiting after Close")
	}
	pc.expectAck() // after Close: nothing to wait for
	if err := pc.waitAcks(ctx); err != nil {
		t.Fatal(err)
	}
}

// acksIn counts exactly the PUBACK and PUBREC packets of a buffer of whole packets.
func TestAcksIn(t *testing.T) {
	var buf bytes.Buffer
	pub := packets.NewControlPacket(packets.PUBLISH)
	pub.Content.(*packets.Publish).Topic, pub.Content.(*packets.Publish).QoS = "t", 1
	pub.Content.(*packets.Publish).PacketID = 4 // 0x04 in the identifier: a PUBACK's type nibble
	pub.Content.(*packets.Publish).Payload = bytes.Repeat([]byte{0x40}, 200)
	for _, cp := range []*packets.ControlPacket{
		pub, packets.NewControlPacket(packets.PINGREQ), packets.NewControlPacket(packets.PUBACK),
		packets.NewControlPacket(packets.PUBCOMP), packets.NewControlPacket(packets.PUBREC),
		packets.NewControlPacket(packets.PUBACK),
	} {
		if _, err := cp.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
	}
	if got := acksIn(buf.Bytes()); got != 3 {
		t.Fatalf("acksIn = %d, want 3 (two PUBACK, one PUBREC)", got)
	}
	if got := acksIn(nil); got != 0 {
		t.Fatalf("acksIn(nil) = %d", got)
	}
}
