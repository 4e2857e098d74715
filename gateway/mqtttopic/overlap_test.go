package mqtttopic

import "testing"

func TestOverlap(t *testing.T) {
	cases := []struct {
		a, b string
		want bool
	}{
		{"a/b", "a/b", true},
		{"a/b", "a/c", false},
		{"a/+", "a/b", true},
		{"a/+", "+/b", true},
		{"a/+", "a/b/c", false},
		{"a/#", "a", true}, // "#" matches the parent level
		{"a/#", "a/b/c", true},
		{"a/#", "b/#", false},
		{"#", "$SYS/x", false},
		{"+/x", "$SYS/x", false},
		{"$SYS/#", "$SYS/x", true},
		{"a/+/c", "a/b/+", true},
		{"a/+/c", "a/b/d", false},
		{"a", "a/+", false},
		{"a//b", "a/+/b", true},
	}
	for _, c := range cases {
		if got := Overlap(c.a, c.b); got != c.want {
			t.Errorf("Overlap(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
		if got := Overlap(c.b, c.a); got != c.want {
			t.Errorf("Overlap(%q, %q) = %v, want %v (swapped)", c.b, c.a, got, c.want)
		}
		// Cross-check with Match on the topic the case is about, when it is a topic name.
		for _, topic := range []string{c.a, c.b} {
			if !ValidTopic(topic) {
				continue
			}
			fa, _ := ParseFilter(c.a)
			fb, _ := ParseFilter(c.b)
			if fa.Match(topic) && fb.Match(topic) && !Overlap(c.a, c.b) {
				t.Errorf("%q matches both %q and %q, but Overlap says no", topic, c.a, c.b)
			}
		}
	}
}

func TestTemplateUsesProperties(t *testing.T) {
	for src, want := range map[string]bool{
		"fixed":                         false,
		"{{.Topic}}":                    false,
		`x.{{.Property "site"}}`:        true,
		`{{.Segment 1}}-{{.Segment 2}}`: false,
	} {
		tpl, err := ParseTemplate(src)
		if err != nil {
			t.Fatal(err)
		}
		if got := tpl.UsesProperties(); got != want {
			t.Errorf("%q: UsesProperties = %v, want %v", src, got, want)
		}
	}
}
