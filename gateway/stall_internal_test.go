package gateway

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
	var p progress
	if stalled, _, n := p.stalled(limit); stalled || n != 0 {
		t.Fatalf("a new route: stalled %v with %d outstanding", stalled, n)
	}

	p.since.Store(monoClock() - int64(time.Hour)) // idle for an hour, then a record
	p.started()
	if stalled, _, _ := p.stalled(limit); stalled {
		t.Fatal("a route idle for longer than the limit is stalled by its first record")
	}

	p.since.Store(monoClock() - int64(2*limit)) // nothing acknowledged for twice the limit
	p.started()
	stalled, d, n := p.stalled(limit)
	if !stalled || n != 2 || d < 2*limit {
		t.Fatalf("2 records waiting, none acknowledged for %v: stalled %v for %v with %d outstanding", 2*limit, stalled, d, n)
	}
	if err := stallError(&routeCounters{tenant: "acme", name: "r"}, d, n, limit).Error(); !strings.HasPrefix(err, "kafka (tenant acme, route r): stalled: 2 records outstanding") {
		t.Fatalf("stall error %q does not name the tenant, the route and the count", err)
	}

	p.acked() // one acknowledgement clears the stall, though a record still waits
	if stalled, _, n := p.stalled(limit); stalled || n != 1 {
		t.Fatalf("after an acknowledgement: stalled %v with %d outstanding", stalled, n)
	}
	p.acked()
	if stalled, d, n := p.stalled(limit); stalled || n != 0 || d != 0 {
		t.Fatalf("nothing outstanding: stalled %v for %v with %d outstanding", stalled, d, n)
	}
}

// TestProgress_hammer starts and acknowledges records from many goroutines: the count ends at
// zero and the route is never stalled under a generous limit.
func TestProgress_hammer(t *testing.T) {
	var p progress
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 10_000 {
				p.started()
				if stalled, _, _ := p.stalled(time.Minute); stalled {
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

// TestTopicPurger_NoteOncePerRecreation checks that records produced before the last purge of
// their topic do not purge it again (that would fail the records produced to the new topic
// since), while a record produced after it does.
func TestTopicPurger_NoteOncePerRecreation(t *testing.T) {
	p := newTopicPurger()
	t0 := time.Now()
	p.note("a", t0)
	p.note("a", t0.Add(-time.Second))
	if len(p.due) != 1 || !p.due["a"].Equal(t0) {
		t.Fatalf("due = %v, want a at the latest produce time", p.due)
	}
	// As run does: the purge happens at t1.
	t1 := t0.Add(time.Second)
	clear(p.due)
	p.purgedAt["a"] = t1
	p.note("a", t0) // failed against the old ID, produced before the purge
	if len(p.due) != 0 {
		t.Fatalf("a record produced before the purge asked for another: due = %v", p.due)
	}
	p.note("a", t1.Add(time.Millisecond)) // produced after the purge and failed again
	p.note("b", t0)
	if len(p.due) != 2 {
		t.Fatalf("due = %v, want a and b", p.due)
	}
}
