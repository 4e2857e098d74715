package flow

import (
	"sync"
	"testing"
)

func TestWork_RetireWaitsForTheLastMessage(t *testing.T) {
	w := work{idle: make(chan struct{})}
	w.Add(3)
	done := w.retire()
	for i := 0; i < 2; i++ {
		w.Add(-1)
		select {
		case <-done:
			t.Fatalf("idle with %d messages still in the chain", w.n.Load())
		default:
		}
	}
	w.Add(-1)
	<-done // the last message closes it; a test that hangs here fails by timeout

	idle := work{idle: make(chan struct{})}
	<-idle.retire() // nothing in flight: closed at once
}

func TestWork_RetireRacesWithTheLastMessage(t *testing.T) {
	for range 200 {
		w := work{idle: make(chan struct{})}
		w.Add(64)
		var wg sync.WaitGroup
		for range 64 {
			wg.Go(func() { w.Add(-1) })
		}
		done := w.retire()
		wg.Wait()
		<-done
	}
}
