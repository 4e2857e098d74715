package jsonfield

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ErrNotFound is wrapped by [Lookup] when the path does not exist in a
// well-formed part of the document.
var ErrNotFound = errors.New("jsonfield: path not found")

// EscapeKey returns name as one path segment: its backslashes and dots escaped with a
// backslash, so a member name such as "a.b" is addressed as the key, not as a path.
func EscapeKey(name string) string {
	if !strings.ContainsAny(name, `.\`) {
		return name
	}
	return strings.NewReplacer(`\`, `\\`, `.`, `\.`).Replace(name)
}

// segments iterates over a path's segments without allocating (except for
// segments with backslash escapes).
type segments struct {
	path string
	pos  int
	done bool
}

func newSegments(path string) segments { return segments{path: path, done: path == ""} }

func (s *segments) next() (string, bool) {
	if s.done {
		return "", false
	}
	start, esc := s.pos, false
	for i := start; i < len(s.path); i++ {
		switch s.path[i] {
		case '\\':
			esc = true
			i++
		case '.':
			s.pos = i + 1
			return unescapeSeg(s.path[start:i], esc), true
		}
	}
	s.done = true
	return unescapeSeg(s.path[start:], esc), true
}

// unescapeSeg removes a segment's backslash escapes and, as encoding/json
// does for keys, turns each invalid UTF-8 byte into U+FFFD.
func unescapeSeg(seg string, esc bool) string {
	if !utf8.ValidString(seg) {
		var b strings.Builder
		for i := 0; i < len(seg); {
			r, size := utf8.DecodeRuneInString(seg[i:])
			b.WriteRune(r) // RuneError for each invalid byte
			i += size
		}
		seg = b.String()
	}
	if !esc {
		return seg
	}
	var b strings.Builder
	for i := 0; i < len(seg); i++ {
		if seg[i] == '\\' && i+1 < len(seg) {
			i++
		}
		b.WriteByte(seg[i])
	}
	return b.String()
}

// arrayIndex parses a canonical non-negative decimal index.
func arrayIndex(seg string) (int, bool) {
	if seg == "" || len(seg) > 9 || (len(seg) > 1 && seg[0] == '0') {
		return 0, false
	}
	n := 0
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// child finds seg inside the container at doc[i]. It returns the walker
// positioned on the member (value not yet scanned) when found, or the
// walker after the closing bracket when not.
func child(doc []byte, i, depth int, seg string) (w walker, found bool, err error) {
	w = newWalker(doc, i, depth)
	if w.obj {
		for w.next() {
			if w.keyIs(seg) {
				return w, true, nil
			}
		}
		return w, false, w.err
	}
	idx, isIndex := arrayIndex(seg)
	for w.next() {
		if isIndex && w.index == idx {
			return w, true, nil
		}
	}
	return w, false, w.err
}

// Lookup returns the value at path in doc. It validates the part of doc it
// scans, up to and including the value found.
//
// # Errors
//
// A path that does not exist wraps [ErrNotFound]; malformed JSON met on the
// way wraps [ErrSyntax].
func Lookup(doc []byte, path string) (Value, error) {
	if v, r := hostGet(doc, path); r == hostOK {
		return v, nil
	}
	return lookup(doc, path) // also explains a failure
}

// lookup is [Lookup] in Go, on every target.
func lookup(doc []byte, path string) (Value, error) {
	i := skipSpace(doc, 0)
	segs := newSegments(path)
	depth := 0
	for seg, ok := segs.next(); ok; seg, ok = segs.next() {
		if i >= len(doc) {
			return Value{}, syntaxErr(i, "unexpected end, want a value")
		}
		if c := doc[i]; c != '{' && c != '[' {
			if _, err := skipValue(doc, i, depth); err != nil {
				return Value{}, err
			}
			return Value{}, fmt.Errorf("%w: %q: %s where an object or array was expected", ErrNotFound, path, Value{raw: doc[i : i+1]}.Kind())
		}
		depth++
		if depth > maxDepth {
			return Value{}, syntaxErr(i, "nested deeper than %d", maxDepth)
		}
		w, found, err := child(doc, i, depth, seg)
		if err != nil {
			return Value{}, err
		}
		if !found {
			return Value{}, fmt.Errorf("%w: %q: no %q", ErrNotFound, path, seg)
		}
		i = w.valStart
	}
	end, err := skipValue(doc, i, depth)
	if err != nil {
		return Value{}, err
	}
	return Value{raw: doc[i:end:end]}, nil
}

// Get returns the value at path in doc and true, or false when the path does
// not exist or the JSON scanned on the way is malformed. See [Lookup] for
// the distinction.
func Get(doc []byte, path string) (Value, bool) {
	switch v, r := hostGet(doc, path); r {
	case hostOK:
		return v, true
	case hostNotFound, hostMalformed:
		return Value{}, false
	}
	v, err := lookup(doc, path)
	return v, err == nil
}
