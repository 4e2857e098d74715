package mqttsource

import (
	"bytes"
	"io"
	"net"
	"sync"
	"testing"

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
