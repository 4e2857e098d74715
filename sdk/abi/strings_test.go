package abi

import (
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
	for i := range maxRemembered + 1 { // past the bound, memory starts afresh
		seen.intern([]byte(strconv.Itoa(i)))
	}
	if len(seen.m) > maxRemembered {
		t.Errorf("%d strings remembered, bound %d", len(seen.m), maxRemembered)
	}
}
