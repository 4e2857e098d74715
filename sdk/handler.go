package sdk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// HandlerFunc processes one message. Its results mean:
//
//   - nil, nil: the message is filtered out;
//   - []*Message{m}, nil: the message, possibly changed, goes on (mapped);
//   - several messages (see [Message.Clone]): each goes on (split);
//   - an error: the message goes to the route's dead-letter topic with the
//     error's text; the other messages of the batch are unaffected.
//
// A panic inside a HandlerFunc is recovered and treated as an error for
// that message. Returned messages must be m or derived from m with Clone; a
// nil entry is an error.
type HandlerFunc func(m *Message) ([]*Message, error)

var (
	handler HandlerFunc
	hooks   []func(raw []byte) error
	config  []byte
	one     [1]*Message // Map's and Filter's reused result
)

// One returns m as a handler's result of one message, in a slice the SDK
// reuses for every call, so that passing a message on allocates nothing
// (allocating in a Go wasm guest costs several hundred nanoseconds). Use
// it only as a [HandlerFunc]'s return value.
func One(m *Message) []*Message {
	one[0] = m
	return one[:]
}

// Handle registers fn as the plugin's handler. Call it (or [Map] or
// [Filter]) from an init function; the last registration wins.
func Handle(fn HandlerFunc) { handler = fn }

// Map registers fn as a handler that changes each message in place: a nil
// error passes m on, an error dead-letters it.
func Map(fn func(m *Message) error) {
	handler = func(m *Message) ([]*Message, error) {
		if err := fn(m); err != nil {
			return nil, err
		}
		return One(m), nil
	}
}

// Filter registers fn as a handler that keeps a message, unchanged, when fn
// returns true and drops it when fn returns false; an error dead-letters it.
func Filter(fn func(m *Message) (bool, error)) {
	handler = func(m *Message) ([]*Message, error) {
		keep, err := fn(m)
		if err != nil || !keep {
			return nil, err
		}
		return One(m), nil
	}
}

// OnInit registers fn to run when the host hands the plugin its
// configuration (raw is the route stage's config as JSON, "{}" when
// absent). A non-nil error fails the plugin's load with that message, so
// validate configuration here rather than on the first message. Hooks run
// in registration order and stop at the first error.
func OnInit(fn func(raw []byte) error) { hooks = append(hooks, fn) }

// Config decodes the plugin's JSON configuration into v, which must be a
// pointer. Unknown fields are errors, so typos in a route's config surface
// at load time when Config is called from an [OnInit] hook. Before any
// configuration was handed over, Config leaves v unchanged and returns nil.
func Config(v any) error {
	if len(config) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(config))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// errNoHandler is returned by Init when no handler was registered.
var errNoHandler = errors.New("no handler registered: call sdk.Handle, sdk.Map or sdk.Filter from an init function")

// Init hands the plugin its configuration exactly as the tributary_init
// export does: it stores a copy of raw for [Config] and runs the [OnInit]
// hooks. It fails when no handler is registered or a hook fails. Plugin
// tests call it to check configurations natively.
func Init(raw []byte) error {
	if handler == nil {
		return errNoHandler
	}
	if len(raw) == 0 {
		raw = []byte("{}")
	}
	config = append(config[:0], raw...)
	for _, h := range hooks {
		if err := h(config); err != nil {
			return err
		}
	}
	return nil
}
