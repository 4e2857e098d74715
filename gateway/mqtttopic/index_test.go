package mqtttopic_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tributary-gw/tributary/gateway/mqtttopic"
)

// indexReference is what Index.Match must answer: the ids of the filters whose own Match is
// true, in increasing order, once each.
func indexReference(filters []mqtttopic.Filter, ids []int, topic string) []int {
	var want []int
	for i, f := range filters {
		if f.Match(topic) {
			want = append(want, ids[i])
		}
	}
	slices.Sort(want)
	return slices.Compact(want)
}

// TestIndexMatch puts every filter of the match cases in one Index, some sharing an id, and
// checks each case's topic (and a few more) against the filters one by one.
func TestIndexMatch(t *testing.T) {
	x := mqtttopic.NewIndex()
	var filters []mqtttopic.Filter
	var ids []int
	seen := map[string]bool{}
	for _, tc := range matchCases {
		if seen[tc.filter] {
			continue
		}
		seen[tc.filter] = true
		f, err := mqtttopic.ParseFilter(tc.filter)
		if err != nil {
			t.Fatal(err)
		}
		id := len(filters) / 2 // pairs of filters share an id, like a route with two filters
		filters, ids = append(filters, f), append(ids, id)
		x.Add(f, id)
	}
	// Enough siblings that a node keeps its children in a map rather than a list.
	for i := range 20 {
		for _, s := range []string{fmt.Sprintf("n%d/+", i), fmt.Sprintf("a/n%d", i)} {
			f, err := mqtttopic.ParseFilter(s)
			if err != nil {
				t.Fatal(err)
			}
			filters, ids = append(filters, f), append(ids, 100+i)
			x.Add(f, 100+i)
		}
	}
	x.Add(mqtttopic.Filter{}, 99) // ignored: matches nothing
	if x.Len() != len(filters) {
		t.Errorf("Len() = %d, want %d", x.Len(), len(filters))
	}
	topics := []string{"", "/", "//", "a/b/c/d", "$", "$SYS/x", "b/c", "n7/x", "n19/", "a/n3", "a/n20", "n20/x"}
	for _, tc := range matchCases {
		topics = append(topics, tc.topic)
	}
	anyMatch := false
	for _, topic := range topics {
		want := indexReference(filters, ids, topic)
		got := x.Match(topic, []int{-1}) // Match appends: the -1 must stay first
		if got[0] != -1 || !slices.Equal(got[1:], want) {
			t.Errorf("Match(%q) = %v, want [-1] + %v", topic, got, want)
		}
		anyMatch = anyMatch || len(want) > 1
	}
	if !anyMatch {
		t.Error("no topic matched several filters: the cases test too little")
	}
}

// TestIndexMatchSameIDOnce: a topic matching several filters of one id gets it once, and ids
// come out in increasing order whatever the order the filters were added in.
func TestIndexMatchSameIDOnce(t *testing.T) {
	x := mqtttopic.NewIndex()
	for _, a := range []struct {
		filter string
		id     int
	}{{"a/#", 7}, {"a/b", 7}, {"+/b", 7}, {"#", 3}, {"a/+", 5}, {"a/b", 0}} {
		f, err := mqtttopic.ParseFilter(a.filter)
		if err != nil {
			t.Fatal(err)
		}
		x.Add(f, a.id)
	}
	if got, want := x.Match("a/b", nil), []int{0, 3, 5, 7}; !slices.Equal(got, want) {
		t.Errorf("Match(a/b) = %v, want %v", got, want)
	}
	if got, want := x.Match("$a/b", nil), []int(nil); !slices.Equal(got, want) {
		t.Errorf("Match($a/b) = %v, want %v", got, want)
	}
}

func TestIndexMatchDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	x := mqtttopic.NewIndex()
	for i, s := range []string{"building/+/sensor/#", "building/7/sensor/042/temp", "factory/#", "#"} {
		f, err := mqtttopic.ParseFilter(s)
		if err != nil {
			t.Fatal(err)
		}
		x.Add(f, i)
	}
	buf := make([]int, 0, 8)
	allocs := testing.AllocsPerRun(100, func() {
		if got := x.Match("building/7/sensor/042/temp", buf[:0]); len(got) != 3 {
			t.Fatalf("matched %v", got)
		}
	})
	if allocs != 0 {
		t.Errorf("Match allocates %v times per call, want 0", allocs)
	}
}

// FuzzIndexMatch compares an Index of a few filters (separated by U+0000, which no filter
// holds; ids repeat so that several filters share one) with matching each filter alone.
func FuzzIndexMatch(f *testing.F) {
	f.Add("a/#\x00a/+\x00+/+/c\x00#\x00a/b/c", "a/b/c")
	f.Add("#\x00+/#\x00$SYS/#\x00+", "$SYS/x")
	f.Add("/#\x00+/+\x00/+\x00//", "/")
	f.Add("a//b\x00a/+/b\x00a/#", "a//b")
	f.Add("a/0\x00a/1\x00a/2\x00a/3\x00a/4\x00a/5\x00a/6\x00a/7\x00a/8\x00a/9\x00a/+", "a/8") // a map of children
	for _, tc := range matchCases {
		f.Add(tc.filter+"\x00+/#", tc.topic)
	}
	f.Fuzz(func(t *testing.T, list, topic string) {
		if !mqtttopic.ValidTopic(topic) {
			return
		}
		x := mqtttopic.NewIndex()
		var filters []mqtttopic.Filter
		var ids []int
		for i, s := range strings.Split(list, "\x00") {
			flt, err := mqtttopic.ParseFilter(s)
			if err != nil {
				continue
			}
			filters, ids = append(filters, flt), append(ids, i%3)
			x.Add(flt, i%3)
		}
		want := indexReference(filters, ids, topic)
		if got := x.Match(topic, nil); !slices.Equal(got, want) {
			t.Fatalf("Index of %q: Match(%q) = %v, filters one by one say %v", list, topic, got, want)
		}
	})
}
