package devrun

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/knadh/koanf/parsers/yaml"

	buildingsensors "github.com/tributary-gw/tributary/examples/building-sensors"
	"github.com/tributary-gw/tributary/gateway/config"
)

// LoadFunc loads and validates one configuration file's bytes with the given environment
// (NAME=value entries), as config.LoadBytes does.
type LoadFunc func(yaml []byte, environ []string) (*config.Config, error)

// exampleConfig loads the example's raw and envelope files and joins their routes into one
// configuration; everything but the routes comes from the raw file. environ reaches both.
func exampleConfig(load LoadFunc, environ []string) (*config.Config, error) {
	raw, err := load(buildingsensors.RawConfig(), environ)
	if err != nil {
		return nil, fmt.Errorf("%s/tributary.yaml: %w", buildingsensors.Dir, err)
	}
	env, err := load(buildingsensors.EnvelopeConfig(), environ)
	if err != nil {
		return nil, fmt.Errorf("%s/tributary-envelope.yaml: %w", buildingsensors.Dir, err)
	}
	names := map[string]bool{}
	for _, r := range raw.Routes {
		names[r.Name] = true
	}
	for _, r := range env.Routes {
		if names[r.Name] {
			return nil, fmt.Errorf("%s: route %q is in both example files", buildingsensors.Dir, r.Name)
		}
		raw.Routes = append(raw.Routes, r)
	}
	return raw, nil
}

// routeTopics returns the fixed Kafka topics the routes write to, records first, then dead
// letters, without duplicates. Templated topics are left out: they are only known per message.
func routeTopics(cfg *config.Config) []string {
	var topics []string
	seen := map[string]bool{}
	add := func(t string) {
		if t != "" && !strings.Contains(t, "{{") && !seen[t] {
			seen[t] = true
			topics = append(topics, t)
		}
	}
	for _, r := range cfg.Routes {
		add(r.To.Topic)
	}
	for _, r := range cfg.Routes {
		add(r.DeadLetter)
	}
	return topics
}

// modulePath is the first line of the repository's go.mod.
const modulePath = "module github.com/tributary-gw/tributary"

// findRoot returns the repository root at or above dir: the folder whose go.mod declares
// modulePath. It returns "" when there is none, e.g. for an installed binary run elsewhere.
func findRoot(dir string) string {
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil {
			first, _, _ := strings.Cut(string(b), "\n")
			if strings.TrimSpace(first) == modulePath {
				return dir
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// chainPlugins returns the plugin names the example routes' chains use, sorted, without
// duplicates. It reads the example files' YAML directly, because loading them validates that
// every plugin's .wasm exists, which is what the names are needed for. A file that does not
// parse gives no names: Run reports that when it loads the configuration.
func chainPlugins() []string {
	seen := map[string]bool{}
	var names []string
	for _, doc := range [][]byte{buildingsensors.RawConfig(), buildingsensors.EnvelopeConfig()} {
		m, err := yaml.Parser().Unmarshal(doc)
		if err != nil {
			continue
		}
		routes, _ := m["routes"].([]any)
		for _, r := range routes {
			rm, _ := r.(map[string]any)
			chain, _ := rm["chain"].([]any)
			for _, st := range chain {
				sm, _ := st.(map[string]any)
				if name, _ := sm["plugin"].(string); name != "" && !seen[name] {
					seen[name] = true
					names = append(names, name)
				}
			}
		}
	}
	slices.Sort(names)
	return names
}

// firstPartySource returns the source folder of first-party plugin name: roots[i]/plugins/name
// for the first root that has one holding a .go file, "" when none does.
func firstPartySource(name string, roots ...string) string {
	for _, root := range roots {
		if root == "" {
			continue
		}
		dir := filepath.Join(root, "plugins", name)
		if goFiles, _ := filepath.Glob(filepath.Join(dir, "*.go")); len(goFiles) > 0 {
			return dir
		}
	}
	return ""
}
