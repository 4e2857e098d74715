package connectimport

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// kcqlStatement is what one Stream Reactor source statement says:
// INSERT INTO target SELECT * FROM source [WITHCONVERTER=`class`] [WITHKEY(f, ...)] ...
type kcqlStatement struct {
	target, source string
	// keyFields are the payload fields of WITHKEY(...), in order; keyDelimiter joins them
	// (KEYDELIMITER, "." by default).
	keyFields    []string
	keyDelimiter string
	// converter is WITHCONVERTER's class, short name; "" when absent.
	converter string
	// warnings describe clauses that are not imported.
	warnings []string
}

// kcqlToken is one lexical token: a word, a quoted name, "=", or a parenthesised group.
type kcqlToken struct {
	text   string
	quoted bool // `...` or '...': never a keyword
	group  bool // (...): text is the inside
}

// splitKCQL splits statements on ";" outside quotes and drops empty ones.
func splitKCQL(s string) []string {
	var out []string
	var quote rune
	start := 0
	for i, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '`' || r == '\'':
			quote = r
		case r == ';':
			if st := strings.TrimSpace(s[start:i]); st != "" {
				out = append(out, st)
			}
			start = i + 1
		}
	}
	if st := strings.TrimSpace(s[start:]); st != "" {
		out = append(out, st)
	}
	return out
}

// lexKCQL splits one statement into tokens.
func lexKCQL(s string) ([]kcqlToken, error) {
	var toks []kcqlToken
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '`' || c == '\'':
			end := strings.IndexByte(s[i+1:], c)
			if end < 0 {
				return nil, fmt.Errorf("unterminated %c quote at byte %d", c, i)
			}
			toks = append(toks, kcqlToken{text: s[i+1 : i+1+end], quoted: true})
			i += end + 2
		case c == '(':
			end := strings.IndexByte(s[i+1:], ')')
			if end < 0 {
				return nil, fmt.Errorf("unclosed ( at byte %d", i)
			}
			toks = append(toks, kcqlToken{text: s[i+1 : i+1+end], group: true})
			i += end + 2
		case c == '=' || c == ',':
			toks = append(toks, kcqlToken{text: string(c)})
			i++
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n\r`'(=,", rune(s[j])) {
				j++
			}
			toks = append(toks, kcqlToken{text: s[i:j]})
			i = j
		}
	}
	return toks, nil
}

// is reports whether t is the unquoted keyword kw.
func (t kcqlToken) is(kw string) bool { return !t.quoted && !t.group && strings.EqualFold(t.text, kw) }

// parseKCQL parses one Stream Reactor MQTT source statement.
func parseKCQL(s string) (*kcqlStatement, error) {
	toks, err := lexKCQL(s)
	if err != nil {
		return nil, err
	}
	i := 0
	next := func() (kcqlToken, bool) {
		if i >= len(toks) {
			return kcqlToken{}, false
		}
		i++
		return toks[i-1], true
	}
	expect := func(kw string) error {
		if t, ok := next(); !ok || !t.is(kw) {
			return fmt.Errorf("want %s in %s", kw, quoteShort(s))
		}
		return nil
	}
	if err := expect("INSERT"); err != nil {
		return nil, err
	}
	if err := expect("INTO"); err != nil {
		return nil, err
	}
	st := &kcqlStatement{}
	target, ok := next()
	if !ok || target.group {
		return nil, fmt.Errorf("want the Kafka topic after INSERT INTO in %s", quoteShort(s))
	}
	st.target = target.text
	if err := expect("SELECT"); err != nil {
		return nil, err
	}
	var fields []string
	for {
		t, ok := next()
		if !ok {
			return nil, fmt.Errorf("want FROM in %s", quoteShort(s))
		}
		if t.is("FROM") {
			break
		}
		if t.text != "," {
			fields = append(fields, t.text)
		}
	}
	if len(fields) != 1 || fields[0] != "*" {
		st.warnings = append(st.warnings, fmt.Sprintf("SELECT %s: choosing fields is not imported (all of the payload is written); a plugin can pick fields",
			strings.Join(fields, ", ")))
	}
	source, ok := next()
	if !ok || source.group || source.text == "" {
		return nil, fmt.Errorf("want the MQTT topic after FROM in %s", quoteShort(s))
	}
	st.source = source.text

	// value reads an optional "=" and the token after it.
	value := func() string {
		if i < len(toks) && toks[i].text == "=" && !toks[i].quoted {
			i++
		}
		if t, ok := next(); ok {
			return t.text
		}
		return ""
	}
	for {
		t, ok := next()
		if !ok {
			break
		}
		switch {
		case t.is("WITHCONVERTER"):
			cls := value()
			short := cls[strings.LastIndex(cls, ".")+1:]
			st.converter = short
			if short != "BytesConverter" && !jsonParsingConverter(short) {
				st.warnings = append(st.warnings, fmt.Sprintf("WITHCONVERTER %s is not reproduced; Tributary writes the MQTT payload as is. "+
					"Reshape it with a plugin if consumers need another format", short))
			}
		case t.is("WITHKEY"):
			if i < len(toks) && toks[i].group {
				for _, f := range strings.Split(toks[i].text, ",") {
					if f = strings.Trim(strings.TrimSpace(f), "`'"); f != "" {
						st.keyFields = append(st.keyFields, f)
					}
				}
				i++
			}
			if len(st.keyFields) == 0 {
				st.warnings = append(st.warnings, "WITHKEY without fields is not imported: the key is the MQTT topic")
			}
		case t.is("KEYDELIMITER"):
			d := value()
			st.keyDelimiter = d
		default:
			if t.group || t.quoted || t.text == "=" {
				return nil, fmt.Errorf("unexpected %s in %s", quoteShort(t.text), quoteShort(s))
			}
			// An unknown clause: skip its "= value" or "(...)" if it has one.
			if i < len(toks) && (toks[i].group || toks[i].text == "=") {
				if toks[i].group {
					i++
				} else {
					value()
				}
			}
			st.warnings = append(st.warnings, fmt.Sprintf("KCQL clause %s is not imported", strings.ToUpper(t.text)))
		}
	}
	if st.source == "" {
		return nil, errors.New("empty MQTT topic after FROM")
	}
	return st, nil
}

// jsonParsingConverter reports whether a Stream Reactor source converter parses a JSON
// payload into a record: then a Schema Registry converter wrote typed records, which
// to.value_schema reproduces; without one the payload is written as is.
func jsonParsingConverter(short string) bool {
	return strings.HasPrefix(short, "Json")
}

// keyTemplate returns the to.key template of WITHKEY's fields, "" when there are none or
// the delimiter cannot be template text.
func (st *kcqlStatement) keyTemplate() string {
	if len(st.keyFields) == 0 {
		return ""
	}
	delim := st.keyDelimiter
	if delim == "" {
		delim = "."
	}
	if strings.ContainsAny(delim, "{}") {
		st.warnings = append(st.warnings, fmt.Sprintf("KEYDELIMITER %s cannot be template text; WITHKEY is not imported", quoteShort(delim)))
		return ""
	}
	parts := make([]string, len(st.keyFields))
	for i, f := range st.keyFields {
		parts[i] = "{{.Payload " + strconv.Quote(f) + "}}"
	}
	return strings.Join(parts, delim)
}
