package main

import (
	"bytes"
	"regexp"
	"regexp/syntax"
	"strings"

	"github.com/tributary-gw/tributary/sdk/jsonfield"
)

// litOp is how a literal pattern is tested without the regexp engine.
type litOp uint8

const (
	useRegexp litOp = iota // not a plain literal: run the regexp
	contains               // abc
	hasPrefix              // ^abc
	hasSuffix              // abc$
	isEqual                // ^abc$
)

// matcher is the compiled value of a regex test. A pattern that is a plain
// literal with optional ^ and $ anchors (`^bldg1-`, `-s000$`, `^abc$`,
// `abc`) is tested with a string comparison, which in a wasm guest is
// several times faster than the regexp engine; any other pattern runs re.
type matcher struct {
	re   *regexp.Regexp
	op   litOp
	lit  string
	litB []byte // lit, for bytes.Contains
}

// newMatcher compiles pattern as regexp.Compile does (same errors) and
// picks the literal fast path when the pattern allows it.
func newMatcher(pattern string) (*matcher, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, err
	}
	op, lit := literalPattern(pattern)
	return &matcher{re: re, op: op, lit: lit, litB: []byte(lit)}, nil
}

// literalPattern analyses pattern (parsed with regexp.Compile's flags) and
// returns how to test it as a literal, or useRegexp. Only a literal without
// case folding, preceded by at most one beginning-of-text and followed by at
// most one end-of-text assertion, qualifies: with Perl flags ^ and $ are
// those assertions unless (?m) turns them into line anchors, which do not
// qualify.
func literalPattern(pattern string) (litOp, string) {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return useRegexp, ""
	}
	subs := []*syntax.Regexp{re}
	if re.Op == syntax.OpConcat {
		subs = re.Sub
	}
	begin, end := false, false
	if len(subs) > 0 && subs[0].Op == syntax.OpBeginText {
		begin, subs = true, subs[1:]
	}
	if len(subs) > 0 && subs[len(subs)-1].Op == syntax.OpEndText {
		end, subs = true, subs[:len(subs)-1]
	}
	lit := ""
	switch {
	case len(subs) == 0:
	case len(subs) > 1:
		return useRegexp, ""
	case subs[0].Op == syntax.OpEmptyMatch:
	case subs[0].Op == syntax.OpLiteral && subs[0].Flags&syntax.FoldCase == 0:
		lit = string(subs[0].Rune)
	default:
		return useRegexp, ""
	}
	switch {
	case begin && end:
		return isEqual, lit
	case begin:
		return hasPrefix, lit
	case end:
		return hasSuffix, lit
	}
	return contains, lit
}

// matchString reports whether s matches the pattern, as re.MatchString
// does. s must be valid UTF-8 (a Value.Text result is), where the literal
// tests and the regexp agree.
func (m *matcher) matchString(s string) bool {
	switch m.op {
	case contains:
		return strings.Contains(s, m.lit)
	case hasPrefix:
		return strings.HasPrefix(s, m.lit)
	case hasSuffix:
		return strings.HasSuffix(s, m.lit)
	case isEqual:
		return s == m.lit
	}
	return m.re.MatchString(s)
}

// matchBytes is matchString for a byte slice, without allocating; b must be
// valid UTF-8.
func (m *matcher) matchBytes(b []byte) bool {
	n := len(m.lit)
	switch m.op {
	case contains:
		return bytes.Contains(b, m.litB)
	case hasPrefix:
		return len(b) >= n && string(b[:n]) == m.lit
	case hasSuffix:
		return len(b) >= n && string(b[len(b)-n:]) == m.lit
	case isEqual:
		return string(b) == m.lit
	}
	return m.re.Match(b)
}

// matchValue reports whether v is a string whose text matches the pattern.
// A string without escapes or non-ASCII bytes is its own text and is
// matched in place; others are unescaped first (Value.Text).
func (m *matcher) matchValue(v jsonfield.Value) bool {
	if v.Kind() != jsonfield.String {
		return false
	}
	raw := v.Raw()
	body := raw[1 : len(raw)-1]
	if plainASCII(body) {
		return m.matchBytes(body)
	}
	s, _ := v.Text()
	return m.matchString(s)
}

// plainASCII reports whether b has only ASCII bytes and no backslash: the
// body of a JSON string that is its own text.
func plainASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 || c == '\\' {
			return false
		}
	}
	return true
}
