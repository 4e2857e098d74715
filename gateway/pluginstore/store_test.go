package pluginstore_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tributary-gw/tributary/gateway/pluginstore"
)

// module returns distinct fake module bytes; the store does not parse them.
func module(n int) []byte {
	return fmt.Appendf([]byte("\x00asm\x01\x00\x00\x00"), "version-%d-%s", n, strings.Repeat("x", n))
}

func open(t *testing.T) (*pluginstore.Store, string) {
	t.Helper()
	dir := t.TempDir()
	st, err := pluginstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return st, dir
}

func mustPut(t *testing.T, st *pluginstore.Store, name string, wasm []byte) pluginstore.Version {
	t.Helper()
	v, err := st.Put(name, wasm)
	if err != nil {
		t.Fatalf("Put(%q): %v", name, err)
	}
	return v
}

// checkState asserts the file on disk, Get and List all agree on the current and previous
// versions of name. want is nil for a deleted plugin.
func checkState(t *testing.T, st *pluginstore.Store, dir, name string, want []byte, wantPrev ...[]byte) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, name+".wasm"))
	switch {
	case want == nil && !errors.Is(err, os.ErrNotExist):
		t.Fatalf("%s.wasm: want no file, got err=%v", name, err)
	case want != nil && err != nil:
		t.Fatalf("%s.wasm: %v", name, err)
	case want != nil && !bytes.Equal(data, want):
		t.Fatalf("%s.wasm holds %q, want %q", name, data, want)
	}
	var wantHash string
	if want != nil {
		wantHash = pluginstore.Hash(want)
	}
	var prev []string
	for _, p := range wantPrev {
		prev = append(prev, pluginstore.Hash(p))
	}
	p, err := st.Get(name)
	if err != nil {
		t.Fatalf("Get(%q): %v", name, err)
	}
	if p.Hash != wantHash || !slices.Equal(p.Previous, prev) {
		t.Fatalf("Get(%q) = hash %.8s previous %v, want hash %.8s previous %v", name, p.Hash, short(p.Previous), wantHash, short(prev))
	}
	if want != nil && p.Size != int64(len(want)) {
		t.Fatalf("Get(%q).Size = %d, want %d", name, p.Size, len(want))
	}
	list, err := st.List()
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(list, func(p pluginstore.Plugin) bool { return p.Name == name })
	if i < 0 {
		t.Fatalf("List() has no %q: %+v", name, list)
	}
	if list[i].Hash != wantHash || !slices.Equal(list[i].Previous, prev) {
		t.Fatalf("List()[%q] = %+v, want hash %.8s previous %v", name, list[i], wantHash, short(prev))
	}
}

func short(hs []string) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h[:8]
	}
	return out
}

func TestStore_PutRollbackDelete(t *testing.T) {
	st, dir := open(t)
	v1, v2, v3 := module(1), module(2), module(3)

	got := mustPut(t, st, "celsius", v1)
	if got.Name != "celsius" || got.Hash != pluginstore.Hash(v1) || got.Size != int64(len(v1)) || got.ModTime.IsZero() {
		t.Fatalf("Put = %+v", got)
	}
	checkState(t, st, dir, "celsius", v1)

	mustPut(t, st, "celsius", v2)
	checkState(t, st, dir, "celsius", v2, v1)

	mustPut(t, st, "celsius", v2) // unchanged: no new history entry
	checkState(t, st, dir, "celsius", v2, v1)

	rb, err := st.Rollback("celsius")
	if err != nil {
		t.Fatal(err)
	}
	if rb.Hash != pluginstore.Hash(v1) {
		t.Fatalf("Rollback = %.8s, want v1 %.8s", rb.Hash, pluginstore.Hash(v1))
	}
	checkState(t, st, dir, "celsius", v1, v2)

	if _, err := st.Rollback("celsius"); err != nil { // twice is a swap back
		t.Fatal(err)
	}
	checkState(t, st, dir, "celsius", v2, v1)

	mustPut(t, st, "celsius", v3)
	checkState(t, st, dir, "celsius", v3, v2, v1)

	mustPut(t, st, "celsius", v1) // re-upload of a previous version: it leaves the history
	checkState(t, st, dir, "celsius", v1, v3, v2)

	if err := st.Delete("celsius"); err != nil {
		t.Fatal(err)
	}
	checkState(t, st, dir, "celsius", nil, v1, v3, v2)

	pv, data, err := st.Previous("celsius")
	if err != nil || pv.Hash != pluginstore.Hash(v1) || !bytes.Equal(data, v1) {
		t.Fatalf("Previous = %+v, %q, %v; want v1", pv, data, err)
	}
	if _, err := st.Rollback("celsius"); err != nil { // a delete is undone by a rollback
		t.Fatal(err)
	}
	checkState(t, st, dir, "celsius", v1, v3, v2)
}

func TestStore_HistoryBounded(t *testing.T) {
	st, dir := open(t)
	const n = pluginstore.MaxHistory + 3
	for i := range n {
		mustPut(t, st, "p", module(i))
	}
	var want [][]byte
	for i := n - 2; i >= n-1-pluginstore.MaxHistory; i-- {
		want = append(want, module(i))
	}
	checkState(t, st, dir, "p", module(n-1), want...)
	files, err := filepath.Glob(filepath.Join(dir, ".versions", "p", "*.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	// The version the last Put pushed out stays, unlisted, until the next change (for Restore),
	// and so does the copy of the current module (for a file dropped over it).
	if len(files) != pluginstore.MaxHistory+2 {
		t.Fatalf("%d version files kept, want %d: %v", len(files), pluginstore.MaxHistory+2, files)
	}
}

// TestStore_Serving drops modules over NAME.wasm without Put, as a deploy tool or an operator's
// cp does, and reports each serving as the gateway does after its reload: the replaced version
// becomes the newest previous one, so rollback goes to it and back from it as after an upload.
// A dropped file that never served (it did not load) is not kept: rollback returns to the
// version serving.
func TestStore_Serving(t *testing.T) {
	st, dir := open(t)
	drop := func(wasm []byte) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "p.wasm"), wasm, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	serving := func(wasm []byte, wantChanged bool) {
		t.Helper()
		changed, err := st.Serving("p", wasm)
		if err != nil || changed != wantChanged {
			t.Fatalf("Serving(%q) = %v, %v; want %v, nil", wasm, changed, err, wantChanged)
		}
	}
	v1, v2, v3, bad := module(1), module(2), module(3), module(9)
	drop(v1)
	serving(v1, false) // the first version: nothing to keep yet
	checkState(t, st, dir, "p", v1)
	serving(v1, false) // again: nothing changes
	drop(v2)
	serving(v2, true)
	checkState(t, st, dir, "p", v2, v1)

	// Rollback to the version the drop replaced, and from it again.
	if v, err := st.Rollback("p"); err != nil || v.Hash != pluginstore.Hash(v1) {
		t.Fatalf("Rollback = %v, %v; want v1", v, err)
	}
	serving(v1, false) // the gateway's reload of the rollback
	checkState(t, st, dir, "p", v1, v2)
	if v, err := st.Rollback("p"); err != nil || v.Hash != pluginstore.Hash(v2) {
		t.Fatalf("second Rollback = %v, %v; want v2", v, err)
	}
	checkState(t, st, dir, "p", v2, v1)

	// An upload after a drop, and a drop after an upload, share one history.
	mustPut(t, st, "p", v3)
	serving(v3, false)
	checkState(t, st, dir, "p", v3, v2, v1)

	// A drop that does not load is never reported serving: rollback goes back to v3, the
	// version serving, and the dropped file is not a previous version.
	drop(bad)
	if v, _, err := st.Previous("p"); err != nil || v.Hash != pluginstore.Hash(v3) {
		t.Fatalf("Previous after a drop that did not serve = %v, %v; want v3", v, err)
	}
	if v, err := st.Rollback("p"); err != nil || v.Hash != pluginstore.Hash(v3) {
		t.Fatalf("Rollback after a drop that did not serve = %v, %v; want v3", v, err)
	}
	checkState(t, st, dir, "p", v3, v2, v1)
}

func TestStore_Errors(t *testing.T) {
	st, dir := open(t)
	mustPut(t, st, "only", module(1))
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}

	type errCase struct {
		name string
		call func() error
		want error
	}
	tests := []errCase{
		{"rollback without history", func() error { _, err := st.Rollback("only"); return err }, pluginstore.ErrNoPrevious},
		{"previous without history", func() error { _, _, err := st.Previous("only"); return err }, pluginstore.ErrNoPrevious},
		{"rollback unknown", func() error { _, err := st.Rollback("nope"); return err }, pluginstore.ErrNoPrevious},
		{"delete unknown", func() error { return st.Delete("nope") }, pluginstore.ErrNotFound},
		{"get unknown", func() error { _, err := st.Get("nope"); return err }, pluginstore.ErrNotFound},
		{"get a non-plugin file", func() error { _, err := st.Get("notes"); return err }, pluginstore.ErrNotFound},
		{"put empty", func() error { _, err := st.Put("x", nil); return err }, nil},
	}
	for _, bad := range []string{"", ".", "..", "../x", "a/b", `a\b`, "a.b", ".versions", "x y", "é", "nul\x00", strings.Repeat("a", pluginstore.MaxNameLen+1)} {
		tests = append(tests,
			errCase{"put " + bad, func() error { _, err := st.Put(bad, module(1)); return err }, pluginstore.ErrInvalidName},
			errCase{"rollback " + bad, func() error { _, err := st.Rollback(bad); return err }, pluginstore.ErrInvalidName},
			errCase{"delete " + bad, func() error { return st.Delete(bad) }, pluginstore.ErrInvalidName},
			errCase{"get " + bad, func() error { _, err := st.Get(bad); return err }, pluginstore.ErrInvalidName},
		)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if err == nil {
				t.Fatal("no error")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("error %q does not wrap %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), "plugin ") {
				t.Fatalf("error %q does not name the plugin", err)
			}
		})
	}
	if !pluginstore.ValidName("Temp_sensor-2") {
		t.Fatal(`ValidName("Temp_sensor-2") = false`)
	}
	// Nothing above may have written outside the directory or left stray files.
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{".versions", "notes.txt", "only.wasm"}; !slices.Equal(names, want) {
		t.Fatalf("directory holds %v, want %v", names, want)
	}
}

func TestStore_ListIgnoresOtherFiles(t *testing.T) {
	st, dir := open(t)
	mustPut(t, st, "a", module(1))
	mustPut(t, st, "a", module(2)) // creates .versions/a
	mustPut(t, st, "b-2", module(3))
	for _, f := range []string{"README.md", "bad.name.wasm", ".hidden.wasm", ".a.wasm.tmp-123"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "dir.wasm"), 0o755); err != nil {
		t.Fatal(err)
	}
	list, err := st.List()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range list {
		names = append(names, p.Name)
	}
	if want := []string{"a", "b-2"}; !slices.Equal(names, want) {
		t.Fatalf("List() names = %v, want %v", names, want)
	}
}

func TestStore_ExternalChangeSeen(t *testing.T) {
	st, dir := open(t)
	mustPut(t, st, "p", module(1))
	if _, err := st.List(); err != nil { // fills the hash cache
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "p.wasm"), module(22), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := st.Get("p")
	if err != nil {
		t.Fatal(err)
	}
	if p.Hash != pluginstore.Hash(module(22)) {
		t.Fatalf("Get after an outside write = %.8s, want the new file's hash", p.Hash)
	}
	// A Put after the outside write keeps the outside version as the previous one; module 1,
	// overwritten outside the store, is gone.
	mustPut(t, st, "p", module(3))
	checkState(t, st, dir, "p", module(3), module(22))
}

func TestStore_CorruptVersionRefused(t *testing.T) {
	st, dir := open(t)
	mustPut(t, st, "p", module(1))
	mustPut(t, st, "p", module(2))
	old := filepath.Join(dir, ".versions", "p", pluginstore.Hash(module(1))+".wasm")
	if err := os.WriteFile(old, []byte("tampered"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := st.Rollback("p")
	if err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("Rollback over a tampered version: err = %v, want a corrupt-file error", err)
	}
	checkState(t, st, dir, "p", module(2), module(1))
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, dir, want string }{
		{"missing", filepath.Join(dir, "nope"), "no such file"},
		{"file", file, "not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pluginstore.Open(tc.dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.dir) {
				t.Fatalf("Open(%s) err = %v, want %q naming the directory", tc.dir, err, tc.want)
			}
		})
	}
}

// TestStore_hammer runs writers, rollbacks and listings at once while readers check that
// NAME.wasm is always one complete module (the rename contract a file watcher relies on).
func TestStore_hammer(t *testing.T) {
	st, dir := open(t)
	const writers, iterations = 4, 30
	valid := map[string]bool{}
	for w := range writers {
		for i := range iterations {
			valid[pluginstore.Hash(module(w*iterations+i))] = true
		}
	}
	mustPut(t, st, "p", module(0))

	stop := make(chan struct{})
	readErr := make(chan error, 1)
	var readers sync.WaitGroup
	readers.Go(func() {
		for {
			select {
			case <-stop:
				readErr <- nil
				return
			default:
			}
			data, err := os.ReadFile(filepath.Join(dir, "p.wasm"))
			if errors.Is(err, os.ErrNotExist) {
				continue // between a Delete and a Rollback
			}
			if err != nil {
				readErr <- err
				return
			}
			if !valid[pluginstore.Hash(data)] {
				readErr <- fmt.Errorf("read a module that was never written whole (%d bytes)", len(data))
				return
			}
		}
	})

	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range iterations {
				switch i % 5 {
				case 3:
					_, _ = st.Rollback("p")
				case 4:
					if _, err := st.List(); err != nil {
						t.Error(err)
					}
				default:
					if _, err := st.Put("p", module(w*iterations+i)); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	if err := <-readErr; err != nil {
		t.Fatal(err)
	}

	// All views must agree on the outcome.
	if _, err := os.Stat(filepath.Join(dir, "p.wasm")); err != nil {
		t.Fatal(err)
	}
	p, err := st.Get("p")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "p.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Hash != pluginstore.Hash(data) || len(p.Previous) > pluginstore.MaxHistory || slices.Contains(p.Previous, p.Hash) {
		t.Fatalf("after the hammer Get = %+v, file hash %.8s", p, pluginstore.Hash(data))
	}
	tmps, _ := filepath.Glob(filepath.Join(dir, ".*tmp-*"))
	moreTmps, _ := filepath.Glob(filepath.Join(dir, ".versions", "p", ".*tmp-*"))
	if len(tmps)+len(moreTmps) > 0 {
		t.Fatalf("temporary files left behind: %v %v", tmps, moreTmps)
	}
}

// TestStore_RestoreUndoesOneChange takes a Snapshot, makes one change (each kind, on a
// history that is empty, partial or full) and Restores: the module, byte for byte, and the
// history, in order, are what they were, and the undone version is not among the previous
// versions.
func TestStore_RestoreUndoesOneChange(t *testing.T) {
	changes := []struct {
		name   string
		change func(st *pluginstore.Store) error
	}{
		{"put new version", func(st *pluginstore.Store) error { _, err := st.Put("p", module(100)); return err }},
		{"put a previous version", func(st *pluginstore.Store) error { _, err := st.Put("p", module(1)); return err }},
		{"rollback", func(st *pluginstore.Store) error { _, err := st.Rollback("p"); return err }},
		{"delete", func(st *pluginstore.Store) error { return st.Delete("p") }},
	}
	for _, c := range changes {
		for _, puts := range []int{0, 1, 3, pluginstore.MaxHistory + 1, pluginstore.MaxHistory + 3} {
			t.Run(fmt.Sprintf("%s after %d puts", c.name, puts), func(t *testing.T) {
				st, dir := open(t)
				var want []byte
				var prev [][]byte
				for i := range puts {
					mustPut(t, st, "p", module(i))
					if want != nil {
						prev = append([][]byte{want}, prev...)
					}
					want = module(i)
				}
				if len(prev) > pluginstore.MaxHistory {
					prev = prev[:pluginstore.MaxHistory]
				}
				before, err := st.Snapshot("p")
				if err != nil {
					t.Fatal(err)
				}
				// Only rollback without history and delete of nothing may refuse.
				if err := c.change(st); err != nil && !errors.Is(err, pluginstore.ErrNoPrevious) && !errors.Is(err, pluginstore.ErrNotFound) {
					t.Fatal(err)
				}
				v, err := st.Restore(before)
				if err != nil {
					t.Fatalf("Restore: %v", err)
				}
				if want != nil && v.Hash != pluginstore.Hash(want) || want == nil && v.Hash != "" {
					t.Fatalf("Restore returned version %q", v.Hash)
				}
				if puts == 0 {
					if _, err := st.Get("p"); !errors.Is(err, pluginstore.ErrNotFound) {
						t.Fatalf("after Restore of nothing, Get = %v, want not found", err)
					}
					if _, err := os.Stat(filepath.Join(dir, "p.wasm")); !errors.Is(err, os.ErrNotExist) {
						t.Fatalf("after Restore of nothing, p.wasm: %v", err)
					}
					return
				}
				checkState(t, st, dir, "p", want, prev...)
				// The store works on as if the change never happened.
				if len(prev) > 0 {
					if v, err := st.Rollback("p"); err != nil || v.Hash != pluginstore.Hash(prev[0]) {
						t.Fatalf("Rollback after Restore = %q, %v; want %s", v.Hash, err, short([]string{pluginstore.Hash(prev[0])}))
					}
				}
			})
		}
	}
}

// TestStore_LinksOutOfTheFolderAreRefused: whoever writes a tenant's folder can make
// .versions/NAME a symbolic link to another folder, or NAME.wasm a link to another tenant's
// plugin. The store neither writes through the first (a Put would have saved the replaced
// version there) nor reads through the second (its hash or bytes would reach this tenant's
// listing and history); each is an error, and nothing appears outside the folder.
func TestStore_LinksOutOfTheFolderAreRefused(t *testing.T) {
	st, dir := open(t)
	outside := t.TempDir()
	mustPut(t, st, "units", module(1))
	if err := os.RemoveAll(filepath.Join(dir, ".versions", "units")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, ".versions", "units")); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put("units", module(2)); err == nil {
		t.Error("Put through .versions/units linked out of the folder succeeded")
	}
	if _, err := st.Rollback("units"); err == nil {
		t.Error("Rollback through .versions/units linked out of the folder succeeded")
	}
	if entries, _ := os.ReadDir(outside); len(entries) > 0 {
		t.Errorf("the store wrote out of its folder: %v", entries)
	}

	other := filepath.Join(outside, "secret.wasm")
	if err := os.WriteFile(other, module(3), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(other, filepath.Join(dir, "stolen.wasm")); err != nil {
		t.Fatal(err)
	}
	if p, err := st.Get("stolen"); err == nil && p.Hash != "" {
		t.Errorf("Get(stolen) = hash %s read through a link out of the folder", p.Hash[:12])
	}
	if _, err := st.Put("stolen", module(4)); err == nil {
		t.Error("Put over a link out of the folder read the linked file")
	}
	if b, _ := os.ReadFile(other); !bytes.Equal(b, module(3)) {
		t.Error("the file linked from the folder was changed")
	}
}
