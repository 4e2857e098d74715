package main

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/tributary-gw/tributary/sdk"
	"github.com/tributary-gw/tributary/sdk/jsonfield"
)

// config is the plugin's configuration; see README.md.
type config struct {
	// Field is the path of the array; "" means the payload is the array.
	Field string `json:"field"`
	// Copy lists paths of the parent copied into each element (which must
	// then be an object), at the same path.
	Copy []string `json:"copy"`
	// IndexField, when set, is the path in each element that receives the
	// element's index in the array.
	IndexField string `json:"index_field"`
	// Missing is what a message without the array causes: "dead_letter"
	// (the default), "pass" (unchanged) or "drop".
	Missing string `json:"missing"`
	// Empty is what an empty array causes: "drop" (the default) or
	// "dead_letter".
	Empty string `json:"empty"`
}

// The compiled configuration and reused buffers. A wasm instance is
// single-threaded, and the SDK runs one handler call at a time.
var (
	cfg config
	// find holds field (when set) then the copy paths: one Find per
	// message looks them all up.
	find *jsonfield.Fields
	vals []jsonfield.Value // find's results
	// own holds the copy paths, looked up in each element when exact.
	own     *jsonfield.Fields
	ownVals []jsonfield.Value
	// exact reports that a copy path is an ancestor of an earlier one (or
	// might be), so a copy the element lacks can exist by the time its
	// turn comes: then whether to copy is decided on the element as it
	// arrived (own), not with SetDefault.
	exact bool

	edit     jsonfield.Edit
	editCopy []int    // per operation of edit: the copy index, or -1 for index_field
	payloads [][]byte // the outputs' payloads
	// Reused by each message (the SDK copies the outputs when the handler
	// returns): the edited elements, one after the other, and the outputs.
	arena   []byte
	outMsgs []sdk.Message
	outPtrs []*sdk.Message
)

// configure decodes and checks the configuration.
func configure([]byte) error {
	c := config{}
	if err := sdk.Config(&c); err != nil {
		return err
	}
	for i, p := range c.Copy {
		if p == "" {
			return fmt.Errorf("config: copy[%d]: empty path", i)
		}
		if c.Field != "" && (p == c.Field || strings.HasPrefix(c.Field, p+".")) {
			return fmt.Errorf("config: copy[%d]: %q holds the array being split", i, p)
		}
	}
	switch c.Missing {
	case "":
		c.Missing = "dead_letter"
	case "dead_letter", "pass", "drop":
	default:
		return fmt.Errorf("config: missing: %q is not dead_letter, pass or drop", c.Missing)
	}
	switch c.Empty {
	case "":
		c.Empty = "drop"
	case "drop", "dead_letter":
	default:
		return fmt.Errorf("config: empty: %q is not drop or dead_letter", c.Empty)
	}
	if c.Field == "" && len(c.Copy) > 0 {
		return fmt.Errorf("config: copy: needs field (a payload that is the array has no parent fields)")
	}
	cfg = c
	var paths []string
	if c.Field != "" {
		paths = append(paths, c.Field)
	}
	find = jsonfield.NewFields(append(paths, c.Copy...)...)
	vals = make([]jsonfield.Value, find.Len())
	own = jsonfield.NewFields(c.Copy...)
	ownVals = make([]jsonfield.Value, own.Len())
	exact = overlaps(c.Copy)
	return nil
}

// overlaps reports whether a copy path is, or may be, an ancestor of an
// earlier one ("a" after "a.b"). Copying a.b into an element without a
// creates a, so a SetDefault of a would then keep the partial a where the
// element as it arrived lacked a and gets the parent's whole a. Paths with
// escapes or invalid UTF-8 count as overlapping: comparing them needs
// jsonfield's segment rules, and the exact path is only slower.
func overlaps(paths []string) bool {
	for j, p := range paths {
		if strings.ContainsRune(p, '\\') || !utf8.ValidString(p) {
			return true
		}
		for _, earlier := range paths[:j] {
			if strings.HasPrefix(earlier, p+".") {
				return true
			}
		}
	}
	return false
}

// split is the handler: one Find for the array and the parent fields, and
// per element one Edit when there is something to add.
func split(m *sdk.Message) ([]*sdk.Message, error) {
	doc, err := find.Find(m.Payload(), vals)
	if err != nil {
		return nil, fmt.Errorf("split: payload is not JSON: %w", err)
	}
	arr, copies := doc, vals
	if cfg.Field != "" {
		if doc.Kind() != jsonfield.Object {
			return nil, fmt.Errorf("split: payload is a JSON %s, want an object with %q", doc.Kind(), cfg.Field)
		}
		if arr, copies = vals[0], vals[1:]; arr.Kind() == jsonfield.Invalid {
			switch cfg.Missing {
			case "pass":
				return sdk.One(m), nil
			case "drop":
				return nil, nil
			}
			return nil, fmt.Errorf("split: no array at %q", cfg.Field)
		}
	}
	if arr.Kind() != jsonfield.Array {
		where := "payload"
		if cfg.Field != "" {
			where = cfg.Field
		}
		return nil, fmt.Errorf("split: %s is a JSON %s, want an array", where, arr.Kind())
	}
	defer func() { clear(payloads) }() // keep no payload alive past the call
	payloads, arena = payloads[:0], arena[:0]
	edits := len(cfg.Copy) > 0 || cfg.IndexField != ""
	built := false // edit holds the copies of this message (when reusable)
	for i, el := range arr.Elements() {
		payload := el.Raw()
		if edits {
			if el.Kind() != jsonfield.Object {
				return nil, fmt.Errorf("split: element %d is a JSON %s; copy and index_field need objects", i, el.Kind())
			}
			// Without index_field or exact, every element gets the same edit.
			if !built || cfg.IndexField != "" || exact {
				if err := buildEdit(el, copies, i); err != nil {
					return nil, err
				}
				built = true
			}
			// Appended to the arena: a payload stays valid when the arena
			// grows, as it keeps the memory it was written in.
			start := len(arena)
			if arena, err = edit.AppendApply(arena, payload); err != nil {
				return nil, elementError(i, err)
			}
			payload = arena[start:len(arena):len(arena)]
		}
		payloads = append(payloads, payload)
	}
	if len(payloads) == 0 {
		if cfg.Empty == "dead_letter" {
			return nil, fmt.Errorf("split: empty array")
		}
		return nil, nil
	}
	// The outputs in memory reused from call to call, rather than one
	// allocation per Clone.
	if cap(outMsgs) < len(payloads) {
		outMsgs = make([]sdk.Message, len(payloads))
	}
	msgs := outMsgs[:len(payloads)]
	outs := outPtrs[:0]
	for i, p := range payloads {
		msgs[i] = *m.Clone()
		msgs[i].SetPayload(p)
		outs = append(outs, &msgs[i])
	}
	outPtrs = outs
	return outs, nil
}

// buildEdit sets edit to what element i (el, an object) gets: each found
// parent field the element lacks (the element's own value wins), then its
// index.
func buildEdit(el jsonfield.Value, copies []jsonfield.Value, i int) error {
	edit.Reset()
	editCopy = editCopy[:0]
	if exact {
		if _, err := own.Find(el.Raw(), ownVals); err != nil {
			return fmt.Errorf("split: element %d: %w", i, err) // el is valid: never happens
		}
	}
	for j, v := range copies {
		switch {
		case v.Kind() == jsonfield.Invalid: // not in the parent: not copied
			continue
		case !exact:
			edit.SetDefault(cfg.Copy[j], v.Raw())
		case ownVals[j].Kind() == jsonfield.Invalid:
			edit.Set(cfg.Copy[j], v.Raw())
		default:
			continue
		}
		editCopy = append(editCopy, j)
	}
	if cfg.IndexField != "" {
		edit.SetInt(cfg.IndexField, int64(i))
		editCopy = append(editCopy, -1)
	}
	return nil
}

// elementError names the operation of edit that failed on element i.
func elementError(i int, err error) error {
	var ee *jsonfield.EditError
	if !errors.As(err, &ee) || ee.Index < 0 || ee.Index >= len(editCopy) {
		return fmt.Errorf("split: element %d: %w", i, err) // the element is valid: never happens
	}
	if j := editCopy[ee.Index]; j >= 0 {
		return fmt.Errorf("split: element %d: copy %s: %w", i, cfg.Copy[j], ee.Err)
	}
	return fmt.Errorf("split: element %d: %s: %w", i, cfg.IndexField, ee.Err)
}
