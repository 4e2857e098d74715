package abi

import (
	"encoding/binary"
	"fmt"
)

// Smallest encodings, used to bound counts by the bytes left before
// anything is allocated.
const (
	minMessage = 5*4 + 1 + 1 + 8 + 4 + 4 + 4 + 4 // five strings, qos, flags, time, topic, key, two pair counts
	minResult  = 1 + 4                           // status and an error length or an output count
	minOutput  = 1                               // flags alone (payload unchanged)
	minPair    = 4 + 4
)

// reader walks a frame. The first failure sticks in err; later reads return
// zero values, so callers check err once per record.
type reader struct {
	b    []byte
	off  int
	err  error
	seen *Strings // nil: strings are compared with the previous value only
}

func (r *reader) fail(field, format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: offset %d: %s: %s", ErrMalformed, r.off, field, fmt.Sprintf(format, args...))
	}
}

func (r *reader) left() int { return len(r.b) - r.off }

func (r *reader) u8(field string) byte {
	if r.err != nil {
		return 0
	}
	if r.left() < 1 {
		r.fail(field, "need 1 byte, have 0")
		return 0
	}
	v := r.b[r.off]
	r.off++
	return v
}

func (r *reader) u32(field string) uint32 {
	if r.err != nil {
		return 0
	}
	if r.left() < 4 {
		r.fail(field, "need 4 bytes, have %d", r.left())
		return 0
	}
	v := binary.LittleEndian.Uint32(r.b[r.off:])
	r.off += 4
	return v
}

func (r *reader) i64(field string) int64 {
	if r.err != nil {
		return 0
	}
	if r.left() < 8 {
		r.fail(field, "need 8 bytes, have %d", r.left())
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b[r.off:])
	r.off += 8
	return int64(v)
}

// bytes reads a length-prefixed byte string. The result aliases the frame
// and has its capacity clipped, so appending to it never writes into the frame.
func (r *reader) bytes(field string) []byte {
	n := r.u32(field)
	if r.err != nil {
		return nil
	}
	if uint64(n) > uint64(r.left()) {
		r.fail(field, "length %d runs past the end (%d bytes left)", n, r.left())
		return nil
	}
	b := r.b[r.off : r.off+int(n) : r.off+int(n)]
	r.off += int(n)
	return b
}

// str reads a length-prefixed string. When its bytes equal prev, prev is
// returned so that repeated values (same topic, route, header names) do not
// allocate.
func (r *reader) str(field string, prev string) string {
	return r.strOf(r.bytes(field), prev)
}

// strOf returns b as a string: prev when equal, else one remembered in
// r.seen, else a new one.
func (r *reader) strOf(b []byte, prev string) string {
	if string(b) == prev {
		return prev
	}
	if r.seen != nil {
		return r.seen.intern(b)
	}
	return string(b)
}

// Strings remembers the strings [Strings.DecodeBatch] decodes, so that a
// value seen in an earlier batch (a topic of a device that publishes
// again, a route, a header name) is not allocated again: allocating is
// what costs most in a Go wasm guest. The zero Strings is ready to use; it
// is not safe for concurrent use.
//
// It remembers at most maxRemembered strings of up to maxRememberedLen
// bytes, and degrades gracefully when more are in use. A full Strings
// forgets the least recently used string to make room, but only for a
// string missed once before (recently enough that a small table of the
// hashes of missed strings still holds it): devices that publish in turn
// on more topics than it holds would otherwise each push out the one to
// be seen next, and nothing would ever be found. So a part of such a set
// stays remembered, about maxRemembered of them, and a new working set
// replaces an old one after its second visit. A hit costs a map lookup
// and a few index writes, and allocates nothing.
type Strings struct {
	m    map[string]int32 // remembered string → its entry in e
	e    []rememberedString
	head int32 // the most recently used entry; e[head].prev is the least

	ghost []uint32 // hash tags of strings missed while full, by hash; 0: none
}

// rememberedString is one string in a Strings' list of entries, kept in
// order of use as a ring.
type rememberedString struct {
	s          string
	prev, next int32
}

const (
	maxRemembered    = 4096
	maxRememberedLen = 256
	ghostSlots       = 4 * maxRemembered // 64 KiB of tags
)

func (s *Strings) intern(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > maxRememberedLen {
		return string(b)
	}
	if i, ok := s.m[string(b)]; ok {
		s.use(i)
		return s.e[i].s
	}
	if len(s.e) < maxRemembered {
		v := string(b)
		s.add(v)
		return v
	}
	// Full: take the place of the least recently used string only on a
	// second miss.
	h := fnv1a(b)
	slot, tag := &s.ghost[h%ghostSlots], uint32(h>>32)|1
	v := string(b)
	if *slot != tag {
		*slot = tag
		return v
	}
	*slot = 0
	lru := s.e[s.head].prev
	delete(s.m, s.e[lru].s)
	s.e[lru].s = v
	s.m[v] = lru
	s.head = lru // the ring's last entry becomes its first
	return v
}

// add remembers v, a string not yet remembered, while there is room.
func (s *Strings) add(v string) {
	i := int32(len(s.e))
	if i == 0 {
		s.m = make(map[string]int32, 64)
		s.e = append(s.e, rememberedString{s: v, prev: 0, next: 0})
		s.head = 0
	} else {
		last := s.e[s.head].prev
		s.e = append(s.e, rememberedString{s: v, prev: last, next: s.head})
		s.e[last].next = i
		s.e[s.head].prev = i
		s.head = i
	}
	s.m[v] = i
	if len(s.e) == maxRemembered {
		s.ghost = make([]uint32, ghostSlots)
	}
}

// fnv1a is the 64-bit FNV-1a hash of b (no package for it: hash/fnv's
// hashers are interfaces that escape).
func fnv1a(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

// use moves entry i to the front of the ring: the most recently used.
func (s *Strings) use(i int32) {
	if i == s.head {
		return
	}
	if i == s.e[s.head].prev {
		s.head = i // the last becomes the first by turning the ring
		return
	}
	e := &s.e[i]
	s.e[e.prev].next = e.next
	s.e[e.next].prev = e.prev
	last := s.e[s.head].prev
	e.prev, e.next = last, s.head
	s.e[last].next = i
	s.e[s.head].prev = i
	s.head = i
}

// DecodeBatch is [DecodeBatch] taking strings seen before from s.
func (s *Strings) DecodeBatch(frame []byte, into []Message) ([]Message, error) {
	return decodeBatch(reader{b: frame, seen: s}, into)
}

// count reads a u32 count and checks that count records of at least min
// bytes each fit in what is left, so a hostile count cannot make the caller
// allocate.
func (r *reader) count(field string, min int) int {
	n := r.u32(field)
	if r.err != nil {
		return 0
	}
	if left := r.left(); uint64(n)*uint64(min) > uint64(left) {
		r.off -= 4
		r.fail(field, "count %d cannot fit in %d bytes left", n, left)
		return 0
	}
	return int(n)
}

// pairs reads a pairs field into into[:0], reusing its backing array and,
// where equal, its strings.
func (r *reader) pairs(field, nameField, valueField string, into []Property) []Property {
	n := r.count(field, minPair)
	if r.err != nil {
		return into[:0]
	}
	if n == 0 {
		return into[:0]
	}
	old := into[:cap(into)]
	if cap(into) < n {
		into = make([]Property, n)
		old = old[:0]
	}
	into = into[:n]
	for i := range n {
		var prev Property
		if i < len(old) {
			prev = old[i]
		}
		into[i].Name = r.str(nameField, prev.Name)
		into[i].Value = r.str(valueField, prev.Value)
	}
	return into
}

func (r *reader) header(field string) {
	v := r.u32(field)
	if r.err == nil && v != Version {
		r.off -= 4
		r.fail(field, "got %d, want %d", v, Version)
	}
}

func (r *reader) end(field string) {
	if r.err == nil && r.left() != 0 {
		r.fail(field, "%d trailing bytes", r.left())
	}
}

// DecodeBatch decodes an input frame (ABI.md §3) into into[:0] and returns
// the messages. It reuses into's backing array and the Properties and
// Headers arrays of its elements, and reuses a previous element's string
// when the new one is equal, so decoding similar batches into the same slice
// does not allocate in steady state. Do not keep references to the
// elements of into across calls.
//
// Payload and Key alias frame; strings are copies.
//
// # Errors
//
// A wrong version, a count of 0, a QoS above 2, an unknown message flag bit,
// a length running past the end or trailing bytes give an error wrapping
// [ErrMalformed] that names the field and its offset. DecodeBatch never
// panics and never reads outside frame.
func DecodeBatch(frame []byte, into []Message) ([]Message, error) {
	return decodeBatch(reader{b: frame}, into)
}

func decodeBatch(r reader, into []Message) ([]Message, error) {
	r.header("batch version")
	n := r.count("batch count", minMessage)
	if r.err == nil && n == 0 {
		r.off -= 4
		r.fail("batch count", "must be at least 1")
	}
	if r.err != nil {
		return into[:0], r.err
	}
	if cap(into) < n {
		grown := make([]Message, n)
		copy(grown, into[:cap(into)])
		into = grown
	}
	into = into[:n]
	for i := range n {
		m := &into[i]
		if r.fastMessage(m) {
			continue
		}
		m.Topic = r.str("topic", m.Topic)
		m.Payload = r.bytes("payload")
		m.ContentType = r.str("content_type", m.ContentType)
		m.Route = r.str("route", m.Route)
		m.Tenant = r.str("tenant", m.Tenant)
		m.QoS = r.u8("qos")
		if r.err == nil && m.QoS > 2 {
			r.off--
			r.fail("qos", "got %d, want 0, 1 or 2", m.QoS)
		}
		flags := r.u8("flags")
		if r.err == nil && flags&^(msgRetain|msgKeySet) != 0 {
			r.off--
			r.fail("flags", "unknown bits %#02x", flags&^(msgRetain|msgKeySet))
		}
		m.Retain = flags&msgRetain != 0
		m.KeySet = flags&msgKeySet != 0
		m.ArrivedAtMs = r.i64("arrived_at_ms")
		m.KafkaTopic = r.str("kafka_topic", m.KafkaTopic)
		m.Key = r.bytes("key")
		m.Properties = r.pairs("properties", "property name", "property value", m.Properties)
		m.Headers = r.pairs("headers", "header name", "header value", m.Headers)
		if r.err != nil {
			return into[:0], fmt.Errorf("message %d: %w", i, r.err)
		}
	}
	r.end("batch")
	if r.err != nil {
		return into[:0], r.err
	}
	return into, nil
}

// DecodeResults decodes and validates a result frame (ABI.md §4) for a batch
// of inputs messages into into[:0] and returns one Result per input, in
// input order. maxFanOut bounds the outputs of each result; 0 or less means
// no bound. It reuses into's backing array and the Outputs and Headers arrays
// of its elements.
//
// Payload and Key alias frame; strings are copies. The host must copy a
// frame out of guest memory before decoding it.
//
// # Errors
//
// Every violation wraps [ErrMalformed] and names the field and its offset:
// a wrong version, a count other than inputs, a status other than 0 or 1, an
// unknown output flag bit, more than maxFanOut outputs, a length running past
// the end, or trailing bytes. Counts are checked against the bytes left before
// anything is allocated. DecodeResults never panics and never reads outside
// frame.
func DecodeResults(frame []byte, inputs int, maxFanOut int, into []Result) ([]Result, error) {
	r := reader{b: frame}
	r.header("result version")
	n := r.u32("result count")
	if r.err == nil && uint64(n) != uint64(inputs) {
		r.off -= 4
		r.fail("result count", "got %d, want %d (the input count)", n, inputs)
	}
	if left := r.left(); r.err == nil && uint64(n)*minResult > uint64(left) {
		r.off -= 4
		r.fail("result count", "count %d cannot fit in %d bytes left", n, left)
	}
	if r.err != nil {
		return into[:0], r.err
	}
	if cap(into) < int(n) {
		grown := make([]Result, n)
		copy(grown, into[:cap(into)])
		into = grown
	}
	into = into[:n]
	for i := range into {
		res := &into[i]
		res.Err, res.Failed = "", false
		outs := res.Outputs[:0]
		res.Outputs = nil
		switch status := r.u8("status"); {
		case r.err != nil:
		case status == statusError:
			res.Failed = true
			res.Err = string(r.bytes("error"))
			res.Outputs = outs
		case status == statusOK:
			res.Outputs = r.outputs(maxFanOut, outs)
		default:
			r.off--
			r.fail("status", "got %d, want 0 or 1", status)
		}
		if r.err != nil {
			return into[:0], fmt.Errorf("result %d: %w", i, r.err)
		}
	}
	r.end("result")
	if r.err != nil {
		return into[:0], r.err
	}
	return into, nil
}

func (r *reader) outputs(maxFanOut int, outs []Output) []Output {
	n := r.count("output count", minOutput)
	if r.err == nil && maxFanOut > 0 && n > maxFanOut {
		r.off -= 4
		r.fail("output count", "%d outputs exceed max_fan_out %d", n, maxFanOut)
	}
	if r.err != nil || n == 0 {
		return outs[:0]
	}
	old := outs[:cap(outs)]
	if cap(outs) < n {
		outs = make([]Output, n)
		copy(outs, old)
		old = outs
	}
	outs = outs[:n]
	for j := range outs {
		o := &outs[j]
		f := OutputFlags(r.u8("output flags"))
		if r.err == nil && f&^knownFlags != 0 {
			r.off--
			r.fail("output flags", "unknown bits %#02x", byte(f&^knownFlags))
		}
		prevTopic, prevHeaders := old[j].KafkaTopic, old[j].Headers
		*o = Output{Flags: f}
		if f&PayloadUnchanged == 0 {
			o.Payload = r.bytes("output payload")
		}
		if f&SetKafkaTopic != 0 {
			o.KafkaTopic = r.str("output kafka_topic", prevTopic)
		}
		if f&SetKey != 0 {
			o.Key = r.bytes("output key")
		}
		if f&SetHeaders != 0 {
			o.Headers = r.pairs("output headers", "output header name", "output header value", prevHeaders)
		}
		if r.err != nil {
			r.err = fmt.Errorf("output %d: %w", j, r.err)
			return outs[:0]
		}
	}
	return outs
}

// span returns the bounds of the length-prefixed field at off in b; false
// when it does not fit. It makes no call, so it inlines.
func span(b []byte, off int) (start, end int, ok bool) {
	if len(b)-off < 4 {
		return 0, 0, false
	}
	n := binary.LittleEndian.Uint32(b[off:])
	start = off + 4
	if uint64(n) > uint64(len(b)-start) {
		return 0, 0, false
	}
	return start, start + int(n), true
}

// fastMessage decodes the message record at r.off into m, as the reader's
// field-by-field path does, with inlined bounds checks: in a wasm guest,
// where calls are dear, that path cost several hundred nanoseconds per
// message. It reports false for a record it cannot decode (every
// malformed one), having changed neither r nor m's fields (the memory of
// m's properties and headers perhaps), which the field-by-field path then
// decodes or explains.
func (r *reader) fastMessage(m *Message) bool {
	b, off := r.b, r.off
	var strs [5][2]int // topic, payload, content type, route, tenant
	for i := range strs {
		s, e, ok := span(b, off)
		if !ok {
			return false
		}
		strs[i], off = [2]int{s, e}, e
	}
	if len(b)-off < 10 {
		return false
	}
	qos, flags := b[off], b[off+1]
	if qos > 2 || flags&^(msgRetain|msgKeySet) != 0 {
		return false
	}
	arrived := int64(binary.LittleEndian.Uint64(b[off+2:]))
	off += 10
	ts, te, ok := span(b, off)
	if !ok {
		return false
	}
	ks, ke, ok := span(b, te)
	if !ok {
		return false
	}
	props, headers := m.Properties[:0], m.Headers[:0]
	end := ke + 8
	if len(b)-ke < 8 {
		return false
	}
	if binary.LittleEndian.Uint64(b[ke:]) != 0 { // properties or headers
		if props, end, ok = r.fastPairs(b, ke, m.Properties); !ok {
			return false
		}
		if headers, end, ok = r.fastPairs(b, end, m.Headers); !ok {
			return false
		}
	}
	m.Topic = r.strOf(b[strs[0][0]:strs[0][1]], m.Topic)
	m.Payload = b[strs[1][0]:strs[1][1]:strs[1][1]]
	m.ContentType = r.strOf(b[strs[2][0]:strs[2][1]], m.ContentType)
	m.Route = r.strOf(b[strs[3][0]:strs[3][1]], m.Route)
	m.Tenant = r.strOf(b[strs[4][0]:strs[4][1]], m.Tenant)
	m.QoS, m.Retain, m.KeySet = qos, flags&msgRetain != 0, flags&msgKeySet != 0
	m.ArrivedAtMs = arrived
	m.KafkaTopic = r.strOf(b[ts:te], m.KafkaTopic)
	m.Key = b[ks:ke:ke]
	m.Properties, m.Headers = props, headers
	r.off = end
	return true
}

// fastPairs decodes the pairs field at off in b as reader.pairs does, into
// into's memory, returning the offset past it; false when it does not fit
// (having perhaps written into into's memory).
func (r *reader) fastPairs(b []byte, off int, into []Property) ([]Property, int, bool) {
	if len(b)-off < 4 {
		return nil, 0, false
	}
	n := binary.LittleEndian.Uint32(b[off:])
	off += 4
	if n == 0 {
		return into[:0], off, true
	}
	if uint64(n)*minPair > uint64(len(b)-off) {
		return nil, 0, false
	}
	old := into[:cap(into)]
	if uint64(cap(into)) < uint64(n) {
		into, old = make([]Property, n), old[:0]
	}
	into = into[:n]
	for i := range into {
		var prev Property
		if i < len(old) {
			prev = old[i]
		}
		ns, ne, ok := span(b, off)
		if !ok {
			return nil, 0, false
		}
		vs, ve, ok := span(b, ne)
		if !ok {
			return nil, 0, false
		}
		into[i].Name = r.strOf(b[ns:ne], prev.Name)
		into[i].Value = r.strOf(b[vs:ve], prev.Value)
		off = ve
	}
	return into, off, true
}
