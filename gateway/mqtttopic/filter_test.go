package mqtttopic_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/tributary-gw/tributary/gateway/mqtttopic"
)

var filterCases = []struct {
	name    string
	filter  string
	wantErr string // substring; "" means valid
}{
	{"plain", "a/b/c", ""},
	{"single level", "a", ""},
	{"hash alone", "#", ""},
	{"plus alone", "+", ""},
	{"hash last", "building/#", ""},
	{"plus middle", "a/+/c", ""},
	{"plus plus", "+/+", ""},
	{"leading slash", "/a", ""},
	{"trailing slash", "a/", ""},
	{"only slash", "/", ""},
	{"empty levels", "a//b", ""},
	{"plus then hash", "+/#", ""},
	{"dollar topic", "$SYS/#", ""},
	{"share word not prefix", "a/$share/b", ""},
	{"share without slash", "$share", ""},
	{"unicode", "gebäude/°C/+", ""},
	{"max length", strings.Repeat("a", mqtttopic.MaxLength), ""},
	{"empty", "", "must not be empty"},
	{"too long", strings.Repeat("a", mqtttopic.MaxLength+1), "longer than 65535 bytes"},
	{"nul", "a/\x00", "U+0000"},
	{"bad utf8", "a/\xff", "not valid UTF-8"},
	{"hash not last", "a/#/b", "# must be the last level"},
	{"hash first not last", "#/a", "# must be the last level"},
	{"hash in level", "a/b#", "# must occupy a whole level"},
	{"hash prefix level", "a/#b", "# must occupy a whole level"},
	{"plus in level", "a/b+/c", "+ must occupy a whole level"},
	{"plus plus level", "++", "+ must occupy a whole level"},
	{"share prefix", "$share/g/a/#", "mqtt.shared_group"},
	{"share prefix bare", "$share/", "mqtt.shared_group"},
}

func TestParseFilter(t *testing.T) {
	for _, tc := range filterCases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := mqtttopic.ParseFilter(tc.filter)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseFilter(%q) = %v, want nil", tc.filter, err)
				}
				if f.String() != tc.filter {
					t.Errorf("String() = %q, want %q", f.String(), tc.filter)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseFilter(%q) = nil error, want %q", tc.filter, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q does not contain %q", err, tc.wantErr)
			}
			var fe *mqtttopic.FilterError
			if !errors.As(err, &fe) || fe.Filter != tc.filter {
				t.Errorf("error %v is not a *FilterError for %q", err, tc.filter)
			}
		})
	}
}

func TestFilterErrorMessage(t *testing.T) {
	_, err := mqtttopic.ParseFilter("a/#/b")
	const want = `invalid topic filter "a/#/b": # must be the last level`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
}

var matchCases = []struct {
	filter, topic string
	want          bool
}{
	{"a/b/c", "a/b/c", true},
	{"a/b/c", "a/b", false},
	{"a/b", "a/b/c", false},
	{"a/b/c", "a/b/d", false},
	{"a/b/c", "A/b/c", false},
	{"#", "a", true},
	{"#", "a/b/c", true},
	{"#", "/", true},
	{"#", "/a", true},
	{"a/#", "a", true}, // # matches the parent
	{"a/#", "a/", true},
	{"a/#", "a/b", true},
	{"a/#", "a/b/c", true},
	{"a/#", "b", false},
	{"a/#", "ab", false},
	{"a/b/#", "a", false},
	{"+", "a", true},
	{"+", "", true},
	{"+", "a/b", false},
	{"+", "/", false},
	{"+/+", "/", true}, // both levels empty
	{"+/+", "a/b", true},
	{"+/+", "a", false},
	{"+/+", "a/b/c", false},
	{"/+", "/a", true},
	{"/+", "a", false},
	{"+/a", "/a", true},
	{"a/+", "a", false},
	{"a/+", "a/", true},
	{"a/+/c", "a//c", true},
	{"a/+/c", "a/b/c", true},
	{"a/+/c", "a/b/d", false},
	{"a//b", "a//b", true},
	{"a//b", "a/b", false},
	{"+/#", "a", true},
	{"+/#", "a/b/c", true},
	{"/#", "/", true},
	{"/#", "a", false},
	// $ topics are not matched by a leading wildcard.
	{"#", "$SYS/broker/uptime", false},
	{"+/broker/uptime", "$SYS/broker/uptime", false},
	{"+", "$SYS", false},
	{"$SYS/#", "$SYS/broker/uptime", true},
	{"$SYS/+/uptime", "$SYS/broker/uptime", true},
	{"$SYS", "$SYS", true},
	{"a/+", "a/$b", true}, // only the first level is special
	{"a/#", "a/$b/c", true},
	{"$share", "$share", true},
	{"gebäude/+/temp", "gebäude/3/temp", true},
}

func TestMatch(t *testing.T) {
	for _, tc := range matchCases {
		f, err := mqtttopic.ParseFilter(tc.filter)
		if err != nil {
			t.Fatalf("ParseFilter(%q): %v", tc.filter, err)
		}
		if got := f.Match(tc.topic); got != tc.want {
			t.Errorf("ParseFilter(%q).Match(%q) = %v, want %v", tc.filter, tc.topic, got, tc.want)
		}
		if got := naiveMatch(tc.filter, tc.topic); got != tc.want {
			t.Errorf("naiveMatch(%q, %q) = %v, want %v (the reference is wrong)", tc.filter, tc.topic, got, tc.want)
		}
	}
}

func TestZeroFilterMatchesNothing(t *testing.T) {
	var f mqtttopic.Filter
	for _, topic := range []string{"", "a", "/"} {
		if f.Match(topic) {
			t.Errorf("zero Filter matched %q", topic)
		}
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	f, err := mqtttopic.ParseFilter("building/+/sensor/#")
	if err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if !f.Match("building/7/sensor/042/temp") {
			t.Fatal("no match")
		}
	})
	if allocs != 0 {
		t.Errorf("Match allocates %v times per call, want 0", allocs)
	}
}

func TestValidTopic(t *testing.T) {
	tests := []struct {
		topic string
		want  bool
	}{
		{"a/b", true},
		{"/", true},
		{"a//b", true},
		{"$SYS/x", true},
		{"gebäude", true},
		{strings.Repeat("x", mqtttopic.MaxLength), true},
		{"", false},
		{"a/+", false},
		{"a/#", false},
		{"a+b", false},
		{"a\x00", false},
		{"\xc3", false},
		{strings.Repeat("x", mqtttopic.MaxLength+1), false},
	}
	for _, tc := range tests {
		if got := mqtttopic.ValidTopic(tc.topic); got != tc.want {
			t.Errorf("ValidTopic(%.20q) = %v, want %v", tc.topic, got, tc.want)
		}
	}
}

func TestShared(t *testing.T) {
	if got, want := mqtttopic.Shared("tributary", "building/#"), "$share/tributary/building/#"; got != want {
		t.Errorf("Shared = %q, want %q", got, want)
	}
	tests := []struct {
		group string
		want  bool
	}{
		{"tributary", true},
		{"g-1.x_y", true},
		{"", false},
		{"a/b", false},
		{"a+", false},
		{"#", false},
		{"a\x00", false},
		{"\xff", false},
		{strings.Repeat("g", mqtttopic.MaxLength), false},
	}
	for _, tc := range tests {
		if got := mqtttopic.ValidShareGroup(tc.group); got != tc.want {
			t.Errorf("ValidShareGroup(%.20q) = %v, want %v", tc.group, got, tc.want)
		}
	}
}

// naiveMatch is the reference matcher: split both on "/" and compare level by level.
func naiveMatch(filter, topic string) bool {
	fl, tl := strings.Split(filter, "/"), strings.Split(topic, "/")
	if strings.HasPrefix(topic, "$") && (fl[0] == "+" || fl[0] == "#") {
		return false
	}
	for i, f := range fl {
		if f == "#" {
			return true
		}
		if i >= len(tl) || (f != "+" && f != tl[i]) {
			return false
		}
	}
	return len(fl) == len(tl)
}

func FuzzMatch(f *testing.F) {
	for _, tc := range matchCases {
		f.Add(tc.filter, tc.topic)
	}
	for _, tc := range filterCases {
		if len(tc.filter) < 100 {
			f.Add(tc.filter, "a/b/c")
		}
	}
	f.Fuzz(func(t *testing.T, filter, topic string) {
		flt, err := mqtttopic.ParseFilter(filter)
		if err != nil {
			if flt.Match(topic) {
				t.Fatalf("rejected filter %q matched %q", filter, topic)
			}
			return
		}
		if flt.String() != filter {
			t.Fatalf("String() = %q, want %q", flt.String(), filter)
		}
		if !mqtttopic.ValidTopic(topic) {
			return
		}
		if got, want := flt.Match(topic), naiveMatch(filter, topic); got != want {
			t.Fatalf("Match(%q, %q) = %v, reference says %v", filter, topic, got, want)
		}
		// A valid topic name is also a valid filter that matches exactly itself.
		if !strings.HasPrefix(topic, "$share/") {
			self, err := mqtttopic.ParseFilter(topic)
			if err != nil {
				t.Fatalf("valid topic %q is not a valid filter: %v", topic, err)
			}
			if !self.Match(topic) {
				t.Fatalf("filter %q does not match itself", topic)
			}
		}
	})
}

func BenchmarkMatch(b *testing.B) {
	benches := []struct{ name, filter, topic string }{
		{"exact", "building/7/sensor/042/temp", "building/7/sensor/042/temp"},
		{"plus", "building/+/sensor/+/temp", "building/7/sensor/042/temp"},
		{"hash", "building/#", "building/7/sensor/042/temp"},
		{"miss", "factory/+/sensor/#", "building/7/sensor/042/temp"},
	}
	for _, bc := range benches {
		f, err := mqtttopic.ParseFilter(bc.filter)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				f.Match(bc.topic)
			}
		})
	}
}
