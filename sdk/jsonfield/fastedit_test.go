package jsonfield

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// checkFast compares applyFast and AppendEdit with applyEdit, the
// reference, on doc and prog: when the fast path answers, the reference
// must succeed with the same bytes; AppendEdit must always give the
// reference's bytes or its error text. It returns whether the fast path
// answered.
func checkFast(t *testing.T, doc, prog []byte) bool {
	t.Helper()
	want, wantErr := applyEdit(doc, prog)
	got, ok := applyFast([]byte("pre"), doc, prog)
	if ok {
		if wantErr != nil {
			t.Fatalf("fast path succeeded with %q where applyEdit fails: %v\ndoc %q prog %q", got, wantErr, doc, prog)
		}
		if string(got) != "pre"+string(want) {
			t.Fatalf("fast path differs\ndoc  %q\nprog %q\nfast %q\nref  %q", doc, prog, got[3:], want)
		}
	}
	app, err := AppendEdit([]byte("pre"), doc, prog)
	switch {
	case (err == nil) != (wantErr == nil):
		t.Fatalf("AppendEdit error %v, applyEdit error %v\ndoc %q prog %q", err, wantErr, doc, prog)
	case err != nil && err.Error() != wantErr.Error():
		t.Fatalf("AppendEdit error %q, applyEdit error %q", err, wantErr)
	case err != nil && string(app) != "pre":
		t.Fatalf("AppendEdit changed dst on an error: %q", app)
	case err == nil && string(app) != "pre"+string(want):
		t.Fatalf("AppendEdit = %q, applyEdit = %q", app[3:], want)
	}
	return ok
}

// fuzzPaths and fuzzValues are what fuzzEdit draws operations from: the
// paths hit duplicates, escapes, arrays, nesting and moves into themselves.
var (
	fuzzPaths = []string{"a", "a.b", "b", "a.b.c", "x", "x.y", "0", "arr.0", "arr.3", "",
		`k"ey`, `a\.b`, "dup", "dup.z", "é", "s", "s.t", "o", "o.p", "a.", ".a", "arr", "ctl\x01", "\xff"}
	fuzzValues = []string{`1`, `{"n":{}}`, `[1,{"q":2}]`, ` { "s" : 2 } `, `"v"`, `{bad`, `null`, `{}`}
)

// fuzzEdit builds an Edit from ops: each byte is one operation, its low 3
// bits the kind, the rest choosing paths and values (p1, p2 and val are
// two more paths and a value).
func fuzzEdit(ops []byte, p1, p2 string, val []byte) *Edit {
	paths := append([]string{p1, p2}, fuzzPaths...)
	var e Edit
	for i, b := range ops {
		p := paths[int(b>>3)%len(paths)]
		q := paths[(int(b>>3)+i+1)%len(paths)]
		v := []byte(fuzzValues[int(b>>3)%len(fuzzValues)])
		if b>>6 == 3 {
			v = val
		}
		switch b & 7 {
		case 0:
			e.Set(p, v)
		case 1:
			e.SetFloat(p, float64(b)/4-8)
		case 2:
			e.SetDefault(p, v)
		case 3:
			e.Delete(p)
		case 4:
			e.Move(p, q)
		case 5:
			e.Select(p, q, p+".b")
		case 6:
			e.SetString(p, q)
		case 7:
			e.SetInt(p, int64(b))
		}
	}
	return &e
}

// fastCases are documents and edits (as fuzzEdit ops) the fast path must
// answer itself (fast true) or may leave to applyEdit.
var fastCases = []struct {
	name string
	doc  string
	ops  func(e *Edit)
	fast bool
}{
	{"sensor", sensorDoc, func(e *Edit) {
		e.SetFloat("value_f", 70.25)
		e.SetString("unit", "fahrenheit")
		e.Delete("rssi")
		e.SetInt("seq", 13)
		e.Set("meta.src", []byte(`"gw"`))
	}, true},
	{"empty edit", sensorDoc, func(*Edit) {}, true},
	{"surrounding space kept", " \n" + sensorDoc + "\t ", func(e *Edit) { e.Delete("floor") }, true},
	{"duplicate keys act on the first", `{"a":1,"b":2,"a":3}`, func(e *Edit) {
		e.Set("a", []byte(`9`))
		e.Delete("a")
		e.Delete("a")
		e.SetDefault("a", []byte(`4`))
	}, true},
	{"nested creation then descent", `{}`, func(e *Edit) {
		e.SetInt("a.b.c", 1)
		e.SetInt("a.b.d", 2)
		e.SetInt("a.e", 3)
		e.Delete("a.b.c")
	}, true},
	{"move into itself", `{"a":{"x":1},"z":0}`, func(e *Edit) {
		e.Move("a", "a.b")
		e.Move("a.b.x", "a.x")
		e.Move("absent", "q")
	}, true},
	{"move out of itself", `{"a":{"b":{"c":1}}}`, func(e *Edit) { e.Move("a.b", "a") }, true},
	{"select nested", `{"a":{"b":1,"c":2},"d":[1,2],"e":"x"}`, func(e *Edit) {
		e.Select("a.b", "d.1", "e", "a", "a.c", "absent")
		e.SetBool("ok", true)
	}, true},
	{"select empty", `{"a":1}`, func(e *Edit) { e.Select() }, true},
	{"delete then set", `{"a":1,"b":2}`, func(e *Edit) {
		e.Delete("a")
		e.SetInt("a", 3)
		e.Delete("b")
		e.Delete("a")
	}, true},
	{"escaped keys inserted", `{"k":1}`, func(e *Edit) {
		e.SetInt(`q"uote.ctl`+"\x01", 1)
		e.SetInt(`q"uote.n`, 2)
		e.Delete(`q"uote.ctl` + "\x01")
		e.SetInt(`d\.ot`, 3)
	}, true},
	{"delete through a scalar", `{"a":1}`, func(e *Edit) { e.Delete("a.b") }, true},
	{"value with spaces is trimmed", `{"a":1}`, func(e *Edit) { e.Set("b", []byte(" [1, 2] ")) }, true},
	{"get through an array", `{"a":[{"b":1}]}`, func(e *Edit) { e.Move("a.0.b", "c") }, false},
	{"set through an array", `{"a":[{"b":1}]}`, func(e *Edit) { e.SetInt("a.0.b", 2) }, false},
	{"default inside array found", `{"a":[{"b":1}]}`, func(e *Edit) { e.SetDefault("a.0.b", []byte(`{bad`)) }, true},
	{"whitespace in an expanded object", `{"a": 1}`, func(e *Edit) { e.SetInt("a", 2) }, false},
	{"whitespace in an untouched value", `{"a":{ "x" : [1, 2] },"b":1}`, func(e *Edit) { e.SetInt("b", 2) }, true},
	{"whitespace in a descended value", `{"a":{ "x":1}}`, func(e *Edit) { e.SetInt("a.y", 2) }, false},
	{"escaped key in the document", `{"a\u0062":1}`, func(e *Edit) { e.SetInt("ab", 2) }, false},
	{"invalid UTF-8 key", "{\"\xff\":1}", func(e *Edit) { e.SetInt("\xff", 2) }, false},
	{"set through a scalar fails", `{"a":1}`, func(e *Edit) { e.SetInt("a.b", 2) }, false},
	{"bad value fails", `{"a":1}`, func(e *Edit) { e.Set("a", []byte(`{`)) }, false},
	{"empty path", `{"a":1}`, func(e *Edit) { e.SetInt("", 2) }, false},
	{"root array", `[1]`, func(e *Edit) { e.SetInt("0", 2) }, false},
	{"malformed doc", `{"a":1,}`, func(e *Edit) { e.SetInt("a", 2) }, false},
	{"trailing garbage", `{"a":1} x`, func(e *Edit) { e.SetInt("a", 2) }, false},
	{"deep document", strings.Repeat(`{"a":`, 9990) + "1" + strings.Repeat("}", 9990), func(e *Edit) {
		e.SetInt(strings.Repeat("b.", 20)+"c", 1)
		e.Delete("a")
	}, false},
}

const sensorDoc = `{"device_id":"bldg1-f1-r101-s000","floor":1,"room":101,"metric":"temperature",` +
	`"ts":1795580496255,"value":21.25,"unit":"celsius","battery":76.07,"rssi":-48,"seq":12}`

func TestApplyFast(t *testing.T) {
	for _, tc := range fastCases {
		t.Run(tc.name, func(t *testing.T) {
			var e Edit
			tc.ops(&e)
			if got := checkFast(t, []byte(tc.doc), e.prog); got != tc.fast {
				t.Errorf("fast path answered = %v, want %v", got, tc.fast)
			}
		})
	}
}

func TestApplyFast_foreignPrograms(t *testing.T) {
	var e Edit
	e.SetInt("a", 1)
	progs := [][]byte{
		{}, {0}, {9, 1, 'a'}, {opSet}, {opSet, 5, 'a'}, {opSetFloat, 1, 'a', 0}, {opSelect, 200},
		{opSelect, 1, 1}, {opMove, 1, 'a'}, append(append([]byte{}, e.prog...), opDelete),
		{opSet, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
	}
	for _, p := range progs {
		checkFast(t, []byte(`{"a":{"b":2}}`), p)
		if _, err := AppendEdit(nil, []byte(`{"a":1}`), p); len(p) > 1 && err == nil && !bytes.Equal(p, e.prog) {
			t.Errorf("program %v: no error", p)
		}
	}
	if _, err := AppendEdit(nil, []byte(`{"a":1}`), []byte{9, 1, 'a'}); !errors.Is(err, errProgram) {
		t.Errorf("unknown operation: %v, want errProgram", err)
	}
}

// FuzzApplyFast checks that the fast path gives applyEdit's bytes whenever
// it answers, on arbitrary documents and edits (and arbitrary programs).
func FuzzApplyFast(f *testing.F) {
	for _, tc := range fastCases {
		if len(tc.doc) > 1000 {
			continue
		}
		var e Edit
		tc.ops(&e)
		f.Add([]byte(tc.doc), e.prog, "a", "b", []byte(`2`))
	}
	for _, d := range []string{sensorDoc, `{"a":{"b":{"c":1}},"dup":1,"dup":{"z":2},"arr":[1,{"b":2}]}`, `{"s":"x","é":1,"o":{}}`, ` {} `} {
		f.Add([]byte(d), []byte{0x03, 0x0c, 0x14, 0x1d, 0x26, 0x2f, 0xc0, 0x44, 0x8b, 0x12}, "a", "a.b", []byte(`{"z":[]}`))
		f.Add([]byte(d), []byte{0x24, 0x2c, 0x34, 0x3c, 0x65, 0x6d, 0x75, 0x7d}, "dup.z", "a.b.c", []byte(` 1 `))
	}
	f.Fuzz(func(t *testing.T, doc, ops []byte, p1, p2 string, val []byte) {
		// Small inputs keep every run fast: a long path of dots or a long
		// value slows each run, and the fuzzer minimizes at that speed.
		if len(doc) > 4096 || len(ops) > 32 || len(p1) > 32 || len(p2) > 32 || len(val) > 256 {
			t.Skip()
		}
		checkFast(t, doc, fuzzEdit(ops, p1, p2, val).prog)
		checkFast(t, doc, ops) // as a program
		checkFind(t, doc, append([]string{p1, p2}, fuzzPaths...))
	})
}

// checkFind compares find (and FindPaths) with Parse and a lookup per path.
func checkFind(t *testing.T, doc []byte, paths []string) {
	t.Helper()
	vals := make([]Value, len(paths))
	v, err := find(doc, paths, vals)
	want, wantErr := parse(doc)
	if (err == nil) != (wantErr == nil) || string(v.Raw()) != string(want.Raw()) {
		t.Fatalf("find(%q) = %s, %v; parse = %s, %v", doc, v.Raw(), err, want.Raw(), wantErr)
	}
	f := NewFields(paths...)
	hv := make([]Value, len(paths))
	if _, err := FindPaths(doc, f.prog, hv); (err == nil) != (wantErr == nil) {
		t.Fatalf("FindPaths(%q) error %v, parse error %v", doc, err, wantErr)
	}
	for i, p := range paths {
		x, err := lookup(want.Raw(), p)
		if wantErr != nil {
			x, err = Value{}, ErrNotFound
		}
		if (err == nil) != (vals[i].Kind() != Invalid) || string(vals[i].Raw()) != string(x.Raw()) || string(hv[i].Raw()) != string(x.Raw()) {
			t.Fatalf("find(%q, %q) = %s, FindPaths %s; lookup = %s, %v", doc, p, vals[i].Raw(), hv[i].Raw(), x.Raw(), err)
		}
	}
}

func TestEditAppendApply(t *testing.T) {
	var e Edit
	e.SetString("unit", "fahrenheit")
	e.Delete("rssi")
	buf := make([]byte, 0, 8) // grows on the first call, then is reused
	for i, doc := range []string{sensorDoc, `{"unit":"c","rssi":1}`, `{"unit":"c","rssi":1}`} {
		want, err := e.Apply([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		out, err := e.AppendApply(append(buf[:0], "pre"...), []byte(doc))
		if err != nil || string(out) != "pre"+string(want) {
			t.Fatalf("call %d: AppendApply = %q, %v; want pre%s", i, out, err, want)
		}
		if i == 2 && &out[0] != &buf[:1][0] {
			t.Errorf("call %d: AppendApply allocated although the buffer had room", i)
		}
		buf = out
	}
	out, err := e.AppendApply(buf[:3], []byte(`{"unit":`))
	if !errors.Is(err, ErrSyntax) || string(out) != string(buf[:3]) {
		t.Errorf("malformed doc: %q, %v; want dst unchanged and ErrSyntax", out, err)
	}
	if out, err := e.Apply([]byte(`{"unit":`)); out != nil || err == nil {
		t.Errorf("Apply on a malformed doc = %q, %v", out, err)
	}
}
