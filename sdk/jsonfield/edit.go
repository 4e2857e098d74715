package jsonfield

import (
	"errors"
	"fmt"
	"math"
	"strconv"
)

// Set returns a copy of doc with the value at path replaced by raw, which
// must be one valid JSON value. Missing object members along the path are
// created as nested objects; an array index equal to the array's length
// appends. doc is never modified. The empty path replaces the whole
// document.
//
// # Errors
//
// doc and raw are validated in full; malformed JSON wraps [ErrSyntax]. A
// path through a scalar, or an array index past the end (other than
// appending) or not a number, is an error naming the path.
func Set(doc []byte, path string, raw []byte) ([]byte, error) {
	if out, r := hostSet(doc, path, raw); r == hostOK {
		return out, nil
	}
	v, err := parse(raw)
	if err != nil {
		return nil, fmt.Errorf("value for %q: %w", path, err)
	}
	return setGo(doc, path, v.raw)
}

// SetString sets the value at path to the JSON string s; see [Set].
func SetString(doc []byte, path, s string) ([]byte, error) {
	return set(doc, path, AppendString(nil, s))
}

// SetInt sets the value at path to the number n; see [Set].
func SetInt(doc []byte, path string, n int64) ([]byte, error) {
	return set(doc, path, strconv.AppendInt(nil, n, 10))
}

// SetFloat sets the value at path to the number f, formatted as
// encoding/json formats a float64; see [Set]. NaN and infinities are errors.
func SetFloat(doc []byte, path string, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("value for %q: %v is not a JSON number", path, f)
	}
	if out, r := hostSetFloat(doc, path, f); r == hostOK {
		return out, nil
	}
	return setGo(doc, path, appendFloat(nil, f)) // also explains a failure
}

// SetBool sets the value at path to true or false; see [Set].
func SetBool(doc []byte, path string, b bool) ([]byte, error) {
	return set(doc, path, strconv.AppendBool(nil, b))
}

// Delete returns a copy of doc without the member or array element at path,
// keeping the rest of the document as it was. When the path does not exist,
// Delete returns doc itself and no error.
//
// # Errors
//
// doc is validated in full; malformed JSON wraps [ErrSyntax]. Deleting the
// empty path (the whole document) is an error.
func Delete(doc []byte, path string) ([]byte, error) {
	switch out, r := hostDelete(doc, path); r {
	case hostOK:
		return out, nil
	case hostNotFound:
		return doc, nil
	}
	return deleteGo(doc, path) // also explains a failure
}

// deleteGo is [Delete] in Go, on every target.
func deleteGo(doc []byte, path string) ([]byte, error) {
	if _, err := parse(doc); err != nil {
		return nil, err
	}
	if path == "" {
		return nil, errors.New("jsonfield: cannot delete the whole document")
	}
	i := skipSpace(doc, 0)
	segs := newSegments(path)
	seg, _ := segs.next()
	for depth := 1; ; depth++ {
		if c := doc[i]; c != '{' && c != '[' {
			return doc, nil
		}
		w, found, _ := child(doc, i, depth, seg) // doc is valid
		if !found {
			return doc, nil
		}
		next, more := segs.next()
		if more {
			i, seg = w.valStart, next
			continue
		}
		w.finish()
		start := w.valStart
		if w.obj {
			start = w.keyStart
		}
		cutFrom, cutTo := start, w.valEnd
		if j := skipSpace(doc, w.valEnd); doc[j] == ',' {
			cutTo = skipSpace(doc, j+1)
		} else if w.prevEnd >= 0 {
			cutFrom = w.prevEnd
		}
		out := make([]byte, 0, len(doc)-(cutTo-cutFrom))
		return append(append(out, doc[:cutFrom]...), doc[cutTo:]...), nil
	}
}

// set is Set once raw is known to be one valid, trimmed JSON value.
func set(doc []byte, path string, raw []byte) ([]byte, error) {
	if out, r := hostSet(doc, path, raw); r == hostOK {
		return out, nil
	}
	return setGo(doc, path, raw) // also explains a failure
}

// setGo is set in Go, on every target.
func setGo(doc []byte, path string, raw []byte) ([]byte, error) {
	if _, err := parse(doc); err != nil {
		return nil, err
	}
	if path == "" {
		return append([]byte(nil), raw...), nil
	}
	i := skipSpace(doc, 0)
	segs := newSegments(path)
	depth := 0
	for seg, ok := segs.next(); ok; seg, ok = segs.next() {
		c := doc[i]
		if c != '{' && c != '[' {
			return nil, fmt.Errorf("jsonfield: path %q: cannot set %q inside a %s", path, seg, Value{raw: doc[i : i+1]}.Kind())
		}
		depth++
		w, found, _ := child(doc, i, depth, seg) // doc is valid
		if found {
			i = w.valStart
			continue
		}
		// Not found: insert before the closing bracket, after the last value.
		at, comma := w.end-1, w.index >= 0
		if comma {
			at = w.valEnd
		}
		var ins []byte
		if comma {
			ins = append(ins, ',')
		}
		if w.obj {
			ins = append(AppendString(ins, seg), ':')
		} else if idx, ok := arrayIndex(seg); !ok || idx != w.index+1 {
			return nil, fmt.Errorf("jsonfield: path %q: %q is not an index of an array of %d elements (or its length, to append)", path, seg, w.index+1)
		}
		ins = appendNested(ins, &segs, raw)
		return splice(doc, at, at, ins), nil
	}
	end, _ := skipValue(doc, i, depth) // doc is valid
	return splice(doc, i, end, raw), nil
}

// appendNested appends the remaining segments as nested objects around raw:
// b.c with raw 1 gives {"b":{"c":1}}.
func appendNested(dst []byte, segs *segments, raw []byte) []byte {
	seg, ok := segs.next()
	if !ok {
		return append(dst, raw...)
	}
	dst = append(AppendString(append(dst, '{'), seg), ':')
	return append(appendNested(dst, segs, raw), '}')
}

// splice returns doc with doc[from:to] replaced by ins, in a new slice.
func splice(doc []byte, from, to int, ins []byte) []byte {
	out := make([]byte, 0, len(doc)-(to-from)+len(ins))
	out = append(out, doc[:from]...)
	out = append(out, ins...)
	return append(out, doc[to:]...)
}

// appendFloat formats f as encoding/json does for float64.
func appendFloat(dst []byte, f float64) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' { // clean up e-09 to e-9
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}
