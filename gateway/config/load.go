package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/maps"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/v2"

	"github.com/tributary-gw/tributary/gateway/internal/regularfile"
	"github.com/tributary-gw/tributary/gateway/mqtttopic"
)

// EnvPrefix starts every environment variable that sets a configuration key.
const EnvPrefix = "TRIBUTARY_"

// envLevelSep separates levels in environment variable names: keys contain "_".
const envLevelSep = "__"

// maxSecretFileBytes bounds a *_file secret; a larger file is a mistake, not a password.
const maxSecretFileBytes = 64 << 10

// Load reads the YAML file at path over Default(), applies the TRIBUTARY_ variables found in
// environ (not the process environment: pass os.Environ() for that), decodes strictly, fills
// in per-route defaults, makes path keys absolute, reads *_file secrets and validates the
// result.
//
// # Paths
//
// Every path key (plugins.dir, plugins.cache_dir, tenants.dir and the *_file keys) that is
// relative in the file, or left at its default, is taken relative to the file's folder, not
// to the working directory: a configuration means the same wherever the gateway is started
// from, and a reload (which calls Load with the same path) reads the same files. A relative
// path set from the environment is taken relative to the working directory, like any
// command-line setting. The Config holds the absolute paths; errors name them.
//
// # Errors
//
// A missing file is one error naming it; YAML that does not parse is a *SyntaxError naming
// the file and line. Otherwise every problem found is reported at once, joined with
// errors.Join; each is a *KeyError naming its key path or environment variable. Secrets
// never appear in the error text.
func Load(path string, environ []string) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	doc, err := os.ReadFile(abs)
	if err != nil {
		return nil, fmt.Errorf("config file %s: %w", abs, err)
	}
	return load(bytesProvider(doc), "config file "+abs, abs, filepath.Dir(abs), environ)
}

// LoadBytes is Load for YAML already in memory, as tests and fuzzing use it. Relative path
// keys are taken relative to the working directory.
func LoadBytes(yamlDoc []byte, environ []string) (*Config, error) {
	return LoadBytesIn(yamlDoc, "", environ)
}

// LoadBytesIn is Load for YAML in memory that stands for a file in the folder dir (the
// working directory when dir is ""): relative path keys are taken relative to dir. The admin
// API checks a configuration uploaded to replace the running one's file this way.
func LoadBytesIn(yamlDoc []byte, dir string, environ []string) (*Config, error) {
	if dir != "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, fmt.Errorf("config folder %s: %w", dir, err)
		}
		dir = abs
	}
	return load(bytesProvider(yamlDoc), "config", "", dir, environ)
}

// load runs the layers (defaults, the YAML from src, named srcName in errors and read from
// file when that is not "", the environment), decodes, resolves paths against dir, fills in
// defaults and secrets, and validates. A fresh koanf instance per call: nothing is shared
// between loads, so reloads cannot race.
func load(src koanf.Provider, srcName, file, dir string, environ []string) (*Config, error) {
	k := koanf.New(".")
	defaults, err := defaultsMap()
	if err != nil {
		return nil, err
	}
	if err := k.Load(confmap.Provider(defaults, ""), nil); err != nil {
		return nil, fmt.Errorf("config defaults: %w", err)
	}
	var routes keptValue
	if err := k.Load(src, yamlParser{file: file, routes: &routes}); err != nil {
		var se *SyntaxError
		if errors.As(err, &se) && se.File != "" {
			return nil, err
		}
		return nil, fmt.Errorf("%s: %w", srcName, err)
	}

	var errs problems
	envSource := map[string]string{}
	envProvider := env.Provider(".", env.Opt{
		Prefix:        EnvPrefix,
		EnvironFunc:   func() []string { return environ },
		TransformFunc: envTransform(&errs, envSource),
	})
	if err := k.Load(envProvider, nil); err != nil {
		return nil, fmt.Errorf("config environment: %w", err)
	}

	raw := k.Raw()
	if routes.set {
		raw["routes"] = routes.v
		maps.IntfaceKeysToStrings(raw) // as koanf does with what it holds: YAML keys such as 1 become "1"
	}
	cfg := &Config{}
	failed := map[string]bool{}
	if err := decode(raw, cfg); err != nil {
		for _, e := range decodeProblems(err, reflect.TypeFor[Config](), envSource) {
			errs = append(errs, e)
			var ke *KeyError
			if errors.As(e, &ke) {
				failed[ke.Key] = true
				if i, ok := routeIndex(ke.Key); ok && i < len(cfg.Routes) {
					ke.Route = cfg.Routes[i].Name
				}
			}
		}
	}
	if err := cfg.resolvePaths(file, dir, envSource); err != nil {
		return nil, fmt.Errorf("config paths: %w", err)
	}
	errs = append(errs, cfg.resolveSecrets()...)
	rawRoutes, _ := raw["routes"].([]any)
	applyRouteDefaults(cfg.Routes, rawRoutes)
	rawReverse, _ := raw["reverse_routes"].([]any)
	applyReverseDefaults(cfg.ReverseRoutes, rawReverse)
	errs = append(errs, cfg.collectTenants(raw)...)
	for _, e := range cfg.problems() {
		// A key that failed to decode holds a zero value; checking it again only adds noise.
		var ke *KeyError
		if errors.As(e, &ke) && coveredBy(ke.Key, failed) {
			continue
		}
		errs = append(errs, e)
	}
	errs = cfg.holdBrokenTenants(errs)
	for _, e := range errs {
		// A problem with a relative path key says what the path was relative to.
		if ke, ok := e.(*KeyError); ok && !strings.Contains(ke.Reason, " is relative to ") {
			ke.Reason += cfg.relativeNote(ke.Key)
		}
	}
	cfg.relative = nil // only the messages above needed it
	if len(errs) > 0 {
		if file != "" {
			placeErrors(errs, src, file, envSource)
		}
		return nil, errors.Join(errs...)
	}
	return cfg, nil
}

// placeErrors sets File and Line of the KeyErrors among errs about keys written in the
// config file (read from src), leaving those about environment variables, keys set from the
// environment and other files alone.
func placeErrors(errs []error, src koanf.Provider, file string, envSource map[string]string) {
	doc, err := src.ReadBytes()
	if err != nil {
		return
	}
	lines := newKeyLines(doc)
	for _, e := range errs {
		ke, ok := e.(*KeyError)
		if !ok || strings.HasPrefix(ke.Key, EnvPrefix) || strings.HasPrefix(ke.Key, "(") || filepath.IsAbs(ke.Key) {
			continue
		}
		if _, fromEnv := envSource[ke.Key]; fromEnv {
			continue
		}
		if line := lines.line(ke.Key); line > 0 {
			ke.File, ke.Line = file, line
		}
	}
}

// coveredBy reports whether key or one of its parents is in failed.
func coveredBy(key string, failed map[string]bool) bool {
	for {
		if failed[key] {
			return true
		}
		i := strings.LastIndexAny(key, ".[")
		if i <= 0 {
			return false
		}
		key = key[:i]
	}
}

// decode decodes raw into cfg strictly: unknown keys are errors, strings convert to the
// field's type (environment values are strings), durations need a unit.
func decode(raw map[string]any, cfg any) error {
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			durationHook,
			mapstructure.TextUnmarshallerHookFunc(),
		),
		ErrorUnused:      true,
		WeaklyTypedInput: true,
		TagName:          "koanf",
		Result:           cfg,
	})
	if err != nil {
		return err
	}
	return dec.Decode(raw)
}

var durationType = reflect.TypeFor[time.Duration]()

// durationHook parses durations from strings ("1h30m") and refuses bare numbers other than
// 0, which would otherwise be read as nanoseconds.
func durationHook(from, to reflect.Type, data any) (any, error) {
	if to != durationType {
		return data, nil
	}
	switch v := data.(type) {
	case string:
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("invalid duration %s", quoteShort(v))
		}
		return d, nil
	case time.Duration:
		return v, nil
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
		if reflect.ValueOf(v).IsZero() {
			return time.Duration(0), nil
		}
		return nil, fmt.Errorf(`invalid duration %v: a unit is required, as in "%vs"`, v, v)
	}
	return data, nil
}

// envTransform maps TRIBUTARY_A__B_C=v to the key "a.b_c", splitting list values on
// commas, and records names that match no key as errors (returning "" drops them).
func envTransform(errs *problems, source map[string]string) func(k, v string) (string, any) {
	known := envKeys()
	envNames := make([]string, 0, len(known))
	for k := range known {
		envNames = append(envNames, k)
	}
	slices.Sort(envNames)
	return func(name, value string) (string, any) {
		rest := strings.TrimPrefix(name, EnvPrefix)
		if !strings.Contains(rest, envLevelSep) {
			section, _, _ := strings.Cut(strings.ToLower(rest), "_")
			if _, isSection := sections[section]; isSection && section != strings.ToLower(rest) {
				*errs = append(*errs, &KeyError{Key: name, Reason: fmt.Sprintf(
					"environment variable names no config key: levels are separated by %q, as in %s%s%s...",
					envLevelSep, EnvPrefix, strings.ToUpper(section), envLevelSep)})
			}
			return "", nil
		}
		key := strings.ToLower(strings.ReplaceAll(rest, envLevelSep, "."))
		kind, ok := known[key]
		switch {
		case strings.HasPrefix(key, "routes."):
			*errs = append(*errs, &KeyError{Key: name, Reason: "environment variables cannot set items of routes; put them in the file"})
			return "", nil
		case !ok:
			*errs = append(*errs, &KeyError{Key: name, Reason: fmt.Sprintf("environment variable names no config key (%s)%s", key, didYouMean(key, envNames))})
			return "", nil
		}
		source[key] = name
		if kind == reflect.Slice {
			items := []any{}
			for _, item := range strings.Split(value, ",") {
				if item = strings.TrimSpace(item); item != "" {
					items = append(items, item)
				}
			}
			return key, items
		}
		return key, value
	}
}

// sections are the top-level keys of Config.
var sections = func() map[string]bool {
	m := map[string]bool{}
	t := reflect.TypeFor[Config]()
	for i := range t.NumField() {
		m[t.Field(i).Tag.Get("koanf")] = true
	}
	return m
}()

// envKeys lists the keys the environment may set, mapped to their kind: every scalar and
// list of scalars outside routes.
func envKeys() map[string]reflect.Kind {
	out := map[string]reflect.Kind{}
	var walk func(prefix string, t reflect.Type)
	walk = func(prefix string, t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			key := joinKey(prefix, f.Tag.Get("koanf"))
			switch {
			case f.Type.Kind() == reflect.Struct:
				walk(key, f.Type)
			case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.String:
				out[key] = reflect.Slice
			case f.Type.Kind() == reflect.Slice || f.Type.Kind() == reflect.Map:
				// routes and plugin configs: not reachable from the environment.
			default:
				out[key] = f.Type.Kind()
			}
		}
	}
	walk("", reflect.TypeFor[Config]())
	return out
}

// resolveSecrets reads the *_file secrets into their Secret fields.
func (c *Config) resolveSecrets() []error {
	var errs problems
	resolve := func(key string, s *Secret, fileKey, path string) {
		if path == "" {
			return
		}
		if *s != "" {
			errs.add(key, "set both %s and %s; use one", key, fileKey)
			return
		}
		v, err := readSecretFile(path)
		if err != nil {
			errs.add(fileKey, "%v", err)
			return
		}
		*s = Secret(v)
	}
	resolve("mqtt.password", &c.MQTT.Password, "mqtt.password_file", c.MQTT.PasswordFile)
	resolve("admin.token", &c.Admin.Token, "admin.token_file", c.Admin.TokenFile)
	resolve("kafka.sasl.password", &c.Kafka.SASL.Password, "kafka.sasl.password_file", c.Kafka.SASL.PasswordFile)
	sr := &c.Kafka.SchemaRegistry
	resolve("kafka.schema_registry.password", &sr.Password, "kafka.schema_registry.password_file", sr.PasswordFile)
	resolve("kafka.schema_registry.token", &sr.Token, "kafka.schema_registry.token_file", sr.TokenFile)
	return errs
}

// readSecretFile returns the contents of a regular file of at most maxSecretFileBytes,
// without trailing newlines. Errors name the file, never its contents.
func readSecretFile(path string) (string, error) {
	b, err := regularfile.Read(path, maxSecretFileBytes) // a tenant's token file may be anything
	if err != nil {
		return "", err
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return s, nil
}

// applyRouteDefaults fills in what a route may leave out. rawRoutes are the routes before
// decoding; they tell an absent qos from an explicit 0.
func applyRouteDefaults(routes []Route, rawRoutes []any) {
	for i := range routes {
		r := &routes[i]
		qosSet := false
		if i < len(rawRoutes) {
			if m, ok := rawRoutes[i].(map[string]any); ok {
				qosSet = m["qos"] != nil
			}
		}
		if !qosSet {
			r.QoS = 1
		}
		if r.To.Key == "" {
			r.To.Key = DefaultKeyTemplate
		}
		if r.To.Envelope == "" {
			r.To.Envelope = EnvelopeNone
		}
		if r.DeadLetter == "" && r.To.Topic != "" {
			if t, err := mqtttopic.ParseTemplate(r.To.Topic); err == nil && t.IsStatic() {
				r.DeadLetter = r.To.Topic + "_dlq"
			}
		}
		applySchemaDefaults(r)
	}
}

// bytesProvider is a koanf.Provider over YAML bytes in memory.
type bytesProvider []byte

func (b bytesProvider) ReadBytes() ([]byte, error) { return b, nil }

func (b bytesProvider) Read() (map[string]any, error) {
	return nil, errors.New("bytes provider needs a parser")
}
