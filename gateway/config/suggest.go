package config

import (
	"os"
	"reflect"
	"sort"
	"strings"
)

// ClosestName returns the name in known closest to name, for a "did you mean" in an error,
// or "" when none is close enough to be a likely typo: at most two edits (insertions,
// deletions, substitutions, or swaps of neighbouring letters) away, or a third of name's
// length for long names, ignoring case. The command line uses it for subcommands and flags.
func ClosestName(name string, known []string) string {
	limit := max(2, len(name)/3)
	best, bestDist := "", limit+1
	lower := strings.ToLower(name)
	for _, k := range known {
		if k == name {
			continue
		}
		d := editDistance(lower, strings.ToLower(k))
		if d < bestDist && d < max(len(name), len(k)) {
			best, bestDist = k, d
		}
	}
	return best
}

// didYouMean is ClosestName worded for the end of an error: "; did you mean X?" or "".
func didYouMean(name string, known []string) string {
	if s := ClosestName(name, known); s != "" {
		return "; did you mean " + s + "?"
	}
	return ""
}

// editDistance is the optimal string alignment distance between a and b, by bytes:
// insertions, deletions, substitutions and transpositions of adjacent bytes each cost 1.
func editDistance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// keysAt lists the keys a mapping at key path parent may hold, parent being relative to the
// struct type root ("", "mqtt.tls", "routes[3].to"); nil when parent is not a struct (a
// plugin's config, say) or unknown.
func keysAt(root reflect.Type, parent string) []string {
	t := root
	if parent != "" {
		for _, seg := range strings.Split(parent, ".") {
			if i := strings.IndexByte(seg, '['); i >= 0 {
				seg = seg[:i]
			}
			f, ok := fieldByKey(t, seg)
			if !ok {
				return nil
			}
			t = f.Type
			for t.Kind() == reflect.Slice || t.Kind() == reflect.Pointer {
				t = t.Elem()
			}
		}
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var keys []string
	for i := range t.NumField() {
		if k := t.Field(i).Tag.Get("koanf"); k != "" && k != "-" {
			keys = append(keys, k)
		}
	}
	return keys
}

// fieldByKey finds the field of struct type t tagged koanf:key.
func fieldByKey(t reflect.Type, key string) (reflect.StructField, bool) {
	if t.Kind() != reflect.Struct {
		return reflect.StructField{}, false
	}
	for i := range t.NumField() {
		if t.Field(i).Tag.Get("koanf") == key {
			return t.Field(i), true
		}
	}
	return reflect.StructField{}, false
}

// wasmNames lists the plugin names (NAME of NAME.wasm) in the folders dirs, sorted.
func wasmNames(dirs ...string) []string {
	seen := map[string]bool{}
	var names []string
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if n, ok := strings.CutSuffix(e.Name(), ".wasm"); ok && !e.IsDir() && !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	sort.Strings(names)
	return names
}
