package sdk_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/tributary-gw/tributary/sdk"
	"github.com/tributary-gw/tributary/sdk/abi"
)

func show(rs []abi.Result) {
	for i, r := range rs {
		if r.Failed {
			fmt.Printf("%d: error %q\n", i, r.Err)
			continue
		}
		if len(r.Outputs) == 0 {
			fmt.Printf("%d: filtered\n", i)
		}
		for _, o := range r.Outputs {
			switch {
			case o.Flags&abi.PayloadUnchanged != 0:
				fmt.Printf("%d: unchanged", i)
			default:
				fmt.Printf("%d: payload %s", i, o.Payload)
			}
			if o.Flags&abi.SetKafkaTopic != 0 {
				fmt.Printf(" topic %s", o.KafkaTopic)
			}
			if o.Flags&abi.SetHeaders != 0 {
				fmt.Printf(" headers %v", o.Headers)
			}
			fmt.Println()
		}
	}
}

// A plugin that splits a comma-separated payload into one message each,
// filters empty payloads and dead-letters binary ones.
func ExampleHandle() {
	sdk.Handle(func(m *sdk.Message) ([]*sdk.Message, error) {
		if len(m.Payload()) == 0 {
			return nil, nil // filtered
		}
		if bytes.IndexByte(m.Payload(), 0) >= 0 {
			return nil, errors.New("binary payload") // dead letter
		}
		var outs []*sdk.Message
		for part := range strings.SplitSeq(string(m.Payload()), ",") {
			c := m.Clone()
			c.SetPayload([]byte(part))
			outs = append(outs, c)
		}
		return outs, nil
	})
	rs, _ := sdk.Process(
		abi.Message{Topic: "a", Payload: []byte("1,2")},
		abi.Message{Topic: "b"},
		abi.Message{Topic: "c", Payload: []byte{0}},
	)
	show(rs)
	// Output:
	// 0: payload 1
	// 0: payload 2
	// 1: filtered
	// 2: error "binary payload"
}

// A plugin that routes alarms to their own Kafka topic and tags them.
func ExampleMap() {
	sdk.Map(func(m *sdk.Message) error {
		if strings.HasSuffix(m.Topic(), "/alarm") {
			m.SetKafkaTopic("alarms")
			m.SetHeader("severity", "high")
		}
		return nil
	})
	rs, _ := sdk.Process(
		abi.Message{Topic: "building/f2/alarm", Payload: []byte("smoke")},
		abi.Message{Topic: "building/f2/temp", Payload: []byte("21.4")},
	)
	show(rs)
	// Output:
	// 0: unchanged topic alarms headers [{severity high}]
	// 1: unchanged
}

// A plugin that keeps only retained messages.
func ExampleFilter() {
	sdk.Filter(func(m *sdk.Message) (bool, error) { return m.Retain(), nil })
	rs, _ := sdk.Process(abi.Message{Topic: "a", Retain: true}, abi.Message{Topic: "b"})
	show(rs)
	// Output:
	// 0: unchanged
	// 1: filtered
}

// Configuration is decoded and validated when the host loads the plugin;
// a bad config fails the load instead of the first message.
func ExampleConfig() {
	var cfg struct {
		Field string `json:"field"`
	}
	sdk.OnInit(func([]byte) error {
		if err := sdk.Config(&cfg); err != nil {
			return err
		}
		if cfg.Field == "" {
			return errors.New("config: field is required")
		}
		return nil
	})
	sdk.Map(func(m *sdk.Message) error { return nil })

	fmt.Println(sdk.Init([]byte(`{"feild":"temp"}`)))
	fmt.Println(sdk.Init([]byte(`{"field":"temp"}`)), cfg.Field)
	// Output:
	// config: json: unknown field "feild"
	// <nil> temp
}

// Log lines go to the gateway log; natively they go to standard error.
func ExampleLogf() {
	sdk.Map(func(m *sdk.Message) error {
		if len(m.Payload()) > 1<<20 {
			sdk.Logf(sdk.LevelWarn, "large payload on %s: %d bytes", m.Topic(), len(m.Payload()))
		}
		return nil
	})
	rs, _ := sdk.Process(abi.Message{Topic: "a", Payload: []byte("small")})
	show(rs)
	// Output:
	// 0: unchanged
}
