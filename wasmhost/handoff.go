package wasmhost

import (
	"encoding/binary"

	"github.com/tributary-gw/tributary/sdk/abi"
)

// The hand-off between the stages of a Chain works on frames, not on
// decoded messages. The first stage's input frame is encoded once from the
// batch; the host remembers where each field of each message record lies in
// it. A stage's result frame is read where the guest left it (a view of its
// memory), validated as it is read, and each output becomes a record of the
// next stage's input frame by copying byte ranges: the input record's fields
// that the output does not replace (ABI.md §3: topic, content type, route,
// tenant, qos, retain, arrival time and properties always; payload,
// kafka_topic, key and headers unless its flags set them) and the output's
// own fields, whose encoding in a result frame is the same as in an input
// frame. Only the last stage's outputs are decoded into abi.Messages, sharing
// with the batch's messages every field no stage replaced.

// Message flag bits of the input frame (ABI.md §3).
const (
	msgFlagKeySet = 1 << 1
)

// frameHeader is the start of a frame (ABI.md §3): the version and a count,
// written by frame.finish.
var frameHeader = [8]byte{abi.Version, 0, 0, 0, 0, 0, 0, 0}

// The fields of a record still equal to those of its message in the batch.
const (
	fromBatchPayload = 1 << iota
	fromBatchTopic
	fromBatchKey
	fromBatchHeaders
	fromBatchAll = fromBatchPayload | fromBatchTopic | fromBatchKey | fromBatchHeaders
)

// record locates one message record in a frame: the offset of each field
// the hand-off replaces or reads (each at its u32 length prefix), of the
// flags byte (arrived_at_ms follows it, then kafka_topic) and of the
// record's end.
type record struct {
	start   int // topic
	payload int
	mid     int // content_type, route, tenant, qos
	flags   int // flags byte, arrived_at_ms (8 bytes), then kafka_topic
	key     int
	props   int
	headers int
	end     int

	origin    int   // index of the message in the batch it comes from
	fromBatch uint8 // fromBatch* bits
}

// kafkaTopic is the offset of the record's kafka_topic field.
func (r *record) kafkaTopic() int { return r.flags + 9 }

// frame is an input frame the host built, with the layout of each record.
type frame struct {
	b    []byte
	recs []record
}

// reset empties f, keeping its memory, and writes the frame's header.
func (f *frame) reset() {
	f.b = append(f.b[:0], frameHeader[:]...)
	f.recs = f.recs[:0]
}

// finish writes the record count into the header.
func (f *frame) finish() {
	binary.LittleEndian.PutUint32(f.b[4:], uint32(len(f.recs)))
}

// appendMessage appends m's record, encoded as abi.AppendBatch does, and
// its layout.
func (f *frame) appendMessage(m *abi.Message, origin int) {
	b := f.b
	r := record{origin: origin, fromBatch: fromBatchAll, start: len(b)}
	b = appendField(b, m.Topic)
	r.payload = len(b)
	b = appendField(b, m.Payload)
	r.mid = len(b)
	b = appendField(b, m.ContentType)
	b = appendField(b, m.Route)
	b = appendField(b, m.Tenant)
	var flags byte
	if m.Retain {
		flags |= 1 << 0
	}
	if m.KeySet {
		flags |= msgFlagKeySet
	}
	b = append(b, m.QoS)
	r.flags = len(b)
	b = append(b, flags)
	b = binary.LittleEndian.AppendUint64(b, uint64(m.ArrivedAtMs))
	b = appendField(b, m.KafkaTopic)
	r.key = len(b)
	b = appendField(b, m.Key)
	r.props = len(b)
	b = appendPairs(b, m.Properties)
	r.headers = len(b)
	b = appendPairs(b, m.Headers)
	r.end = len(b)
	f.b = b
	f.recs = append(f.recs, r)
}

func appendField[T string | []byte](dst []byte, s T) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(s)))
	return append(dst, s...)
}

func appendPairs(dst []byte, ps []abi.Property) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(ps)))
	for _, p := range ps {
		dst = appendField(dst, p.Name)
		dst = appendField(dst, p.Value)
	}
	return dst
}

// single makes f a frame of one record: src's record j.
func (f *frame) single(src *frame, j int) {
	r := src.recs[j]
	f.reset()
	f.b = append(f.b, src.b[r.start:r.end]...)
	r.shift(len(frameHeader) - r.start)
	f.recs = append(f.recs, r)
	f.finish()
}

// shift moves every offset of r by d.
func (r *record) shift(d int) {
	r.start += d
	r.payload += d
	r.mid += d
	r.flags += d
	r.key += d
	r.props += d
	r.headers += d
	r.end += d
}

// keepIf drops, in place, the records whose origin keep refuses, moving the
// bytes of those that stay down over the gaps.
func (f *frame) keepIf(keep func(origin int) bool) {
	w, n := len(frameHeader), 0
	for _, r := range f.recs {
		if !keep(r.origin) {
			continue
		}
		if r.start != w {
			copy(f.b[w:], f.b[r.start:r.end])
			r.shift(w - r.start)
		}
		w = r.end
		f.recs[n] = r
		n++
	}
	f.b, f.recs = f.b[:w], f.recs[:n]
}

// output is one output of a result frame: its flags and where the fields
// they select lie in the frame, each from its u32 length prefix (a pairs
// field from its count) to its end.
type output struct {
	flags                        abi.OutputFlags
	payload, topic, key, headers [2]int
}

// appendOutput appends the record stage k+1 sees for output o (whose fields
// lie in res) of record r of src.
func (f *frame) appendOutput(src *frame, r *record, res []byte, o *output) {
	in, b := src.b, f.b
	nr := record{origin: r.origin, fromBatch: r.fromBatch, start: len(b)}
	if o.flags&abi.PayloadUnchanged != 0 {
		b = append(b, in[r.start:r.flags]...)
		nr.payload = nr.start + r.payload - r.start
		nr.mid = nr.start + r.mid - r.start
	} else {
		b = append(b, in[r.start:r.payload]...)
		nr.payload = len(b)
		b = append(b, res[o.payload[0]:o.payload[1]]...)
		nr.mid = len(b)
		b = append(b, in[r.mid:r.flags]...)
		nr.fromBatch &^= fromBatchPayload
	}
	nr.flags = len(b)
	if o.flags&(abi.SetKafkaTopic|abi.SetKey) == 0 {
		b = append(b, in[r.flags:r.headers]...)
		nr.key = nr.flags + r.key - r.flags
		nr.props = nr.flags + r.props - r.flags
	} else {
		flags := in[r.flags]
		if o.flags&abi.SetKey != 0 {
			flags |= msgFlagKeySet
		}
		b = append(b, flags)
		b = append(b, in[r.flags+1:r.kafkaTopic()]...)
		if o.flags&abi.SetKafkaTopic != 0 {
			b = append(b, res[o.topic[0]:o.topic[1]]...)
			nr.fromBatch &^= fromBatchTopic
		} else {
			b = append(b, in[r.kafkaTopic():r.key]...)
		}
		nr.key = len(b)
		if o.flags&abi.SetKey != 0 {
			b = append(b, res[o.key[0]:o.key[1]]...)
			nr.fromBatch &^= fromBatchKey
		} else {
			b = append(b, in[r.key:r.props]...)
		}
		nr.props = len(b)
		b = append(b, in[r.props:r.headers]...)
	}
	nr.headers = len(b)
	if o.flags&abi.SetHeaders != 0 {
		b = append(b, res[o.headers[0]:o.headers[1]]...)
		nr.fromBatch &^= fromBatchHeaders
	} else {
		b = append(b, in[r.headers:r.end]...)
	}
	nr.end = len(b)
	f.b = b
	f.recs = append(f.recs, nr)
}

// resultReader walks a result frame (ABI.md §4) that nothing has checked
// but its size, with the rules of abi.DecodeResults: it accepts exactly the
// frames DecodeResults accepts. Each read reports false for a frame that
// breaks them; the reader then stops, and DecodeResults on the same frame
// says why.
type resultReader struct {
	b   []byte
	off int
}

// header reads the version and the count, which must be n.
func (rd *resultReader) header(n int) bool {
	b := rd.b
	if len(b) < 8 || binary.LittleEndian.Uint32(b) != abi.Version ||
		uint64(binary.LittleEndian.Uint32(b[4:])) != uint64(n) {
		return false
	}
	rd.off = 8
	return uint64(n)*(1+4) <= uint64(len(b)-8) // a status and a u32 per result
}

// u8 reads one byte.
func (rd *resultReader) u8() (byte, bool) {
	if rd.off >= len(rd.b) {
		return 0, false
	}
	v := rd.b[rd.off]
	rd.off++
	return v, true
}

// count reads a u32 count of items of at least size bytes each, which must
// fit in what is left.
func (rd *resultReader) count(size uint64) (int, bool) {
	if len(rd.b)-rd.off < 4 {
		return 0, false
	}
	n := binary.LittleEndian.Uint32(rd.b[rd.off:])
	rd.off += 4
	if uint64(n)*size > uint64(len(rd.b)-rd.off) {
		return 0, false
	}
	return int(n), true
}

// field reads a length-prefixed field and returns its span, prefix
// included.
func (rd *resultReader) field() ([2]int, bool) {
	start := rd.off
	if len(rd.b)-start < 4 {
		return [2]int{}, false
	}
	n := binary.LittleEndian.Uint32(rd.b[start:])
	if uint64(n) > uint64(len(rd.b)-start-4) {
		return [2]int{}, false
	}
	rd.off = start + 4 + int(n)
	return [2]int{start, rd.off}, true
}

// pairs reads a pairs field and returns its span, count included.
func (rd *resultReader) pairs() ([2]int, bool) {
	start := rd.off
	n, ok := rd.count(8)
	for range n {
		if _, ok = rd.field(); !ok {
			return [2]int{}, false
		}
		if _, ok = rd.field(); !ok {
			return [2]int{}, false
		}
	}
	return [2]int{start, rd.off}, ok
}

// output reads one output.
func (rd *resultReader) output(o *output) bool {
	f, ok := rd.u8()
	o.flags = abi.OutputFlags(f)
	if !ok || o.flags&^(abi.PayloadUnchanged|abi.SetKafkaTopic|abi.SetKey|abi.SetHeaders) != 0 {
		return false
	}
	if o.flags&abi.PayloadUnchanged == 0 {
		if o.payload, ok = rd.field(); !ok {
			return false
		}
	}
	if o.flags&abi.SetKafkaTopic != 0 {
		if o.topic, ok = rd.field(); !ok {
			return false
		}
	}
	if o.flags&abi.SetKey != 0 {
		if o.key, ok = rd.field(); !ok {
			return false
		}
	}
	if o.flags&abi.SetHeaders != 0 {
		if o.headers, ok = rd.pairs(); !ok {
			return false
		}
	}
	return true
}

// done reports whether the frame ends where the reader is.
func (rd *resultReader) done() bool { return rd.off == len(rd.b) }

// fieldBytes returns the bytes of the length-prefixed field at off in b,
// which the host encoded or a resultReader checked.
func fieldBytes(b []byte, off int) []byte {
	n := int(binary.LittleEndian.Uint32(b[off:]))
	return b[off+4 : off+4+n : off+4+n]
}

// outputs gathers the last stage's outputs, decoded: each is its batch
// message with the fields some stage replaced, copied into an arena the
// caller owns.
type outputs struct {
	batch  []abi.Message
	msgs   []abi.Message
	origin []int // index in batch of each of msgs
	arena  []byte

	props []abi.Property // the outputs' headers, in chunks; each output's slice is its own

	prevTopic   string
	prevHeaders []abi.Property
}

// add appends output o (whose fields lie in res) of record r of src.
func (w *outputs) add(src *frame, r *record, res []byte, o *output) {
	m := w.batch[r.origin]
	if o.flags&abi.PayloadUnchanged == 0 {
		m.Payload = w.keep(fieldBytes(res, o.payload[0]), len(res))
	} else if r.fromBatch&fromBatchPayload == 0 {
		m.Payload = w.keep(fieldBytes(src.b, r.payload), len(res))
	}
	if o.flags&abi.SetKafkaTopic != 0 {
		m.KafkaTopic = w.topic(fieldBytes(res, o.topic[0]), m.KafkaTopic)
	} else if r.fromBatch&fromBatchTopic == 0 {
		m.KafkaTopic = w.topic(fieldBytes(src.b, r.kafkaTopic()), m.KafkaTopic)
	}
	if o.flags&abi.SetKey != 0 {
		m.Key, m.KeySet = w.keep(fieldBytes(res, o.key[0]), len(res)), true
	} else if r.fromBatch&fromBatchKey == 0 {
		m.Key, m.KeySet = w.keep(fieldBytes(src.b, r.key), len(res)), src.b[r.flags]&msgFlagKeySet != 0
	}
	if o.flags&abi.SetHeaders != 0 {
		m.Headers = w.pairs(res, o.headers[0])
	} else if r.fromBatch&fromBatchHeaders == 0 {
		m.Headers = w.pairs(src.b, r.headers)
	}
	w.msgs = append(w.msgs, m)
	w.origin = append(w.origin, r.origin)
}

// truncate drops the outputs from the n-th on.
func (w *outputs) truncate(n int) {
	clear(w.msgs[n:])
	w.msgs, w.origin = w.msgs[:n], w.origin[:n]
}

// keep copies b into the arena; hint is the size of a new arena chunk
// (at least b's). The result is never nil: an empty payload is not a
// missing one.
func (w *outputs) keep(b []byte, hint int) []byte {
	if len(b) == 0 {
		return []byte{}
	}
	if cap(w.arena)-len(w.arena) < len(b) {
		w.arena = make([]byte, 0, max(len(b), hint, 2*cap(w.arena)))
	}
	start := len(w.arena)
	w.arena = append(w.arena, b...)
	return w.arena[start:len(w.arena):len(w.arena)]
}

// topic returns b as a string, reusing like or the previous output's topic
// when equal.
func (w *outputs) topic(b []byte, like string) string {
	switch string(b) {
	case like:
		return like
	case w.prevTopic:
		return w.prevTopic
	}
	w.prevTopic = string(b)
	return w.prevTopic
}

// pairs decodes the pairs field at off in b (checked before), reusing the
// previous output's header strings where equal; nil when it is empty.
func (w *outputs) pairs(b []byte, off int) []abi.Property {
	n := int(binary.LittleEndian.Uint32(b[off:]))
	if n == 0 {
		return nil
	}
	off += 4
	if cap(w.props)-len(w.props) < n {
		w.props = make([]abi.Property, 0, max(n, 2*cap(w.props), 16))
	}
	start := len(w.props)
	w.props = w.props[:start+n]
	ps, prev := w.props[start:start+n:start+n], w.prevHeaders
	for i := range ps {
		name := fieldBytes(b, off)
		off += 4 + len(name)
		value := fieldBytes(b, off)
		off += 4 + len(value)
		var was abi.Property
		if i < len(prev) {
			was = prev[i]
		}
		ps[i].Name, ps[i].Value = reuse(name, was.Name), reuse(value, was.Value)
	}
	w.prevHeaders = ps
	return ps
}

// reuse returns b as a string: was when equal.
func reuse(b []byte, was string) string {
	if string(b) == was {
		return was
	}
	return string(b)
}
