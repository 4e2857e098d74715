package gatewaytest

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// FaultProxy is a TCP proxy on 127.0.0.1 that forwards to one target and can
// break the connection on demand: [FaultProxy.Cut] and [FaultProxy.Restore],
// [FaultProxy.Reject] and [FaultProxy.Accept], [FaultProxy.Pause] and
// [FaultProxy.Resume], [FaultProxy.Delay]. Point the
// client under test at [FaultProxy.Addr] instead of the target.
//
// Its methods are safe for concurrent use. Restore fails the test with
// t.Fatal and must be called from the test goroutine.
type FaultProxy struct {
	t      testing.TB
	target string
	addr   string
	delay  atomic.Int64 // nanoseconds added to every chunk
	reject atomic.Bool  // close new connections as soon as they are accepted

	mu       sync.Mutex
	ln       net.Listener // nil while cut
	links    map[*link]struct{}
	paused   bool
	resumeCh chan struct{} // closed on Resume
	closed   bool
	wg       sync.WaitGroup
}

// link is one proxied connection: the client side and the target side.
type link struct {
	client, upstream net.Conn
	once             sync.Once
	done             chan struct{}
}

func (l *link) close() {
	l.once.Do(func() {
		close(l.done)
		l.client.Close()
		l.upstream.Close()
	})
}

// chunk is bytes read from one side, due to be written to the other at due.
type chunk struct {
	data []byte
	due  time.Time
}

// Proxy starts a FaultProxy to target (host:port) on a free loopback port.
// It forwards bytes unchanged until told otherwise. Cleanup closes it and
// every connection through it.
func Proxy(t testing.TB, target string) *FaultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy to %s: listen: %v", target, err)
	}
	p := &FaultProxy{
		t:        t,
		target:   target,
		addr:     ln.Addr().String(),
		links:    make(map[*link]struct{}),
		resumeCh: make(chan struct{}),
	}
	p.serve(ln)
	t.Cleanup(p.close)
	return p
}

// Addr returns the proxy's listening address, 127.0.0.1:PORT. It stays the
// same across Cut and Restore.
func (p *FaultProxy) Addr() string { return p.addr }

// URL returns "tcp://" + Addr(), for MQTT clients.
func (p *FaultProxy) URL() string { return "tcp://" + p.addr }

// Conns returns the number of open connections through the proxy.
func (p *FaultProxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.links)
}

// Cut closes every connection through the proxy and stops listening, so new
// connections are refused until Restore. Bytes not yet forwarded are dropped.
// Cutting a cut proxy does nothing.
func (p *FaultProxy) Cut() {
	p.mu.Lock()
	ln := p.ln
	p.ln = nil
	links := make([]*link, 0, len(p.links))
	for l := range p.links {
		links = append(links, l)
	}
	p.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	for _, l := range links {
		l.close()
	}
}

// Restore listens again on the same address after Cut. It fails the test if
// the address has been taken meanwhile. Restoring a proxy that is not cut
// does nothing.
func (p *FaultProxy) Restore() {
	p.t.Helper()
	p.mu.Lock()
	up := p.ln != nil || p.closed
	p.mu.Unlock()
	if up {
		return
	}
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("proxy to %s: restore on %s: %v", p.target, p.addr, err)
	}
	p.serve(ln)
}

// Pause stops forwarding bytes in both directions without closing anything:
// connections stay open and new ones are accepted, but what they send waits
// (and, once buffers fill, the senders block) until Resume.
func (p *FaultProxy) Pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.paused {
		p.paused = true
		p.resumeCh = make(chan struct{})
	}
}

// Resume forwards again after Pause, starting with the bytes held back.
func (p *FaultProxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.paused {
		p.paused = false
		close(p.resumeCh)
	}
}

// Delay adds d of latency to every chunk of bytes read from now on, in both
// directions, without limiting throughput. 0 removes it.
func (p *FaultProxy) Delay(d time.Duration) { p.delay.Store(int64(d)) }

// Reject closes every connection through the proxy and, until Accept, closes each new one
// as soon as it is accepted: a listener whose backend is gone, as a load balancer with no
// healthy target behaves. Unlike Cut, connecting succeeds.
func (p *FaultProxy) Reject() {
	p.reject.Store(true)
	p.mu.Lock()
	links := make([]*link, 0, len(p.links))
	for l := range p.links {
		links = append(links, l)
	}
	p.mu.Unlock()
	for _, l := range links {
		l.close()
	}
}

// Accept forwards new connections again after Reject.
func (p *FaultProxy) Accept() { p.reject.Store(false) }

// serve records ln as the listener and accepts on it until it is closed.
func (p *FaultProxy) serve(ln net.Listener) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		ln.Close()
		return
	}
	p.ln = ln
	p.wg.Add(1)
	p.mu.Unlock()
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed by Cut or cleanup
			}
			p.wg.Add(1)
			go p.handle(c)
		}
	}()
}

func (p *FaultProxy) handle(c net.Conn) {
	defer p.wg.Done()
	if p.reject.Load() {
		c.Close()
		return
	}
	up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		c.Close() // the client sees the target's refusal as a closed connection
		return
	}
	l := &link{client: c, upstream: up, done: make(chan struct{})}
	p.mu.Lock()
	if p.closed || p.ln == nil {
		p.mu.Unlock()
		l.close()
		return
	}
	p.links[l] = struct{}{}
	p.wg.Add(4)
	p.mu.Unlock()
	go p.pipe(l, c, up)
	go p.pipe(l, up, c)
}

// pipe forwards src to dst through a bounded queue, so delay adds latency
// without serialising reads, and pause holds bytes without closing. It closes
// the whole link when either side ends.
func (p *FaultProxy) pipe(l *link, src, dst net.Conn) {
	q := make(chan chunk, 64)
	go func() { // reader
		defer p.wg.Done()
		defer close(q)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				due := time.Now().Add(time.Duration(p.delay.Load()))
				select {
				case q <- chunk{data: buf[:n], due: due}:
				case <-l.done:
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	defer p.wg.Done() // writer
	defer p.forget(l)
	defer l.close()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for ch := range q {
		if wait := time.Until(ch.due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-l.done:
				return
			}
		}
		if !p.waitResumed(l) {
			return
		}
		if _, err := dst.Write(ch.data); err != nil {
			return
		}
	}
}

// waitResumed blocks while the proxy is paused; false means the link closed.
func (p *FaultProxy) waitResumed(l *link) bool {
	for {
		p.mu.Lock()
		paused, ch := p.paused, p.resumeCh
		p.mu.Unlock()
		if !paused {
			return true
		}
		select {
		case <-ch:
		case <-l.done:
			return false
		}
	}
}

func (p *FaultProxy) forget(l *link) {
	p.mu.Lock()
	delete(p.links, l)
	p.mu.Unlock()
}

func (p *FaultProxy) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.Resume()
	p.Cut()
	p.wg.Wait()
}
