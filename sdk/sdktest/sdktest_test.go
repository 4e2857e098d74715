package sdktest_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tributary-gw/tributary/sdk/abi"
	"github.com/tributary-gw/tributary/sdk/jsonfield"
	"github.com/tributary-gw/tributary/sdk/sdktest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	sdktest.Cleanup()
	os.Exit(code)
}

func TestBuildConformanceGuest(t *testing.T) {
	path := sdktest.BuildConformanceGuest(t)
	wasm, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(wasm, []byte("\x00asm\x01\x00\x00\x00")) {
		t.Fatalf("%s is not a wasm 1.0 module: % x", path, wasm[:min(8, len(wasm))])
	}
	for _, name := range []string{abi.ExportMarker, abi.ExportAlloc, abi.ExportInit, abi.ExportHandle, abi.ExportInitialize, abi.ImportModule} {
		if !bytes.Contains(wasm, []byte(name)) {
			t.Errorf("%s does not mention %q", path, name)
		}
	}
	if again := sdktest.Build(t, sdktest.GuestDir()); again != path {
		t.Fatalf("second Build = %s, want the cached %s", again, path)
	}
}

// recorder stands in for a testing.TB to observe Fatalf.
type recorder struct {
	testing.TB
	fatal string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	if r.fatal == "" { // the first failure; the code under test goes on
		r.fatal = fmt.Sprintf(format, args...)
	}
}

func TestBuild_reportsCompilerOutput(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":  "module broken\n\ngo 1.26\n",
		"main.go": "package main\n\nfunc main() { undefinedThing() }\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := &recorder{TB: t}
	if got := sdktest.Build(r, dir); got != "" {
		t.Fatalf("Build of a broken guest = %q, want \"\"", got)
	}
	if !strings.Contains(r.fatal, "undefined: undefinedThing") {
		t.Fatalf("Build failure message %q lacks the compiler output", r.fatal)
	}
}

// reference implements the conformance guest's table directly on sdk/abi,
// independently of package sdk, to check the vectors against the spec.
func reference(frame []byte) ([]byte, error) {
	msgs, err := abi.DecodeBatch(frame, nil)
	if err != nil {
		return nil, err
	}
	rs := make([]abi.Result, len(msgs))
	for i, m := range msgs {
		unchanged := abi.Output{Flags: abi.PayloadUnchanged}
		cmd, arg, _ := strings.Cut(string(m.Payload), ":")
		switch cmd {
		case "echo":
			rs[i].Outputs = []abi.Output{unchanged}
		case "drop":
		case "set":
			rs[i].Outputs = []abi.Output{{Payload: []byte(arg)}}
		case "split":
			n, _ := strconv.Atoi(arg)
			for j := range n {
				rs[i].Outputs = append(rs[i].Outputs, abi.Output{Payload: []byte(strconv.Itoa(j))})
			}
		case "error":
			rs[i] = abi.Result{Failed: true, Err: arg}
		case "topic":
			unchanged.Flags |= abi.SetKafkaTopic
			unchanged.KafkaTopic = arg
			rs[i].Outputs = []abi.Output{unchanged}
		case "key":
			unchanged.Flags |= abi.SetKey
			unchanged.Key = []byte(arg)
			rs[i].Outputs = []abi.Output{unchanged}
		case "header":
			name, value, _ := strings.Cut(arg, "=")
			unchanged.Flags |= abi.SetHeaders
			for _, h := range m.Headers {
				if h.Name != name {
					unchanged.Headers = append(unchanged.Headers, h)
				}
			}
			unchanged.Headers = append(unchanged.Headers, abi.Property{Name: name, Value: value})
			rs[i].Outputs = []abi.Output{unchanged}
		case "meta":
			b, _ := json.Marshal(sdktest.MetaOf(m))
			rs[i].Outputs = []abi.Output{{Payload: b}}
		case "json_parse", "json_get", "json_set", "json_delete", "json_float", "json_find", "json_children", "json_edit":
			out, err := jsonCommand(cmd, arg)
			if err != nil {
				rs[i] = abi.Result{Failed: true, Err: err.Error()}
				break
			}
			rs[i].Outputs = []abi.Output{{Payload: out}}
		default:
			rs[i] = abi.Result{Failed: true, Err: "unknown command"}
		}
	}
	return abi.AppendResults(nil, rs), nil
}

func TestConformance_reference(t *testing.T) {
	sdktest.Conformance(t, reference)
}

func TestCall(t *testing.T) {
	rs := sdktest.Call(t, reference, sdktest.Msg("t", "split:2"), sdktest.Msg("t", "error:x"))
	if len(rs) != 2 || len(rs[0].Outputs) != 2 || !rs[1].Failed || rs[1].Err != "x" {
		t.Fatalf("Call results %+v", rs)
	}
	r := &recorder{TB: t}
	sdktest.Call(r, func([]byte) ([]byte, error) { return nil, errors.New("trap") }, sdktest.Msg("t", "echo"))
	if !strings.Contains(r.fatal, "trap") {
		t.Fatalf("Call with a failing caller: %q", r.fatal)
	}
	r.fatal = ""
	sdktest.Call(r, func([]byte) ([]byte, error) { return []byte{1, 0, 0, 0}, nil }, sdktest.Msg("t", "echo"))
	if !strings.Contains(r.fatal, "malformed frame") {
		t.Fatalf("Call with a malformed result: %q", r.fatal)
	}
}

// jsonCommand answers the conformance guest's json_* commands with
// sdk/jsonfield, the Go implementation of sdk/ABI.md §2.1.1.
func jsonCommand(cmd, arg string) ([]byte, error) {
	path, rest, _ := strings.Cut(arg, "\n")
	var (
		out []byte
		err error
	)
	switch cmd {
	case "json_parse":
		var v jsonfield.Value
		v, err = jsonfield.Parse([]byte(arg))
		out = v.Raw()
	case "json_get":
		var v jsonfield.Value
		v, err = jsonfield.Lookup([]byte(rest), path)
		out = v.Raw()
	case "json_set":
		val, doc, _ := strings.Cut(rest, "\n")
		out, err = jsonfield.Set([]byte(doc), path, []byte(val))
	case "json_delete":
		out, err = jsonfield.Delete([]byte(rest), path)
		if err == nil && len(out) == len(rest) {
			return nil, errors.New("not found")
		}
	case "json_find":
		i := strings.LastIndexByte(arg, '\n')
		paths := strings.Split(arg[:i], "\n")
		vals := make([]jsonfield.Value, len(paths))
		var v jsonfield.Value
		if v, err = jsonfield.NewFields(paths...).Find([]byte(arg[i+1:]), vals); err == nil {
			out = append(out, v.Raw()...)
			for _, x := range vals {
				out = append(out, '\n')
				if x.Kind() == jsonfield.Invalid {
					out = append(out, '-')
				} else {
					out = append(out, x.Raw()...)
				}
			}
		}
	case "json_children":
		var spans []int64
		spans, err = jsonfield.AppendChildSpans(nil, []byte(arg))
		var parts []string
		for _, sp := range spans {
			parts = append(parts, fmt.Sprintf("%d:%d", sp>>32, sp&0xffffffff))
		}
		out = []byte(strings.Join(parts, " "))
	case "json_edit":
		prog, herr := hex.DecodeString(path)
		if herr != nil {
			return nil, herr
		}
		out, err = jsonfield.AppendEdit(nil, []byte(rest), prog)
	case "json_float":
		v, perr := jsonfield.Parse([]byte(arg))
		f, ok := v.Float()
		if perr != nil || !ok || len(v.Raw()) != len(arg) {
			return nil, errors.New("NaN")
		}
		out, err = jsonfield.SetFloat([]byte("0"), "", f)
	}
	switch {
	case errors.Is(err, jsonfield.ErrNotFound):
		return nil, errors.New("not found")
	case err != nil:
		return nil, errors.New("malformed")
	}
	return out, nil
}
