package abi_test

import (
	"bytes"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tributary-gw/tributary/sdk/abi"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the encoder")

// goldenCases are the frames other implementations (the C guest, any new
// host) check themselves against. Changing one changes the wire format.
var goldenCases = []struct {
	name, desc string
	batch      []abi.Message // input frame when set
	results    []abi.Result  // else a result frame for len(results) inputs
}{
	{
		name: "batch_one",
		desc: "Input frame: one QoS 1 message with a JSON payload, route and tenant set, no key, one user property.",
		batch: []abi.Message{{
			Topic: "b/f2/t", Payload: []byte(`{"t":21.4}`), ContentType: "application/json",
			Route: "r", Tenant: "acme", QoS: 1, ArrivedAtMs: 1732500000123,
			Properties: []abi.Property{{"unit", "C"}},
		}},
	},
	{
		name: "batch_two",
		desc: "Input frame: two messages; the second is retained, QoS 2, has a key (set, empty), a Kafka topic and a header from an earlier stage.",
		batch: []abi.Message{
			{Topic: "a", Payload: []byte("1"), Route: "r"},
			{Topic: "a", Payload: []byte("2"), Route: "r", QoS: 2, Retain: true, KeySet: true, Key: []byte{},
				KafkaTopic: "k", Headers: []abi.Property{{"h", "v"}}},
		},
	},
	{
		name: "results_mixed",
		desc: "Result frame for three inputs: the first mapped to a new payload, the second filtered, the third an error.",
		results: []abi.Result{
			{Outputs: []abi.Output{{Payload: []byte("new")}}},
			{},
			{Failed: true, Err: "bad"},
		},
	},
	{
		name: "results_split_flags",
		desc: "Result frame for one input split in two: payload unchanged with Kafka topic and key set; then a new payload with headers replaced.",
		results: []abi.Result{{Outputs: []abi.Output{
			{Flags: abi.PayloadUnchanged | abi.SetKafkaTopic | abi.SetKey, KafkaTopic: "alerts", Key: []byte("d1")},
			{Flags: abi.SetHeaders, Payload: []byte("x"), Headers: []abi.Property{{"n", "v"}}},
		}}},
	},
}

// TestGolden compares the encoder's frames with testdata/NAME.golden and
// decodes each golden frame back. Run with -update to rewrite the files.
//
// A golden file is a '#' comment describing the frame, then a line
// "-- frame --", then the frame as an encoding/hex.Dump.
func TestGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			var frame []byte
			if tc.batch != nil {
				frame = abi.AppendBatch(nil, tc.batch)
			} else {
				frame = abi.AppendResults(nil, tc.results)
			}
			path := filepath.Join("testdata", tc.name+".golden")
			if *update {
				text := fmt.Sprintf("# %s\n# %d bytes, little-endian; see sdk/ABI.md.\n-- frame --\n%s", tc.desc, len(frame), hex.Dump(frame))
				if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			want, err := parseDump(string(raw))
			if err != nil {
				t.Fatalf("golden file %s: %v", path, err)
			}
			if !bytes.Equal(frame, want) {
				t.Fatalf("encoded frame differs from %s:\n got\n%s want\n%s", path, hex.Dump(frame), hex.Dump(want))
			}
			if tc.batch != nil {
				if _, err := abi.DecodeBatch(want, nil); err != nil {
					t.Fatalf("decoding %s: %v", path, err)
				}
			} else if _, err := abi.DecodeResults(want, len(tc.results), 0, nil); err != nil {
				t.Fatalf("decoding %s: %v", path, err)
			}
		})
	}
}

// parseDump reads the bytes back from the hex.Dump after "-- frame --".
func parseDump(text string) ([]byte, error) {
	_, dump, ok := strings.Cut(text, "-- frame --\n")
	if !ok {
		return nil, fmt.Errorf("no %q line", "-- frame --")
	}
	var out []byte
	for i, line := range strings.Split(strings.TrimRight(dump, "\n"), "\n") {
		if bar := strings.IndexByte(line, '|'); bar >= 0 {
			line = line[:bar]
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		for _, f := range fields[1:] { // fields[0] is the offset
			b, err := hex.DecodeString(f)
			if err != nil || len(b) != 1 {
				return nil, fmt.Errorf("line %d: bad byte %q", i+1, f)
			}
			out = append(out, b...)
		}
	}
	return out, nil
}
