package flow

import (
	"slices"
	"testing"
)

// TestTable_MatchInOrderOnce: a message gets the routes it matches in the table's order, each
// once however many of its filters match, and a leading wildcard skips "$" topics.
func TestTable_MatchInOrderOnce(t *testing.T) {
	all := testRoute(t, "all", "#")
	ab := testRoute(t, "ab", "a/b", "a/+", "a/#")
	sys := testRoute(t, "sys", "$SYS/#", "+/uptime")
	other := testRoute(t, "other", "b/#")
	table := NewTable([]*Route{ab, other, sys, all})
	for _, tc := range []struct {
		topic string
		want  []*Route
	}{
		{"a/b", []*Route{ab, all}},
		{"a", []*Route{ab, all}},
		{"b/uptime", []*Route{other, sys, all}},
		{"$SYS/uptime", []*Route{sys}},
		{"c", []*Route{all}},
	} {
		got := table.match(tc.topic, nil)
		if !slices.Equal(got, tc.want) {
			t.Errorf("match(%q) = %v, want %v", tc.topic, names(got), names(tc.want))
		}
	}
	if got := new(Table).match("a", nil); len(got) != 0 {
		t.Errorf("the zero Table matched %v", names(got))
	}
}

func names(rs []*Route) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Name
	}
	return out
}
