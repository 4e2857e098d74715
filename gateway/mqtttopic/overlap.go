package mqtttopic

import "strings"

// Overlap reports whether some topic name matches both filters a and b, so a broker holding
// both as subscriptions of one session may deliver that message once per filter. Filters
// that are equal overlap. It follows Match: "+" stands for any one level, "#" for the parent
// level and anything below, and a filter whose first level is a wildcard matches no topic
// starting with "$". Neither filter is checked; see ParseFilter.
func Overlap(a, b string) bool {
	la, lb := strings.Split(a, "/"), strings.Split(b, "/")
	wild := func(l string) bool { return l == "+" || l == "#" }
	if strings.HasPrefix(la[0], "$") && wild(lb[0]) || strings.HasPrefix(lb[0], "$") && wild(la[0]) {
		return false
	}
	for i := 0; ; i++ {
		switch {
		case i < len(la) && la[i] == "#", i < len(lb) && lb[i] == "#":
			return true // "#" also matches the parent level, so a shorter other side fits
		case i == len(la) || i == len(lb):
			return len(la) == len(lb)
		case la[i] != lb[i] && la[i] != "+" && lb[i] != "+":
			return false
		}
	}
}

// UsesProperties reports whether the template renders an MQTT v5 user property
// ({{.Property "name"}}), which an MQTT 3.1.1 message never carries.
func (t *Template) UsesProperties() bool {
	for _, p := range t.parts {
		if p.kind == partProperty {
			return true
		}
	}
	return false
}
