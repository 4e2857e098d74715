package loadbench

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// progress shows the phase and the published and received counts on a writer: one line
// redrawn with \r on a terminal, otherwise a line every few seconds.
type progress struct {
	w       io.Writer
	tty     bool
	every   time.Duration
	target  int64 // expected messages, 0 when unknown
	phase   atomic.Pointer[string]
	pub     func() int64
	recv    func() int64
	stop    chan struct{}
	wg      sync.WaitGroup
	started time.Time
}

func startProgress(o *Options, target int64, pub, recv func() int64) *progress {
	p := &progress{w: o.Progress, tty: o.ProgressTTY, every: o.ProgressEvery, target: target,
		pub: pub, recv: recv, stop: make(chan struct{}), started: time.Now()}
	p.setPhase("starting")
	if p.w == nil {
		return p
	}
	if p.tty {
		p.every = 200 * time.Millisecond
	}
	if p.every <= 0 {
		p.every = 5 * time.Second
	}
	p.wg.Go(func() {
		t := time.NewTicker(p.every)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.draw(false)
			}
		}
	})
	return p
}

func (p *progress) setPhase(s string) { p.phase.Store(&s) }

func (p *progress) draw(final bool) {
	pub, recv := p.pub(), p.recv()
	line := fmt.Sprintf("%-10s %6.1fs  published %d  in kafka %d", *p.phase.Load(),
		time.Since(p.started).Seconds(), pub, recv)
	if p.target > 0 {
		const width = 30
		done := min(int(recv*width/p.target), width)
		bar := make([]byte, width)
		for i := range bar {
			bar[i] = '.'
			if i < done {
				bar[i] = '#'
			}
		}
		line = fmt.Sprintf("[%s] %3d%%  %s", bar, min(recv*100/p.target, 100), line)
	}
	if p.tty {
		fmt.Fprintf(p.w, "\r%-100s", line)
		if final {
			fmt.Fprintln(p.w)
		}
		return
	}
	fmt.Fprintln(p.w, line)
}

// finish stops the display and draws the last state.
func (p *progress) finish() {
	close(p.stop)
	p.wg.Wait()
	if p.w != nil {
		p.draw(true)
	}
}
