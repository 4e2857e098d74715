package faultproxy

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Proxy is a TCP proxy on 127.0.0.1 that forwards to one target and can break the
// connection on demand. Point the client under test at [Proxy.Addr] instead of the target.
//
// Safe for concurrent use.
type Proxy struct {
	target    string
	addr      string
	delay     atomic.Int64 // nanoseconds added to every chunk
	reject    atomic.Bool  // close new connections as soon as they are accepted
	blackhole atomic.Bool  // hold new connections unanswered

	mu       sync.Mutex
	ln       net.Listener // nil while cut
	links    map[*link]struct{}
	held     []net.Conn // accepted during Blackhole, never answered
	paused   bool
	resumeCh chan struct{} // closed on Resume
	closed   bool
	wg       sync.WaitGroup
}

// New starts a Proxy to target (host:port) on a free loopback port. It forwards bytes
// unchanged until told otherwise; [Proxy.Close] stops it.
func New(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fault proxy to %s: %w", target, err)
	}
	p := &Proxy{
		target:   target,
		addr:     ln.Addr().String(),
		links:    make(map[*link]struct{}),
		resumeCh: make(chan struct{}),
	}
	p.serve(ln)
	return p, nil
}

// Addr returns the proxy's listening address, 127.0.0.1:PORT. It stays the same across Cut
// and Restore.
func (p *Proxy) Addr() string { return p.addr }

// URL returns "tcp://" + Addr(), for MQTT clients.
func (p *Proxy) URL() string { return "tcp://" + p.addr }

// Conns returns the number of open connections through the proxy.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.links)
}

// Cut closes every connection through the proxy and stops listening, so new connections are
// refused until Restore. Bytes not yet forwarded are dropped. Cutting a cut proxy does
// nothing.
func (p *Proxy) Cut() {
	p.mu.Lock()
	ln := p.ln
	p.ln = nil
	p.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	p.closeLinks()
}

// Blackhole closes every connection through the proxy and, until Restore, accepts new ones
// but never answers them, as a network that drops packets would: a client times out rather
// than being refused. Restore closes the held connections, so their clients reconnect at
// once.
func (p *Proxy) Blackhole() {
	p.blackhole.Store(true)
	p.closeLinks()
}

// Restore undoes Cut and Blackhole: it ends a blackhole, closing the connections it held, and
// listens again on the same address after Cut. Restoring a proxy that is neither does
// nothing.
//
// # Errors
//
// Restore returns an error when the address has been taken meanwhile.
func (p *Proxy) Restore() error {
	if p.blackhole.Swap(false) {
		p.releaseHeld()
	}
	p.mu.Lock()
	up := p.ln != nil || p.closed
	p.mu.Unlock()
	if up {
		return nil
	}
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		return fmt.Errorf("fault proxy to %s: restore on %s: %w", p.target, p.addr, err)
	}
	p.serve(ln)
	return nil
}

// Pause stops forwarding bytes in both directions without closing anything: connections stay
// open and new ones are accepted, but what they send waits (and, once buffers fill, the
// senders block) until Resume.
func (p *Proxy) Pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.paused {
		p.paused = true
		p.resumeCh = make(chan struct{})
	}
}

// Resume forwards again after Pause, starting with the bytes held back.
func (p *Proxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.paused {
		p.paused = false
		close(p.resumeCh)
	}
}

// Delay adds d of latency to every chunk of bytes read from now on, in both directions,
// without limiting throughput or reordering. 0 removes it.
func (p *Proxy) Delay(d time.Duration) { p.delay.Store(int64(d)) }

// Reject closes every connection through the proxy and, until Accept, closes each new one as
// soon as it is accepted: a listener whose backend is gone, as a load balancer with no
// healthy target behaves. Unlike Cut, connecting succeeds.
func (p *Proxy) Reject() {
	p.reject.Store(true)
	p.closeLinks()
}

// Accept forwards new connections again after Reject.
func (p *Proxy) Accept() { p.reject.Store(false) }

func (p *Proxy) closeLinks() {
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

// hold keeps c unanswered until Restore or Close.
func (p *Proxy) hold(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || !p.blackhole.Load() {
		c.Close()
		return
	}
	p.held = append(p.held, c)
}

func (p *Proxy) releaseHeld() {
	p.mu.Lock()
	held := p.held
	p.held = nil
	p.mu.Unlock()
	for _, c := range held {
		c.Close()
	}
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

// serve records ln as the listener and accepts on it until it is closed.
func (p *Proxy) serve(ln net.Listener) {
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

func (p *Proxy) handle(c net.Conn) {
	defer p.wg.Done()
	if p.reject.Load() {
		c.Close()
		return
	}
	if p.blackhole.Load() {
		p.hold(c)
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
func (p *Proxy) pipe(l *link, src, dst net.Conn) {
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
func (p *Proxy) waitResumed(l *link) bool {
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

func (p *Proxy) forget(l *link) {
	p.mu.Lock()
	delete(p.links, l)
	p.mu.Unlock()
}

// Close stops listening, closes every connection through the proxy and waits for its
// goroutines. The proxy cannot be used again.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.Resume()
	p.Cut()
	p.releaseHeld()
	p.wg.Wait()
}

// Advertise returns ln reporting the proxy's address as its own Addr, for a server that
// advertises its listener's address to clients (kfake puts it in its metadata), so clients
// come back through the proxy. Accept and Close are ln's.
//
// # Errors
//
// The proxy's address does not resolve (it always does for a started Proxy).
func (p *Proxy) Advertise(ln net.Listener) (net.Listener, error) {
	adv, err := net.ResolveTCPAddr("tcp", p.addr)
	if err != nil {
		return nil, fmt.Errorf("fault proxy address %q: %w", p.addr, err)
	}
	return advertised{Listener: ln, addr: adv}, nil
}

// advertised is a listener that reports another address.
type advertised struct {
	net.Listener
	addr net.Addr
}

func (l advertised) Addr() net.Addr { return l.addr }
