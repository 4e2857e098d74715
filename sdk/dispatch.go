package sdk

import (
	"fmt"

	"github.com/tributary-gw/tributary/sdk/abi"
)

// Reused between calls: a wasm instance is single-threaded (ABI.md §7).
var (
	inMsgs    []abi.Message
	inStrings abi.Strings // topics and other strings seen in earlier frames
	msgs      []Message
	result    abi.Result
	outBuf    []byte
)

// HandleFrame runs one input frame (ABI.md §3) through the registered
// handler exactly as the tributary_handle export does and returns the result
// frame (ABI.md §4). The result is valid until the next call of HandleFrame
// or [Process]; frame must stay unchanged until then.
//
// A frame that does not decode, or a missing handler, gives an empty result,
// which the host treats as a bad result; the reason is logged at error level.
func HandleFrame(frame []byte) []byte {
	var err error
	inMsgs, err = inStrings.DecodeBatch(frame, inMsgs)
	if err != nil {
		Log(LevelError, "sdk: input frame: "+err.Error())
		return nil
	}
	if handler == nil {
		Log(LevelError, "sdk: "+errNoHandler.Error())
		return nil
	}
	if cap(msgs) < len(inMsgs) {
		msgs = make([]Message, len(inMsgs))
	}
	msgs = msgs[:len(inMsgs)]
	outBuf = abi.AppendResultsHeader(outBuf[:0], len(inMsgs))
	for i := range inMsgs {
		m := &msgs[i]
		m.reset(&inMsgs[i])
		result.Outputs = result.Outputs[:0]
		outs, err := call(m)
		if err == nil {
			for j, o := range outs {
				if o == nil {
					err = fmt.Errorf("handler returned a nil message at index %d", j)
					break
				}
				result.Outputs = append(result.Outputs, o.output())
			}
		}
		result.Failed, result.Err = err != nil, ""
		if err != nil {
			result.Err = err.Error()
			result.Outputs = result.Outputs[:0]
		}
		// Copied into the frame now: the handler may reuse its buffers
		// for the next message (see Message.SetPayload).
		outBuf = abi.AppendResult(outBuf, &result)
	}
	return outBuf
}

// call runs the handler on m, turning a panic into an error.
func call(m *Message) (outs []*Message, err error) {
	defer func() {
		if p := recover(); p != nil {
			outs, err = nil, fmt.Errorf("panic: %v", p)
		}
	}()
	return handler(m)
}

// Process runs msgs through the registered handler by the same path as the
// wasm export: it encodes them as an input frame, calls [HandleFrame] and
// decodes the result frame. It is meant for testing plugins natively; the
// results are freshly allocated and stay valid.
func Process(msgs ...abi.Message) ([]abi.Result, error) {
	frame := abi.AppendBatch(nil, msgs)
	out := HandleFrame(frame)
	rs, err := abi.DecodeResults(append([]byte(nil), out...), len(msgs), 0, nil)
	if err != nil {
		return nil, fmt.Errorf("result frame: %w", err)
	}
	return rs, nil
}
