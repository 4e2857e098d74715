package schemaenc

import (
	"bytes"
	"testing"

	"github.com/iskorotkov/avro/v2"
)

// fastCases are documents for readingAvro: the fast path takes some, gives the rest to the
// general path.
var fastCases = []string{
	sensorJSON,
	` { "tags" : [ ], "location":{"lon":-1.5e3,"lat":0},"ts":-0,"status":"FAULT","humidity":null,"temp":1E-7,"device_id":"ü€"} `,
	`{"device_id":"d","temp":1,"humidity":2147483647,"status":"OK","ts":9007199254740993,"location":{"lat":0,"lon":0},"tags":["a","b"]}`,
	`{"device_id":"d","temp":1,"humidity":2147483648,"status":"OK","ts":1,"location":{"lat":0,"lon":0},"tags":[]}`,
	`{"device_id":"d","temp":1,"status":"OK","ts":1,"location":{"lat":0,"lon":0}}`,
	`{"device_id":"d\n","temp":1,"humidity":1,"status":"OK","ts":1,"location":{"lat":0,"lon":0},"tags":[]}`,
	`{"device_id":"d","temp":01,"humidity":1,"status":"OK","ts":1,"location":{"lat":0,"lon":0},"tags":[]}`,
	`{"device_id":"d","temp":1.,"humidity":1,"status":"OK","ts":1,"location":{"lat":0,"lon":0},"tags":[]}`,
	`{"device_id":"d","temp":1,"humidity":{"int":1},"status":"OK","ts":1,"location":{"lat":0,"lon":0},"tags":[]}`,
	`{"device_id":"d","temp":1,"humidity":1,"status":"OK","ts":1,"location":{"lat":0,"lon":0},"tags":[],"x":1}`,
	`{"device_id":"d","device_id":"e","temp":1,"humidity":1,"status":"OK","ts":1,"location":{"lat":0,"lon":0},"tags":[]}`,
	`{"device_id":"d","temp":1,"humidity":1,"status":"OK","ts":1,"location":{"lat":0,"lon":0},"tags":[]} x`,
	`{"device_id":"d","temp":1e400,"humidity":1,"status":"OK","ts":1,"location":{"lat":0,"lon":0},"tags":[]}`,
	`{"device_id":"\xff","temp":1,"humidity":1,"status":"OK","ts":1,"location":{"lat":0,"lon":0},"tags":[]}`,
	`{"device_id":"d","temp":true,"humidity":1,"status":"NOPE","ts":1,"location":{"lat":0,"lon":0},"tags":[]}`,
}

// fastAgrees fails when the fast path takes doc but writes other bytes than the general path,
// or takes a document the general path refuses.
func fastAgrees(t *testing.T, c *avroCodec, doc []byte) bool {
	t.Helper()
	w := avro.NewWriter(nil, 512)
	fastOK := c.fast.encodeFast(w, doc) && w.Error == nil
	general, err := c.encodeGeneral(nil, doc)
	if fastOK && (err != nil || !bytes.Equal(w.Buffer(), general)) {
		t.Fatalf("%q: fast path wrote % x, general path % x (%v)", doc, w.Buffer(), general, err)
	}
	return fastOK
}

func TestAvroFastPath(t *testing.T) {
	c, err := newAvroCodec(readingAvro, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.fast == nil {
		t.Fatal("readingAvro is not compiled for the fast path")
	}
	taken := 0
	for _, doc := range fastCases {
		if fastAgrees(t, c, []byte(doc)) {
			taken++
		}
	}
	if taken < 3 {
		t.Errorf("the fast path took %d of the documents, want at least the first 3", taken)
	}
	long := []byte(`{"device_id":"d","temp":1,"humidity":1,"status":"OK","ts":1,"location":{"lat":0,"lon":0},"tags":[` +
		string(bytes.Repeat([]byte(`"x",`), 250)) + `"y"]}`)
	if !fastAgrees(t, c, long) {
		t.Error("the fast path did not take an array of 251 strings")
	}
}

func FuzzAvroFastPath(f *testing.F) {
	for _, doc := range fastCases {
		f.Add([]byte(doc))
	}
	c, err := newAvroCodec(readingAvro, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, doc []byte) { fastAgrees(t, c, doc) })
}
