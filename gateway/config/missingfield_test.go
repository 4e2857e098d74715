package config_test

import (
	"strings"
	"testing"

	"github.com/tributary-gw/tributary/gateway/config"
)

func TestLoadMissingField(t *testing.T) {
	tests := []struct {
		name, to string
		want     config.MissingField
		wantErr  string
	}{
		{name: "absent", to: `{topic: t, key: '{{.Payload "id"}}'}`, want: ""},
		{name: "empty", to: `{topic: t, key: '{{.Payload "id"}}', missing: empty}`, want: config.MissingEmpty},
		{name: "default", to: `{topic: t, key: '{{.Payload "id"}}', missing: "default:unknown id"}`, want: "default:unknown id"},
		{name: "dead_letter in topic", to: `{topic: 't.{{.Payload "kind"}}', missing: dead_letter}`, want: config.MissingDeadLetter},
		{name: "unknown value", to: `{topic: t, key: '{{.Payload "id"}}', missing: drop}`,
			wantErr: `routes[0] (r).to.missing: "drop" is not one of dead_letter, empty, default:TEXT`},
		{name: "no payload action", to: `{topic: t, missing: empty}`,
			wantErr: `routes[0] (r).to.missing: set, but neither to.topic nor to.key has a {{.Payload "path"}} action`},
		{name: "field syntax", to: `{topic: t, key: '{{.Payload.id}}'}`,
			wantErr: `routes[0] (r).to.key: invalid template "{{.Payload.id}}": col 1: action "{{.Payload.id}}": the path is a quoted argument: write {{.Payload "id"}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.LoadBytes([]byte("routes: [{name: r, from: [a], dead_letter: d, to: "+tc.to+"}]\n"), nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Routes[0].To.Missing; got != tc.want {
				t.Fatalf("to.missing = %q, want %q", got, tc.want)
			}
		})
	}
	if text, ok := config.MissingField("default:").Default(); !ok || text != "" {
		t.Errorf(`"default:" is the empty default, got %q %v`, text, ok)
	}
}
