package mqttsource

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// packetConn is the network connection under the MQTT client. Reads go through a bufio.Reader:
// paho reads each packet with several small reads, and buffering them measured +22% throughput.
// Writes are coalesced: paho writes a packet as several buffers while holding the connection's
// sync.Locker, so each packet is collected between Lock and Unlock, and a writer goroutine
// sends whatever packets have piled up in one write. It adds no delay (the writer wakes at
// once), but under load many acknowledgements leave in one system call instead of one each.
//
// All writes must happen between Lock and Unlock, as paho's packets.ControlPacket.WriteTo does.
// Close sends what is pending (paho's DISCONNECT) before it closes.
//
// It also tells when acknowledgements have left: the source counts each one it asks paho to
// send (expectAck, before paho's Ack: the messages' and the extra copies' and fences' alike),
// and the writer counts each PUBACK or PUBREC it has written to the network. waitAcks returns
// when the written count reaches what was expected when it was called, or when the connection
// is closed (what was not written then is never written; the broker redelivers those
// messages). paho keeps acknowledgements in a queue it writes every mqtt.ack_interval and has
// no call that flushes it or says it is empty: this is how the drain knows, without sleeping,
// that the DISCONNECT it sends next follows every acknowledgement. Counting, not matching
// packet identifiers, keeps the message path to two atomic adds per acknowledgement: a lock
// shared by the promise goroutines and the writer cost more than the rest of the tracking.
// With manual acknowledgement paho writes no PUBACK or PUBREC the source did not ask for.
type packetConn struct {
	net.Conn
	r *bufio.Reader

	mu      sync.Mutex // held by paho from Lock to Unlock, and by the writer to take pending
	wmu     sync.Mutex // serialises flushes (the writer's and Close's); taken before mu
	pending []byte     // whole packets waiting for the writer
	spare   []byte     // the writer's previous buffer, reused
	werr    error      // the first write error; later writes fail with it
	kick    chan struct{}
	done    chan struct{}
	close   sync.Once

	expected atomic.Int64  // acknowledgements handed to paho (expectAck less unexpectAck)
	written  atomic.Int64  // PUBACK and PUBREC packets written to the network
	ackMu    sync.Mutex    // guards the fields below; taken only while someone waits
	waiters  atomic.Int32  // waitAcks calls in progress: the writer checks on them
	ackIdle  chan struct{} // closed when written reaches ackGoal or the connection closes
	ackGoal  int64         // the expected count the current waiters wait for
	ackDone  bool          // closed: nothing more will be written

	gate *readGate // when set, Read waits while it is closed; set before the first Read
}

// readGate holds back reading from the broker while a flow is at its in-flight bounds. paho
// reads ahead of its callback into a queue as long as the MQTT Receive Maximum, so a callback
// that waits stops nothing by itself: 1,000 messages of 1 MiB would pile up in memory behind
// a flow holding 64 MiB. Waiting in Read leaves them in the broker (TCP flow control) instead.
// The zero value is open.
type readGate struct {
	closed atomic.Pointer[chan struct{}] // non-nil while held; closed and cleared by open
	mu     sync.Mutex                    // serialises hold and open
}

// hold makes reads wait until open.
func (g *readGate) hold() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed.Load() == nil {
		ch := make(chan struct{})
		g.closed.Store(&ch)
	}
}

// open lets reads go on.
func (g *readGate) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if ch := g.closed.Load(); ch != nil {
		g.closed.Store(nil)
		close(*ch)
	}
}

// wait returns when the gate is open or done is closed.
func (g *readGate) wait(done <-chan struct{}) {
	if ch := g.closed.Load(); ch != nil {
		select {
		case <-*ch:
		case <-done:
		}
	}
}

func newPacketConn(c net.Conn) *packetConn {
	pc := &packetConn{Conn: c, r: bufio.NewReaderSize(c, 64<<10), kick: make(chan struct{}, 1), done: make(chan struct{})}
	go pc.writer()
	return pc
}

// Read implements io.Reader through the buffer, waiting first while the gate is held.
func (c *packetConn) Read(p []byte) (int, error) {
	if c.gate != nil {
		c.gate.wait(c.done)
	}
	return c.r.Read(p)
}

// Lock starts a packet.
func (c *packetConn) Lock() { c.mu.Lock() }

// Unlock ends the packet collected since Lock and wakes the writer.
func (c *packetConn) Unlock() {
	c.mu.Unlock()
	select {
	case c.kick <- struct{}{}:
	default: // already awake or about to be
	}
}

// Write collects p into the current packet. The caller holds the lock.
func (c *packetConn) Write(p []byte) (int, error) {
	if c.werr != nil {
		return 0, c.werr
	}
	c.pending = append(c.pending, p...)
	return len(p), nil
}

// writer sends pending packets until the connection closes.
func (c *packetConn) writer() {
	for {
		select {
		case <-c.kick:
		case <-c.done:
			return
		}
		c.flush()
	}
}

// flush writes what is pending in one write.
func (c *packetConn) flush() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.mu.Lock()
	buf := c.pending
	c.pending = c.spare[:0]
	c.mu.Unlock()
	if len(buf) > 0 {
		if _, err := c.Conn.Write(buf); err != nil {
			c.mu.Lock()
			if c.werr == nil {
				c.werr = err
			}
			c.mu.Unlock()
			_ = c.Conn.Close() // the read loop fails next and autopaho reconnects
			c.acksAbandoned()
		} else if n := acksIn(buf); n > 0 {
			c.written.Add(n)
			if c.waiters.Load() > 0 {
				c.wakeWaiters()
			}
		}
	}
	if cap(buf) > 256<<10 {
		buf = nil
	}
	c.mu.Lock()
	c.spare = buf
	c.mu.Unlock()
}

// Close sends what is pending, stops the writer and closes the connection.
func (c *packetConn) Close() error {
	c.close.Do(func() {
		close(c.done)
		c.flush()
		c.acksAbandoned()
	})
	return c.Conn.Close()
}

// MQTT control packet types of the acknowledgements the gateway sends.
const (
	packetPuback = 4 // QoS 1
	packetPubrec = 5 // QoS 2, first step; the broker's PUBREL and paho's PUBCOMP follow
)

// expectAck counts an acknowledgement about to be handed to paho. Call it before paho's Ack,
// so that it is counted before it can be written. A nil connection counts nothing.
func (c *packetConn) expectAck() {
	if c != nil {
		c.expected.Add(1)
	}
}

// unexpectAck withdraws an expectAck whose acknowledgement will not be written after all
// (paho's Ack failed).
func (c *packetConn) unexpectAck() {
	if c != nil {
		c.expected.Add(-1)
	}
}

// acksIn counts the PUBACK and PUBREC packets among the whole packets in buf. Each packet is
// a fixed header (type in the high nibble of the first byte, then the remaining length as a
// variable byte integer) and its remaining length of bytes.
func acksIn(buf []byte) int64 {
	var n int64
	for len(buf) >= 2 {
		typ := buf[0] >> 4
		rem, i := 0, 1
		for shift := 0; i < len(buf) && i <= 4; shift += 7 {
			b := buf[i]
			i++
			rem |= int(b&0x7f) << shift
			if b&0x80 == 0 {
				break
			}
		}
		if i+rem > len(buf) {
			return n // cannot happen: the writer only takes whole packets
		}
		if typ == packetPuback || typ == packetPubrec {
			n++
		}
		buf = buf[i+rem:]
	}
	return n
}

// wakeWaiters ends the wait of waitAcks once written reaches its goal.
func (c *packetConn) wakeWaiters() {
	c.ackMu.Lock()
	defer c.ackMu.Unlock()
	if c.ackIdle != nil && c.written.Load() >= c.ackGoal {
		close(c.ackIdle)
		c.ackIdle = nil
	}
}

// acksAbandoned ends every wait: the connection is closed and writes nothing more.
func (c *packetConn) acksAbandoned() {
	c.ackMu.Lock()
	defer c.ackMu.Unlock()
	c.ackDone = true
	if c.ackIdle != nil {
		close(c.ackIdle)
		c.ackIdle = nil
	}
}

// waitAcks returns nil once every acknowledgement expected before the call has been written
// or the connection has closed, or ctx's error when ctx is done first.
func (c *packetConn) waitAcks(ctx context.Context) error {
	c.waiters.Add(1)
	defer c.waiters.Add(-1)
	goal := c.expected.Load()
	for {
		c.ackMu.Lock()
		if c.ackDone || c.written.Load() >= goal {
			c.ackMu.Unlock()
			return nil
		}
		if c.ackIdle == nil {
			c.ackIdle = make(chan struct{})
			c.ackGoal = goal
		} else if goal < c.ackGoal {
			c.ackGoal = goal // woken at the smallest goal, the others wait again
		}
		idle := c.ackIdle
		c.ackMu.Unlock()
		select {
		case <-idle:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// dialMQTT opens the network connection for u: tcp/mqtt, ssl/tls/mqtts, ws or wss.
func dialMQTT(ctx context.Context, u *url.URL, tc *tls.Config, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	switch strings.ToLower(u.Scheme) {
	case "tcp", "mqtt":
		c, err := d.DialContext(ctx, "tcp", u.Host)
		if err != nil {
			return nil, err
		}
		return newPacketConn(c), nil
	case "ssl", "tls", "mqtts":
		td := tls.Dialer{NetDialer: &d, Config: tc}
		c, err := td.DialContext(ctx, "tcp", u.Host)
		if err != nil {
			return nil, err
		}
		return newPacketConn(c), nil
	case "ws", "wss":
		wd := websocket.Dialer{
			Subprotocols:     []string{"mqtt"},
			TLSClientConfig:  tc,
			HandshakeTimeout: timeout,
			NetDialContext:   d.DialContext,
		}
		ws, _, err := wd.DialContext(ctx, u.String(), nil)
		if err != nil {
			return nil, fmt.Errorf("websocket: %w", err)
		}
		return newPacketConn(&wsConn{Conn: ws}), nil
	}
	return nil, fmt.Errorf("mqtt.url: unsupported scheme %q", u.Scheme)
}

// wsConn presents a websocket as a byte stream: each write is one binary message (one MQTT
// packet, thanks to packetConn), reads run across message boundaries.
type wsConn struct {
	*websocket.Conn
	r io.Reader
}

func (c *wsConn) Read(p []byte) (int, error) {
	for {
		if c.r == nil {
			_, r, err := c.NextReader()
			if err != nil {
				return 0, err
			}
			c.r = r
		}
		n, err := c.r.Read(p)
		if err == io.EOF {
			c.r = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
}

func (c *wsConn) Write(p []byte) (int, error) {
	if err := c.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *wsConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}
