package mqttsource

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho/log"
)

// pinger keeps the MQTT connection alive like paho's default pinger, with one difference:
// while the gateway holds back reading on purpose (its in-flight budget is full or a tenant's
// rate cap is reached), paho reads nothing, so the broker's PINGRESP waits unread behind the
// messages the broker keeps sending. That silence is backpressure, not a dead link, and the
// pinger does not drop the connection for it (which would redeliver every unacknowledged
// message). Once reading resumes the PINGRESP still waits behind the backlog: while packets
// keep arriving the link is alive too. Meanwhile it goes on sending a PINGREQ every half
// interval, so that the broker, which reads them, does not drop the connection for silence.
// A missing PINGRESP with nothing read for a whole keep-alive interval ends the connection
// as usual.
type pinger struct {
	// holding reports whether the gateway is holding back reading right now.
	holding func() bool

	mu                               sync.Mutex
	lastSent, lastReceived, lastPong time.Time
	debug                            log.Logger
	// pings and pongs count the PINGREQs written and PINGRESPs received on the current
	// connection; pongCh is closed and cleared by the next PINGRESP when someone waits.
	pings, pongs uint64
	pongCh       chan struct{}
}

// roundTrip writes a PINGREQ on conn and returns once the broker has answered it, or with
// ctx's error, or when the connection closes. The broker handles one client's packets in
// order, so the answer means it has read everything written on conn before: the drain calls
// it after the last acknowledgements are written, because a connection closed with unread
// data is reset, and a reset can discard what the broker had received but not yet read.
//
// PINGREQs of the keep-alive may go out at the same time; counting both, the answer to
// this one is the pings-th PINGRESP counted from its write, whichever went first.
func (p *pinger) roundTrip(ctx context.Context, conn *packetConn) error {
	p.mu.Lock()
	p.pings++
	want := p.pings
	p.mu.Unlock()
	if _, err := packets.NewControlPacket(packets.PINGREQ).WriteTo(conn); err != nil {
		return err
	}
	for {
		p.mu.Lock()
		if p.pongs >= want {
			p.mu.Unlock()
			return nil
		}
		if p.pongCh == nil {
			p.pongCh = make(chan struct{})
		}
		ch := p.pongCh
		p.mu.Unlock()
		select {
		case <-ch:
		case <-conn.done:
			return errors.New("connection closed before the broker answered")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Run implements paho.Pinger.
func (p *pinger) Run(ctx context.Context, conn net.Conn, keepAlive uint16) error {
	if keepAlive == 0 {
		return nil
	}
	interval := time.Duration(keepAlive) * time.Second
	p.mu.Lock()
	p.pongs = p.pings // a new connection: earlier PINGREQs are answered nowhere
	p.mu.Unlock()
	timer := time.NewTimer(0)
	defer timer.Stop()
	var pingSent, unansweredSince time.Time // the last PINGREQ; the first since the last PINGRESP
	errCh := make(chan error, 1)
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errCh:
			return err
		case now := <-timer.C:
			p.mu.Lock()
			due := p.lastReceived.Add(interval)
			if p.lastSent.Before(p.lastReceived) {
				due = p.lastSent.Add(interval)
			}
			pong, received := p.lastPong, p.lastReceived
			p.mu.Unlock()
			outstanding := !pingSent.IsZero() && pingSent.After(pong)
			if outstanding {
				// Packets read within the last interval show the link alive: the answer waits
				// behind them, as it does after reading was held back.
				if !p.holding() && now.Sub(unansweredSince) >= interval && now.Sub(received) >= interval {
					return errors.New("PINGRESP timed out")
				}
				// Reading is held back, or catching up. A PINGREQ every half interval keeps
				// the broker's side of the keep-alive fed meanwhile: it drops a client it has
				// heard nothing from for one and a half intervals (Mosquitto counts whole
				// seconds, so with a keep alive of 1s that can be just over one).
				due = pingSent.Add(interval / 2)
			}
			if now.Before(due) {
				timer.Reset(due.Sub(now))
				continue
			}
			pingSent = time.Now()
			if !outstanding {
				unansweredSince = pingSent
			}
			p.mu.Lock()
			p.pings++
			p.mu.Unlock()
			go func() {
				if _, err := packets.NewControlPacket(packets.PINGREQ).WriteTo(conn); err != nil {
					errCh <- err
				}
			}()
			timer.Reset(interval / 2)
		}
	}
}

// PacketSent implements paho.Pinger.
func (p *pinger) PacketSent() {
	p.mu.Lock()
	p.lastSent = time.Now()
	p.mu.Unlock()
}

// PacketReceived implements paho.Pinger.
func (p *pinger) PacketReceived() {
	p.mu.Lock()
	p.lastReceived = time.Now()
	p.mu.Unlock()
}

// PingResp implements paho.Pinger.
func (p *pinger) PingResp() {
	p.mu.Lock()
	p.lastPong = time.Now()
	p.pongs++
	if p.pongCh != nil {
		close(p.pongCh)
		p.pongCh = nil
	}
	p.mu.Unlock()
}

// SetDebug implements paho.Pinger.
func (p *pinger) SetDebug(l log.Logger) {
	p.mu.Lock()
	p.debug = l
	p.mu.Unlock()
}
