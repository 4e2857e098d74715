package wasmhost

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"

	"github.com/tributary-gw/tributary/sdk/abi"
)

// handOffBatch returns n messages that differ in every field the hand-off
// copies or replaces, some with a key, a Kafka topic and headers.
func handOffBatch(n int) []abi.Message {
	ms := make([]abi.Message, n)
	for i := range ms {
		ms[i] = abi.Message{
			Topic: fmt.Sprintf("site/%d/temp", i), Payload: []byte(fmt.Sprintf(`{"v":%d}`, i)),
			ContentType: "application/json", Route: "r", Tenant: "t", QoS: byte(i % 3),
			Retain: i%2 == 1, ArrivedAtMs: int64(1700000000000 + i),
		}
		if i%2 == 1 {
			ms[i].Properties = []abi.Property{{Name: "p", Value: fmt.Sprint(i)}}
			ms[i].Headers = []abi.Property{{Name: "h", Value: "in"}, {Name: "h2", Value: ""}}
			ms[i].KafkaTopic = "in-topic"
			ms[i].Key, ms[i].KeySet = []byte("in-key"), true
		}
		if i%3 == 2 {
			ms[i].Payload = []byte{}
		}
	}
	return ms
}

// referenceStage is a chain stage as the host ran it before the hand-off
// worked on frames: decode the result frame, apply each output to its input.
// It returns the outputs and their inputs' indexes, the indexes of rejected
// inputs, or DecodeResults's error.
func referenceStage(in []abi.Message, res []byte, maxFanOut int) (outs []abi.Message, from []int, rejected []int, err error) {
	rs, err := abi.DecodeResults(res, len(in), maxFanOut, nil)
	if err != nil {
		return nil, nil, nil, err
	}
	for j, r := range rs {
		if r.Failed {
			rejected = append(rejected, j)
			continue
		}
		for _, o := range r.Outputs {
			outs = append(outs, o.Apply(in[j]))
			from = append(from, j)
		}
	}
	return outs, from, rejected, nil
}

// sameMessage reports how a and b differ, ignoring nil against empty.
func sameMessage(a, b abi.Message) string {
	if !bytes.Equal(a.Payload, b.Payload) || !bytes.Equal(a.Key, b.Key) ||
		len(a.Headers)+len(b.Headers) > 0 && !reflect.DeepEqual(a.Headers, b.Headers) ||
		len(a.Properties)+len(b.Properties) > 0 && !reflect.DeepEqual(a.Properties, b.Properties) {
		return fmt.Sprintf("%+v\nwant %+v", a, b)
	}
	a.Payload, a.Key, a.Headers, a.Properties = nil, nil, nil, nil
	b.Payload, b.Key, b.Headers, b.Properties = nil, nil, nil, nil
	if !reflect.DeepEqual(a, b) {
		return fmt.Sprintf("%+v\nwant %+v", a, b)
	}
	return ""
}

// handOffSeeds are result frames for 3 messages: every output flag, fan-out
// 0 and 2, a rejection, and malformed frames of every kind DecodeResults
// refuses.
func handOffSeeds() [][]byte {
	ok := abi.AppendResults(nil, []abi.Result{
		{Outputs: []abi.Output{{Flags: abi.PayloadUnchanged}, {Payload: []byte("new"), Flags: abi.SetKey, Key: []byte{}}}},
		{Failed: true, Err: "no"},
		{Outputs: []abi.Output{{Flags: abi.SetKafkaTopic | abi.SetHeaders, KafkaTopic: "out", Payload: []byte{},
			Headers: []abi.Property{{Name: "a", Value: "b"}}}}},
	})
	all := abi.AppendResults(nil, []abi.Result{
		{Outputs: []abi.Output{{Flags: abi.PayloadUnchanged | abi.SetKafkaTopic | abi.SetKey | abi.SetHeaders}}},
		{Outputs: []abi.Output{{Flags: abi.PayloadUnchanged | abi.SetHeaders}}},
		{},
	})
	seeds := [][]byte{ok, all, ok[:len(ok)-1], append(append([]byte(nil), ok...), 0)}
	badFlag := append([]byte(nil), all...)
	badFlag[8+1+4] |= 0x10
	badStatus := append([]byte(nil), all...)
	badStatus[8] = 2
	badCount := append([]byte(nil), all...)
	badCount[4] = 2
	hugeOutputs := append([]byte(nil), all[:8]...)
	hugeOutputs = append(hugeOutputs, 0, 0xff, 0xff, 0xff, 0xff)
	return append(seeds, badFlag, badStatus, badCount, hugeOutputs, nil, all[:8])
}

// FuzzHandOff checks the hand-off against the decode-and-apply reference:
// the frames the host builds are those abi.AppendBatch encodes, a result
// frame is accepted exactly when abi.DecodeResults accepts it, and each
// stage's outputs, after one more stage and their decoding, are the
// messages the reference gives, with the same lineage.
func FuzzHandOff(f *testing.F) {
	for _, s := range handOffSeeds() {
		f.Add(s, uint8(3), uint16(0))
	}
	f.Add(handOffSeeds()[0], uint8(3), uint16(1))
	f.Fuzz(func(t *testing.T, res []byte, n uint8, maxFanOut uint16) {
		batch := handOffBatch(int(n%8) + 1)
		s := new(scratch)
		s.res, s.outs = make([]ChainResult, len(batch)), outputs{batch: batch}
		s.cur.reset()
		for i := range batch {
			s.cur.appendMessage(&batch[i], i)
		}
		s.cur.finish()
		if want := abi.AppendBatch(nil, batch); !bytes.Equal(s.cur.b, want) {
			t.Fatalf("first frame\n% x\nwant\n% x", s.cur.b, want)
		}

		// Stage 0: the fuzzed result frame, handed to the next stage.
		s.next.reset()
		want, from, rejected, err := referenceStage(batch, res, int(maxFanOut))
		if ok := s.scan(&s.cur, res, int(maxFanOut)); ok != (err == nil) {
			t.Fatalf("scan accepts: %v; DecodeResults: %v", ok, err)
		}
		if err != nil {
			if len(s.next.recs) != 0 || len(s.next.b) != len(frameHeader) {
				t.Fatalf("a refused frame left %d records", len(s.next.recs))
			}
			return
		}
		var got []int
		for _, rj := range s.rejected {
			got = append(got, rj[0])
		}
		if fmt.Sprint(got) != fmt.Sprint(rejected) {
			t.Fatalf("rejected %v, want %v", got, rejected)
		}
		// Drop the outputs of odd inputs, as a rejection at this stage would.
		s.next.keepIf(func(o int) bool { return o%2 == 0 })
		s.next.finish()
		kept, keptFrom := want[:0:0], []int(nil)
		for i, m := range want {
			if from[i]%2 == 0 {
				kept, keptFrom = append(kept, m), append(keptFrom, from[i])
			}
		}
		if len(kept) == 0 {
			return
		}
		if wantFrame := abi.AppendBatch(nil, kept); !bytes.Equal(s.next.b, wantFrame) {
			t.Fatalf("next frame\n% x\nwant\n% x", s.next.b, wantFrame)
		}

		// Stage 1, the last: every other output sets a new key and header.
		rs := make([]abi.Result, len(kept))
		for i := range rs {
			o := abi.Output{Flags: abi.PayloadUnchanged}
			if i%2 == 1 {
				o = abi.Output{Flags: abi.SetKey | abi.SetHeaders, Payload: []byte("p1"), Key: []byte("k1"),
					Headers: []abi.Property{{Name: "h", Value: "1"}}}
			}
			rs[i].Outputs = []abi.Output{o}
		}
		res1 := abi.AppendResults(nil, rs)
		s.cur, s.next = s.next, s.cur
		s.last = true
		if !s.scan(&s.cur, res1, 0) {
			t.Fatal("stage 1 refused a well-formed frame")
		}
		final, _, _, err := referenceStage(kept, res1, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(s.outs.msgs) != len(final) {
			t.Fatalf("%d outputs, want %d", len(s.outs.msgs), len(final))
		}
		for i := range final {
			if d := sameMessage(s.outs.msgs[i], final[i]); d != "" {
				t.Fatalf("output %d: %s", i, d)
			}
			if s.outs.origin[i] != keptFrom[i] {
				t.Fatalf("output %d comes from message %d, want %d", i, s.outs.origin[i], keptFrom[i])
			}
			if len(s.outs.msgs[i].Payload) == 0 && s.outs.msgs[i].Payload == nil {
				t.Fatalf("output %d: nil payload, want an empty one", i)
			}
		}
	})
}
