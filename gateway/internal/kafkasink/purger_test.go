package kafkasink

import (
	"testing"
	"time"
)

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
