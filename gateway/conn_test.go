package gateway

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

func TestPacketConnOneWritePerPacket(t *testing.T) {
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
	if len(wc.writes) != writers*each {
		t.Fatalf("%d writes for %d packets, want one each", len(wc.writes), writers*each)
	}
	for i, w := range wc.writes {
		cp, err := packets.ReadPacket(bytes.NewReader(w))
		if err != nil {
			t.Fatalf("write %d is not one whole packet: %v", i, err)
		}
		if cp.Type != packets.PUBLISH {
			t.Fatalf("write %d: packet type %d", i, cp.Type)
		}
	}
}

func TestPacketConnBufferedRead(t *testing.T) {
	a, b := net.Pipe()
	pc := newPacketConn(a)
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
