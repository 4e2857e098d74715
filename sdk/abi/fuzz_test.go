package abi_test

import (
	"bytes"
	"errors"
	"testing"
	"unsafe"

	"github.com/tributary-gw/tributary/sdk/abi"
)

// inFrame reports whether b lies inside frame (empty slices always do).
func inFrame(b, frame []byte) bool {
	if len(b) == 0 {
		return true
	}
	if len(frame) == 0 {
		return false
	}
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(frame)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return p >= lo && p+uintptr(len(b)) <= lo+uintptr(len(frame))
}

func FuzzDecodeResults(f *testing.F) {
	for _, tc := range resultCases {
		f.Add(abi.AppendResults(nil, tc.rs), tc.inputs, 3)
	}
	f.Add([]byte{1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0x28, 0x6b, 0xee}, 1, 0) // a count of 4e9
	f.Fuzz(func(t *testing.T, frame []byte, inputs, maxFanOut int) {
		rs, err := abi.DecodeResults(frame, inputs, maxFanOut, nil)
		if err != nil {
			if !errors.Is(err, abi.ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		if len(rs) != inputs {
			t.Fatalf("%d results for %d inputs", len(rs), inputs)
		}
		for _, r := range rs {
			if maxFanOut > 0 && len(r.Outputs) > maxFanOut {
				t.Fatalf("%d outputs exceed max fan-out %d", len(r.Outputs), maxFanOut)
			}
			for _, o := range r.Outputs {
				if !inFrame(o.Payload, frame) || !inFrame(o.Key, frame) {
					t.Fatal("decoded bytes point outside the frame")
				}
			}
		}
		if again := abi.AppendResults(nil, rs); !bytes.Equal(again, frame) {
			t.Fatalf("re-encoding differs:\n got  %x\n want %x", again, frame)
		}
	})
}

func FuzzDecodeBatch(f *testing.F) {
	for _, tc := range batchCases {
		f.Add(abi.AppendBatch(nil, tc.msgs))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		msgs, err := abi.DecodeBatch(frame, nil)
		if err != nil {
			if !errors.Is(err, abi.ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		for _, m := range msgs {
			if !inFrame(m.Payload, frame) || !inFrame(m.Key, frame) {
				t.Fatal("decoded bytes point outside the frame")
			}
		}
		if again := abi.AppendBatch(nil, msgs); !bytes.Equal(again, frame) {
			t.Fatalf("re-encoding differs:\n got  %x\n want %x", again, frame)
		}
		// With remembered strings, twice (the second time from memory).
		var seen abi.Strings
		for range 2 {
			remembered, err := seen.DecodeBatch(frame, nil)
			if err != nil {
				t.Fatalf("Strings.DecodeBatch fails where DecodeBatch does not: %v", err)
			}
			if again := abi.AppendBatch(nil, remembered); !bytes.Equal(again, frame) {
				t.Fatalf("re-encoding with Strings differs:\n got  %x\n want %x", again, frame)
			}
		}
	})
}
