package loadbench

import (
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// faultProxy is a TCP proxy on a loopback port in front of one target address. The soak
// benchmark puts one between the gateway and the broker and one between the gateway and
// Kafka, and cuts or slows them.
//
// Safe for concurrent use.
type faultProxy struct {
	ln     net.Listener
	target string
	cut    atomic.Bool
	delay  atomic.Int64 // nanoseconds added to every chunk, each direction

	mu    sync.Mutex
	conns map[net.Conn]struct{} // connections being served
	held  []net.Conn            // connections accepted during a cut, never answered
	wg    sync.WaitGroup
}

// newFaultProxy listens on 127.0.0.1:0 and forwards every connection to target.
func newFaultProxy(target string) (*faultProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fault proxy for %s: %w", target, err)
	}
	p := &faultProxy{ln: ln, target: target, conns: make(map[net.Conn]struct{})}
	p.wg.Go(p.accept)
	return p, nil
}

// addr returns the proxy's host:port.
func (p *faultProxy) addr() string { return p.ln.Addr().String() }

// setCut cuts the network or heals it. A cut closes every open connection and leaves new
// ones unanswered, as a network that drops packets would (a client times out rather than
// being refused); healing closes those, so their clients reconnect at once.
func (p *faultProxy) setCut(on bool) {
	p.cut.Store(on)
	if on {
		p.closeConns()
		return
	}
	p.mu.Lock()
	held := p.held
	p.held = nil
	p.mu.Unlock()
	for _, c := range held {
		_ = c.Close()
	}
}

// setDelay adds d of latency to every chunk in both directions; 0 removes it.
func (p *faultProxy) setDelay(d time.Duration) { p.delay.Store(int64(d)) }

// close stops listening, closes every connection and waits for the proxy's goroutines.
func (p *faultProxy) close() {
	_ = p.ln.Close()
	p.closeConns()
	p.mu.Lock()
	p.conns = nil // a connection still being set up is closed by serve, not tracked
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *faultProxy) closeConns() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		_ = c.Close()
	}
	for _, c := range p.held {
		_ = c.Close()
	}
	p.held = nil
}

// track adds c to or removes it from the served connections. Adding reports false once the
// proxy is closing; the caller then closes c itself.
func (p *faultProxy) track(c net.Conn, add bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if add {
		if p.conns == nil {
			return false
		}
		p.conns[c] = struct{}{}
	} else if p.conns != nil {
		delete(p.conns, c)
	}
	return true
}

func (p *faultProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.cut.Load() {
			p.mu.Lock()
			if p.conns == nil {
				_ = c.Close()
			} else {
				p.held = append(p.held, c)
			}
			p.mu.Unlock()
			continue
		}
		p.wg.Go(func() { p.serve(c) })
	}
}

// serve pipes c to a new connection to the target until either side closes or the proxy
// cuts them.
func (p *faultProxy) serve(c net.Conn) {
	defer c.Close()
	up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		return
	}
	defer up.Close()
	if !p.track(c, true) || !p.track(up, true) {
		return // closing
	}
	defer p.track(c, false)
	defer p.track(up, false)
	if p.cut.Load() { // cut between accept and track
		return
	}
	var both sync.WaitGroup
	both.Go(func() { p.pipe(up, c); _ = up.Close(); _ = c.Close() })
	both.Go(func() { p.pipe(c, up); _ = up.Close(); _ = c.Close() })
	both.Wait()
}

// chunk is data read at one moment, to be written no earlier than due.
type chunk struct {
	data []byte
	due  time.Time
}

// pipe copies src to dst, holding each chunk back by the delay in force when it was read,
// without reordering.
func (p *faultProxy) pipe(dst io.Writer, src io.Reader) {
	q := make(chan chunk, 256)
	var w sync.WaitGroup
	w.Go(func() {
		failed := false
		for ch := range q {
			if failed {
				continue
			}
			if d := time.Until(ch.due); d > 0 {
				time.Sleep(d) // a latency proxy: waiting is its job
			}
			if _, err := dst.Write(ch.data); err != nil {
				failed = true
			}
		}
	})
	defer w.Wait()
	defer close(q)
	for {
		buf := make([]byte, 32<<10)
		n, err := src.Read(buf)
		if n > 0 {
			q <- chunk{data: buf[:n], due: time.Now().Add(time.Duration(p.delay.Load()))}
		}
		if err != nil {
			return
		}
	}
}
