package config

import (
	"strings"

	"github.com/tributary-gw/tributary/gateway/mqtttopic"
)

// MissingField is a route's to.missing: what a {{.Payload "path"}} action of to.topic or
// to.key renders when the payload has no such field, is not JSON, or the field is null, an
// object or an array. The zero value means MissingDeadLetter.
type MissingField string

// Values of MissingField; "default:TEXT" renders TEXT (see MissingField.Default).
const (
	// MissingDeadLetter sends the message to the route's dead letters (kind missing_field),
	// the error naming the template key and the field. The default.
	MissingDeadLetter MissingField = "dead_letter"
	// MissingEmpty renders the field as "".
	MissingEmpty MissingField = "empty"
	// MissingDefaultPrefix starts "default:TEXT", which renders the field as TEXT.
	MissingDefaultPrefix = "default:"
)

// Default returns the TEXT of "default:TEXT" and true, or false for the other values.
func (m MissingField) Default() (string, bool) {
	return strings.CutPrefix(string(m), MissingDefaultPrefix)
}

// checkMissing reports a to.missing that is not one of the values, or one set on a route
// whose templates read no payload field.
func checkMissing(add func(sub, format string, args ...any), r *Route) {
	m := r.To.Missing
	if m == "" {
		return
	}
	if _, ok := m.Default(); !ok && m != MissingDeadLetter && m != MissingEmpty {
		add(".to.missing", "%q is not one of dead_letter, empty, default:TEXT", string(m))
		return
	}
	for _, src := range []string{r.To.Topic, r.To.Key} {
		if t, err := mqtttopic.ParseTemplate(src); err == nil && t.UsesPayload() {
			return
		}
	}
	add(".to.missing", "set, but neither to.topic nor to.key has a {{.Payload \"path\"}} action")
}
