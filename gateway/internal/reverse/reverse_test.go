package reverse

import (
	"fmt"
	"hash/maphash"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/internal/kafkasink"
)

func testRoute(maxInFlight int, tenant *config.Tenant) *Route {
	return &Route{rc: &config.ReverseRoute{Name: "down", MaxInFlight: maxInFlight, DeadLetter: "dlq"},
		cfg: Config{Tenant: tenant}, seed: maphash.MakeSeed()}
}

// TestLane: the records of one topic, partition and key share a lane whatever their
// offsets, so they are published one after the other; lanes stay within max_in_flight and
// different keys spread over them.
func TestLane(t *testing.T) {
	r := testRoute(8, nil)
	used := map[int]bool{}
	for k := range 100 {
		key := []byte(fmt.Sprintf("dev%03d", k))
		first := r.lane(&kgo.Record{Topic: "commands", Partition: 2, Key: key, Offset: 0})
		if first < 0 || first >= 8 {
			t.Fatalf("lane %d outside [0, 8)", first)
		}
		used[first] = true
		for off := int64(1); off < 5; off++ {
			if l := r.lane(&kgo.Record{Topic: "commands", Partition: 2, Key: key, Offset: off}); l != first {
				t.Fatalf("key %s: offset %d on lane %d, offset 0 on lane %d", key, off, l, first)
			}
		}
	}
	if len(used) < 2 {
		t.Errorf("100 keys used %d lane(s) of 8", len(used))
	}
	one := testRoute(1, nil)
	if l := one.lane(&kgo.Record{Topic: "t", Partition: 7, Key: []byte("x")}); l != 0 {
		t.Errorf("max_in_flight 1: lane %d", l)
	}
}

// TestLagTracker: lag is the high watermark less the offset after the last commit, summed
// over partitions; a commit never moves back, and revoked partitions no longer count.
func TestLagTracker(t *testing.T) {
	var lt lagTracker
	if n := lt.lag(); n != 0 {
		t.Fatalf("empty tracker: lag %d", n)
	}
	lt.fetched("a", 0, 100, 40) // nothing committed yet: the group stands at 40
	lt.fetched("a", 1, 10, 0)
	if n := lt.lag(); n != 60+10 {
		t.Errorf("after fetches: lag %d, want 70", n)
	}
	lt.committed("a", 0, 69)
	lt.committed("a", 0, 50) // an older commit does not move the position back
	if n := lt.lag(); n != 30+10 {
		t.Errorf("after commits: lag %d, want 40", n)
	}
	lt.fetched("a", 0, 120, 70) // the next fetch: a newer high watermark, position kept
	if n := lt.lag(); n != 50+10 {
		t.Errorf("after a later fetch: lag %d, want 60", n)
	}
	lt.committed("a", 1, 9)
	lt.revoked(map[string][]int32{"a": {0}})
	if n := lt.lag(); n != 0 {
		t.Errorf("partition 1 committed through, partition 0 revoked: lag %d, want 0", n)
	}
}

// TestDeadLetterHeaders: a dead letter keeps the record's own headers first, then says which
// route, tenant and kind, why (cut to 1 KiB), and where the record was and went.
func TestDeadLetterHeaders(t *testing.T) {
	rec := &kgo.Record{Topic: "acme.commands", Partition: 3, Offset: 1234,
		Headers: []kgo.RecordHeader{{Key: "seq", Value: []byte("7")}}}
	why := strings.Repeat("x", 3000)
	r := testRoute(4, &config.Tenant{Name: "acme"})
	hs := r.deadLetterHeaders(rec, KindBadTopic, why, "acme/+/cmd")
	got := map[string]string{}
	for _, h := range hs {
		got[h.Key] = string(h.Value)
	}
	if hs[0].Key != "seq" || string(hs[0].Value) != "7" {
		t.Errorf("first header %s=%s, want the record's seq=7", hs[0].Key, hs[0].Value)
	}
	for k, v := range map[string]string{
		kafkasink.HeaderRoute: "down", kafkasink.HeaderTenant: "acme", kafkasink.HeaderErrorKind: KindBadTopic,
		kafkasink.HeaderOriginalTopic: "acme.commands", HeaderPartition: "3", HeaderOffset: "1234", HeaderMQTTTopic: "acme/+/cmd",
	} {
		if got[k] != v {
			t.Errorf("header %s = %q, want %q", k, got[k], v)
		}
	}
	if e := got[kafkasink.HeaderError]; len(e) != 1024 {
		t.Errorf("error header of %d bytes, want cut to 1024", len(e))
	}
	if len(rec.Headers) != 1 {
		t.Errorf("the record's own headers changed: %v", rec.Headers)
	}
	top := testRoute(4, nil).deadLetterHeaders(rec, KindPluginError, "trap", "")
	for _, h := range top {
		if h.Key == kafkasink.HeaderTenant || h.Key == HeaderMQTTTopic {
			t.Errorf("top-level route before rendering: unexpected header %s=%s", h.Key, h.Value)
		}
	}
}
