package config

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/go-viper/mapstructure/v2"
)

// KeyError is one problem with one configuration key. Load and Validate return them joined
// with errors.Join; use errors.As, or walk the Unwrap() []error of the joined error, to get
// them one by one.
type KeyError struct {
	// Key is the full key path, as in the file: "mqtt.session_expiry", "routes[2].from[0]".
	Key string
	// Route is the name of the route Key lies in, when known; it is shown after the index:
	// "routes[2] (temps).from[0]".
	Route string
	// Reason says what is wrong, naming the bad value unless it is a secret.
	Reason string
	// File and Line say where Key is written, when it comes from a configuration file read
	// by Load (not from the environment or the defaults); Line is counted from 1, 0 when
	// unknown. A key the file leaves out is placed at its nearest written parent.
	File string
	Line int
	// Err, when set, is the problem as a value (such as a *MissingPluginError), for
	// errors.As; Reason already words it.
	Err error
}

// Unwrap returns Err.
func (e *KeyError) Unwrap() error { return e.Err }

// MissingPluginError is the Err of the KeyError for a chain stage whose plugin module file
// does not exist; `tributary validate` uses it to say how to build the plugin.
type MissingPluginError struct {
	// Plugin is the stage's plugin name.
	Plugin string
	// Path is the absolute path of the file looked for.
	Path string
}

// Error implements error.
func (e *MissingPluginError) Error() string {
	return "plugin " + strconv.Quote(e.Plugin) + ": file " + e.Path + " does not exist"
}

// Error implements error: "<key>: <reason>", after "<file>:<line>: " when the position is
// known.
func (e *KeyError) Error() string {
	key := e.Key
	if e.Route != "" {
		if at := strings.LastIndex(key, "routes["); at >= 0 {
			if i := strings.IndexByte(key[at:], ']'); i > 0 {
				i += at
				key = key[:i+1] + " (" + e.Route + ")" + key[i+1:]
			}
		}
	}
	if e.File != "" && e.Line > 0 {
		return e.File + ":" + strconv.Itoa(e.Line) + ": " + key + ": " + e.Reason
	}
	return key + ": " + e.Reason
}

// problems collects KeyErrors in the order they are found.
type problems []error

func (p *problems) add(key, format string, args ...any) {
	*p = append(*p, &KeyError{Key: key, Reason: fmt.Sprintf(format, args...)})
}

func (p *problems) addRoute(key, route, format string, args ...any) {
	*p = append(*p, &KeyError{Key: key, Route: route, Reason: fmt.Sprintf(format, args...)})
}

// decodeProblems turns the joined errors of a mapstructure decode into root, a struct type,
// into KeyErrors sorted by key, so the output does not depend on map iteration order.
// envSource maps keys set from the environment to the variable that set them.
func decodeProblems(err error, root reflect.Type, envSource map[string]string) []error {
	rootName := root.String()
	var out []*KeyError
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		de, ok := err.(*mapstructure.DecodeError)
		if !ok {
			if u := errors.Unwrap(err); u != nil {
				walk(u)
				return
			}
			out = append(out, &KeyError{Key: "(config)", Reason: err.Error()})
			return
		}
		inner := de.Unwrap()
		if _, ok := inner.(interface{ Unwrap() []error }); ok {
			walk(inner)
			return
		}
		if _, ok := inner.(*mapstructure.DecodeError); ok {
			walk(inner)
			return
		}
		name := de.Name()
		if name == rootName {
			name = ""
		}
		if keys, ok := strings.CutPrefix(inner.Error(), "has invalid keys: "); ok {
			known := keysAt(root, name)
			for _, k := range strings.Split(keys, ", ") {
				out = append(out, &KeyError{Key: joinKey(name, k), Reason: "unknown key" + didYouMean(k, known)})
			}
			return
		}
		reason := describeDecodeError(inner)
		if v, ok := envSource[name]; ok {
			reason += " (from environment variable " + v + ")"
		}
		out = append(out, &KeyError{Key: name, Reason: reason})
	}
	walk(err)
	slices.SortStableFunc(out, func(a, b *KeyError) int { return strings.Compare(a.Key, b.Key) })
	errs := make([]error, len(out))
	for i, e := range out {
		errs[i] = e
	}
	return errs
}

// routeIndex returns i for a key under "routes[i]".
func routeIndex(key string) (int, bool) {
	rest, ok := strings.CutPrefix(key, "routes[")
	if !ok {
		return 0, false
	}
	end := strings.IndexByte(rest, ']')
	if end < 0 {
		return 0, false
	}
	i, err := strconv.Atoi(rest[:end])
	return i, err == nil && i >= 0
}

func joinKey(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// describeDecodeError words a mapstructure leaf error without echoing values that could be
// secrets: only numbers and booleans that failed to parse are quoted.
func describeDecodeError(err error) string {
	var pe *mapstructure.ParseError
	if errors.As(err, &pe) {
		return fmt.Sprintf("invalid %s %s", kindName(pe.Expected.Type()), quoteShort(fmt.Sprint(pe.Value)))
	}
	var ue *mapstructure.UnconvertibleTypeError
	if errors.As(err, &ue) {
		return fmt.Sprintf("expected %s, got %s", kindName(ue.Expected.Type()), valueKind(ue.Value))
	}
	return err.Error()
}

// kindName names a Go type the way a YAML author thinks of it.
func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.String:
		return "string"
	case reflect.Slice, reflect.Array:
		return "list"
	case reflect.Map, reflect.Struct:
		return "mapping"
	}
	return t.String()
}

func valueKind(v any) string {
	if v == nil {
		return "null"
	}
	return "a " + kindName(reflect.TypeOf(v))
}

// quoteShort quotes s, cut to a readable length.
func quoteShort(s string) string {
	const max = 64
	if len(s) > max {
		return fmt.Sprintf("%q...", s[:max])
	}
	return fmt.Sprintf("%q", s)
}
