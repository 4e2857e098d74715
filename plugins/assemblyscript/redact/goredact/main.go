// Command goredact is the Go twin of the AssemblyScript plugin redact (../redact.ts), written with
// the SDK, the same work with the same host calls (one json_find, one json_edit when a field
// is present). It exists to benchmark and cross-check the AssemblyScript guest
// (plugins/internal/e2e/as_redact_test.go); use redact.ts in routes.
package main

import (
	"errors"

	"github.com/tributary-gw/tributary/sdk"
	"github.com/tributary-gw/tributary/sdk/jsonfield"
)

type config struct {
	Remove  []string `json:"remove"`
	Mask    []string `json:"mask"`
	With    *string  `json:"with"`
	NonJSON string   `json:"non_json"`
}

var (
	fields   *jsonfield.Fields
	vals     []jsonfield.Value
	nRemove  int
	masked   []byte
	edit     jsonfield.Edit
	out      []byte
	passBad  bool
	allPaths []string
)

func init() {
	sdk.OnInit(func([]byte) error {
		var c config
		if err := sdk.Config(&c); err != nil {
			return err
		}
		if len(c.Remove)+len(c.Mask) == 0 {
			return errors.New("config: set at least one field in remove or mask")
		}
		with := "***"
		if c.With != nil {
			with = *c.With
		}
		masked = jsonfield.AppendString(nil, with)
		allPaths = append(append([]string(nil), c.Remove...), c.Mask...)
		fields = jsonfield.NewFields(allPaths...)
		vals = make([]jsonfield.Value, len(allPaths))
		nRemove = len(c.Remove)
		passBad = c.NonJSON == "pass"
		return nil
	})
	sdk.Map(func(m *sdk.Message) error {
		if _, err := fields.Find(m.Payload(), vals); err != nil {
			if passBad {
				return nil
			}
			return errors.New("redact: payload is not JSON")
		}
		edit.Reset()
		for i, v := range vals {
			if v.Kind() == jsonfield.Invalid {
				continue
			}
			if i < nRemove {
				edit.Delete(allPaths[i])
			} else {
				edit.Set(allPaths[i], masked)
			}
		}
		if edit.Len() == 0 {
			return nil
		}
		var err error
		if out, err = edit.AppendApply(out[:0], m.Payload()); err != nil {
			return errors.New("redact: cannot rewrite the payload")
		}
		m.SetPayload(out)
		return nil
	})
}

func main() {}
