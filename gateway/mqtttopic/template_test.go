package mqtttopic_test

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"text/template"

	"github.com/tributary-gw/tributary/gateway/mqtttopic"
)

// msg implements mqtttopic.Fields, and its methods are what text/template calls for the
// same actions, so both renderers can run over one value.
type msg struct {
	topic   string
	props   [][2]string
	payload [][2]string // field path, its text; a path absent here is a missing field
}

// Payload is what text/template calls for {{.Payload "path"}}: the field's text, "" when
// missing (as Append renders it).
func (m msg) Payload(path string) string {
	for _, f := range m.payload {
		if f[0] == path {
			return f[1]
		}
	}
	return ""
}

// AppendPayloadField implements mqtttopic.PayloadFields.
func (m msg) AppendPayloadField(dst []byte, path string) ([]byte, error) {
	for _, f := range m.payload {
		if f[0] == path {
			return append(dst, f[1]...), nil
		}
	}
	return dst, errNoField
}

var errNoField = errors.New("no such field")

func (m msg) Topic() string { return m.topic }

func (m msg) Segment(n int) string {
	levels := strings.Split(m.topic, "/")
	if n < 0 || n >= len(levels) {
		return ""
	}
	return levels[n]
}

func (m msg) Property(name string) string {
	for _, p := range m.props {
		if p[0] == name {
			return p[1]
		}
	}
	return ""
}

var sample = msg{
	topic:   "building/7/sensor/042/temp",
	props:   [][2]string{{"site", "north"}, {"unit", "C"}, {"site", "south"}, {"a}}b", "braces"}, {"", "empty-name"}},
	payload: [][2]string{{"device_id", "dev-42"}, {"meta.site", "north"}, {"n", "17"}, {"a}}b", "braces"}},
}

var templateCases = []struct {
	name    string
	src     string
	want    string // rendered for sample
	static  bool
	wantErr string // substring; "" means valid
}{
	{name: "empty", src: "", want: "", static: true},
	{name: "static", src: "mqtt_building_sensors_raw", want: "mqtt_building_sensors_raw", static: true},
	{name: "single braces literal", src: "a{b}c", want: "a{b}c", static: true},
	{name: "topic", src: "{{.Topic}}", want: "building/7/sensor/042/temp"},
	{name: "topic spaces", src: "{{ .Topic }}", want: "building/7/sensor/042/temp"},
	{name: "topic tabs newlines", src: "{{\t.Topic\n}}", want: "building/7/sensor/042/temp"},
	{name: "segment 0", src: "{{.Segment 0}}", want: "building"},
	{name: "segment mixed", src: "sensors.{{.Segment 1}}.{{ .Segment   4 }}", want: "sensors.7.temp"},
	{name: "segment out of range", src: "x{{.Segment 5}}y", want: "xy"},
	{name: "segment max", src: "{{.Segment 65535}}", want: ""},
	{name: "property", src: `{{.Property "unit"}}`, want: "C"},
	{name: "property first match", src: `{{.Property "site"}}`, want: "north"},
	{name: "property absent", src: `[{{.Property "nope"}}]`, want: "[]"},
	{name: "property raw string", src: "{{.Property `unit`}}", want: "C"},
	{name: "property escape", src: `{{.Property "\x75nit"}}`, want: "C"},
	{name: "property braces in name", src: `{{.Property "a}}b"}}`, want: "braces"},
	{name: "property empty name", src: `{{.Property ""}}`, want: "empty-name"},
	{name: "combined", src: `{{.Property "site"}}-{{.Segment 1}}/{{.Topic}}`, want: "north-7/building/7/sensor/042/temp"},
	{name: "payload", src: `{{.Payload "device_id"}}`, want: "dev-42"},
	{name: "payload path", src: `sensors.{{ .Payload "meta.site" }}.{{.Payload "n"}}`, want: "sensors.north.17"},
	{name: "payload raw string", src: "{{.Payload `device_id`}}", want: "dev-42"},
	{name: "payload braces in path", src: `{{.Payload "a}}b"}}`, want: "braces"},
	{name: "payload missing renders empty", src: `[{{.Payload "nope"}}]`, want: "[]"},
	{name: "payload and the rest", src: `{{.Segment 0}}/{{.Payload "device_id"}}/{{.Property "unit"}}`, want: "building/dev-42/C"},

	{name: "unknown field", src: "a{{.Foo}}", wantErr: `col 2: action "{{.Foo}}": unsupported (want {{.Topic}}, {{.Segment N}}, {{.Property "name"}} or {{.Payload "path"}})`},
	{name: "lower case", src: "{{.topic}}", wantErr: ": unsupported ("},
	{name: "function", src: `{{printf "%s" .Topic}}`, wantErr: ": unsupported ("},
	{name: "pipeline", src: `{{.Topic | printf "%s"}}`, wantErr: `unexpected "|" after .Topic`},
	{name: "dot", src: "{{.}}", wantErr: ": unsupported ("},
	{name: "trim marker", src: "{{- .Topic}}", wantErr: ": unsupported ("},
	{name: "right trim marker", src: "{{.Topic -}}", wantErr: `unexpected "-"`},
	{name: "comment", src: "{{/* c */}}", wantErr: ": unsupported ("},
	{name: "empty action", src: "{{}}", wantErr: ": unsupported ("},
	{name: "unclosed", src: "a{{.Topic", wantErr: "col 2: action \"{{.Topic\": not closed with }}"},
	{name: "unclosed open only", src: "abc{{", wantErr: "col 4: action \"{{\": not closed with }}"},
	{name: "unclosed one brace", src: "{{.Topic}", wantErr: "not closed with }}"},
	{name: "stray close", src: "a}}b", wantErr: "col 2: }} outside an action"},
	{name: "stray close after action", src: "{{.Topic}}}}", wantErr: "col 11: }} outside an action"},
	{name: "topic with argument", src: "{{.Topic 1}}", wantErr: `unexpected "1" after .Topic`},
	{name: "field chain", src: "{{.Topic.X}}", wantErr: `unexpected "." after .Topic`},
	{name: "segment no arg", src: "{{.Segment}}", wantErr: "missing argument to .Segment"},
	{name: "segment string", src: `{{.Segment "1"}}`, wantErr: "decimal integer"},
	{name: "segment negative", src: "{{.Segment -1}}", wantErr: "decimal integer"},
	{name: "segment leading zero", src: "{{.Segment 010}}", wantErr: "leading zeros"},
	{name: "segment hex", src: "{{.Segment 0x1}}", wantErr: "decimal integer"},
	{name: "segment float", src: "{{.Segment 1.0}}", wantErr: "decimal integer"},
	{name: "segment too big", src: "{{.Segment 65536}}", wantErr: "at most 65535"},
	{name: "segment two args", src: "{{.Segment 1 2}}", wantErr: `unexpected "2"`},
	{name: "property no arg", src: "{{.Property}}", wantErr: "missing argument to .Property"},
	{name: "property number", src: "{{.Property 1}}", wantErr: "quoted string"},
	{name: "property char", src: "{{.Property 'a'}}", wantErr: "quoted string"},
	{name: "property unterminated", src: `{{.Property "a}}`, wantErr: "unterminated string"},
	{name: "property newline", src: "{{.Property \"a\nb\"}}", wantErr: "newline in string"},
	{name: "property bad escape", src: `{{.Property "\q"}}`, wantErr: "invalid string literal"},
	{name: "property glued", src: `{{.Property "a"x}}`, wantErr: "quoted string"},
	{name: "no space before arg", src: `{{.Property"a"}}`, wantErr: "missing argument"},
	{name: "payload no arg", src: "{{.Payload}}", wantErr: "missing argument to .Payload"},
	{name: "payload empty path", src: `{{.Payload ""}}`, wantErr: "non-empty field path"},
	{name: "payload number", src: "{{.Payload 1}}", wantErr: "argument to .Payload must be a quoted string"},
	{name: "payload field syntax", src: "{{.Payload.device_id}}", wantErr: `the path is a quoted argument: write {{.Payload "device_id"}}`},
}

func TestTemplate(t *testing.T) {
	for _, tc := range templateCases {
		t.Run(tc.name, func(t *testing.T) {
			tpl, err := mqtttopic.ParseTemplate(tc.src)
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("ParseTemplate(%q) = nil error, want %q", tc.src, tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("error %q does not contain %q", err, tc.wantErr)
				}
				var te *mqtttopic.TemplateError
				if !errors.As(err, &te) || te.Template != tc.src {
					t.Errorf("error %v is not a *TemplateError for %q", err, tc.src)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseTemplate(%q): %v", tc.src, err)
			}
			if got := string(tpl.Append(nil, sample)); got != tc.want {
				t.Errorf("Append = %q, want %q", got, tc.want)
			}
			if got := string(tpl.Append([]byte("prefix:"), sample)); got != "prefix:"+tc.want {
				t.Errorf("Append onto a prefix = %q, want %q", got, "prefix:"+tc.want)
			}
			if tpl.IsStatic() != tc.static {
				t.Errorf("IsStatic() = %v, want %v", tpl.IsStatic(), tc.static)
			}
			if tpl.String() != tc.src {
				t.Errorf("String() = %q, want %q", tpl.String(), tc.src)
			}
			if want, ok := reference(t, tc.src, sample); ok && want != tc.want {
				t.Errorf("text/template renders %q, the table says %q", want, tc.want)
			}
		})
	}
}

func TestTemplateRender(t *testing.T) {
	tpl, err := mqtttopic.ParseTemplate(`{{.Segment 0}}.{{.Payload "nope"}}.{{.Payload "device_id"}}.{{.Payload "gone"}}`)
	if err != nil {
		t.Fatal(err)
	}
	if !tpl.UsesPayload() || !slices.Equal(tpl.PayloadPaths(), []string{"nope", "device_id", "gone"}) {
		t.Fatalf("UsesPayload %v, PayloadPaths %q", tpl.UsesPayload(), tpl.PayloadPaths())
	}
	got, err := tpl.Render(nil, sample)
	var fe *mqtttopic.FieldError
	if !errors.As(err, &fe) || fe.Path != "nope" || !errors.Is(err, errNoField) {
		t.Fatalf("Render error = %v, want the first missing field, nope", err)
	}
	if string(got) != "building..dev-42." {
		t.Errorf("Render = %q, want the rest rendered", got)
	}
	// Plain Fields render payload fields as "" without an error.
	type plain struct{ mqtttopic.Fields }
	if got, err := tpl.Render(nil, plain{sample}); err != nil || string(got) != "building..." {
		t.Errorf("Render over plain Fields = %q, %v", got, err)
	}
	static, _ := mqtttopic.ParseTemplate(`{{.Topic}}`)
	if static.UsesPayload() {
		t.Error("{{.Topic}} UsesPayload")
	}
}

func TestTemplateSegments(t *testing.T) {
	tpl, err := mqtttopic.ParseTemplate("[{{.Segment 0}}|{{.Segment 1}}|{{.Segment 2}}]")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ topic, want string }{
		{"a/b/c", "[a|b|c]"},
		{"/a", "[|a|]"},
		{"a/", "[a||]"},
		{"a//c/d", "[a||c]"},
		{"/", "[||]"},
		{"", "[||]"},
	}
	for _, tc := range tests {
		if got := string(tpl.Append(nil, msg{topic: tc.topic})); got != tc.want {
			t.Errorf("topic %q: got %q, want %q", tc.topic, got, tc.want)
		}
	}
}

func TestTemplateAppendAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	tpl, err := mqtttopic.ParseTemplate(`sensors.{{.Segment 1}}.{{.Property "unit"}}.{{.Topic}}`)
	if err != nil {
		t.Fatal(err)
	}
	m := &sample
	buf := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() { buf = tpl.Append(buf[:0], m) }); n != 0 {
		t.Errorf("Append into a large enough buffer allocates %v times, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { _ = tpl.Append(nil, m) }); n > 1 {
		t.Errorf("Append into nil allocates %v times, want at most 1", n)
	}
}

// reference renders src with text/template over m. ok is false when text/template rejects it.
func reference(t testing.TB, src string, m msg) (out string, ok bool) {
	t.Helper()
	tt, err := template.New("ref").Parse(src)
	if err != nil {
		return "", false
	}
	var buf bytes.Buffer
	if err := tt.Execute(&buf, m); err != nil {
		t.Fatalf("text/template accepted %q but failed to execute it: %v", src, err)
	}
	return buf.String(), true
}

func FuzzTemplate(f *testing.F) {
	for _, tc := range templateCases {
		f.Add(tc.src, sample.topic, "site", "north")
	}
	f.Add("{{.Segment 2}}", "/a//b", "", "")
	f.Add(`k.{{.Payload "meta.site"}}`, "a/b", "meta.site", "north")
	f.Fuzz(func(t *testing.T, src, topic, propName, propValue string) {
		tpl, err := mqtttopic.ParseTemplate(src)
		if err != nil {
			var te *mqtttopic.TemplateError
			if !errors.As(err, &te) || te.Col < 1 || te.Col > len(src)+1 {
				t.Fatalf("ParseTemplate(%q) error %v: not a *TemplateError with a column inside the source", src, err)
			}
			return
		}
		if tpl.String() != src {
			t.Fatalf("String() = %q, want %q", tpl.String(), src)
		}
		m := msg{topic: topic, props: [][2]string{{propName, propValue}}, payload: [][2]string{{propName, propValue}}}
		got := string(tpl.Append(nil, m))
		want, ok := reference(t, src, m)
		if !ok {
			t.Fatalf("ParseTemplate accepted %q but text/template rejects it", src)
		}
		if got != want {
			t.Fatalf("template %q over topic %q: got %q, text/template renders %q", src, topic, got, want)
		}
		if tpl.IsStatic() && got != src {
			t.Fatalf("static template %q rendered %q", src, got)
		}
	})
}

func BenchmarkTemplateAppend(b *testing.B) {
	benches := []struct{ name, src string }{
		{"static", "mqtt_building_sensors_raw"},
		{"topic", "{{.Topic}}"},
		{"segments", "sensors.{{.Segment 1}}.{{.Segment 4}}"},
		{"property", `{{.Property "site"}}.{{.Segment 4}}`},
		{"payload", `{{.Payload "device_id"}}.{{.Segment 4}}`},
	}
	m := &sample
	for _, bc := range benches {
		tpl, err := mqtttopic.ParseTemplate(bc.src)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 128)
			for b.Loop() {
				buf = tpl.Append(buf[:0], m)
			}
		})
	}
}
