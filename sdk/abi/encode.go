package abi

import "encoding/binary"

// Message flag bits of the input frame (ABI.md §3).
const (
	msgRetain = 1 << 0
	msgKeySet = 1 << 1
)

// Result status bytes (ABI.md §4).
const (
	statusOK    = 0
	statusError = 1
)

// AppendBatch appends the input frame for msgs (ABI.md §3) to dst and returns
// the extended slice. It does not allocate when dst has enough capacity.
//
// AppendBatch does not validate: an empty msgs gives a frame with count 0,
// which [DecodeBatch] rejects, and a QoS above 2 is written as is. Strings
// and byte slices longer than 4 GiB cannot be represented and must not be
// passed.
func AppendBatch(dst []byte, msgs []Message) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, Version)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(msgs)))
	for i := range msgs {
		m := &msgs[i]
		dst = appendString(dst, m.Topic)
		dst = appendBytes(dst, m.Payload)
		dst = appendString(dst, m.ContentType)
		dst = appendString(dst, m.Route)
		dst = appendString(dst, m.Tenant)
		var flags byte
		if m.Retain {
			flags |= msgRetain
		}
		if m.KeySet {
			flags |= msgKeySet
		}
		dst = append(dst, m.QoS, flags)
		dst = binary.LittleEndian.AppendUint64(dst, uint64(m.ArrivedAtMs))
		dst = appendString(dst, m.KafkaTopic)
		dst = appendBytes(dst, m.Key)
		dst = appendPairs(dst, m.Properties)
		dst = appendPairs(dst, m.Headers)
	}
	return dst
}

// AppendResults appends the result frame for rs (ABI.md §4) to dst and
// returns the extended slice. It does not allocate when dst has enough
// capacity. It is [AppendResultsHeader] followed by [AppendResult] for each
// result.
func AppendResults(dst []byte, rs []Result) []byte {
	dst = AppendResultsHeader(dst, len(rs))
	for i := range rs {
		dst = AppendResult(dst, &rs[i])
	}
	return dst
}

// AppendResultsHeader appends the start of a result frame for n results
// (ABI.md §4); n calls of [AppendResult] complete it. Encoding result by
// result lets a guest copy each message's outputs into the frame as soon
// as its handler returns, so the handler's buffers can be reused for the
// next message.
func AppendResultsHeader(dst []byte, n int) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, Version)
	return binary.LittleEndian.AppendUint32(dst, uint32(n))
}

// AppendResult appends one result of a result frame (ABI.md §4) to dst.
//
// A Result with Failed set is written as an error with Err as its text, and
// its Outputs are ignored. For each Output only the fields its Flags select
// are written (Payload is skipped under PayloadUnchanged); flag bits outside
// the four defined ones are dropped, so the frame is always well formed.
func AppendResult(dst []byte, r *Result) []byte {
	if r.Failed {
		dst = append(dst, statusError)
		return appendString(dst, r.Err)
	}
	dst = append(dst, statusOK)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(r.Outputs)))
	for j := range r.Outputs {
		o := &r.Outputs[j]
		f := o.Flags & knownFlags
		dst = append(dst, byte(f))
		if f&PayloadUnchanged == 0 {
			dst = appendBytes(dst, o.Payload)
		}
		if f&SetKafkaTopic != 0 {
			dst = appendString(dst, o.KafkaTopic)
		}
		if f&SetKey != 0 {
			dst = appendBytes(dst, o.Key)
		}
		if f&SetHeaders != 0 {
			dst = appendPairs(dst, o.Headers)
		}
	}
	return dst
}

func appendString(dst []byte, s string) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(s)))
	return append(dst, s...)
}

func appendBytes(dst []byte, b []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(b)))
	return append(dst, b...)
}

func appendPairs(dst []byte, ps []Property) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(ps)))
	for _, p := range ps {
		dst = appendString(dst, p.Name)
		dst = appendString(dst, p.Value)
	}
	return dst
}
