package mqtttopic

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxLength is the largest topic name or filter MQTT allows, in bytes of UTF-8
// (a two-byte length prefix on the wire).
const MaxLength = 65535

// sharePrefix starts a shared subscription filter (MQTT v5 section 4.8.2).
const sharePrefix = "$share/"

// FilterError reports why a topic filter was rejected.
// Its message names the filter: `invalid topic filter "a/#/b": # must be the last level`.
type FilterError struct {
	// Filter is the rejected filter as given.
	Filter string
	// Reason says what is wrong, e.g. "# must be the last level".
	Reason string
}

// Error implements error.
func (e *FilterError) Error() string {
	return fmt.Sprintf("invalid topic filter %q: %s", e.Filter, e.Reason)
}

// Filter is a parsed MQTT topic filter. The zero Filter matches nothing; obtain one from
// ParseFilter. A Filter is immutable and safe for concurrent use.
type Filter struct {
	src    string
	levels []string // split on "/"; "+" and "#" are the wildcards
}

// ParseFilter checks s against the MQTT v5 rules for topic filters and returns it parsed.
//
// A valid filter is non-empty, at most MaxLength bytes of valid UTF-8 without U+0000; a "+"
// occupies a whole level; a "#" occupies a whole level and is the last one. Filters that
// start with "$share/" are rejected: the gateway subscribes through a shared group when
// mqtt.shared_group is set, and users must not write the prefix themselves.
//
// # Errors
//
// The error is a *FilterError naming s and the first problem found.
func ParseFilter(s string) (Filter, error) {
	if reason := checkFilter(s); reason != "" {
		return Filter{}, &FilterError{Filter: s, Reason: reason}
	}
	return Filter{src: s, levels: strings.Split(s, "/")}, nil
}

// checkFilter returns why s is not a valid filter, or "" when it is.
func checkFilter(s string) string {
	if reason := checkString(s); reason != "" {
		return reason
	}
	if strings.HasPrefix(s, sharePrefix) {
		return "shared subscriptions are configured with mqtt.shared_group, not written as $share/<group>/ in the filter"
	}
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '/' {
			continue
		}
		level := s[start:i]
		if len(level) > 1 {
			if strings.IndexByte(level, '+') >= 0 {
				return "+ must occupy a whole level"
			}
			if strings.IndexByte(level, '#') >= 0 {
				return "# must occupy a whole level"
			}
		}
		if level == "#" && i != len(s) {
			return "# must be the last level"
		}
		start = i + 1
	}
	return ""
}

// checkString applies the rules shared by topic names and filters.
func checkString(s string) string {
	switch {
	case s == "":
		return "must not be empty"
	case len(s) > MaxLength:
		return fmt.Sprintf("longer than %d bytes", MaxLength)
	case !utf8.ValidString(s):
		return "not valid UTF-8"
	case strings.IndexByte(s, 0) >= 0:
		return "contains U+0000"
	}
	return ""
}

// String returns the filter as it was parsed.
func (f Filter) String() string { return f.src }

// Match reports whether the topic name matches the filter, following MQTT v5 section 4.7:
// "+" matches exactly one level, including an empty one; "#" matches the parent level and
// any number of levels below it ("a/#" matches "a", "a/" and "a/b/c"); and a filter whose
// first level is a wildcard does not match a topic starting with "$".
//
// Match does not check that topic is a valid topic name (see ValidTopic) and does not
// allocate.
func (f Filter) Match(topic string) bool {
	if len(f.levels) == 0 {
		return false
	}
	if len(topic) > 0 && topic[0] == '$' && (f.levels[0] == "+" || f.levels[0] == "#") {
		return false
	}
	start, exhausted := 0, false
	for _, level := range f.levels {
		if level == "#" {
			// Matches the remaining levels, or the parent when none remain.
			return true
		}
		if exhausted {
			return false
		}
		var seg string
		if end := strings.IndexByte(topic[start:], '/'); end < 0 {
			seg, exhausted = topic[start:], true
		} else {
			seg, start = topic[start:start+end], start+end+1
		}
		if level != "+" && level != seg {
			return false
		}
	}
	return exhausted
}

// ValidTopic reports whether topic is a valid MQTT topic name, as carried by a PUBLISH:
// non-empty, at most MaxLength bytes of valid UTF-8, without U+0000 and without the
// wildcards "+" and "#".
func ValidTopic(topic string) bool {
	return checkString(topic) == "" && strings.IndexAny(topic, "+#") < 0
}

// Shared returns the shared subscription filter "$share/<group>/<filter>" (MQTT v5
// section 4.8.2). It does not check its arguments; see ValidShareGroup and ParseFilter.
func Shared(group, filter string) string {
	return sharePrefix + group + "/" + filter
}

// ValidShareGroup reports whether group can name a shared subscription: non-empty valid
// UTF-8 without U+0000, "/", "+" or "#", and short enough that "$share/<group>/" leaves room
// for a filter.
func ValidShareGroup(group string) bool {
	return group != "" &&
		len(group)+len(sharePrefix)+2 <= MaxLength &&
		utf8.ValidString(group) &&
		strings.IndexAny(group, "\x00/+#") < 0
}
