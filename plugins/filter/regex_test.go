package main

import (
	"encoding/json"
	"regexp"
	"testing"

	"github.com/tributary-gw/tributary/sdk/jsonfield"
)

func TestLiteralPattern(t *testing.T) {
	tests := []struct {
		pattern string
		op      litOp
		lit     string
	}{
		{`abc`, contains, "abc"},
		{`^bldg1-`, hasPrefix, "bldg1-"},
		{`-s000$`, hasSuffix, "-s000"},
		{`^abc$`, isEqual, "abc"},
		{`\Aabc\z`, isEqual, "abc"},
		{`a\.b`, contains, "a.b"},
		{`^\^\$$`, isEqual, "^$"},
		{`é€`, contains, "é€"},
		{`a`, contains, "a"},
		{``, contains, ""},
		{`^`, hasPrefix, ""},
		{`$`, hasSuffix, ""},
		{`^$`, isEqual, ""},
		{`(?:abc)`, contains, "abc"},
		{`(?s)abc`, contains, "abc"},
		{`(?i)abc`, useRegexp, ""},
		{`(?m)^abc`, useRegexp, ""},
		{`(?m)abc$`, useRegexp, ""},
		{`(abc)`, useRegexp, ""},
		{`a.c`, useRegexp, ""},
		{`abc|abd`, useRegexp, ""},
		{`^bldg1-f[0-9]+-`, useRegexp, ""},
		{`ab*`, useRegexp, ""},
		{`^^abc`, useRegexp, ""},
		{`abc$$`, useRegexp, ""},
		{`$abc`, useRegexp, ""},
		{`abc^`, useRegexp, ""},
		{`\babc`, useRegexp, ""},
		{`a\z\z`, useRegexp, ""},
	}
	for _, tc := range tests {
		t.Run(tc.pattern, func(t *testing.T) {
			op, lit := literalPattern(tc.pattern)
			if op != tc.op || lit != tc.lit {
				t.Fatalf("literalPattern(%q) = %d, %q; want %d, %q", tc.pattern, op, lit, tc.op, tc.lit)
			}
		})
	}
}

// TestMatcherAgreesWithRegexp checks that the literal fast paths decide
// exactly as the regexp engine on many patterns and inputs.
func TestMatcherAgreesWithRegexp(t *testing.T) {
	patterns := []string{
		`abc`, `^abc`, `abc$`, `^abc$`, `\Aabc\z`, ``, `^`, `$`, `^$`, `a`, `^a`, `a$`, `^a$`,
		`bldg1-`, `^bldg1-`, `-s000$`, `^bldg1-f1-r101-s000$`, `a\.b`, `^\$`, `\^$`, `é`, `^é`, `é$`,
		`(?i)abc`, `(?m)^abc`, `(?m)abc$`, `(?m)^abc$`, `(?:abc)`, `(?s)^abc`, `(?U)abc$`,
		`a.c`, `ab*`, `^bldg1-f[0-9]+-`, `abc|abd`, "\n", `^\n`, `\n$`,
	}
	inputs := []string{
		"", "a", "abc", "abcabc", "xabc", "abcx", "xabcx", "ab", "ABC", "Abc", "aBc",
		"abc\n", "\nabc", "x\nabc\nx", "abc\nabc", "\n", "a.b", "axb", "$", "^", "^$", "$^",
		"bldg1-f1-r101-s000", "bldg2-f1-r101-s000", "xbldg1-", "bldg1", "-s000", "-s0000",
		"é", "éa", "aé", "e\u0301", "\ufffd", "a\u0000c", "abd", "ac",
	}
	for _, p := range patterns {
		m, err := newMatcher(p)
		if err != nil {
			t.Fatalf("newMatcher(%q): %v", p, err)
		}
		re := regexp.MustCompile(p)
		for _, s := range inputs {
			want := re.MatchString(s)
			if got := m.matchString(s); got != want {
				t.Errorf("pattern %q (op %d) on %q: matchString = %v, regexp says %v", p, m.op, s, got, want)
			}
			if got := m.matchBytes([]byte(s)); got != want {
				t.Errorf("pattern %q (op %d) on %q: matchBytes = %v, regexp says %v", p, m.op, s, got, want)
			}
			raw, _ := json.Marshal(s) // escapes <, >, & and control characters: the slow path
			v, err := jsonfield.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			if got := m.matchValue(v); got != want {
				t.Errorf("pattern %q (op %d) on JSON %s: matchValue = %v, regexp says %v", p, m.op, raw, got, want)
			}
		}
	}
}

func TestMatcherValues(t *testing.T) {
	m, err := newMatcher(`^bldg1-`)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		raw  string
		want bool
	}{
		{`"bldg1-f1"`, true},
		{`"bldg2-f1"`, false},
		{`"\u0062ldg1-f1"`, true}, // escaped: matched on its text
		{`"bldg1\u002d"`, true},
		{`"bldg1\\-"`, false},
		{`"é-bldg1-"`, false},
		{`12`, false},
		{`null`, false},
		{`["bldg1-"]`, false},
	}
	for _, tc := range tests {
		v, err := jsonfield.Parse([]byte(tc.raw))
		if err != nil {
			t.Fatal(err)
		}
		if got := m.matchValue(v); got != tc.want {
			t.Errorf("matchValue(%s) = %v, want %v", tc.raw, got, tc.want)
		}
	}
	if got := m.matchValue(jsonfield.Value{}); got {
		t.Error("matchValue(zero Value) = true, want false")
	}
}

// FuzzMatcher checks that the fast paths agree with the regexp engine on
// arbitrary patterns and inputs.
func FuzzMatcher(f *testing.F) {
	for _, s := range [][2]string{{`^abc`, "abcd"}, {`-s000$`, "x-s000"}, {`^a$`, "a"}, {`(?i)a`, "A"}, {`a`, "\xff"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, s string) {
		m, err := newMatcher(pattern)
		if err != nil {
			return
		}
		raw, _ := json.Marshal(s) // valid UTF-8 text, as Value.Text gives
		v, err := jsonfield.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		text, _ := v.Text()
		if got, want := m.matchValue(v), m.re.MatchString(text); got != want {
			t.Fatalf("pattern %q (op %d) on %q: matchValue = %v, regexp says %v", pattern, m.op, text, got, want)
		}
	})
}
