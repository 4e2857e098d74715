package mqtttopic

import (
	"slices"
	"strings"
)

// Index matches a topic name against many filters at once, in time that depends on the
// topic's levels and on the filters that match it, not on how many filters it holds: the
// filters are kept in a tree of topic levels with a branch for "+" and a list for "#" at each
// node, and matching walks only the branches the topic's levels lead to.
//
// Each filter is added with an id, a small non-negative integer the caller picks (a route's
// position, say); several filters may share one. Match answers with ids, in increasing order
// and each once, so a caller that numbers its routes in order gets back the routes a message
// matches in that order, once each however many of a route's filters match.
//
// Build an Index with NewIndex and Add, then only call Match: Add must not run concurrently
// with anything, Match is safe for concurrent use.
type Index struct {
	root indexNode
	n    int
}

// indexNode is one level of the tree: the filters' prefixes that reach it.
type indexNode struct {
	// The next level, by its text: a list while short (comparing a few strings is faster
	// than hashing one), a map beyond maxListed.
	listed []indexChild
	exact  map[string]*indexNode
	plus   *indexNode // the next level is "+"
	hash   []int32    // filters whose next level is "#": they match here and below
	end    []int32    // filters that end here
}

// NewIndex returns an empty Index.
func NewIndex() *Index { return &Index{} }

// Len returns how many filters were added.
func (x *Index) Len() int { return x.n }

// Add adds f with id. A zero Filter (one ParseFilter did not return) is ignored, as it
// matches nothing. id must be at least 0 and fit in 31 bits.
func (x *Index) Add(f Filter, id int) {
	if len(f.levels) == 0 {
		return
	}
	if id < 0 || id > 1<<31-1 {
		panic("mqtttopic: Index id out of range")
	}
	x.n++
	n := &x.root
	for _, level := range f.levels {
		switch level {
		case "#":
			n.hash = append(n.hash, int32(id))
			return
		case "+":
			if n.plus == nil {
				n.plus = &indexNode{}
			}
			n = n.plus
		default:
			next := n.child(level)
			if next == nil {
				next = &indexNode{}
				n.addChild(level, next)
			}
			n = next
		}
	}
	n.end = append(n.end, int32(id))
}

// Match appends to dst the ids of the filters that match topic, following the rules of
// Filter.Match, in increasing order and without repeats, and returns the extended slice.
// It does not check that topic is a valid topic name, and allocates only to grow dst.
func (x *Index) Match(topic string, dst []int) []int {
	start := len(dst)
	// A filter starting with a wildcard does not match a topic starting with "$".
	dollar := len(topic) > 0 && topic[0] == '$'
	root := &x.root
	if !dollar {
		dst = appendIDs(dst, root.hash)
	}
	seg, rest, last := cutLevel(topic)
	if next := root.child(seg); next != nil {
		dst = next.match(rest, last, dst)
	}
	if root.plus != nil && !dollar {
		dst = root.plus.match(rest, last, dst)
	}
	return sortUnique(dst, start)
}

// match appends the ids of the filters matching a topic that has reached node n: rest is what
// follows the level that led here, and last tells that no level follows (rest is then "").
func (n *indexNode) match(rest string, last bool, dst []int) []int {
	// "#" matches the level that led here ("a/#" matches "a") and any below it.
	dst = appendIDs(dst, n.hash)
	if last {
		return appendIDs(dst, n.end)
	}
	seg, rest, last := cutLevel(rest)
	if next := n.child(seg); next != nil {
		dst = next.match(rest, last, dst)
	}
	if n.plus != nil {
		dst = n.plus.match(rest, last, dst)
	}
	return dst
}

// indexChild is a node's child for one exact level.
type indexChild struct {
	level string
	node  *indexNode
}

// maxListed is how many children a node keeps in its list before it keeps them in a map.
const maxListed = 8

// child returns n's child for the exact level, or nil.
func (n *indexNode) child(level string) *indexNode {
	if n.exact != nil {
		return n.exact[level]
	}
	for i := range n.listed {
		if n.listed[i].level == level {
			return n.listed[i].node
		}
	}
	return nil
}

// addChild adds c as n's child for level, which it does not have yet.
func (n *indexNode) addChild(level string, c *indexNode) {
	if n.exact == nil && len(n.listed) < maxListed {
		n.listed = append(n.listed, indexChild{level, c})
		return
	}
	if n.exact == nil {
		n.exact = make(map[string]*indexNode, 2*maxListed)
		for _, l := range n.listed {
			n.exact[l.level] = l.node
		}
		n.listed = nil
	}
	n.exact[level] = c
}

// cutLevel splits topic at its first "/": the first level, what follows, and whether it was
// the last level.
func cutLevel(topic string) (seg, rest string, last bool) {
	if i := strings.IndexByte(topic, '/'); i >= 0 {
		return topic[:i], topic[i+1:], false
	}
	return topic, "", true
}

func appendIDs(dst []int, ids []int32) []int {
	for _, id := range ids {
		dst = append(dst, int(id))
	}
	return dst
}

// sortUnique sorts dst[start:] and drops repeats from it. A topic usually matches a few
// filters, which insertion sort orders fastest.
func sortUnique(dst []int, start int) []int {
	s := dst[start:]
	if len(s) > 16 {
		slices.Sort(s)
	} else {
		for i := 1; i < len(s); i++ {
			for j := i; j > 0 && s[j] < s[j-1]; j-- {
				s[j], s[j-1] = s[j-1], s[j]
			}
		}
	}
	out := start
	for _, v := range s {
		if out == start || v != dst[out-1] {
			dst[out] = v
			out++
		}
	}
	return dst[:out]
}
