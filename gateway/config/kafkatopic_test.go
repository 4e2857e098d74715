package config

import (
	"strings"
	"testing"
)

func TestKafkaTopicProblem(t *testing.T) {
	for name, want := range map[string]bool{
		"a": true, "a.b_c-9": true, "": false, ".": false, "..": false, "a/b": false,
		"a b": false, strings.Repeat("x", 249): true, strings.Repeat("x", 250): false,
	} {
		if got := KafkaTopicProblem(name) == ""; got != want {
			t.Errorf("KafkaTopicProblem(%q) = %q, want legal=%v", name, KafkaTopicProblem(name), want)
		}
	}
}
