package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/tributary-gw/tributary/sdk"
	"github.com/tributary-gw/tributary/sdk/abi"
)

// differ runs batch through the plugin's handler and through the
// reference (refHandle, the code before issue #4's allocation work, see
// reference_test.go) under configuration cfg, and reports every result
// that differs in failure, error text, number of outputs or output bytes.
// It returns how many messages the reference decoded and how many it
// rejected.
func differ(t *testing.T, cfg string, batch []abi.Message) (decoded, rejected int) {
	t.Helper()
	if err := sdk.Init([]byte(cfg)); err != nil {
		t.Fatalf("Init(%s): %v", cfg, err)
	}
	if err := refConfigure(nil); err != nil {
		t.Fatalf("reference configure(%s): %v", cfg, err)
	}
	got, err := sdk.Process(batch...)
	if err != nil {
		t.Fatal(err)
	}
	sdk.Handle(refHandle)
	want, err := sdk.Process(batch...)
	sdk.Handle(handle)
	if err != nil {
		t.Fatal(err)
	}
	for i := range batch {
		g, w := got[i], want[i]
		if w.Failed {
			rejected++
		} else {
			decoded++
		}
		if g.Failed != w.Failed || g.Err != w.Err || len(g.Outputs) != len(w.Outputs) {
			t.Errorf("%s, message %d (topic %q, payload %x):\n got  failed %v err %q, %d outputs\n want failed %v err %q, %d outputs",
				cfg, i, batch[i].Topic, batch[i].Payload, g.Failed, g.Err, len(g.Outputs), w.Failed, w.Err, len(w.Outputs))
			continue
		}
		for j := range g.Outputs {
			if !bytes.Equal(g.Outputs[j].Payload, w.Outputs[j].Payload) || g.Outputs[j].Flags != w.Outputs[j].Flags {
				t.Errorf("%s, message %d (topic %q, payload %x), output %d:\n got  %s\n want %s",
					cfg, i, batch[i].Topic, batch[i].Payload, j, g.Outputs[j].Payload, w.Outputs[j].Payload)
			}
		}
	}
	return decoded, rejected
}

var diffConfigs = []string{`{}`, `{"mode":"metric"}`}

// diffTopics mixes topics with a payload, STATE topics and rejected ones;
// consecutive messages on one topic exercise the cached header.
var diffTopics = []string{
	"spBv1.0/g/DDATA/n/d", "spBv1.0/g/DDATA/n/d", "spBv1.0/plant \"1\"/NBIRTH/edge\u00e97", "spBv1.0/g/NDATA/n",
	"spBv1.0/g/DCMD/n/d\x01", "spBv1.0/g/NDATA/n/d", "spBv1.0/g/NFOO/n", "building/f1/temp", "spBv1.0/g/DDATA/n/d/e",
	"", "/", "spBv1.0", "spBv1.0/STATE/scada1", "STATE/scada1", "spBv1.0/g/NDEATH/n", "spBv1.0//DDEATH//",
}

// corpus returns the payloads of the table tests, encoded by the test's
// independent protobuf encoder, plus a few raw ones.
func corpus(t testing.TB) [][]byte {
	return [][]byte{
		encodePayload(t, birth), encodePayload(t, arrays), encodePayload(t, ddata), encodePayload(t, sensorDDATA),
		encodePayload(t, `{"metrics":[{"name":"bdSeq","datatype":8,"long_value":"3"}]}`),
		encodePayload(t, `{"timestamp":1,"seq":5}`),
		encodePayload(t, `{"metrics":[{"name":"tpl","datatype":19,"template_value":{"version":"1"}}]}`),
		encodePayload(t, `{"metrics":[{"name":"a","datatype":24,"bytes_value":"AAAA"}]}`),
		append(encodePayload(t, `{"seq":1}`), 0xf8, 0x01, 0x07),
		nil, {0xa3, 0x01}, []byte(`{"temp":21}`), []byte(`{"online":true,"timestamp":1732500000000}`),
		[]byte("OFFLINE"), []byte("ONLINE"),
	}
}

// TestDifferential compares the handler with the reference on the test
// corpus, on random Sparkplug payloads from the independent encoder and on
// truncated and corrupted copies of them, every payload on every topic of
// diffTopics in batches, in both modes.
func TestDifferential(t *testing.T) {
	payloads := corpus(t)
	rng := rand.New(rand.NewPCG(4, 4))
	for range 300 {
		p := encodePayload(t, randomPayload(rng))
		payloads = append(payloads, p)
		if len(p) > 0 {
			payloads = append(payloads, p[:rng.IntN(len(p))])
			c := bytes.Clone(p)
			c[rng.IntN(len(c))] ^= byte(1 + rng.IntN(255))
			payloads = append(payloads, c)
		}
	}
	for _, cfg := range diffConfigs {
		var decoded, rejected int
		for start := 0; start < len(payloads); start += 16 {
			var batch []abi.Message
			for i, p := range payloads[start:min(start+16, len(payloads))] {
				batch = append(batch, abi.Message{Topic: diffTopics[(start+i)%len(diffTopics)], Payload: p})
				// Every payload also on a device topic, which decodes it.
				batch = append(batch, abi.Message{Topic: "spBv1.0/g/DDATA/n/d", Payload: p})
			}
			d, r := differ(t, cfg, batch)
			decoded, rejected = decoded+d, rejected+r
		}
		// The corpus must exercise both outputs and errors.
		t.Logf("%s: %d messages decoded, %d rejected", cfg, decoded, rejected)
		if decoded < len(payloads)/4 || rejected < len(payloads)/4 {
			t.Errorf("%s: %d messages decoded, %d rejected: want at least %d of each", cfg, decoded, rejected, len(payloads)/4)
		}
	}
}

// FuzzDifferential compares the handler with the reference on arbitrary
// payloads and topics.
func FuzzDifferential(f *testing.F) {
	for i, p := range corpus(f) {
		f.Add(p, uint8(i), i%2 == 0)
	}
	rng := rand.New(rand.NewPCG(5, 5))
	for i := range 20 {
		f.Add(encodePayload(f, randomPayload(rng)), uint8(i), i%2 == 1)
	}
	f.Fuzz(func(t *testing.T, payload []byte, topic uint8, perMetricMode bool) {
		cfg := diffConfigs[0]
		if perMetricMode {
			cfg = diffConfigs[1]
		}
		differ(t, cfg, []abi.Message{
			{Topic: diffTopics[int(topic)%len(diffTopics)], Payload: payload},
			{Topic: "spBv1.0/g/DDATA/n/d", Payload: payload},
		})
	})
}

// randomPayload returns a random Sparkplug Payload in protojson form, for
// encodePayload: any datatype with any value field, names with escapes and
// non-ASCII text, nested properties, metadata, datasets.
func randomPayload(rng *rand.Rand) string {
	var b strings.Builder
	b.WriteString("{")
	sep := ""
	field := func(name, value string) {
		fmt.Fprintf(&b, "%s%q:%s", sep, name, value)
		sep = ","
	}
	if rng.IntN(2) == 0 {
		field("timestamp", strconv.FormatUint(rng.Uint64()>>rng.IntN(64), 10))
	}
	if rng.IntN(2) == 0 {
		field("seq", strconv.Itoa(rng.IntN(256)))
	}
	if rng.IntN(4) == 0 {
		field("uuid", randomString(rng))
	}
	if rng.IntN(4) == 0 {
		field("body", randomBytes(rng, rng.IntN(10)))
	}
	var ms []string
	for range rng.IntN(6) {
		ms = append(ms, randomMetric(rng))
	}
	if len(ms) > 0 || rng.IntN(2) == 0 {
		field("metrics", "["+strings.Join(ms, ",")+"]")
	}
	b.WriteString("}")
	return b.String()
}

func randomMetric(rng *rand.Rand) string {
	var fs []string
	add := func(name, value string) { fs = append(fs, strconv.Quote(name)+":"+value) }
	if rng.IntN(4) != 0 {
		add("name", randomString(rng))
	}
	if rng.IntN(2) == 0 {
		add("alias", strconv.Itoa(rng.IntN(1000)))
	}
	if rng.IntN(3) == 0 {
		add("timestamp", strconv.FormatUint(rng.Uint64()>>rng.IntN(64), 10))
	}
	dt := rng.IntN(36)
	if rng.IntN(20) == 0 {
		dt = 100 + rng.IntN(1000)
	}
	if rng.IntN(10) != 0 {
		add("datatype", strconv.Itoa(dt))
	}
	for _, flag := range []string{"is_historical", "is_transient", "is_null"} {
		if rng.IntN(6) == 0 {
			add(flag, strconv.FormatBool(rng.IntN(2) == 0))
		}
	}
	if rng.IntN(5) == 0 {
		add("properties", randomPropertySet(rng, 0))
	}
	if rng.IntN(6) == 0 {
		add("metadata", randomMetadata(rng))
	}
	switch rng.IntN(12) {
	case 0:
		add("int_value", strconv.FormatUint(uint64(rng.Uint32()), 10))
	case 1:
		add("long_value", strconv.Quote(strconv.FormatUint(rng.Uint64(), 10)))
	case 2:
		add("float_value", randomFloat(rng))
	case 3:
		add("double_value", randomFloat(rng))
	case 4:
		add("boolean_value", strconv.FormatBool(rng.IntN(2) == 0))
	case 5:
		add("string_value", randomString(rng))
	case 6, 7:
		add("bytes_value", randomArrayBytes(rng, dt))
	case 8:
		add("dataset_value", randomDataSet(rng))
	case 9:
		add("template_value", `{"version":"1"}`)
	}
	return "{" + strings.Join(fs, ",") + "}"
}

func randomPropertySet(rng *rand.Rand, depth int) string {
	var keys, values []string
	n := rng.IntN(4)
	for range n {
		keys = append(keys, randomString(rng))
		values = append(values, randomPropertyValue(rng, depth))
	}
	if rng.IntN(15) == 0 { // keys without values: an error
		keys = append(keys, `"extra"`)
	}
	return `{"keys":[` + strings.Join(keys, ",") + `],"values":[` + strings.Join(values, ",") + `]}`
}

func randomPropertyValue(rng *rand.Rand, depth int) string {
	fs := []string{`"type":` + strconv.Itoa(rng.IntN(36))}
	switch k := rng.IntN(9); {
	case k == 0:
		fs = append(fs, `"is_null":true`)
	case k == 1:
		fs = append(fs, `"int_value":`+strconv.FormatUint(uint64(rng.Uint32()), 10))
	case k == 2:
		fs = append(fs, `"long_value":"`+strconv.FormatUint(rng.Uint64(), 10)+`"`)
	case k == 3:
		fs = append(fs, `"float_value":`+randomFloat(rng))
	case k == 4:
		fs = append(fs, `"double_value":`+randomFloat(rng))
	case k == 5:
		fs = append(fs, `"boolean_value":true`)
	case k == 6:
		fs = append(fs, `"string_value":`+randomString(rng))
	case k == 7 && depth < 3:
		fs = append(fs, `"propertyset_value":`+randomPropertySet(rng, depth+1))
	case k == 8 && depth < 3:
		fs = append(fs, `"propertysets_value":{"propertyset":[`+randomPropertySet(rng, depth+1)+`,`+randomPropertySet(rng, depth+1)+`]}`)
	}
	return "{" + strings.Join(fs, ",") + "}"
}

func randomMetadata(rng *rand.Rand) string {
	var fs []string
	for _, f := range []string{"content_type", "file_name", "file_type", "md5", "description"} {
		if rng.IntN(3) == 0 {
			fs = append(fs, strconv.Quote(f)+":"+randomString(rng))
		}
	}
	if rng.IntN(3) == 0 {
		fs = append(fs, `"is_multi_part":true`)
	}
	if rng.IntN(3) == 0 {
		fs = append(fs, `"size":"`+strconv.Itoa(rng.IntN(1<<20))+`"`)
	}
	if rng.IntN(3) == 0 {
		fs = append(fs, `"seq":"`+strconv.Itoa(rng.IntN(9))+`"`)
	}
	return "{" + strings.Join(fs, ",") + "}"
}

func randomDataSet(rng *rand.Rand) string {
	cols := rng.IntN(4)
	var names, types, rows []string
	for range cols {
		names = append(names, randomString(rng))
		types = append(types, strconv.Itoa(rng.IntN(36)))
	}
	for range rng.IntN(4) {
		var cells []string
		for range cols + rng.IntN(2) {
			switch rng.IntN(6) {
			case 0:
				cells = append(cells, `{"int_value":`+strconv.FormatUint(uint64(rng.Uint32()), 10)+`}`)
			case 1:
				cells = append(cells, `{"long_value":"`+strconv.FormatUint(rng.Uint64(), 10)+`"}`)
			case 2:
				cells = append(cells, `{"double_value":`+randomFloat(rng)+`}`)
			case 3:
				cells = append(cells, `{"string_value":`+randomString(rng)+`}`)
			case 4:
				cells = append(cells, `{"boolean_value":false}`)
			default:
				cells = append(cells, `{}`)
			}
		}
		rows = append(rows, `{"elements":[`+strings.Join(cells, ",")+`]}`)
	}
	return `{"num_of_columns":"` + strconv.Itoa(cols) + `","columns":[` + strings.Join(names, ",") +
		`],"types":[` + strings.Join(types, ",") + `],"rows":[` + strings.Join(rows, ",") + `]}`
}

// randomArrayBytes returns base64 bytes, usually well-formed for datatype
// dt's array encoding (whole elements, a BooleanArray's count, NUL-ended
// strings), sometimes not.
func randomArrayBytes(rng *rand.Rand, dt int) string {
	n := rng.IntN(6)
	if rng.IntN(5) == 0 {
		return randomBytes(rng, rng.IntN(20))
	}
	switch {
	case dt == 32:
		b := []byte{byte(n), 0, 0, 0}
		for range (n + 7) / 8 {
			b = append(b, byte(rng.Uint32()))
		}
		return strconv.Quote(base64.StdEncoding.EncodeToString(b))
	case dt == 33:
		var b []byte
		for range n {
			var s string
			_ = json.Unmarshal([]byte(randomString(rng)), &s)
			b = append(append(b, strings.ReplaceAll(s, "\x00", "")...), 0)
		}
		return strconv.Quote(base64.StdEncoding.EncodeToString(b))
	case dt >= 22 && dt <= 34:
		return randomBytes(rng, n*arrayElemSizes[dt])
	}
	return randomBytes(rng, n)
}

func randomBytes(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return strconv.Quote(base64.StdEncoding.EncodeToString(b))
}

// randomFloat returns a JSON number or one of protojson's names for NaN
// and the infinities.
func randomFloat(rng *rand.Rand) string {
	switch rng.IntN(10) {
	case 0:
		return `"NaN"`
	case 1:
		return `"Infinity"`
	case 2:
		return `"-Infinity"`
	case 3:
		return strconv.Itoa(rng.IntN(100) - 50)
	}
	return strconv.FormatFloat(rng.NormFloat64()*1e6, 'g', -1, 64)
}

// randomString returns a JSON string with plain text, escapes, control
// characters and non-ASCII text.
func randomString(rng *rand.Rand) string {
	pieces := []string{"temp", "a", "Pump 3", `"`, `\`, "/", "\n", "\t", "\x00", "\x1f", "\u00e9", "\u00b0C", "\u2028", "\U0001F600", "\u65e5\u672c"}
	var b strings.Builder
	for range rng.IntN(6) {
		b.WriteString(pieces[rng.IntN(len(pieces))])
	}
	return jsonString(b.String())
}

// jsonString quotes s as a JSON string.
func jsonString(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err) // a string always marshals
	}
	return string(b)
}

// TestDifferentialCaches sends sequences of messages that differ only in
// what the handler caches between messages (the topic and its header, the
// rendered name and alias of the metric at each position), so a cache hit
// that should have been a miss shows as a difference.
func TestDifferentialCaches(t *testing.T) {
	sequences := [][]string{
		{`{"metrics":[{"alias":1,"datatype":3,"int_value":1}]}`, `{"metrics":[{"name":"","alias":1,"datatype":3,"int_value":1}]}`,
			`{"metrics":[{"name":"","datatype":3,"int_value":1}]}`, `{"metrics":[{"alias":0,"datatype":3,"int_value":1}]}`,
			`{"metrics":[{"datatype":3,"int_value":1}]}`, `{"metrics":[{"name":"a","alias":0,"datatype":3}]}`,
			`{"metrics":[{"name":"a","datatype":3}]}`, `{"metrics":[{"name":"a","alias":0,"datatype":3}]}`},
		{`{"metrics":[{"name":"a","alias":1},{"name":"b","alias":2}]}`, `{"metrics":[{"name":"a","alias":2},{"name":"b","alias":1}]}`,
			`{"metrics":[{"name":"b","alias":2},{"name":"a","alias":1}]}`, `{"metrics":[{"name":"ab","alias":2},{"name":"a"}]}`},
	}
	topics := []string{"spBv1.0/g/DDATA/n/d", "spBv1.0/g/DDATA/n/e", "spBv1.0/g/NDATA/n", "spBv1.0/h/DDATA/n/d"}
	for _, cfg := range diffConfigs {
		for _, seq := range sequences {
			var batch []abi.Message
			for i, js := range seq {
				p := encodePayload(t, js)
				batch = append(batch, abi.Message{Topic: topics[0], Payload: p}, abi.Message{Topic: topics[i%len(topics)], Payload: p})
			}
			if d, _ := differ(t, cfg, batch); d != len(batch) {
				t.Errorf("%s: %d of %d messages decoded, want all", cfg, d, len(batch))
			}
		}
	}
}
