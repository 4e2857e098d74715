package config

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// SyntaxError is a YAML document that does not parse. Line is the line the parser stopped
// at, counted from 1, which is the line to fix in the usual mistakes (a key indented one
// space too few or too many, a tab).
//
// It corrects what go.yaml.in/yaml/v3 (and so koanf's YAML parser) reports: for a parser
// error that library names the line where the enclosing block started (its "context
// mark") rather than the line of the problem, and counts that line from 0, so a mis-indented
// key at line 7 of a route is reported at "line 1". The scanner's errors are right. The
// library keeps the problem's position unexported, so Line is found by parsing growing
// prefixes of the document: it is the first line whose inclusion makes the parser fail with
// the same message, which is where the parser met the problem.
type SyntaxError struct {
	// File is the file's absolute path, or "" for YAML that came from memory.
	File string
	// Line is counted from 1; 0 when unknown.
	Line int
	// Text is the line's text, for showing it.
	Text string
	// Msg is the parser's description, such as "did not find expected key".
	Msg string
}

// Error implements error: "FILE:LINE: MSG" followed by the line's text.
func (e *SyntaxError) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	case e.File != "":
		fmt.Fprintf(&b, "%s: ", e.File)
	case e.Line > 0:
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	b.WriteString("invalid YAML: ")
	b.WriteString(e.Msg)
	if hint := syntaxHint(e.Msg, e.Text); hint != "" {
		b.WriteString(" (" + hint + ")")
	}
	if e.Line > 0 && strings.TrimSpace(e.Text) != "" {
		fmt.Fprintf(&b, "\n    %d | %s", e.Line, strings.TrimRight(e.Text, "\r"))
	}
	return b.String()
}

// syntaxHint says what usually causes msg at a line reading text.
func syntaxHint(msg, text string) string {
	switch {
	case strings.Contains(text, "\t") && strings.Contains(msg, "cannot start any token"):
		return "YAML indents with spaces, not tabs"
	case strings.HasPrefix(msg, "did not find expected key"),
		strings.HasPrefix(msg, "did not find expected '-' indicator"),
		strings.HasPrefix(msg, "mapping values are not allowed"):
		return "check this line's indentation against the keys above it"
	}
	return ""
}

// yamlLine matches the position yaml/v3 puts in front of a one-line error.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML decodes a YAML mapping. A syntax error is a *SyntaxError naming the right line;
// other errors (a duplicate key, a document that is not a mapping) are returned as yaml/v3
// words them, whose line numbers are right.
func parseYAML(b []byte, file string) (map[string]any, error) {
	var out map[string]any
	err := yaml.Unmarshal(b, &out)
	if err == nil {
		return out, nil
	}
	m := yamlLine.FindStringSubmatch(err.Error())
	if m == nil {
		if file != "" {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		return nil, err
	}
	reported, _ := strconv.Atoi(m[1])
	se := &SyntaxError{File: file, Line: reported, Msg: m[2]}
	lines := bytes.SplitAfter(b, []byte("\n"))
	if len(b) <= maxSearchBytes {
		if line := problemLine(lines, se.Msg); line > 0 {
			se.Line = line
		}
	}
	if se.Line > 0 && se.Line <= len(lines) {
		se.Text = strings.TrimRight(string(lines[se.Line-1]), "\n")
	}
	return nil, se
}

// maxSearchBytes bounds the documents whose problem line is searched for (each parse of a
// prefix costs its length); beyond it the library's line stands. Configurations are far
// smaller.
const maxSearchBytes = 1 << 20

// problemLine returns the smallest n such that lines[:n] fails to parse with message msg,
// or 0. A parser stops at the first problem, so every prefix that holds the problem's line
// fails with the same message and the property is monotone from there on: a binary search
// finds the line in about log2(len(lines)) parses. (A shorter prefix cut inside a construct
// fails too, but with its own message, such as "did not find expected ',' or ']'".)
func problemLine(lines [][]byte, msg string) int {
	fails := func(n int) bool {
		var v any
		err := yaml.Unmarshal(bytes.Join(lines[:n], nil), &v)
		if err == nil {
			return false
		}
		m := yamlLine.FindStringSubmatch(err.Error())
		return m != nil && m[2] == msg
	}
	lo, hi := 1, len(lines) // the answer is in [lo, hi]
	if hi == 0 || !fails(hi) {
		return 0
	}
	for lo < hi {
		mid := lo + (hi-lo)/2
		if fails(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// yamlParser is a koanf.Parser over parseYAML: koanf's own YAML parser reports wrong lines.
type yamlParser struct {
	file string
	// routes, when set, takes the document's routes key out of what koanf gets: no other
	// layer can set routes (the environment may not), and koanf copies everything it holds
	// once more when asked for it, which is most of a load's time at thousands of routes.
	// The loader puts the value back into the raw map.
	routes *keptValue
}

// keptValue is a value of a YAML document kept outside koanf, and whether the document had
// its key.
type keptValue struct {
	v   any
	set bool
}

// Unmarshal implements koanf.Parser.
func (p yamlParser) Unmarshal(b []byte) (map[string]any, error) {
	m, err := parseYAML(b, p.file)
	if err == nil && p.routes != nil {
		if v, ok := m["routes"]; ok {
			*p.routes = keptValue{v: v, set: true}
			delete(m, "routes")
		}
	}
	return m, err
}

// Marshal implements koanf.Parser; configuration is never written back through koanf.
func (yamlParser) Marshal(map[string]any) ([]byte, error) {
	return nil, errors.New("config: writing YAML through koanf is not supported")
}

// keyLines finds where key paths are written in one YAML document, from yaml/v3's node
// positions: koanf flattens the document into maps and keeps none.
type keyLines struct{ root *yaml.Node }

// newKeyLines parses doc; nil when it does not parse (Load has reported that already).
func newKeyLines(doc []byte) *keyLines {
	var n yaml.Node
	if yaml.Unmarshal(doc, &n) != nil || n.Kind != yaml.DocumentNode || len(n.Content) == 0 {
		return nil
	}
	return &keyLines{root: n.Content[0]}
}

// routeLabel matches the " (name)" that errors show after a list index.
var routeLabel = regexp.MustCompile(` \([^)]*\)`)

// line returns the line of key ("routes[2].to.topik", labels such as " (temps)" allowed): the
// line of the key itself when the document has it, else of its nearest ancestor that it has
// (a required key left out is reported where its parent is), 0 when none.
func (k *keyLines) line(key string) int {
	if k == nil {
		return 0
	}
	n, line := k.root, 0
	for _, part := range strings.Split(routeLabel.ReplaceAllString(key, ""), ".") {
		name, rest, _ := strings.Cut(part, "[")
		if name != "" {
			if n.Kind != yaml.MappingNode {
				return line
			}
			found := false
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == name {
					line, n, found = n.Content[i].Line, n.Content[i+1], true
					break
				}
			}
			if !found {
				return line
			}
		}
		for rest != "" {
			idx, after, _ := strings.Cut(rest, "]")
			i, err := strconv.Atoi(idx)
			if err != nil || n.Kind != yaml.SequenceNode || i < 0 || i >= len(n.Content) {
				return line
			}
			n, line = n.Content[i], n.Content[i].Line
			rest = strings.TrimPrefix(after, "[")
		}
	}
	return line
}
