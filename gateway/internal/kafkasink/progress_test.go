package kafkasink

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// TestProgress_Stalled pins when a route counts as stalled: records outstanding and no
// acknowledgement for longer than the limit, counted from when records started waiting after
// the route was idle.
func TestProgress_Stalled(t *testing.T) {
	const limit = time.Minute
	var p Progress
	if stalled, _, n := p.Stalled(limit); stalled || n != 0 {
		t.Fatalf("a new route: stalled %v with %d outstanding", stalled, n)
	}

	p.since.Store(monoClock() - int64(time.Hour)) // idle for an hour, then a record
	p.started()
	if stalled, _, _ := p.Stalled(limit); stalled {
		t.Fatal("a route idle for longer than the limit is stalled by its first record")
	}

	p.since.Store(monoClock() - int64(2*limit)) // nothing acknowledged for twice the limit
	p.started()
	stalled, d, n := p.Stalled(limit)
	if !stalled || n != 2 || d < 2*limit {
		t.Fatalf("2 records waiting, none acknowledged for %v: stalled %v for %v with %d outstanding", 2*limit, stalled, d, n)
	}
	if err := StallError("acme", "r", d, n, limit).Error(); !strings.HasPrefix(err, "kafka (tenant acme, route r): stalled: 2 records outstanding") {
		t.Fatalf("stall error %q does not name the tenant, the route and the count", err)
	}

	p.acked() // one acknowledgement clears the stall, though a record still waits
	if stalled, _, n := p.Stalled(limit); stalled || n != 1 {
		t.Fatalf("after an acknowledgement: stalled %v with %d outstanding", stalled, n)
	}
	p.acked()
	if stalled, d, n := p.Stalled(limit); stalled || n != 0 || d != 0 {
		t.Fatalf("nothing outstanding: stalled %v for %v with %d outstanding", stalled, d, n)
	}
}

// TestProgress_hammer starts and acknowledges records from many goroutines: the count ends at
// zero and the route is never stalled under a generous limit.
func TestProgress_hammer(t *testing.T) {
	var p Progress
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 10_000 {
				p.started()
				if stalled, _, _ := p.Stalled(time.Minute); stalled {
					t.Error("stalled while records are acknowledged")
					return
				}
				p.acked()
			}
		})
	}
	wg.Wait()
	if n := p.outstanding.Load(); n != 0 {
		t.Fatalf("%d outstanding after every record was acknowledged", n)
	}
}
