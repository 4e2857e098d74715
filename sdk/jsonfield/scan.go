package jsonfield

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// maxDepth bounds nesting, as encoding/json does, so hostile input cannot
// exhaust the stack.
const maxDepth = 10000

// ErrSyntax is wrapped by every error about malformed JSON, with the offset.
var ErrSyntax = errors.New("jsonfield: malformed JSON")

func syntaxErr(off int, format string, args ...any) error {
	return fmt.Errorf("%w at offset %d: %s", ErrSyntax, off, fmt.Sprintf(format, args...))
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(doc []byte, i int) int {
	for i < len(doc) && isSpace(doc[i]) {
		i++
	}
	return i
}

// skipValue validates the value starting at doc[i] (no leading space) and
// returns the offset just past it.
func skipValue(doc []byte, i, depth int) (int, error) {
	if i >= len(doc) {
		return i, syntaxErr(i, "unexpected end, want a value")
	}
	switch c := doc[i]; {
	case c == '{':
		return skipObject(doc, i, depth+1)
	case c == '[':
		return skipArray(doc, i, depth+1)
	case c == '"':
		end, _, err := skipString(doc, i)
		return end, err
	case c == '-' || (c >= '0' && c <= '9'):
		return skipNumber(doc, i)
	case c == 't':
		return skipLiteral(doc, i, "true")
	case c == 'f':
		return skipLiteral(doc, i, "false")
	case c == 'n':
		return skipLiteral(doc, i, "null")
	default:
		return i, syntaxErr(i, "unexpected %q, want a value", c)
	}
}

func skipLiteral(doc []byte, i int, lit string) (int, error) {
	if len(doc)-i < len(lit) || string(doc[i:i+len(lit)]) != lit {
		return i, syntaxErr(i, "bad literal, want %s", lit)
	}
	return i + len(lit), nil
}

// skipString validates the string at doc[i] == '"' and returns the offset
// past the closing quote and whether it contains escapes.
func skipString(doc []byte, i int) (int, bool, error) {
	start := i
	i++
	escaped := false
	for i < len(doc) {
		for i < len(doc) && plainByte[doc[i]] {
			i++
		}
		if i >= len(doc) {
			break
		}
		switch c := doc[i]; {
		case c == '"':
			return i + 1, escaped, nil
		case c == '\\':
			escaped = true
			if i+1 >= len(doc) {
				return i, false, syntaxErr(i, "unterminated escape")
			}
			switch doc[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if len(doc)-i < 6 || !isHex4(doc[i+2:i+6]) {
					return i, false, syntaxErr(i, `bad \u escape`)
				}
				i += 6
			default:
				return i, false, syntaxErr(i, "bad escape %q", doc[i+1])
			}
		case c < 0x20:
			return i, false, syntaxErr(i, "control character %#02x in string", c)
		default:
			i++
		}
	}
	return start, false, syntaxErr(start, "unterminated string")
}

// plainByte tells the bytes a string holds as they are: not a quote, a
// backslash or a control character.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func isHex4(b []byte) bool {
	for _, c := range b[:4] {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func skipNumber(doc []byte, i int) (int, error) {
	start := i
	if doc[i] == '-' {
		i++
	}
	switch {
	case i < len(doc) && doc[i] == '0':
		i++
	case i < len(doc) && doc[i] >= '1' && doc[i] <= '9':
		i = digits(doc, i)
	default:
		return start, syntaxErr(i, "bad number")
	}
	if i < len(doc) && doc[i] == '.' {
		j := digits(doc, i+1)
		if j == i+1 {
			return start, syntaxErr(j, "bad number: no digits after '.'")
		}
		i = j
	}
	if i < len(doc) && (doc[i] == 'e' || doc[i] == 'E') {
		i++
		if i < len(doc) && (doc[i] == '+' || doc[i] == '-') {
			i++
		}
		j := digits(doc, i)
		if j == i {
			return start, syntaxErr(j, "bad number: no exponent digits")
		}
		i = j
	}
	return i, nil
}

func digits(doc []byte, i int) int {
	for i < len(doc) && doc[i] >= '0' && doc[i] <= '9' {
		i++
	}
	return i
}

func skipObject(doc []byte, i, depth int) (int, error) { return skipContainer(doc, i, depth) }

func skipArray(doc []byte, i, depth int) (int, error) { return skipContainer(doc, i, depth) }

// skipContainer validates the object or array at doc[i] (at nesting depth
// depth) and returns the offset past its closing bracket. It keeps the
// brackets still open on a slice rather than on the call stack: a document
// nested maxDepth deep then costs maxDepth bytes, not maxDepth stack frames,
// which a guest's Go stack (wasm, a 16 MiB memory) could not hold. It accepts
// and rejects exactly what a walker does, with the same errors.
func skipContainer(doc []byte, i, depth int) (int, error) {
	if depth > maxDepth {
		return i, syntaxErr(i, "nested deeper than %d", maxDepth)
	}
	var room [64]byte
	open := append(room[:0], closerOf(doc[i])) // closers of the open containers, innermost last
	first := true
	pos := i + 1
	for {
		closer := open[len(open)-1]
		j := skipSpace(doc, pos)
		if j >= len(doc) {
			return 0, syntaxErr(j, "unexpected end, want %q", closer)
		}
		closed := false
		if !first {
			switch doc[j] {
			case ',':
				j = skipSpace(doc, j+1)
			case closer:
				closed = true
			default:
				return 0, syntaxErr(j, "unexpected %q, want ',' or %q", doc[j], closer)
			}
		} else if doc[j] == closer {
			closed = true
		}
		if closed {
			open = open[:len(open)-1]
			if len(open) == 0 {
				return j + 1, nil
			}
			pos, first = j+1, false
			continue
		}
		if closer == '}' {
			if j >= len(doc) || doc[j] != '"' {
				return 0, syntaxErr(j, "want an object key")
			}
			end, _, err := skipString(doc, j)
			if err != nil {
				return 0, err
			}
			j = skipSpace(doc, end)
			if j >= len(doc) || doc[j] != ':' {
				return 0, syntaxErr(j, "want ':' after an object key")
			}
			j = skipSpace(doc, j+1)
		}
		if j >= len(doc) {
			return 0, syntaxErr(j, "unexpected end, want a value")
		}
		if c := doc[j]; c == '{' || c == '[' {
			if depth+len(open) > maxDepth {
				return 0, syntaxErr(j, "nested deeper than %d", maxDepth)
			}
			open = append(open, closerOf(c))
			pos, first = j+1, true
			continue
		}
		end, err := skipValue(doc, j, depth+len(open)-1) // a scalar: no recursion
		if err != nil {
			return 0, err
		}
		pos, first = end, false
	}
}

// closerOf returns the closing bracket of the container opened by c.
func closerOf(c byte) byte {
	if c == '{' {
		return '}'
	}
	return ']'
}

// walker steps through the members of an object or the elements of an
// array, validating each value it passes. A member's value is scanned
// lazily: valEnd is known after finish, or once next moves past it, so a
// lookup that descends into the value scans it only once.
type walker struct {
	doc   []byte
	depth int
	obj   bool
	close byte
	pos   int // where the next member's scan starts
	first bool
	err   error
	end   int // offset past the closing bracket, once next returned false without err

	// The current member (keyStart is -1 in arrays).
	keyStart, keyEnd int
	keyEscaped       bool
	valStart, valEnd int
	pending          bool // valEnd not yet known
	prevEnd          int  // end of the previous value, -1 for the first
	index            int
}

// newWalker starts at doc[i], which must be '{' or '['.
func newWalker(doc []byte, i, depth int) walker {
	w := walker{doc: doc, depth: depth, pos: i + 1, first: true, obj: doc[i] == '{', close: ']', index: -1, valEnd: -1}
	if w.obj {
		w.close = '}'
	}
	return w
}

func (w *walker) fail(err error) bool {
	w.err = err
	return false
}

// finish scans the current value, setting valEnd; false on a syntax error.
func (w *walker) finish() bool {
	if !w.pending {
		return w.err == nil
	}
	w.pending = false
	end, err := skipValue(w.doc, w.valStart, w.depth)
	if err != nil {
		return w.fail(err)
	}
	w.valEnd, w.pos = end, end
	return true
}

// next advances to the next member; false at the end or on an error (err).
func (w *walker) next() bool {
	if !w.finish() {
		return false
	}
	doc := w.doc
	i := skipSpace(doc, w.pos)
	if i >= len(doc) {
		return w.fail(syntaxErr(i, "unexpected end, want %q", w.close))
	}
	if !w.first {
		switch doc[i] {
		case ',':
			i = skipSpace(doc, i+1)
		case w.close:
			w.end = i + 1
			return false
		default:
			return w.fail(syntaxErr(i, "unexpected %q, want ',' or %q", doc[i], w.close))
		}
	} else if doc[i] == w.close {
		w.end = i + 1
		w.first = false
		return false
	}
	w.prevEnd = w.valEnd
	w.first = false
	w.keyStart = -1
	if w.obj {
		if i >= len(doc) || doc[i] != '"' {
			return w.fail(syntaxErr(i, "want an object key"))
		}
		end, esc, err := skipString(doc, i)
		if err != nil {
			return w.fail(err)
		}
		w.keyStart, w.keyEnd, w.keyEscaped = i, end, esc
		i = skipSpace(doc, end)
		if i >= len(doc) || doc[i] != ':' {
			return w.fail(syntaxErr(i, "want ':' after an object key"))
		}
		i = skipSpace(doc, i+1)
	}
	if i >= len(doc) {
		return w.fail(syntaxErr(i, "unexpected end, want a value"))
	}
	w.valStart, w.pending = i, true
	w.index++
	return true
}

// keyIs reports whether the current member's key equals key.
func (w *walker) keyIs(key string) bool {
	return keyIs(w.doc[w.keyStart+1:w.keyEnd-1], w.keyEscaped, key)
}

// keyIs reports whether the inside of a valid key string, raw (escaped:
// it has backslash escapes), equals key.
func keyIs(raw []byte, escaped bool, key string) bool {
	if !escaped {
		// key (a path segment) is valid UTF-8: equal bytes are a match,
		// and different ones are not unless raw's invalid UTF-8 decodes
		// to key's U+FFFD.
		if string(raw) == key {
			return true
		}
		if isASCII(raw) || utf8.Valid(raw) {
			return false
		}
	}
	return unescape(raw) == key
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
