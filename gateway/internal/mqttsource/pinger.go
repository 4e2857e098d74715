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
// message). Once reading resumes, a missing PINGRESP ends the connection as usual.
type pinger struct {
	// holding reports whether the gateway is holding back reading right now.
	holding func() bool

	mu                               sync.Mutex
	lastSent, lastReceived, lastPong time.Time
	debug                            log.Logger
}

// Run implements paho.Pinger.
func (p *pinger) Run(ctx context.Context, conn net.Conn, keepAlive uint16) error {
	if keepAlive == 0 {
		return nil
	}
	interval := time.Duration(keepAlive) * time.Second
	timer := time.NewTimer(0)
	defer timer.Stop()
	var pingSent time.Time
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
			pong := p.lastPong
			p.mu.Unlock()
			if !pingSent.IsZero() && pingSent.After(pong) {
				if !p.holding() {
					return errors.New("PINGRESP timed out")
				}
				// Reading is held back: the answer is waiting in the socket. Check again later.
				timer.Reset(interval)
				continue
			}
			if now.Before(due) {
				timer.Reset(due.Sub(now))
				continue
			}
			pingSent = time.Now()
			go func() {
				if _, err := packets.NewControlPacket(packets.PINGREQ).WriteTo(conn); err != nil {
					errCh <- err
				}
			}()
			timer.Reset(interval)
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
	p.mu.Unlock()
}

// SetDebug implements paho.Pinger.
func (p *pinger) SetDebug(l log.Logger) {
	p.mu.Lock()
	p.debug = l
	p.mu.Unlock()
}
