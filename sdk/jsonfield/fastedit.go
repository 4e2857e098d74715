package jsonfield

import (
	"bytes"
	"math"
	"sync"
	"unicode/utf8"
	"unsafe"
)

// This file is the fast implementation of an Edit's program: the document
// is validated once, its objects are expanded into member lists only where
// an operation descends, and the result is written once at the end. It
// handles the common case and gives up (ok false) whenever it cannot be
// sure to produce exactly what applyEdit produces, which then runs: on any
// error, on a path through an array, on an empty path, on an object that
// is not compact (whitespace between its tokens) or has a key with a
// backslash or invalid UTF-8, on a root that is not an object, and on
// inputs that could nest deeper than maxDepth.

// text is a part of one of a tree's sources (the document, the program or
// the arena), as offsets rather than a slice so that nodes and members hold
// no pointers: appending them costs no write barriers.
type text struct {
	src    uint8 // srcDoc, srcProg or srcArena
	off, n int32
}

const (
	srcDoc = iota
	srcProg
	srcArena
)

// tnode is a value of the edited document: raw text (obj false) or an
// expanded object, a linked list of members in order (first and last are
// indexes into tree.members, -1 when empty).
type tnode struct {
	raw         text
	obj         bool
	first, last int32
}

// tmember is one member of an expanded object.
type tmember struct {
	key  text // the key as written, with its quotes
	name text // the unescaped key when esc
	esc  bool // key has escapes (only keys the edit inserted)
	val  int32
	next int32 // next member, -1 at the end
}

// tree is the state of one fast apply.
type tree struct {
	srcs    [3][]byte // the document, the program, the arena
	nodes   []tnode
	members []tmember

	// Expanding an object scans it in full, so expanding every level of a
	// deep path is quadratic: past scanBudget bytes applyEdit (linear in
	// the document per operation) is the better choice.
	scanned, scanBudget int
}

// bytes returns x's bytes, capped.
func (t *tree) bytes(x text) []byte {
	end := x.off + x.n
	return t.srcs[x.src][x.off:end:end]
}

// sub returns the text of b, a non-empty part of x's source.
func (t *tree) sub(x text, b []byte) text {
	base := t.srcs[x.src]
	off := uintptr(unsafe.Pointer(unsafe.SliceData(b))) - uintptr(unsafe.Pointer(unsafe.SliceData(base)))
	return text{src: x.src, off: int32(off), n: int32(len(b))}
}

// arenaText appends b to the arena and returns its text.
func (t *tree) arenaText(start int) text {
	return text{src: srcArena, off: int32(start), n: int32(len(t.srcs[srcArena]) - start)}
}

// treeBufs is a tree's memory, pooled between calls. The tree itself lives
// on the stack: writing slices into it costs no write barriers.
type treeBufs struct {
	nodes   []tnode
	members []tmember
	arena   []byte
}

var treePool = sync.Pool{New: func() any { return new(treeBufs) }}

func (t *tree) rawNode(raw text) int32 {
	t.nodes = append(t.nodes, tnode{raw: raw, first: -1, last: -1})
	return int32(len(t.nodes) - 1)
}

func (t *tree) objNode() int32 {
	t.nodes = append(t.nodes, tnode{obj: true, first: -1, last: -1})
	return int32(len(t.nodes) - 1)
}

// addMember appends a member to the object n.
func (t *tree) addMember(n int32, m tmember) {
	m.next = -1
	t.members = append(t.members, m)
	i := int32(len(t.members) - 1)
	if nd := &t.nodes[n]; nd.last < 0 {
		nd.first, nd.last = i, i
	} else {
		t.members[nd.last].next = i
		nd.last = i
	}
}

// newKey returns the member for key seg, quoted as Set quotes it.
func (t *tree) newKey(seg string, val int32) tmember {
	start := len(t.srcs[srcArena])
	t.srcs[srcArena] = AppendString(t.srcs[srcArena], seg)
	m := tmember{key: t.arenaText(start), val: val}
	if m.esc = int(m.key.n) != len(seg)+2; m.esc {
		start = len(t.srcs[srcArena])
		t.srcs[srcArena] = append(t.srcs[srcArena], seg...)
		m.name = t.arenaText(start)
	}
	return m
}

// expand turns the raw object n into a member list; false when n is not an
// object or the object is not one this file handles (see the top).
func (t *tree) expand(n int32) bool {
	_, ok := t.expandEnd(n)
	return ok
}

// expandEnd is expand, also returning the offset in n's raw text just past
// the object. The text may continue after the object (the root's does);
// the object is validated as skipValue validates it at depth 0 (it is
// accepted only when skipValue accepts it).
func (t *tree) expandEnd(n int32) (int, bool) {
	rawText := t.nodes[n].raw
	raw := t.bytes(rawText)
	if t.scanned += len(raw); len(raw) < 2 || raw[0] != '{' || t.scanned > t.scanBudget {
		return 0, false
	}
	t.nodes[n] = tnode{obj: true, first: -1, last: -1}
	if raw[1] == '}' {
		return 2, true
	}
	// A compact object only: what the walker accepts, without whitespace.
	for i := 1; ; {
		if i >= len(raw) || raw[i] != '"' {
			return 0, false
		}
		keyEnd, esc, err := skipString(raw, i)
		if err != nil || esc || keyEnd >= len(raw) || raw[keyEnd] != ':' || !plainKey(raw[i+1:keyEnd-1]) {
			return 0, false
		}
		valEnd, err := skipValue(raw, keyEnd+1, 1)
		if err != nil || valEnd >= len(raw) {
			return 0, false
		}
		key := text{src: rawText.src, off: rawText.off + int32(i), n: int32(keyEnd - i)}
		val := text{src: rawText.src, off: rawText.off + int32(keyEnd+1), n: int32(valEnd - keyEnd - 1)}
		t.addMember(n, tmember{key: key, val: t.rawNode(val)})
		switch raw[valEnd] {
		case ',':
			i = valEnd + 1
		case '}':
			return valEnd + 1, true
		default:
			return 0, false
		}
	}
}

// plainKey reports whether keyIs compares the key's raw bytes (no escapes
// to decode, no invalid UTF-8 to replace).
func plainKey(b []byte) bool { return isASCII(b) || utf8.Valid(b) }

// find returns the first member of the expanded object n named seg and the
// member before it (-1 for none), as child does; m is -1 when absent.
func (t *tree) find(n int32, seg string) (m, prev int32) {
	prev = -1
	for m = t.nodes[n].first; m >= 0; prev, m = m, t.members[m].next {
		mb := &t.members[m]
		if mb.esc {
			if int(mb.name.n) == len(seg) && string(t.bytes(mb.name)) == seg {
				return m, prev
			}
		} else if int(mb.key.n) == len(seg)+2 {
			if key := t.bytes(mb.key); string(key[1:len(key)-1]) == seg {
				return m, prev
			}
		}
	}
	return -1, prev
}

// get finds path under root as lookup would in the serialized document: a
// node index, or -1 when absent. Raw values are searched as lookup does.
func (t *tree) get(root int32, path string) int32 {
	n := root
	var raw []byte // when not nil, the value found so far is raw, not node n
	var rawText text
	segs := newSegments(path)
	for seg, ok := segs.next(); ok; seg, ok = segs.next() {
		if raw == nil && t.nodes[n].obj {
			m, _ := t.find(n, seg)
			if m < 0 {
				return -1
			}
			n = t.members[m].val
			continue
		}
		if raw == nil {
			rawText = t.nodes[n].raw
			raw = t.bytes(rawText)
		}
		if c := raw[0]; c != '{' && c != '[' {
			return -1
		}
		w, found, err := child(raw, 0, 1, seg)
		if err != nil || !found {
			return -1 // err: never on a valid value
		}
		raw = raw[w.valStart:] // its end is found once, at the end, as lookup does
	}
	if raw == nil {
		return n
	}
	end, err := skipValue(raw, 0, 0)
	if err != nil {
		return -1 // never on a valid value
	}
	return t.rawNode(t.sub(rawText, raw[:end]))
}

// set sets path (not empty) under root to the node val, as setGo would;
// false when it cannot (an error, or a case left to applyEdit).
func (t *tree) set(root int32, path string, val int32) bool {
	n := root
	segs := newSegments(path)
	seg, _ := segs.next()
	for {
		if !t.nodes[n].obj && !t.expand(n) {
			return false
		}
		next, more := segs.next()
		m, _ := t.find(n, seg)
		if m >= 0 {
			if !more {
				t.members[m].val = val
				return true
			}
			n, seg = t.members[m].val, next
			continue
		}
		// Absent: append the member, creating objects for the rest.
		for more {
			o := t.objNode()
			t.addMember(n, t.newKey(seg, o))
			n, seg = o, next
			next, more = segs.next()
		}
		t.addMember(n, t.newKey(seg, val))
		return true
	}
}

// del deletes path (not empty) under root as deleteGo would; false when it
// cannot.
func (t *tree) del(root int32, path string) bool {
	n := root
	segs := newSegments(path)
	seg, _ := segs.next()
	for {
		if nd := &t.nodes[n]; !nd.obj {
			if c := t.bytes(nd.raw)[0]; c != '{' && c != '[' {
				return true // a scalar on the way: nothing to delete
			}
			if !t.expand(n) {
				return false
			}
		}
		m, prev := t.find(n, seg)
		if m < 0 {
			return true
		}
		next, more := segs.next()
		if more {
			n, seg = t.members[m].val, next
			continue
		}
		nd := &t.nodes[n]
		after := t.members[m].next
		if prev < 0 {
			nd.first = after
		} else {
			t.members[prev].next = after
		}
		if nd.last == m {
			nd.last = prev
		}
		return true
	}
}

// write appends node n's JSON text to dst.
func (t *tree) write(dst []byte, n int32) []byte {
	nd := &t.nodes[n]
	if !nd.obj {
		return append(dst, t.bytes(nd.raw)...)
	}
	dst = append(dst, '{')
	for m := nd.first; m >= 0; m = t.members[m].next {
		if m != nd.first {
			dst = append(dst, ',')
		}
		mb := &t.members[m]
		dst = append(append(dst, t.bytes(mb.key)...), ':')
		dst = t.write(dst, mb.val)
	}
	return append(dst, '}')
}

// bstring views b as a string for the duration of the apply (b, a part of
// the program, is not modified meanwhile).
func bstring(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// applyFast appends to dst the result of applyEdit(doc, prog) and reports
// true, or reports false (dst's contents past its length then undefined)
// when applyEdit must run: on every error and every case it leaves out.
func applyFast(dst, doc, prog []byte) ([]byte, bool) {
	i := skipSpace(doc, 0)
	if i == len(doc) || doc[i] != '{' || len(prog) > maxDepth/4 || len(doc) > math.MaxInt32/2 {
		return dst, false
	}
	// Every operation nests at most 2 levels per program byte deeper than
	// the document (paths and values are in the program); the document
	// nests at most once per bracket.
	if budget := maxDepth - 2*len(prog) - 2; len(doc) > budget &&
		bytes.Count(doc, []byte{'{'})+bytes.Count(doc, []byte{'['}) > budget {
		return dst, false
	}
	if out, ok := appendNew(dst, doc, prog); ok {
		return out, true
	}
	bufs := treePool.Get().(*treeBufs)
	t := tree{nodes: bufs.nodes[:0], members: bufs.members[:0]}
	t.srcs[srcArena] = bufs.arena[:0]
	dst, ok := t.apply(dst, doc, prog)
	if cap(t.srcs[srcArena]) <= 1<<16 && cap(t.nodes) <= 1<<12 && cap(t.members) <= 1<<12 {
		bufs.nodes, bufs.members, bufs.arena = t.nodes, t.members, t.srcs[srcArena]
	}
	treePool.Put(bufs)
	return dst, ok
}

// apply is applyFast with t, an empty tree.
func (t *tree) apply(dst, doc, prog []byte) ([]byte, bool) {
	i := skipSpace(doc, 0)
	t.srcs[srcDoc], t.srcs[srcProg] = doc, prog
	t.scanned, t.scanBudget = 0, 4*(len(doc)+len(prog))+4096
	// The root's expansion validates the document, as parse does.
	root := t.rawNode(text{src: srcDoc, off: int32(i), n: int32(len(doc) - i)})
	n, ok := t.expandEnd(root)
	end := i + n
	if !ok || skipSpace(doc, end) != len(doc) {
		return dst, false
	}
	prefix, suffix := doc[:i], doc[end:]
	r := progReader{b: prog}
	for len(r.b) > 0 {
		code := r.byte()
		if code == opSelect {
			n := r.uvarint()
			sel := t.objNode()
			for ; n > 0 && !r.err; n-- {
				p := bstring(r.bytes())
				if p == "" {
					return dst, false
				}
				if v := t.get(root, p); v >= 0 && !t.set(sel, p, v) {
					return dst, false
				}
			}
			root, prefix, suffix = sel, nil, nil
			continue
		}
		path := bstring(r.bytes())
		if path == "" {
			return dst, false
		}
		ok := false
		switch code {
		case opSet, opSetDefault:
			raw := r.bytes()
			if r.err {
				return dst, false
			}
			if code == opSetDefault && t.get(root, path) >= 0 {
				continue
			}
			v, err := parse(raw)
			if err != nil {
				return dst, false
			}
			ok = t.set(root, path, t.rawNode(t.sub(text{src: srcProg}, v.raw)))
		case opSetFloat:
			f := r.float()
			if r.err || math.IsNaN(f) || math.IsInf(f, 0) {
				return dst, false
			}
			start := len(t.srcs[srcArena])
			t.srcs[srcArena] = appendFloat(t.srcs[srcArena], f)
			ok = t.set(root, path, t.rawNode(t.arenaText(start)))
		case opDelete:
			ok = t.del(root, path)
		case opMove:
			to := bstring(r.bytes())
			if r.err || to == "" {
				return dst, false
			}
			v := t.get(root, path)
			ok = v < 0 || t.del(root, path) && t.set(root, to, v)
		}
		if !ok || r.err {
			return dst, false
		}
	}
	if r.err {
		return dst, false
	}
	dst = append(dst, prefix...)
	dst = t.write(dst, root)
	return append(dst, suffix...), true
}
