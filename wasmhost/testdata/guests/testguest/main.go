//go:build wasip1

// Command testguest is the wasmhost test plugin. It speaks ABI v1 with raw
// //go:wasmexport and //go:wasmimport declarations over sdk/abi, and behaves
// according to each message's payload:
//
//	trap            panic (a trap)
//	exit            os.Exit(3) (proc_exit, also a trap)
//	loop            spin forever (a timeout)
//	oom             allocate without bound (out of memory)
//	badptr          return a result pointer outside memory
//	garbage         return a malformed result frame
//	fanout:N        N outputs with the payload unchanged
//	reject:TEXT     reject the message with TEXT
//	drop            filter the message out
//	split:A,B,...   one output per comma-separated part
//	topic:T         set the Kafka topic to T
//	key:K           set the Kafka key to K
//	header:N=V      add header N=V to the headers so far
//	log:TEXT        log TEXT through tributary.log, pass through
//	print:TEXT      print TEXT to stdout, pass through
//	stderr:TEXT     print TEXT to stderr, pass through
//	big:N           output a payload of N bytes
//	meta            output the message's metadata as JSON
//	anything else   output config.prefix + payload
//
// Its JSON config has "prefix", "fail_init" (init returns that error) and
// "log" (logged from init).
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"unsafe"

	"github.com/tributary-gw/tributary/sdk/abi"
)

func main() {}

var (
	inBuf   []byte
	outBuf  []byte
	errBuf  []byte
	msgs    []abi.Message
	results []abi.Result
	hoard   [][]byte
	cfg     struct {
		Prefix   string `json:"prefix"`
		FailInit string `json:"fail_init"`
		Log      string `json:"log"`
	}
)

//go:wasmimport tributary log
func hostLog(level int32, ptr unsafe.Pointer, n uint32)

func logf(level int32, s string) {
	if s == "" {
		return
	}
	b := []byte(s)
	hostLog(level, unsafe.Pointer(&b[0]), uint32(len(b)))
}

func ptrOf(b []byte) uint64 { return uint64(uintptr(unsafe.Pointer(&b[0]))) }

func view(ptr, n uint32) []byte {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(uintptr(ptr))), n)
}

//go:wasmexport tributary_abi_v1
func marker() {}

//go:wasmexport tributary_alloc
func alloc(size uint32) uint32 {
	if size == 0 {
		size = 1
	}
	if uint32(cap(inBuf)) < size {
		inBuf = make([]byte, size)
	}
	inBuf = inBuf[:size]
	return uint32(ptrOf(inBuf))
}

//go:wasmexport tributary_init
func initialize(ptr, n uint32) uint64 {
	if err := json.Unmarshal(view(ptr, n), &cfg); err != nil {
		return fail("config: " + err.Error())
	}
	logf(abi.LogInfo, cfg.Log)
	if cfg.FailInit != "" {
		return fail(cfg.FailInit)
	}
	return 0
}

func fail(s string) uint64 {
	errBuf = append(errBuf[:0], s...)
	return ptrOf(errBuf)<<32 | uint64(len(errBuf))
}

//go:wasmexport tributary_handle
func handle(ptr, n uint32) uint64 {
	defer runtime.Gosched()
	var err error
	msgs, err = abi.DecodeBatch(view(ptr, n), msgs)
	if err != nil {
		panic(err)
	}
	results = results[:0]
	for _, m := range msgs {
		cmd, arg, _ := strings.Cut(string(m.Payload), ":")
		var r abi.Result
		switch cmd {
		case "trap":
			panic("boom")
		case "exit":
			os.Exit(3)
		case "loop":
			for {
			}
		case "oom":
			for {
				hoard = append(hoard, make([]byte, 1<<20))
			}
		case "badptr":
			return 0xFFFFFF00<<32 | 100
		case "garbage":
			errBuf = append(errBuf[:0], "garbage!"...)
			return ptrOf(errBuf)<<32 | uint64(len(errBuf))
		case "fanout":
			k, _ := strconv.Atoi(arg)
			for range k {
				r.Outputs = append(r.Outputs, abi.Output{Flags: abi.PayloadUnchanged})
			}
		case "reject":
			r.Failed, r.Err = true, arg
		case "drop":
		case "split":
			for _, part := range strings.Split(arg, ",") {
				r.Outputs = append(r.Outputs, abi.Output{Payload: []byte(part)})
			}
		case "topic":
			r.Outputs = []abi.Output{{Flags: abi.PayloadUnchanged | abi.SetKafkaTopic, KafkaTopic: arg}}
		case "key":
			r.Outputs = []abi.Output{{Flags: abi.PayloadUnchanged | abi.SetKey, Key: []byte(arg)}}
		case "header":
			name, value, _ := strings.Cut(arg, "=")
			hs := append(append([]abi.Property(nil), m.Headers...), abi.Property{Name: name, Value: value})
			r.Outputs = []abi.Output{{Flags: abi.PayloadUnchanged | abi.SetHeaders, Headers: hs}}
		case "log":
			logf(abi.LogWarn, arg)
			r.Outputs = []abi.Output{{Flags: abi.PayloadUnchanged}}
		case "print":
			fmt.Println(arg)
			r.Outputs = []abi.Output{{Flags: abi.PayloadUnchanged}}
		case "stderr":
			fmt.Fprintln(os.Stderr, arg)
			r.Outputs = []abi.Output{{Flags: abi.PayloadUnchanged}}
		case "big":
			k, _ := strconv.Atoi(arg)
			r.Outputs = []abi.Output{{Payload: make([]byte, k)}}
		case "meta":
			b, _ := json.Marshal(map[string]any{
				"topic": m.Topic, "content_type": m.ContentType, "route": m.Route, "tenant": m.Tenant,
				"qos": m.QoS, "retain": m.Retain, "arrived_at_ms": m.ArrivedAtMs, "kafka_topic": m.KafkaTopic,
				"key": string(m.Key), "key_set": m.KeySet, "properties": m.Properties, "headers": m.Headers,
			})
			r.Outputs = []abi.Output{{Payload: b}}
		default:
			if cfg.Prefix == "" {
				r.Outputs = []abi.Output{{Flags: abi.PayloadUnchanged}}
			} else {
				r.Outputs = []abi.Output{{Payload: append([]byte(cfg.Prefix), m.Payload...)}}
			}
		}
		results = append(results, r)
	}
	outBuf = abi.AppendResults(outBuf[:0], results)
	return ptrOf(outBuf)<<32 | uint64(len(outBuf))
}
