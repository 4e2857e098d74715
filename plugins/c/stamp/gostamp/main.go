// Command gostamp is the Go twin of the C plugin stamp (../stamp.c): it
// passes every message on unchanged and sets one Kafka header. It exists to
// benchmark the C guest against the Go SDK doing the same work
// (plugins/internal/e2e/c_stamp_test.go); use stamp.c in routes.
package main

import (
	"errors"

	"github.com/tributary-gw/tributary/sdk"
)

type config struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

var cfg config

func init() {
	sdk.OnInit(func([]byte) error {
		if err := sdk.Config(&cfg); err != nil {
			return err
		}
		if cfg.Name == "" {
			return errors.New("config: name: a non-empty header name is required")
		}
		return nil
	})
	sdk.Map(func(m *sdk.Message) error {
		m.SetHeader(cfg.Name, cfg.Value)
		return nil
	})
}

func main() {}
