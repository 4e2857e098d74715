package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
)

// isPathKey reports whether the key named name (its last level) holds a file or folder
// path: plugins.dir, plugins.cache_dir, tenants.dir, every *_file key (TLS files, secret
// files, token files) and a route schema's file. A new path key only has to follow this
// naming to be resolved.
func isPathKey(name string) bool {
	return name == "dir" || name == "file" || strings.HasSuffix(name, "_dir") || strings.HasSuffix(name, "_file")
}

// pathOrigin says where a relative path key was resolved from, for error messages.
type pathOrigin struct {
	// given is the value as written.
	given string
	// base is the absolute folder it was joined to.
	base string
	// from says what base is: "the config file's folder" or "the working directory
	// (TRIBUTARY_PLUGINS__DIR)".
	from string
	// cwd is the working directory, which relative paths in a file were relative to before
	// they became relative to the file; "" when base is the working directory.
	cwd string
}

// resolvePaths makes every relative path key of c absolute: against dir (the config file's
// folder, or the working directory for YAML from memory) for values from the file or the
// defaults, against the working directory for values from the environment, as for any
// command-line setting. envSource maps the keys set from the environment to their variable.
// It records the origin of each relative value in c.relative, for error messages.
//
// file is the config file's path, "" for YAML from memory.
func (c *Config) resolvePaths(file, dir string, envSource map[string]string) error {
	cwd, err := os.Getwd()
	if err != nil {
		return err
	}
	fileFrom := "the config file's folder"
	switch {
	case file != "":
	case dir == "":
		dir, fileFrom = cwd, "the working directory"
	default:
		fileFrom = dir
	}
	c.relative = map[string]pathOrigin{}
	walkPaths(reflect.ValueOf(c).Elem(), "", func(key string, p *string) {
		if *p == "" || filepath.IsAbs(*p) {
			return
		}
		o := pathOrigin{given: *p, base: dir, from: fileFrom}
		if dir != cwd {
			o.cwd = cwd
		}
		if v, ok := envSource[key]; ok {
			o.base, o.from, o.cwd = cwd, "the working directory ("+v+")", ""
		}
		*p = filepath.Join(o.base, *p)
		c.relative[key] = o
	})
	return nil
}

// resolveTenantPaths makes the relative path keys of a tenant.yaml absolute against its
// folder.
func resolveTenantPaths(t *Tenant, dir string) {
	walkPaths(reflect.ValueOf(t).Elem(), "", func(_ string, p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	})
}

// walkPaths calls fn with the key and address of every path key in v, a struct, descending
// into structs and lists of structs ("tenants.inline[0].admin_token_file").
func walkPaths(v reflect.Value, prefix string, fn func(key string, p *string)) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name := f.Tag.Get("koanf")
		if !f.IsExported() || name == "" || name == "-" {
			continue
		}
		key := joinKey(prefix, name)
		fv := v.Field(i)
		switch {
		case f.Type.Kind() == reflect.String && isPathKey(name):
			fn(key, fv.Addr().Interface().(*string))
		case f.Type.Kind() == reflect.Struct:
			walkPaths(fv, key, fn)
		case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
			for j := range fv.Len() {
				walkPaths(fv.Index(j), key+"["+strconv.Itoa(j)+"]", fn)
			}
		}
	}
}

// relativeNote explains how the path key key was made absolute, as " (plugins.dir
// "./plugins" is relative to the config file's folder)", or "" when it was written absolute.
func (c *Config) relativeNote(key string) string {
	o, ok := c.relative[key]
	if !ok {
		return ""
	}
	note := " (" + key + " " + quoteShort(o.given) + " is relative to " + o.from
	// Relative paths in a file used to be the working directory's: when only that meaning
	// exists, the configuration was probably written for it.
	if o.cwd != "" {
		old := filepath.Join(o.cwd, o.given)
		if _, err := os.Stat(filepath.Join(o.base, o.given)); err != nil {
			if _, err := os.Stat(old); err == nil {
				note += "; " + old + " exists: relative paths in a config file were the working directory's before, " +
					"now they are the file's folder's, so write this one relative to the file or absolute"
			}
		}
	}
	return note + ")"
}
