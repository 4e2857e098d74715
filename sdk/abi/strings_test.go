package abi

import (
	"fmt"
	"strconv"
	"testing"
	"unsafe"
)

// Strings.DecodeBatch returns a topic seen in an earlier frame, in any
// position, as the string it made then.
func TestStrings_remembersTopics(t *testing.T) {
	var seen Strings
	first, err := seen.DecodeBatch(AppendBatch(nil, []Message{{Topic: "s/1"}, {Topic: "s/2"}}), nil)
	if err != nil {
		t.Fatal(err)
	}
	s1, s2 := first[0].Topic, first[1].Topic
	second, err := seen.DecodeBatch(AppendBatch(nil, []Message{{Topic: "s/2"}, {Topic: "s/1"}, {Topic: "s/3"}}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := []string{second[0].Topic, second[1].Topic, second[2].Topic}; got[0] != "s/2" || got[1] != "s/1" || got[2] != "s/3" {
		t.Fatalf("topics %q", got)
	}
	if unsafe.StringData(second[0].Topic) != unsafe.StringData(s2) || unsafe.StringData(second[1].Topic) != unsafe.StringData(s1) {
		t.Error("a topic seen before was allocated again")
	}
	for i := range 3 * maxRemembered { // past the bound: still bounded
		seen.intern([]byte(strconv.Itoa(i)))
		seen.intern([]byte(strconv.Itoa(i)))
	}
	if len(seen.m) > maxRemembered || len(seen.e) > maxRemembered {
		t.Errorf("%d strings remembered, bound %d", len(seen.m), maxRemembered)
	}
	checkRing(t, &seen)
}

// checkRing checks that the entries form one ring in both directions and
// that the map and the entries agree.
func checkRing(t *testing.T, s *Strings) {
	t.Helper()
	if len(s.m) != len(s.e) {
		t.Fatalf("%d in the map, %d entries", len(s.m), len(s.e))
	}
	i := s.head
	for n := range len(s.e) {
		if n > 0 && i == s.head {
			t.Fatalf("ring of %d entries closes after %d", len(s.e), n)
		}
		if s.e[s.e[i].next].prev != i {
			t.Fatalf("entry %d: next's prev is %d", i, s.e[s.e[i].next].prev)
		}
		if s.m[s.e[i].s] != i {
			t.Fatalf("entry %d holds %q, which the map puts at %d", i, s.e[i].s, s.m[s.e[i].s])
		}
		i = s.e[i].next
	}
	if i != s.head {
		t.Fatal("the ring does not close")
	}
}

// A full Strings forgets the least recently used string, and only for a
// string missed twice.
func TestStrings_forgetsTheLeastRecentlyUsed(t *testing.T) {
	var s Strings
	for i := range maxRemembered {
		s.intern([]byte(strconv.Itoa(i)))
	}
	zero := s.intern([]byte("0")) // used again: now the most recent; "1" is the least
	s.intern([]byte("new"))
	if _, ok := s.m["new"]; ok {
		t.Fatal("a string missed once took a place")
	}
	s.intern([]byte("new"))
	if _, ok := s.m["new"]; !ok {
		t.Fatal("a string missed twice has no place")
	}
	if _, ok := s.m["1"]; ok {
		t.Error(`"1", the least recently used, is still remembered`)
	}
	if got := s.intern([]byte("0")); unsafe.StringData(got) != unsafe.StringData(zero) {
		t.Error(`"0", used recently, was forgotten`)
	}
	checkRing(t, &s)
}

// Topics visited in turn, more of them than a Strings holds, keep a part of
// them remembered: the old Strings (emptied when full) found none.
func TestStrings_degradesGracefully(t *testing.T) {
	for _, topics := range []int{2 * maxRemembered, 25 * maxRemembered} {
		var s Strings
		hits := cycle(&s, topics, 8)
		if hits < maxRemembered/2 {
			t.Errorf("%d topics in turn: %d hits in the last round, want at least %d", topics, hits, maxRemembered/2)
		}
		checkRing(t, &s)
	}
}

// cycle interns topics 0..n-1 in turn, rounds times, and returns how many
// of the last round were remembered.
func cycle(s *Strings, n, rounds int) int {
	hits := 0
	for r := range rounds {
		for i := range n {
			b := []byte("building/" + strconv.Itoa(i) + "/temp")
			if _, ok := s.m[string(b)]; ok && r == rounds-1 {
				hits++
			}
			s.intern(b)
		}
	}
	return hits
}

func TestStrings_hitDoesNotAllocate(t *testing.T) {
	var s Strings
	b := []byte("building/floor2/sensor/017/temp")
	for i := range maxRemembered + 10 { // full, so every path is set up
		s.intern([]byte(strconv.Itoa(i)))
	}
	s.intern(b)
	s.intern(b)
	other := []byte("0")
	if a := testing.AllocsPerRun(100, func() { s.intern(b); s.intern(other) }); a != 0 {
		t.Errorf("a hit allocates %v times", a)
	}
}

// emptyingStrings is the Strings of before (emptied whenever full), kept to
// compare with in BenchmarkStrings.
type emptyingStrings struct{ m map[string]string }

func (s *emptyingStrings) intern(b []byte) string {
	if v, ok := s.m[string(b)]; ok {
		return v
	}
	if s.m == nil || len(s.m) >= maxRemembered {
		s.m = make(map[string]string)
	}
	v := string(b)
	s.m[v] = v
	return v
}

// BenchmarkStrings interns topics visited in turn (devices publishing on a
// period) and picked at random with a skew (a few busy devices), from 1k to
// 100k topics, with this Strings ("lru") and the one that emptied itself
// when full ("emptying"); hit% is the share of strings found remembered.
//
//	go test -run '^$' -bench Strings -benchmem ./abi/   (in sdk/)
func BenchmarkStrings(b *testing.B) {
	for _, n := range []int{1000, 4000, 10000, 100000} {
		topics := make([][]byte, n)
		for i := range topics {
			topics[i] = fmt.Appendf(nil, "building/floor%d/sensor/%05d/temp", i%10, i)
		}
		for _, order := range []string{"turns", "skewed"} {
			seq := make([]int32, 1<<20)
			x := uint64(88172645463325252)
			for i := range seq {
				if order == "turns" {
					seq[i] = int32(i % n)
					continue
				}
				x ^= x << 13
				x ^= x >> 7
				x ^= x << 17
				// Two draws, the smaller kept: topic k is picked with a
				// probability falling linearly from 2/n to 0.
				a, c := int32(x%uint64(n)), int32((x>>32)%uint64(n))
				seq[i] = min(a, c)
			}
			for _, impl := range []string{"lru", "emptying"} {
				b.Run(fmt.Sprintf("topics=%d/%s/%s", n, order, impl), func(b *testing.B) {
					var lru Strings
					var old emptyingStrings
					intern := lru.intern
					if impl == "emptying" {
						intern = old.intern
					}
					for _, k := range seq { // warm up
						intern(topics[k])
					}
					b.ReportAllocs()
					i := 0
					for b.Loop() {
						intern(topics[seq[i&(len(seq)-1)]])
						i++
					}
					b.StopTimer()
					hits := 0
					for _, k := range seq[:1<<16] {
						_, inLRU := lru.m[string(topics[k])]
						_, inOld := old.m[string(topics[k])]
						if inLRU || inOld {
							hits++
						}
						intern(topics[k])
					}
					b.ReportMetric(100*float64(hits)/(1<<16), "hit%")
				})
			}
		}
	}
}
