package loadbench

import (
	"bytes"
	"strconv"
)

// minPayload is the smallest payload size: room for the identifying fields with the
// longest numbers a run produces.
const minPayload = 100

// sensorFields make a payload look like the sensor readings the gateway usually carries.
const sensorFields = `,"value":21.5,"metric":"temperature","humidity":40.2,"co2":612,"unit":"C"`

// appendPayload appends a JSON message of about size bytes carrying the run id, topic index,
// per-topic sequence number and publish time (Unix nanoseconds), then sensor-like fields
// padded to size; sensor fields are left out when they do not fit. The identifying fields
// come first so parsePayload finds them quickly. The result is exactly size bytes when size is
// at least minPayload.
func appendPayload(dst []byte, run string, topic int, seq int64, tsNanos int64, size int) []byte {
	start := len(dst)
	dst = append(dst, `{"run":"`...)
	dst = append(dst, run...)
	dst = append(dst, `","t":`...)
	dst = strconv.AppendInt(dst, int64(topic), 10)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendInt(dst, seq, 10)
	dst = append(dst, `,"ts":`...)
	dst = strconv.AppendInt(dst, tsNanos, 10)
	if len(dst)-start+len(sensorFields)+len(`,"pad":""}`) <= size {
		dst = append(dst, sensorFields...)
	}
	dst = append(dst, `,"pad":"`...)
	for len(dst)-start < size-2 {
		dst = append(dst, 'x')
	}
	return append(dst, `"}`...)
}

// fields are the identifying fields of a benchmark payload.
type fields struct {
	run   []byte
	topic int
	seq   int64
	ts    int64
}

// parsePayload finds the identifying fields in p. It tolerates other fields before, between
// and after them (a plugin may reshape the message), but needs all four. It never panics.
func parsePayload(p []byte) (fields, bool) {
	var f fields
	i := bytes.Index(p, []byte(`"run":"`))
	if i < 0 {
		return f, false
	}
	rest := p[i+len(`"run":"`):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return f, false
	}
	f.run = rest[:j]
	t, ok := intField(p, `"t":`)
	if !ok || t < 0 || t > 1<<31 {
		return f, false
	}
	f.topic = int(t)
	if f.seq, ok = intField(p, `"seq":`); !ok || f.seq < 0 {
		return f, false
	}
	if f.ts, ok = intField(p, `"ts":`); !ok {
		return f, false
	}
	return f, true
}

// intField returns the integer after key in p.
func intField(p []byte, key string) (int64, bool) {
	i := bytes.Index(p, []byte(key))
	if i < 0 {
		return 0, false
	}
	p = p[i+len(key):]
	n := 0
	neg := len(p) > 0 && p[0] == '-'
	if neg {
		n = 1
	}
	var v int64
	digits := 0
	for ; n < len(p) && p[n] >= '0' && p[n] <= '9' && digits < 19; n++ {
		v = v*10 + int64(p[n]-'0')
		digits++
	}
	if digits == 0 {
		return 0, false
	}
	if neg {
		v = -v
	}
	return v, true
}
