package jsonimports_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/tributary-gw/tributary/sdk/abi"
	"github.com/tributary-gw/tributary/sdk/jsonfield"
	"github.com/tributary-gw/tributary/sdk/sdktest"
	"github.com/tributary-gw/tributary/wasmhost"
	"github.com/tributary-gw/tributary/wasmhost/hostfunc"
	"github.com/tributary-gw/tributary/wasmhost/jsonimports"
	"github.com/tributary-gw/tributary/wasmhost/wasmtest"
)

// jsonOutcome is the jsonfastdiff guest's outcome function, run natively
// (where sdk/jsonfield never calls the host). Keep the two identical.
func jsonOutcome(op string, doc []byte, path, value string) string {
	show := func(b []byte, err error) string {
		if err != nil {
			return "error: " + err.Error()
		}
		return "ok: " + string(b)
	}
	switch op {
	case "parse":
		v, err := jsonfield.Parse(doc)
		return show(v.Raw(), err)
	case "lookup":
		v, err := jsonfield.Lookup(doc, path)
		return show(v.Raw(), err)
	case "get":
		v, ok := jsonfield.Get(doc, path)
		return fmt.Sprintf("%v %s", ok, v.Raw())
	case "value.get":
		v, ok := jsonfield.Value{}.Get(path)
		if p, err := jsonfield.Parse(doc); err == nil {
			v, ok = p.Get(path)
		}
		return fmt.Sprintf("%v %s", ok, v.Raw())
	case "float":
		v, _ := jsonfield.Get(doc, path)
		f, ok := v.Float()
		return fmt.Sprintf("%v %v", ok, f)
	case "set":
		return show(jsonfield.Set(doc, path, []byte(value)))
	case "setstring":
		return show(jsonfield.SetString(doc, path, value))
	case "setfloat":
		f, _ := strconv.ParseFloat(value, 64)
		return show(jsonfield.SetFloat(doc, path, f))
	case "delete":
		return show(jsonfield.Delete(doc, path))
	case "edit", "edit.move", "edit.select":
		var e jsonfield.Edit
		switch op {
		case "edit":
			e.Set(path, []byte(value))
			e.SetDefault("site", []byte(value))
			e.SetFloat(path+"_f", 1.5)
			e.Delete("rssi")
			e.SetString("unit", value)
		case "edit.move":
			e.Move(path, "moved.to")
			e.SetInt("n", 7)
			e.Move("moved", path+".x")
		case "edit.select":
			e.Select(path, "value", "a.b", path+".x")
			e.Set("b", []byte(value))
		}
		return show(e.Apply(doc))
	case "find":
		f := jsonfield.NewFields(path, "value", "a.b.2.c", "absent", value)
		vals := make([]jsonfield.Value, f.Len())
		v, err := f.Find(doc, vals)
		s := show(v.Raw(), err)
		for _, x := range vals {
			s += fmt.Sprintf(" [%s %s]", x.Kind(), x.Raw())
		}
		return s
	case "children":
		v, err := jsonfield.Parse(doc)
		if err != nil {
			return "error: " + err.Error()
		}
		if path != "" {
			v, _ = v.Get(path)
		}
		s := v.Kind().String() + ":"
		for k, x := range v.Members() {
			s += fmt.Sprintf(" %q=%s", k, x.Raw())
			if k == value {
				break
			}
		}
		for i, x := range v.Elements() {
			s += fmt.Sprintf(" %d=%s", i, x.Raw())
			if x.Kind() == jsonfield.String && string(x.Raw()) == `"`+value+`"` {
				break
			}
		}
		return s
	}
	return "unknown op " + op
}

var jsonOps = []string{"parse", "lookup", "get", "value.get", "float", "set", "setstring", "setfloat", "delete",
	"edit", "edit.move", "edit.select", "find", "children"}

// jsonDiffCases are documents and paths every op runs on; value is used by
// the setters.
var jsonDiffCases = []struct{ doc, path, value string }{
	{sensorPayload, "value", "70.25"},
	{sensorPayload, "value_f", "70.25"},
	{sensorPayload, "device_id", `"x"`},
	{` {"a":{"b":[1,2,{"c":"d"}]}} `, "a.b.2.c", `[true,null]`},
	{`{"a":{"b":[1,2,{"c":"d"}]}}`, "a.b.3", `{}`},
	{`{"a":{"b":[1,2,{"c":"d"}]}}`, "a.b.9", `1`},
	{`{"a":{"b":[1,2,{"c":"d"}]}}`, "a.b.x", `1`},
	{`{"a":1}`, "a.b.c", `1`},
	{`{"a":1}`, "x.y.z", ` "v" `},
	{`{"a":1}`, "", `2`},
	{`{"a.b":1,"a":{"b":2}}`, `a\.b`, `3`},
	{`{"k\"ey":"v\u00e9"}`, `k"ey`, "ctl\x01\"\\é\xff"},
	{`{"a":1,}`, "a", `1`},
	{`{"a":[1,2,3]}`, "a.1", `bad json`},
	{`[1,2,3]`, "0", `-1.5e300`},
	{`[]`, "0", `NaN`},
	{`{"n":1e400,"m":-0,"k":12345678901234567890,"e":1E-7}`, "n", `1e-7`},
	{`{"n":1e400,"m":-0,"k":12345678901234567890,"e":1E-7}`, "m", `1e21`},
	{`{"n":1e400,"m":-0,"k":12345678901234567890,"e":1E-7}`, "k", `-0.000001`},
	{`{"n":1e400,"m":-0,"k":12345678901234567890,"e":1E-7}`, "e", `123456789012345678901234567890`},
	{`"just a string"`, "a", `1`},
	{``, "a", `1`},
	{`{"a":"\ud800"}`, "a", `"\ud83d\ude00"`},
	{`{"a":1} {"b":2}`, "b", `1`},
	{strings.Repeat(`[`, 600) + strings.Repeat(`]`, 600), "0.0", `1`},
	{`{"a":{"b":[1,2,{"c":"d"}]},"value":1,"rssi":2}`, "a", `{"z":1}`},
	{`{"a":{"b":[1,2,{"c":"d"}]},"value":1,"rssi":2}`, "a.b", `"a"`},
	{`{"a":{"b":1},"a":{"b":2},"k\u0065y":{"x":"y"}}`, "a", `"x"`},
	{`{"a": {"b" : 1} , "value" :[ 1 , 2 ] }`, "value", `2`},
	{`{"a":[],"o":{},"s":"x\"y"}`, "o", `absent`},
	{`[{"a":1},"x",[2],"stop","after"]`, "", `stop`},
	{`{"m":{"q":1,"r":2,"s":3}}`, "m", `r`},
	{`{"long":[` + strings.Repeat(`"e",`, 40) + `"stop"],"o":{` + strings.Repeat(`"k":1,`, 20) + `"z\n":2}}`, "long", `stop`}, // json_children's retry
	{`{"o":{` + strings.Repeat(`"k":1,`, 20) + `"z\n":2}}`, "o", `z`},
	{`{}`, strings.Repeat("", 40), `1`}, // json_edit's retry: keys escape to 6 times their size
}

// jsonDiffMessages turns cases into one message per (case, op).
func jsonDiffMessages(cases []struct{ doc, path, value string }) (msgs []abi.Message, want []string) {
	for _, c := range cases {
		for _, op := range jsonOps {
			m := abi.Message{Topic: op, Payload: []byte(c.doc), Properties: []abi.Property{
				{Name: "path", Value: c.path}, {Name: "value", Value: c.value}}}
			msgs = append(msgs, m)
			want = append(want, jsonOutcome(op, []byte(c.doc), c.path, c.value))
		}
	}
	return msgs, want
}

func jsonDiffPlugin(tb testing.TB) *wasmhost.Plugin {
	tb.Helper()
	p, err := testHostV.Compile(context.Background(), "jsonfastdiff", guestWasm(tb, "jsonfastdiff"))
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// runDiff runs msgs through in and compares each output with want.
func runDiff(tb testing.TB, in *wasmhost.Instance, msgs []abi.Message, want []string) {
	tb.Helper()
	res, err := in.Handle(context.Background(), msgs)
	if err != nil {
		tb.Fatal(err)
	}
	for i, r := range res {
		if r.Failed || len(r.Outputs) != 1 {
			tb.Fatalf("%s %q: failed=%v %q outputs=%d", msgs[i].Topic, msgs[i].Payload, r.Failed, r.Err, len(r.Outputs))
		}
		if got := string(r.Outputs[0].Payload); got != want[i] {
			tb.Errorf("%s on %q path %q value %q:\n wasm:   %s\n native: %s",
				msgs[i].Topic, msgs[i].Payload, msgs[i].Properties[0].Value, msgs[i].Properties[1].Value, got, want[i])
		}
	}
}

// TestJSONImports_sameAsNative runs sdk/jsonfield in a wasm guest, where
// it calls the host's JSON imports, and natively, and expects the same
// values and the same error texts, with and without termination checks.
func TestJSONImports_sameAsNative(t *testing.T) {
	ctx := context.Background()
	p := jsonDiffPlugin(t)
	msgs, want := jsonDiffMessages(jsonDiffCases)
	for _, trusted := range []bool{false, true} {
		t.Run(fmt.Sprintf("trusted=%v", trusted), func(t *testing.T) {
			lim := noRecycle
			lim.Trusted = trusted
			in, err := wasmhost.NewInstance(ctx, testHostV, p, nil, lim)
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close(ctx)
			runDiff(t, in, msgs, want)
		})
	}
}

// TestJSONImports_guestsUseThem checks that a Go guest using sdk/jsonfield
// really imports the host functions (else the benchmarks measure nothing).
func TestJSONImports_guestsUseThem(t *testing.T) {
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	cm, err := rt.CompileModule(ctx, guestWasm(t, "jsonfast"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, fn := range cm.ImportedFunctions() {
		if mod, name, _ := fn.Import(); mod == abi.ImportModule {
			got[name] = true
		}
	}
	for _, name := range []string{abi.ImportJSONGet, abi.ImportJSONFloat, abi.ImportJSONSetFloat} {
		if !got[name] {
			t.Errorf("jsonfast guest does not import %s.%s; imports: %v", abi.ImportModule, name, got)
		}
	}
	cm, err = rt.CompileModule(ctx, guestWasm(t, "jsonfastdiff"))
	if err != nil {
		t.Fatal(err)
	}
	got = map[string]bool{}
	for _, fn := range cm.ImportedFunctions() {
		if mod, name, _ := fn.Import(); mod == abi.ImportModule {
			got[name] = true
		}
	}
	for _, name := range []string{abi.ImportJSONEdit, abi.ImportJSONFind, abi.ImportJSONChildren} {
		if !got[name] {
			t.Errorf("jsonfastdiff guest does not import %s.%s; imports: %v", abi.ImportModule, name, got)
		}
	}
}

// FuzzJSONImports compares jsonfield in a wasm guest with jsonfield run
// natively on arbitrary documents, paths and values.
func FuzzJSONImports(f *testing.F) {
	for _, c := range jsonDiffCases {
		f.Add(c.doc, c.path, c.value)
	}
	p := jsonDiffPlugin(f)
	ctx := context.Background()
	in, err := wasmhost.NewInstance(ctx, testHostV, p, nil, noRecycle)
	if err != nil {
		f.Fatal(err)
	}
	defer in.Close(ctx)
	f.Fuzz(func(t *testing.T, doc, path, value string) {
		msgs, want := jsonDiffMessages([]struct{ doc, path, value string }{{doc, path, value}})
		runDiff(t, in, msgs, want)
	})
}

// jsonCallerModule is a guest whose tributary_handle calls the tributary
// import name (of the given wasm signature) with args as i32 constants and
// returns an empty result. Memory (2 pages) holds `{"a":1}` at 64, "a" at
// 96 and "2" at 100.
func jsonCallerModule(name string, args ...int32) []byte {
	m := passthroughModule()
	params := make([]byte, len(args))
	var body []byte
	for i, a := range args {
		params[i] = i32
		body = wasmtest.AppendSLEB(append(body, 0x41), int64(a)) // i32.const a
	}
	body = append(body, 0x10, 0x00, 0x1a) // call 0; drop
	body = append(body, 0x42, 0x00)       // i64.const 0
	m.Imports = []wasmtest.Import{{Module: abi.ImportModule, Name: name, Params: params, Results: []byte{i64}}}
	m.Funcs[3].Body = body
	m.Data = append(m.Data, wasmtest.Data{Offset: 64, Bytes: []byte(`{"a":1}`)}, wasmtest.Data{Offset: 96, Bytes: []byte("a")},
		wasmtest.Data{Offset: 100, Bytes: []byte("2")})
	return m.Bytes()
}

// TestJSONImports_badPointers checks that a guest pointer outside memory
// fails the call with Kind wasmhost.BadResult and closes the instance, and never
// panics the host; in-range calls succeed.
func TestJSONImports_badPointers(t *testing.T) {
	const out, past = 4096, 2 * 65536 // an output buffer; the end of memory
	tests := []struct {
		name    string
		wasm    []byte
		wantErr bool
	}{
		{"get ok", jsonCallerModule(abi.ImportJSONGet, 64, 7, 96, 1), false},
		{"get doc past memory", jsonCallerModule(abi.ImportJSONGet, past-3, 7, 96, 1), true},
		{"get path past memory", jsonCallerModule(abi.ImportJSONGet, 64, 7, -1, 2), true},
		{"parse doc past memory", jsonCallerModule(abi.ImportJSONParse, 64, past), true},
		{"set ok", jsonCallerModule(abi.ImportJSONSet, 64, 7, 96, 1, 100, 1, out, 64), false},
		{"set value past memory", jsonCallerModule(abi.ImportJSONSet, 64, 7, 96, 1, past, 1, out, 64), true},
		{"set out past memory", jsonCallerModule(abi.ImportJSONSet, 64, 7, 96, 1, 100, 1, past-8, 64), true},
		{"set out too small is fine", jsonCallerModule(abi.ImportJSONSet, 64, 7, 96, 1, 100, 1, out, 2), false},
		{"delete ok", jsonCallerModule(abi.ImportJSONDelete, 64, 7, 96, 1, out, 64), false},
		{"delete out past memory", jsonCallerModule(abi.ImportJSONDelete, 64, 7, 96, 1, -64, 64), true},
		{"edit ok", jsonCallerModule(abi.ImportJSONEdit, 64, 7, 96, 1, out, 64), false},
		{"edit program past memory", jsonCallerModule(abi.ImportJSONEdit, 64, 7, past-1, 2, out, 64), true},
		{"edit out past memory", jsonCallerModule(abi.ImportJSONEdit, 64, 7, 96, 1, past-8, 64), true},
		{"find ok", jsonCallerModule(abi.ImportJSONFind, 64, 7, 96, 1, out, 1), false},
		{"find out past memory", jsonCallerModule(abi.ImportJSONFind, 64, 7, 96, 1, past-4, 1), true},
		{"find n beyond any memory", jsonCallerModule(abi.ImportJSONFind, 64, 7, 96, 1, out, -1), true},
		{"children ok", jsonCallerModule(abi.ImportJSONChildren, 64, 7, out, 4), false},
		{"children out too small is fine", jsonCallerModule(abi.ImportJSONChildren, 64, 7, out, 0), false},
		{"children out past memory", jsonCallerModule(abi.ImportJSONChildren, 64, 7, past-8, 2), true},
	}
	ctx := context.Background()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := testHostV.Compile(ctx, "jsoncaller", tc.wasm)
			if err != nil {
				t.Fatal(err)
			}
			in, err := wasmhost.NewInstance(ctx, testHostV, p, nil, wasmhost.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close(ctx)
			_, err = in.Handle(ctx, []abi.Message{msg("x")})
			if !tc.wantErr {
				// The result frame is empty, so the call itself fails
				// decoding (wasmhost.BadResult) but not in the import.
				if err != nil && strings.Contains(err.Error(), hostfunc.ErrGuestPointer.Error()) {
					t.Fatalf("in-range call failed in the import: %v", err)
				}
				return
			}
			pe, ok := wasmhost.AsPluginError(err)
			if !ok || pe.Kind != wasmhost.BadResult || !strings.Contains(err.Error(), hostfunc.ErrGuestPointer.Error()) {
				t.Fatalf("err = %v, want a bad_result PluginError about the pointer", err)
			}
			if _, err := in.Handle(ctx, []abi.Message{msg("x")}); err != wasmhost.ErrInstanceClosed {
				t.Fatalf("after a bad pointer: %v, want wasmhost.ErrInstanceClosed", err)
			}
		})
	}
}

// TestCompile_jsonImportSignatures checks that the JSON imports are
// optional (the passthrough guest imports none) and that a mistyped one is
// a load error naming it.
func TestCompile_jsonImportSignatures(t *testing.T) {
	ctx := context.Background()
	m := passthroughModule()
	m.Imports = []wasmtest.Import{{Module: abi.ImportModule, Name: abi.ImportJSONGet, Params: []byte{i32, i32}, Results: []byte{i32}}}
	_, err := testHostV.Compile(ctx, "badsig", m.Bytes())
	want := "import tributary.json_get has signature (i32, i32) -> (i32), want (i32, i32, i32, i32) -> (i64)"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want it to contain %q", err, want)
	}
	m.Imports[0].Name = "json_frobnicate"
	if _, err := testHostV.Compile(ctx, "unknown", m.Bytes()); err == nil || !strings.Contains(err.Error(), "unknown import tributary.json_frobnicate") {
		t.Fatalf("err = %v, want unknown import tributary.json_frobnicate", err)
	}
}

// TestJSONImports_cGuest builds wasmhost/testdata/guests/jsonfastc with clang
// (skipped without it) on sdk/c/tributary.h alone and checks it computes
// what the Go jsonfast guest computes, growing its output buffer once.
func TestJSONImports_cGuest(t *testing.T) {
	ctx := context.Background()
	in := cGuestInstance(t, "jsonfastc", "../testdata/guests/jsonfastc/jsonfast.c")
	goIn, err := wasmhost.NewInstance(ctx, testHostV, jsonGuest(t, "jsonfast"), nil, wasmhost.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer goIn.Close(ctx)
	batch := msgs(sensorPayload, `{"value":"warm"}`, `{"a":1}`, `{"value":-40}`, `{"value":1e400}`, `[1,`)
	want, err := goIn.Handle(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	wantText := make([]string, len(want))
	for i, r := range want {
		wantText[i] = fmt.Sprintf("failed=%v", r.Failed)
		if !r.Failed {
			wantText[i] += " " + string(r.Outputs[0].Payload)
		}
	}
	got, err := in.Handle(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range got {
		g := fmt.Sprintf("failed=%v", r.Failed)
		if !r.Failed {
			g += " " + string(r.Outputs[0].Payload)
		}
		if g != wantText[i] {
			t.Errorf("message %d %q: C guest %s, Go guest %s", i, batch[i].Payload, g, wantText[i])
		}
	}
	if got[0].Failed || !strings.Contains(string(got[0].Outputs[0].Payload), `"value_f":70.25`) {
		t.Fatalf("C guest on the sensor payload: %+v", got[0])
	}
}

// TestJSONImports_jsonfieldSuiteInWasm runs sdk/jsonfield's own tests,
// examples and fuzz seeds compiled to wasm, where the package calls the
// host's JSON imports, against this package's implementation of them (in a
// bare wazero runtime: module tributary is Functions() alone). With
// the native run of the same suite it covers both paths with one set of
// expectations. Skipped with -short (it compiles a 7 MB test binary).
func TestJSONImports_jsonfieldSuiteInWasm(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the wasm build of sdk/jsonfield's tests")
	}
	dir, err := filepath.Abs("../../sdk/jsonfield")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "jsonfield.test.wasm")
	cmd := exec.Command("go", "test", "-c", "-o", bin, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building sdk/jsonfield's tests for wasm: %v\n%s", err, msg)
	}
	wasm, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	if err := instantiateJSON(ctx, rt); err != nil {
		t.Fatal(err)
	}
	cm, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	imported := 0
	for _, fn := range cm.ImportedFunctions() {
		if mod, _, _ := fn.Import(); mod == abi.ImportModule {
			imported++
		}
	}
	if imported < len(abi.ImportsJSON) { // every JSON import; log is not used
		t.Fatalf("the wasm test binary imports %d functions of module %s, want the %d JSON imports", imported, abi.ImportModule, len(abi.ImportsJSON))
	}
	var out bytes.Buffer
	cfg := wazero.NewModuleConfig().
		WithArgs("jsonfield.test", "-test.v", "-test.count=1").
		WithEnv("PWD", "/").
		WithEnv("TMPDIR", "/tmp"). // examples capture their output in a temp file
		WithFSConfig(wazero.NewFSConfig().WithReadOnlyDirMount(dir, "/").WithDirMount(t.TempDir(), "/tmp")).
		WithStdout(&out).WithStderr(&out).
		WithSysWalltime().WithSysNanotime()
	_, err = rt.InstantiateModule(ctx, cm, cfg)
	var exit *sys.ExitError
	if err != nil && (!errors.As(err, &exit) || exit.ExitCode() != 0) {
		t.Fatalf("sdk/jsonfield tests in wasm: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "--- PASS: FuzzGetSetDelete") || strings.Contains(out.String(), "--- FAIL") {
		t.Fatalf("sdk/jsonfield tests in wasm did not pass everything:\n%s", out.String())
	}
	t.Logf("%d tests, examples and fuzz seeds passed in wasm", strings.Count(out.String(), "--- PASS"))
}

// TestJSONImports_cGuestBatch builds wasmhost/testdata/guests/jsonbatchc with clang
// (skipped without it) on sdk/c/tributary.h alone, so json_find,
// json_children and json_edit are declared as the host defines them, and
// checks its outputs against sdk/jsonfield run natively.
func TestJSONImports_cGuestBatch(t *testing.T) {
	ctx := context.Background()
	in := cGuestInstance(t, "jsonbatchc", "../testdata/guests/jsonbatchc/jsonbatch.c") // Compile checks the imports' signatures
	payloads := []string{
		`{"value":21.5,"rssi":-48,"tags":["a","b","c"]}`,
		` {"tags" : [ ], "value":{"x":1}} `,
		`{"value":1}`,
		`{"value":1,"tags":{"a":1,"b":2}}`, // an object: two spans per member
		`{"value":1,"tags":[1,}`,
	}
	want := []string{
		`{"tags":["a","b","c"],"n_tags":3,"reading":21.5}`,
		` {"tags" : [ ], "n_tags":0,"reading":{"x":1}} `,
		"rejected: no value or tags",
		`{"tags":{"a":1,"b":2},"n_tags":4,"reading":1}`,
		"rejected: malformed JSON",
	}
	for i, w := range want { // the same steps with sdk/jsonfield natively
		if strings.HasPrefix(w, "rejected") {
			continue
		}
		tags, _ := jsonfield.Get([]byte(payloads[i]), "tags")
		spans, err := jsonfield.AppendChildSpans(nil, tags.Raw())
		if err != nil {
			t.Fatal(err)
		}
		var e jsonfield.Edit
		e.SetInt("n_tags", int64(len(spans)))
		e.Move("value", "reading")
		e.Delete("rssi")
		if native, err := e.Apply([]byte(payloads[i])); err != nil || string(native) != w {
			t.Fatalf("payload %q natively: %s, %v; the test expects %s", payloads[i], native, err, w)
		}
	}
	res, err := in.Handle(ctx, msgs(payloads...))
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		got := "rejected: " + r.Err
		if !r.Failed {
			got = string(r.Outputs[0].Payload)
		}
		if got != want[i] {
			t.Errorf("payload %q: C guest %s, want %s", payloads[i], got, want[i])
		}
	}
}

// cGuestInstance builds the C guest src with clang on sdk/c/tributary.h
// alone and returns an instance of it, closed at the end of the test.
// Without clang and wasm-ld the test is skipped with install instructions,
// or fails when TRIBUTARY_REQUIRE_CLANG=1 (as in CI).
func cGuestInstance(t *testing.T, name, src string) *wasmhost.Instance {
	t.Helper()
	wasm := sdktest.BuildC(t, src)
	ctx := context.Background()
	p, err := testHostV.Compile(ctx, name, wasm)
	if err != nil {
		t.Fatal(err)
	}
	in, err := wasmhost.NewInstance(ctx, testHostV, p, nil, wasmhost.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = in.Close(ctx) })
	return in
}

// TestFunctions checks that Functions defines exactly the JSON imports
// sdk/abi names (the ones sdk/jsonfield imports), each with an
// implementation and a name for every parameter.
func TestFunctions(t *testing.T) {
	fs := jsonimports.Functions()
	var names []string
	for _, f := range fs {
		names = append(names, f.Name)
		if f.Func == nil || len(f.ParamNames) != len(f.Params) || len(f.Results) != 1 {
			t.Errorf("%s: func %v, %d parameter names for %d parameters, %d results", f.Name, f.Func != nil,
				len(f.ParamNames), len(f.Params), len(f.Results))
		}
	}
	slices.Sort(names)
	want := slices.Sorted(slices.Values(abi.ImportsJSON))
	if !slices.Equal(names, want) {
		t.Fatalf("Functions() names %v, want abi.ImportsJSON %v", names, want)
	}
	fs[0].Name = "changed"
	if jsonimports.Functions()[0].Name == "changed" {
		t.Fatal("Functions returns a shared slice")
	}
}
