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

	"github.com/knadh/koanf/v2"

	"github.com/tributary-gw/tributary/gateway/internal/regularfile"
	"github.com/tributary-gw/tributary/gateway/mqtttopic"
)

// TenantFile is the file that declares a tenant inside its folder under tenants.dir.
const TenantFile = "tenant.yaml"

// Tenants declares the tenants: inline in the configuration file, or one folder each under
// Dir. Both may be used; a name may be declared only once.
type Tenants struct {
	// Dir holds one folder per tenant: Dir/NAME/tenant.yaml (a Tenant without its name) and
	// the tenant's own NAME.wasm plugins. Watched: a new folder adds a tenant live, a removed
	// one drains and removes it. Empty means no tenant folders.
	Dir string `koanf:"dir"`
	// Inline declares tenants in this file.
	Inline []Tenant `koanf:"inline"`
}

// Tenant owns routes, plugins and limits. Its routes may subscribe only under MQTTPrefixes
// and produce only to Kafka topics starting with one of KafkaPrefixes, dead letters and
// topics its plugins choose included.
type Tenant struct {
	// Name identifies the tenant in metrics, logs, dead letters and the admin API. Inline
	// tenants set it; a folder tenant is named by its folder.
	Name string `koanf:"name"`
	// MQTTPrefixes are the topic prefixes the tenant's filters must start with, such as
	// "acme/". A filter is allowed when its text before the first wildcard starts with one.
	MQTTPrefixes []string `koanf:"mqtt_prefixes"`
	// KafkaPrefixes are the prefixes every Kafka topic of the tenant must start with, such as
	// "acme.": route topics, dead-letter topics and topics chosen by plugins.
	KafkaPrefixes []string `koanf:"kafka_prefixes"`
	// Limits bound the tenant's plugins and flow.
	Limits TenantLimits `koanf:"limits"`
	// AdminToken is the tenant's bearer token for the admin API: it sees and changes only this
	// tenant. Prefer AdminTokenFile. Never printed.
	AdminToken Secret `koanf:"admin_token"`
	// AdminTokenFile names a file holding the tenant's admin token.
	AdminTokenFile string `koanf:"admin_token_file"`
	// Routes are the tenant's routes. Names are unique within the tenant.
	Routes []Route `koanf:"routes"`
	// ReverseRoutes are the tenant's reverse routes (Kafka → MQTT): they read only Kafka
	// topics under KafkaPrefixes and publish only under MQTTPrefixes.
	ReverseRoutes []ReverseRoute `koanf:"reverse_routes"`

	// Dir is the tenant's plugin folder: tenants.dir/NAME for a folder tenant,
	// plugins.dir/NAME for an inline one. Set by Load, not a configuration key.
	Dir string `koanf:"-"`
	// File is the tenant.yaml a folder tenant was read from; empty for inline tenants.
	File string `koanf:"-"`
}

// TenantLimits bound one tenant. Zero values mean the gateway-wide setting (for plugin limits)
// or no limit.
type TenantLimits struct {
	// MemoryMB caps each of the tenant's plugin instances. Defaults to plugins.limits.memory_mb.
	MemoryMB int `koanf:"memory_mb"`
	// CallTimeout bounds one call into the tenant's plugins. Defaults to
	// plugins.limits.call_timeout.
	CallTimeout time.Duration `koanf:"call_timeout"`
	// MessagesPerSecond caps the rate the tenant's messages are taken from the broker. Excess
	// waits in the broker (backpressure), it is not dropped. 0 means no cap.
	MessagesPerSecond float64 `koanf:"messages_per_second"`
	// MaxMessageBytes is the largest MQTT payload the tenant's routes take; a larger one goes
	// to the route's dead-letter topic (kind message_too_large). 0 means no cap beyond
	// kafka.max_record_bytes.
	MaxMessageBytes int `koanf:"max_message_bytes"`
	// MaxInstances caps the plugin instances of all the tenant's chain stages together; each
	// stage gets an equal share (at least one). 0 means plugins.instances per stage.
	MaxInstances int `koanf:"max_instances"`
	// Module bounds what the tenant's plugin modules may declare; each zero field means
	// plugins.limits.module's.
	Module ModuleLimits `koanf:"module"`
}

// AllTenants returns the inline tenants followed by the folder tenants, as Load read them;
// callers must not modify it. For a Config built in code rather than loaded, it returns the
// inline tenants with their plugin folders set.
func (c *Config) AllTenants() []Tenant {
	if c.tenants != nil || len(c.Tenants.Inline) == 0 {
		return c.tenants
	}
	ts := make([]Tenant, 0, len(c.Tenants.Inline))
	for _, t := range c.Tenants.Inline {
		if t.Dir == "" && t.Name != "" {
			t.Dir = filepath.Join(c.Plugins.Dir, t.Name)
		}
		ts = append(ts, t)
	}
	return ts
}

// Tenant returns the tenant named name, or nil.
func (c *Config) Tenant(name string) *Tenant {
	ts := c.AllTenants()
	for i := range ts {
		if ts[i].Name == name {
			return &ts[i]
		}
	}
	return nil
}

// TenantPluginPath returns the file a stage's plugin is loaded from for this tenant: its own folder
// first, then plugins.dir.
func (c *Config) TenantPluginPath(t *Tenant, plugin string) string {
	if t != nil && t.Dir != "" {
		p := filepath.Join(t.Dir, plugin+".wasm")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return c.PluginPath(plugin)
}

// MaxTenantFileBytes bounds a tenant.yaml. Whoever writes a tenant's folder must not make the
// gateway read an arbitrarily large file, nor parse one for long: a tenant's configuration is
// a few kilobytes.
const MaxTenantFileBytes = 1 << 20

// yamlBytes is a koanf.Provider of a document already read.
type yamlBytes []byte

// ReadBytes implements koanf.Provider.
func (b yamlBytes) ReadBytes() ([]byte, error) { return b, nil }

// Read implements koanf.Provider; the bytes need a parser.
func (yamlBytes) Read() (map[string]any, error) {
	return nil, errors.New("config: a YAML document needs a parser")
}

// loadTenantDir reads every tenants.dir/NAME/tenant.yaml. Folders without a tenant.yaml and
// hidden folders are skipped; a tenant.yaml that does not load is an error naming the file.
func (c *Config) loadTenantDir() []error {
	if c.Tenants.Dir == "" {
		return nil
	}
	entries, err := os.ReadDir(c.Tenants.Dir)
	if err != nil {
		return []error{&KeyError{Key: "tenants.dir", Reason: err.Error() + c.relativeNote("tenants.dir")}}
	}
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		dir := filepath.Join(c.Tenants.Dir, e.Name())
		path := filepath.Join(dir, TenantFile)
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			continue
		}
		t, terrs := loadTenantFile(dir)
		if len(terrs) == 0 && t.Name != "" && t.Name != e.Name() {
			terrs = append(terrs, &KeyError{Key: path + ": name", Reason: fmt.Sprintf(
				"%q differs from the folder name %q; leave it out or make them equal", t.Name, e.Name())})
		}
		if len(terrs) > 0 {
			c.broken = append(c.broken, BrokenTenant{Name: e.Name(), File: path, Err: errors.Join(terrs...)})
			continue
		}
		t.Name, t.Dir, t.File = e.Name(), dir, path
		c.tenants = append(c.tenants, t)
	}
	return nil
}

// BrokenTenant is a folder tenant whose tenant.yaml, routes, namespace, token file or plugin
// files did not load. Load leaves it out of AllTenants instead of failing: whoever writes one
// tenant's folder must not be able to stop the gateway or the other tenants. The gateway holds
// it (no MQTT session, so the broker keeps its messages) and tries again on the next reload.
type BrokenTenant struct {
	// Name is the tenant's folder name.
	Name string
	// File is its tenant.yaml.
	File string
	// Err holds every problem found, each naming the file and key.
	Err error
}

// BrokenTenants returns the folder tenants Load left out, in folder order; callers must not
// modify it. Errors of inline tenants, which the operator writes in the configuration file,
// fail Load as before.
func (c *Config) BrokenTenants() []BrokenTenant { return c.broken }

// holdBrokenTenants moves every folder tenant with a problem among errs to c.broken and returns
// the problems that are not a folder tenant's, which fail the load.
func (c *Config) holdBrokenTenants(errs []error) []error {
	byTenant := map[string][]error{}
	var rest []error
	for _, e := range errs {
		if name := c.folderTenantOf(e); name != "" {
			byTenant[name] = append(byTenant[name], e)
			continue
		}
		rest = append(rest, e)
	}
	if len(byTenant) == 0 {
		return rest
	}
	kept := make([]Tenant, 0, len(c.tenants))
	for _, t := range c.tenants {
		if terrs := byTenant[t.Name]; t.File != "" && len(terrs) > 0 {
			c.broken = append(c.broken, BrokenTenant{Name: t.Name, File: t.File, Err: errors.Join(terrs...)})
			continue
		}
		kept = append(kept, t)
	}
	c.tenants = kept
	slices.SortFunc(c.broken, func(a, b BrokenTenant) int { return strings.Compare(a.Name, b.Name) })
	return rest
}

// folderTenantOf returns the folder tenant a load problem is about, or "": problems of a
// folder tenant name its tenant.yaml first.
func (c *Config) folderTenantOf(err error) string {
	var ke *KeyError
	if !errors.As(err, &ke) {
		return ""
	}
	for _, t := range c.tenants {
		if t.File != "" && (ke.Key == t.File || strings.HasPrefix(ke.Key, t.File+":")) {
			return t.Name
		}
	}
	return ""
}

// tenantRootName is what mapstructure calls the root of a tenant file in errors.
var tenantRootName = reflect.TypeFor[Tenant]().String()

// loadTenantFile decodes the tenant.yaml of folder dir strictly. Errors name the file and the
// key.
func loadTenantFile(dir string) (Tenant, []error) {
	path := filepath.Join(dir, TenantFile)
	// The tenant's folder may hold anything in place of its tenant.yaml: read at most
	// MaxTenantFileBytes of a regular file inside the folder (a symbolic link to another
	// tenant's file or to /etc is refused), never block on a named pipe.
	doc, err := regularfile.ReadIn(dir, TenantFile, MaxTenantFileBytes)
	if err != nil {
		return Tenant{}, []error{&KeyError{Key: path, Reason: err.Error()}}
	}
	k := koanf.New(".")
	if err := k.Load(yamlBytes(doc), yamlParser{file: path}); err != nil {
		if se := (*SyntaxError)(nil); errors.As(err, &se) {
			return Tenant{}, []error{se} // names the file and line itself
		}
		return Tenant{}, []error{&KeyError{Key: path, Reason: err.Error()}}
	}
	var t Tenant
	raw := k.Raw()
	if err := decode(raw, &t); err != nil {
		var errs []error
		for _, e := range decodeProblems(err, reflect.TypeFor[Tenant](), nil) {
			var ke *KeyError
			if errors.As(e, &ke) {
				ke.Key = path + ": " + strings.TrimPrefix(ke.Key, tenantRootName+".")
			}
			errs = append(errs, e)
		}
		return Tenant{}, errs
	}
	rawRoutes, _ := raw["routes"].([]any)
	applyRouteDefaults(t.Routes, rawRoutes)
	rawReverse, _ := raw["reverse_routes"].([]any)
	applyReverseDefaults(t.ReverseRoutes, rawReverse)
	resolveTenantPaths(&t, filepath.Dir(path))
	return t, nil
}

// collectTenants gathers inline and folder tenants, fills their defaults and reads their
// token files.
func (c *Config) collectTenants(raw map[string]any) []error {
	var errs problems
	rawTenants, _ := raw["tenants"].(map[string]any)
	rawInline, _ := rawTenants["inline"].([]any)
	c.tenants = nil
	for i, t := range c.Tenants.Inline {
		var rawRoutes, rawReverse []any
		if i < len(rawInline) {
			if m, ok := rawInline[i].(map[string]any); ok {
				rawRoutes, _ = m["routes"].([]any)
				rawReverse, _ = m["reverse_routes"].([]any)
			}
		}
		applyRouteDefaults(t.Routes, rawRoutes)
		t.Routes = append([]Route(nil), t.Routes...)
		applyReverseDefaults(t.ReverseRoutes, rawReverse)
		t.ReverseRoutes = append([]ReverseRoute(nil), t.ReverseRoutes...)
		if t.Name != "" {
			t.Dir = filepath.Join(c.Plugins.Dir, t.Name)
		}
		c.Tenants.Inline[i] = t
		c.tenants = append(c.tenants, t)
	}
	dirErrs := c.loadTenantDir()
	for i := range c.tenants {
		t := &c.tenants[i]
		key := tenantKey(t, i)
		if t.AdminTokenFile != "" {
			if t.AdminToken != "" {
				errs.add(key+".admin_token", "set both admin_token and admin_token_file; use one")
				continue
			}
			v, err := readSecretFile(t.AdminTokenFile)
			if err != nil {
				errs.add(key+".admin_token_file", "%v", err)
				continue
			}
			t.AdminToken = Secret(v)
		}
	}
	return append(dirErrs, errs...)
}

// tenantAt names key sub of tenant t, the i-th, in errors: "tenants.inline[0] (acme).sub" or
// "tenants/acme/tenant.yaml: sub".
func tenantAt(t *Tenant, i int, sub string) string {
	if t.File != "" {
		return tenantKey(t, i) + " " + sub
	}
	return tenantKey(t, i) + "." + sub
}

// tenantKey names tenant t, the i-th, in errors: "tenants.inline[0] (acme)" or its file.
func tenantKey(t *Tenant, i int) string {
	if t.File != "" {
		return t.File + ":"
	}
	return fmt.Sprintf("tenants.inline[%d] (%s)", i, t.Name)
}

// checkTenants validates every tenant: names, namespaces and limits, and its routes with the
// same rules as top-level routes.
func (c *Config) checkTenants(p *problems) {
	seen := map[string]string{}
	tenants := c.AllTenants()
	for i := range tenants {
		t := &tenants[i]
		at := func(sub string) string { return tenantAt(t, i, sub) }
		switch {
		case t.Name == "":
			p.add(at("name"), "required")
		case !validName(t.Name, false):
			p.add(at("name"), "invalid tenant name %q: use letters, digits, '_' and '-'", t.Name)
		case t.Name == "_":
			p.add(at("name"), `"_" is reserved: the admin API names the top-level routes so`)
		}
		checkToken(p, at("admin_token"), t.AdminToken)
		if where, dup := seen[t.Name]; dup && t.Name != "" {
			p.add(at("name"), "duplicate tenant %q, also %s", t.Name, where)
		} else {
			seen[t.Name] = tenantKey(t, i)
		}
		if len(t.MQTTPrefixes) == 0 {
			p.add(at("mqtt_prefixes"), "at least one MQTT topic prefix is required: a tenant's namespace is enforced")
		}
		for j, pre := range t.MQTTPrefixes {
			if pre == "" || strings.ContainsAny(pre, "+#") || strings.HasPrefix(pre, "$") {
				p.add(at(fmt.Sprintf("mqtt_prefixes[%d]", j)), "%q must be a non-empty topic prefix without wildcards or a leading $", pre)
			}
		}
		if len(t.KafkaPrefixes) == 0 {
			p.add(at("kafka_prefixes"), "at least one Kafka topic prefix is required: a tenant's namespace is enforced")
		}
		for j, pre := range t.KafkaPrefixes {
			if pre == "" {
				p.add(at(fmt.Sprintf("kafka_prefixes[%d]", j)), "must not be empty")
			}
		}
		l := t.Limits
		if l.MemoryMB < 0 || l.MemoryMB > 4096 {
			p.add(at("limits.memory_mb"), "%d must be between 1 and 4096 (0: plugins.limits.memory_mb)", l.MemoryMB)
		}
		checkDuration(p, at("limits.call_timeout"), l.CallTimeout, 0, 0)
		if l.MessagesPerSecond < 0 {
			p.add(at("limits.messages_per_second"), "%v must not be negative", l.MessagesPerSecond)
		}
		if l.MaxMessageBytes < 0 {
			p.add(at("limits.max_message_bytes"), "%d must not be negative", l.MaxMessageBytes)
		}
		if l.MaxInstances < 0 {
			p.add(at("limits.max_instances"), "%d must not be negative", l.MaxInstances)
		} else if stages := t.Stages(); l.MaxInstances > 0 && stages > l.MaxInstances {
			p.add(at("limits.max_instances"), "%d is fewer than the %d chain stages of the tenant's routes and reverse routes, each needs one", l.MaxInstances, stages)
		}
		t.Limits.Module.check(p, at("limits.module"))
		if len(t.Routes) == 0 && len(t.ReverseRoutes) == 0 {
			p.add(at("routes"), "at least one route or reverse route is required")
		}
		c.checkRouteList(p, at("routes"), t.Routes, t)
		c.checkReverseList(p, at("reverse_routes"), t.ReverseRoutes, t)
		c.checkRoutes311(p, at("routes"), t.Routes)
	}
	checkDisjoint(p, tenants)
}

// checkDisjoint reports tenants whose namespaces overlap: one prefix starting with another
// would let one tenant read or write what the other owns.
func checkDisjoint(p *problems, tenants []Tenant) {
	for i := range tenants {
		for j := i + 1; j < len(tenants); j++ {
			a, b := &tenants[i], &tenants[j]
			for _, ns := range []struct {
				key  string
				a, b []string
			}{{"mqtt_prefixes", a.MQTTPrefixes, b.MQTTPrefixes}, {"kafka_prefixes", a.KafkaPrefixes, b.KafkaPrefixes}} {
				for _, x := range ns.a {
					for _, y := range ns.b {
						if x != "" && y != "" && (strings.HasPrefix(x, y) || strings.HasPrefix(y, x)) {
							if blameFirst(a, b) {
								p.add(tenantAt(a, i, ns.key), "%q overlaps tenant %s's %q: tenants' namespaces must not overlap", x, b.Name, y)
							} else {
								p.add(tenantAt(b, j, ns.key), "%q overlaps tenant %s's %q: tenants' namespaces must not overlap", y, a.Name, x)
							}
						}
					}
				}
			}
		}
	}
}

// blameFirst reports whether an overlap between tenants a and b (a listed first) is a's fault
// rather than b's. A folder tenant, written by whoever writes its folder, is blamed before an
// inline one, which the operator writes; between two folder tenants, the one whose
// tenant.yaml changed last. The blamed tenant is the one held (see BrokenTenant), so a
// tenant.yaml written to claim a running tenant's namespace cannot take that tenant down.
func blameFirst(a, b *Tenant) bool {
	if (a.File == "") != (b.File == "") {
		return a.File != ""
	}
	if a.File == "" {
		return false
	}
	sa, errA := os.Stat(a.File)
	sb, errB := os.Stat(b.File)
	return errA == nil && errB == nil && sa.ModTime().After(sb.ModTime())
}

// Stages counts the chain stages of the tenant's routes and reverse routes: what
// limits.max_instances is shared by.
func (t *Tenant) Stages() int {
	n := 0
	for _, r := range t.Routes {
		n += len(r.Chain)
	}
	for _, r := range t.ReverseRoutes {
		n += len(r.Chain)
	}
	return n
}

// InstancesPerStage is the pool size of each of the tenant's chain stages, given the
// gateway's plugins.instances.
func (t *Tenant) InstancesPerStage(instances int) int {
	if t.Limits.MaxInstances <= 0 {
		return instances
	}
	return max(1, min(instances, t.Limits.MaxInstances/max(t.Stages(), 1)))
}

// MQTTAllowed reports whether every topic filter f can match starts with one of the
// tenant's MQTT prefixes: its text before the first wildcard must start with one.
func (t *Tenant) MQTTAllowed(f string) bool {
	lit := f
	if i := strings.IndexAny(f, "+#"); i >= 0 {
		lit = f[:i]
	}
	for _, pre := range t.MQTTPrefixes {
		if strings.HasPrefix(lit, pre) {
			return true
		}
		// "acme/#" also matches "acme" itself: allowed under the prefix "acme/".
		if strings.HasSuffix(pre, "/") && f == pre+"#" {
			return true
		}
	}
	return false
}

// KafkaAllowed reports whether the Kafka topic starts with one of the tenant's prefixes.
func (t *Tenant) KafkaAllowed(topic string) bool {
	for _, pre := range t.KafkaPrefixes {
		if strings.HasPrefix(topic, pre) {
			return true
		}
	}
	return false
}

// kafkaTemplateAllowed reports whether every topic a template can produce starts with one of
// the tenant's prefixes: its literal text before the first action must start with one.
func (t *Tenant) kafkaTemplateAllowed(tpl string) bool {
	lit := tpl
	if i := strings.Index(tpl, "{{"); i >= 0 {
		lit = tpl[:i]
	}
	return t.KafkaAllowed(lit)
}

// checkNamespace reports filters and topics of route r (at key) outside tenant t's namespace.
func checkNamespace(p *problems, key string, r *Route, t *Tenant) {
	for j, f := range r.From {
		if _, err := mqtttopic.ParseFilter(f); err == nil && !t.MQTTAllowed(f) {
			p.addRoute(fmt.Sprintf("%s.from[%d]", key, j), r.Name,
				"topic filter %q is outside tenant %s's MQTT namespace %q", f, t.Name, t.MQTTPrefixes)
		}
	}
	if r.To.Topic != "" && !t.kafkaTemplateAllowed(r.To.Topic) {
		p.addRoute(key+".to.topic", r.Name, "Kafka topic %q is outside tenant %s's Kafka namespace %q (a template must start with a prefix)",
			r.To.Topic, t.Name, t.KafkaPrefixes)
	}
	if r.DeadLetter != "" && !t.KafkaAllowed(r.DeadLetter) {
		p.addRoute(key+".dead_letter", r.Name, "Kafka topic %q is outside tenant %s's Kafka namespace %q",
			r.DeadLetter, t.Name, t.KafkaPrefixes)
	}
}
