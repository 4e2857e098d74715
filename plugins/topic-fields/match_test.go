package main

import (
	"slices"
	"strings"
	"testing"
)

// matchByCut is match as first written, level by level with strings.Cut:
// the reference the faster match is checked against.
func matchByCut(segs []segment, topic string, vals []string) bool {
	c := 0
	rest, done := topic, false
	for _, s := range segs {
		if s.kind == '#' {
			return true
		}
		if done {
			return false
		}
		level, r, more := strings.Cut(rest, "/")
		rest, done = r, !more
		switch s.kind {
		case 'l':
			if level != s.lit {
				return false
			}
		case 'c':
			if len(level) < len(s.lit)+len(s.suffix)+1 || !strings.HasPrefix(level, s.lit) || !strings.HasSuffix(level, s.suffix) {
				return false
			}
			vals[c] = level[len(s.lit) : len(level)-len(s.suffix)]
			c++
		}
	}
	return done
}

var matchPatterns = []string{
	"building/floor{floor}/room{room}/sensor/{sensor}/{metric}",
	"a/b/{x}",
	"a/+/{x}",
	"{x}/#",
	"a/{x}y/b/#",
	"sensors/{id}",
}

func FuzzMatch(f *testing.F) {
	for _, topic := range []string{
		"building/floor1/room101/sensor/s000/temperature", "building/floor/room1/sensor/s/t", "a/b", "a/b/", "a/bc",
		"a", "", "/", "a//x", "a/q/x/extra", "v", "v/", "v/w/x", "a/zy/b", "a/y/b", "a/zy/b/c/d", "sensors/", "sensors/7",
	} {
		for i := range matchPatterns {
			f.Add(i, topic)
		}
	}
	f.Fuzz(func(t *testing.T, i int, topic string) {
		if i < 0 {
			i = -i
		}
		segs, names, err := parsePattern(matchPatterns[i%len(matchPatterns)])
		if err != nil {
			t.Fatal(err)
		}
		saved := pattern
		pattern = segs
		defer func() { pattern = saved }()
		got, want := make([]string, len(names)), make([]string, len(names))
		gotOK, wantOK := match(topic, got), matchByCut(segs, topic, want)
		if gotOK != wantOK || (gotOK && !slices.Equal(got, want)) {
			t.Fatalf("pattern %q topic %q: match %v %q, by Cut %v %q", matchPatterns[i%len(matchPatterns)], topic, gotOK, got, wantOK, want)
		}
	})
}
