package pluginstore

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tributary-gw/tributary/gateway/internal/regularfile"
)

// MaxHistory is how many previous versions of a plugin the store keeps. Older ones are
// deleted when a newer one is saved (the one a change pushed out stays on disk, unlisted,
// until the next change, so that Restore can undo that change).
const MaxHistory = 5

// MaxFileBytes bounds every module file the store reads (NAME.wasm and the copies in its
// history). The folder may be a tenant's, which may hold anything: a named pipe or a device in
// place of a module is refused without blocking (gateway/internal/regularfile), and no file
// is read whole beyond this. The gateway's own module limit (limits.module.max_module_mb)
// is checked before a module is compiled; this only bounds the store's reads.
const MaxFileBytes = 1 << 30

// maxListBytes bounds the store's own small files (the history list, the current version).
const maxListBytes = 64 << 10

// MaxNameLen is the longest plugin name the store accepts, in bytes.
const MaxNameLen = 128

// versionsDir is the hidden folder, inside the store's directory, holding previous versions.
const versionsDir = ".versions"

// historyFile lists a plugin's previous versions, one sha256 hex per line, newest first.
const historyFile = "history"

// currentFile names the version the store knows as NAME.wasm: the one last put, rolled back
// to, restored, or reported serving (Serving). Its bytes are kept under .versions too, so that
// a file dropped over NAME.wasm by hand (or a deploy tool) does not lose the version it
// replaces: Serving then makes that version the newest previous one.
const currentFile = "current"

var (
	// ErrInvalidName is returned (wrapped, with the name) for a plugin name that is not
	// [a-zA-Z0-9_-]+ of at most MaxNameLen bytes.
	ErrInvalidName = errors.New("invalid plugin name: use letters, digits, '_' and '-'")
	// ErrNotFound is returned (wrapped, with the name) when a plugin has no current module
	// (Delete) or neither a current module nor a previous version (Get).
	ErrNotFound = errors.New("not found")
	// ErrNoPrevious is returned (wrapped, with the name) by Rollback and Previous when the
	// plugin has no previous version.
	ErrNoPrevious = errors.New("no previous version to roll back to")
)

// Version is one stored module of a plugin.
type Version struct {
	// Name is the plugin's name: the module is the file Name.wasm.
	Name string
	// Hash is the lowercase sha256 hex of the module's bytes.
	Hash string
	// Size is the module's length in bytes.
	Size int64
	// ModTime is when the current file was written (the zero time for a version that is
	// not current, as returned by Previous).
	ModTime time.Time
}

// Plugin describes one plugin of the store as List and Get report it.
type Plugin struct {
	// Name is the plugin's name.
	Name string
	// Hash is the sha256 hex of the current module; empty when the plugin was deleted and
	// only previous versions remain (Rollback restores the newest).
	Hash string
	// Size and ModTime describe the current file; zero when Hash is empty.
	Size    int64
	ModTime time.Time
	// Previous lists the hashes of the previous versions, newest first; Previous[0] is
	// what Rollback restores. Never longer than MaxHistory.
	Previous []string
}

// Store manages the plugin modules of one directory.
//
// A Store is safe for concurrent use within one process: every method holds the store's
// lock for its whole duration. Two processes (or two Stores) writing the same directory are
// not coordinated; the last writer wins, but each file is still replaced whole.
type Store struct {
	dir string

	mu     sync.Mutex
	root   *os.Root              // the folder, open while mu is held (see lock)
	hashes map[string]cachedHash // name -> hash of NAME.wasm as last read, keyed by size+mtime
}

// lock takes the store's lock and opens its folder as an os.Root for the operation: every
// file the store reads or writes is reached through it, so a symbolic link or a folder
// swapped for one (.versions/NAME pointing at /etc, NAME.wasm at another tenant's plugin)
// cannot lead a read or a write out of the folder. The folder is opened anew each time, so
// a folder removed and made again is the new one.
func (s *Store) lock() error {
	s.mu.Lock()
	r, err := os.OpenRoot(s.dir)
	if err != nil {
		s.mu.Unlock()
		return fmt.Errorf("plugin store %s: %w", s.dir, err)
	}
	s.root = r
	return nil
}

// unlock closes the folder lock opened and releases the store's lock.
func (s *Store) unlock() {
	_ = s.root.Close()
	s.root = nil
	s.mu.Unlock()
}

type cachedHash struct {
	size    int64
	modTime time.Time
	hash    string
}

// Open returns the store of dir, which must be an existing directory. It does not read or
// check the modules.
func Open(dir string) (*Store, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("plugin store %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("plugin store %s: not a directory", dir)
	}
	return &Store{dir: dir, hashes: map[string]cachedHash{}}, nil
}

// Dir returns the directory the store was opened on.
func (s *Store) Dir() string { return s.dir }

// Hash returns the identity of a module: the lowercase sha256 hex of its bytes.
func Hash(wasm []byte) string {
	sum := sha256.Sum256(wasm)
	return hex.EncodeToString(sum[:])
}

// ValidName reports whether name can name a plugin: [a-zA-Z0-9_-]+, at most MaxNameLen
// bytes.
func ValidName(name string) bool {
	if name == "" || len(name) > MaxNameLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func checkName(name string) error {
	if !ValidName(name) {
		return fmt.Errorf("plugin %q: %w", name, ErrInvalidName)
	}
	return nil
}

// Put makes wasm the current module of plugin name, writing NAME.wasm by renaming a complete
// temporary file over it. The module it replaces, if any and if different, becomes the newest
// previous version. Putting the module that is already current changes nothing. Putting a
// module that is among the previous versions removes it from them (it is current now).
//
// Put does not check that wasm is a valid module; callers compile it first. It returns an
// error wrapping ErrInvalidName for a bad name, or the file system's error naming the file.
func (s *Store) Put(name string, wasm []byte) (Version, error) {
	if err := checkName(name); err != nil {
		return Version{}, err
	}
	if len(wasm) == 0 {
		return Version{}, fmt.Errorf("plugin %q: empty module", name)
	}
	if err := s.lock(); err != nil {
		return Version{}, err
	}
	defer s.unlock()

	hash := Hash(wasm)
	cur, curData, err := s.current(name)
	if err != nil {
		return Version{}, err
	}
	if cur == hash {
		return s.version(name, hash)
	}
	hist, err := s.readHistory(name)
	if err != nil {
		return Version{}, err
	}
	if cur != "" {
		if err := s.saveVersion(name, cur, curData); err != nil {
			return Version{}, err
		}
		hist = prepend(hist, cur)
	}
	var unlisted []string // the new version's stored file, if it was a previous version
	if slices.Contains(hist, hash) {
		unlisted = append(unlisted, hash)
	}
	hist = slices.DeleteFunc(hist, func(h string) bool { return h == hash })
	if err := s.writeHistory(name, hist, unlisted...); err != nil {
		return Version{}, err
	}
	if err := s.writeAtomic(".", name+".wasm", wasm); err != nil {
		return Version{}, fmt.Errorf("plugin %q: %w", name, err)
	}
	if err := s.setCurrent(name, hash, wasm); err != nil {
		return Version{}, err
	}
	return s.version(name, hash)
}

// Serving records that wasm is the module of plugin name now serving: what the gateway calls
// after a reload applied NAME.wasm, whoever wrote it. When the store knew another version as
// current (a file was dropped over NAME.wasm without Put), that version becomes the newest
// previous version, so Rollback brings it back and a second Rollback returns to wasm, as for
// an upload. It keeps a copy of wasm for the next such change. It reports whether the history
// changed. Recording the version already known as current changes nothing.
func (s *Store) Serving(name string, wasm []byte) (bool, error) {
	if err := checkName(name); err != nil {
		return false, err
	}
	hash := Hash(wasm)
	if err := s.lock(); err != nil {
		return false, err
	}
	defer s.unlock()
	known := s.readCurrent(name)
	if known == hash {
		return false, s.saveVersion(name, hash, wasm) // a no-op when the copy is there
	}
	hist, err := s.readHistory(name)
	if err != nil {
		return false, err
	}
	before := slices.Clone(hist)
	if known != "" {
		hist = prepend(hist, known)
	}
	hist = slices.DeleteFunc(hist, func(h string) bool { return h == hash })
	if err := s.saveVersion(name, hash, wasm); err != nil {
		return false, err
	}
	if err := s.writeHistory(name, hist, hash); err != nil {
		return false, err
	}
	if err := s.setCurrent(name, hash, nil); err != nil {
		return false, err
	}
	return !slices.Equal(before, hist), nil
}

// Rollback makes the newest previous version of plugin name current again. The module it
// replaces becomes the newest previous version, so a second Rollback swaps back. A deleted
// plugin (no NAME.wasm) is restored.
//
// It returns the version now current, or an error wrapping ErrNoPrevious when there is none
// to go back to, ErrInvalidName for a bad name, or a file system error. A stored version whose
// bytes no longer match its hash is refused with an error saying so, and nothing changes.
func (s *Store) Rollback(name string) (Version, error) {
	if err := checkName(name); err != nil {
		return Version{}, err
	}
	if err := s.lock(); err != nil {
		return Version{}, err
	}
	defer s.unlock()

	cur, curData, err := s.current(name)
	if err != nil {
		return Version{}, err
	}
	hist, keepCur, err := s.rollbackHistory(name, cur)
	if err != nil {
		return Version{}, err
	}
	if len(hist) == 0 {
		return Version{}, fmt.Errorf("plugin %q: %w", name, ErrNoPrevious)
	}
	prev := hist[0]
	data, err := s.readVersion(name, prev)
	if err != nil {
		return Version{}, err
	}
	rest := hist[1:]
	if cur != "" && keepCur {
		if err := s.saveVersion(name, cur, curData); err != nil {
			return Version{}, err
		}
		rest = prepend(rest, cur)
	}
	if err := s.setCurrent(name, prev, nil); err != nil {
		return Version{}, err
	}
	if err := s.writeHistory(name, rest, prev); err != nil {
		return Version{}, err
	}
	if err := s.writeAtomic(".", name+".wasm", data); err != nil {
		return Version{}, fmt.Errorf("plugin %q: %w", name, err)
	}
	return s.version(name, prev)
}

// rollbackHistory returns the versions a rollback of name chooses from, newest first, with
// cur (the hash of NAME.wasm, "" when there is none) left out, and whether cur becomes a
// previous version. A NAME.wasm that is not the version the store knows as current was
// dropped there and never reported serving (it did not load, or no reload ran yet): the
// rollback goes back to the known version, and the dropped file does not enter the history.
// s.mu must be held.
func (s *Store) rollbackHistory(name, cur string) ([]string, bool, error) {
	hist, err := s.readHistory(name)
	if err != nil {
		return nil, false, err
	}
	keepCur := true
	if known := s.readCurrent(name); known != "" && known != cur {
		if _, err := s.root.Stat(filepath.Join(s.historyDir(name), known+".wasm")); err == nil {
			hist = prepend(hist, known)
			keepCur = false
		}
	}
	// An interrupted write can leave the current hash at the head of the history: skip it.
	return slices.DeleteFunc(hist, func(h string) bool { return h == cur }), keepCur, nil
}

// State is what a plugin of the store was at one moment: its current version and its
// history. Snapshot takes one; Restore puts it back.
type State struct {
	// Name is the plugin's name.
	Name string
	// Hash is the sha256 hex of the module that was current; empty when there was none.
	Hash string
	// Previous lists the previous versions' hashes then, newest first.
	Previous []string
}

// Snapshot returns the current state of plugin name, for a later Restore that undoes a Put,
// Rollback or Delete. A plugin with neither a module nor a history is a State with an empty
// Hash and no Previous (Restore then removes whatever was written since).
func (s *Store) Snapshot(name string) (State, error) {
	if err := checkName(name); err != nil {
		return State{}, err
	}
	if err := s.lock(); err != nil {
		return State{}, err
	}
	defer s.unlock()
	p, err := s.describe(name)
	if err != nil {
		return State{}, err
	}
	return State{Name: name, Hash: p.Hash, Previous: p.Previous}, nil
}

// Restore undoes the changes made to plugin st.Name since Snapshot returned st: the module
// that was current then is current again, byte for byte (NAME.wasm is removed when there was
// none), and the history is st.Previous again, in its order. A version that was put and is
// now undone does not enter the history, so a later Rollback never brings it back.
//
// It is meant to undo one Put, Rollback or Delete that could not be applied. The versions it
// needs are still stored: the replaced module became a previous version, and a version pushed
// out of a full history is kept on disk (not listed) until the next change of the plugin. The
// caller must make sure nothing else changed the plugin in between (hold its own lock across
// the change and the Restore); otherwise those changes are undone too, and a version no longer
// stored is an error naming it. It returns the version now current (Hash empty when there is
// none).
func (s *Store) Restore(st State) (Version, error) {
	name := st.Name
	if err := checkName(name); err != nil {
		return Version{}, err
	}
	if st.Hash != "" && !validHash(st.Hash) {
		return Version{}, fmt.Errorf("plugin %q: restore: %q is not a version", name, st.Hash)
	}
	if err := s.lock(); err != nil {
		return Version{}, err
	}
	defer s.unlock()

	cur, _, err := s.current(name)
	if err != nil {
		return Version{}, err
	}
	var data []byte
	if st.Hash != "" && st.Hash != cur {
		if data, err = s.readVersion(name, st.Hash); err != nil {
			return Version{}, fmt.Errorf("plugin %q: restore: %w", name, err)
		}
	}
	dir := s.historyDir(name)
	hist := make([]string, 0, len(st.Previous))
	for _, h := range st.Previous {
		if !validHash(h) || h == st.Hash || slices.Contains(hist, h) {
			continue
		}
		if _, err := s.root.Stat(filepath.Join(dir, h+".wasm")); err != nil {
			continue // no longer stored: cannot be listed
		}
		hist = append(hist, h)
	}
	// Write the module before the history, whose rewrite deletes versions it does not list
	// (possibly the one read above).
	switch {
	case st.Hash == "" && cur != "":
		if err := s.root.Remove(name + ".wasm"); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return Version{}, fmt.Errorf("plugin %q: %w", name, err)
		}
		delete(s.hashes, name)
		s.syncDir(".")
	case data != nil:
		if err := s.writeAtomic(".", name+".wasm", data); err != nil {
			return Version{}, fmt.Errorf("plugin %q: %w", name, err)
		}
	}
	if err := s.setCurrent(name, st.Hash, data); err != nil {
		return Version{}, err
	}
	if err := s.writeHistory(name, hist); err != nil {
		return Version{}, err
	}
	if st.Hash == "" {
		return Version{Name: name}, nil
	}
	return s.version(name, st.Hash)
}

// Previous returns the version Rollback would restore and its bytes, without changing
// anything, so a caller can compile it first. The error wraps ErrNoPrevious when there is
// none.
func (s *Store) Previous(name string) (Version, []byte, error) {
	if err := checkName(name); err != nil {
		return Version{}, nil, err
	}
	if err := s.lock(); err != nil {
		return Version{}, nil, err
	}
	defer s.unlock()

	cur, _, err := s.current(name)
	if err != nil {
		return Version{}, nil, err
	}
	hist, _, err := s.rollbackHistory(name, cur)
	if err != nil {
		return Version{}, nil, err
	}
	if len(hist) == 0 {
		return Version{}, nil, fmt.Errorf("plugin %q: %w", name, ErrNoPrevious)
	}
	data, err := s.readVersion(name, hist[0])
	if err != nil {
		return Version{}, nil, err
	}
	return Version{Name: name, Hash: hist[0], Size: int64(len(data))}, data, nil
}

// Delete removes NAME.wasm. The removed module becomes the newest previous version, so
// Rollback restores it. The error wraps ErrNotFound when the plugin has no current module.
func (s *Store) Delete(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	if err := s.lock(); err != nil {
		return err
	}
	defer s.unlock()

	cur, curData, err := s.current(name)
	if err != nil {
		return err
	}
	if cur == "" {
		return fmt.Errorf("plugin %q: %w", name, ErrNotFound)
	}
	hist, err := s.readHistory(name)
	if err != nil {
		return err
	}
	if err := s.saveVersion(name, cur, curData); err != nil {
		return err
	}
	if err := s.setCurrent(name, "", nil); err != nil {
		return err
	}
	if err := s.writeHistory(name, prepend(hist, cur)); err != nil {
		return err
	}
	if err := s.root.Remove(name + ".wasm"); err != nil {
		return fmt.Errorf("plugin %q: %w", name, err)
	}
	delete(s.hashes, name)
	s.syncDir(".")
	return nil
}

// Get returns one plugin as List would. The error wraps ErrNotFound when the plugin has
// neither a current module nor a previous version.
func (s *Store) Get(name string) (Plugin, error) {
	if err := checkName(name); err != nil {
		return Plugin{}, err
	}
	if err := s.lock(); err != nil {
		return Plugin{}, err
	}
	defer s.unlock()
	p, err := s.describe(name)
	if err != nil {
		return Plugin{}, err
	}
	if p.Hash == "" && len(p.Previous) == 0 {
		return Plugin{}, fmt.Errorf("plugin %q: %w", name, ErrNotFound)
	}
	return p, nil
}

// List returns every plugin of the store sorted by name: each NAME.wasm with a valid name at
// the top level, and each deleted plugin that still has previous versions (with an empty
// Hash). Other files are ignored.
func (s *Store) List() ([]Plugin, error) {
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.unlock()

	names := map[string]bool{}
	entries, err := s.readDir(".")
	if err != nil {
		return nil, fmt.Errorf("plugin store %s: %w", s.dir, err)
	}
	for _, e := range entries {
		n, ok := strings.CutSuffix(e.Name(), ".wasm")
		if ok && ValidName(n) && e.Type().IsRegular() {
			names[n] = true
		}
	}
	vers, err := s.readDir(versionsDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("plugin store %s: %w", s.dir, err)
	}
	for _, e := range vers {
		if e.IsDir() && ValidName(e.Name()) {
			names[e.Name()] = true
		}
	}
	out := make([]Plugin, 0, len(names))
	for _, n := range slices.Sorted(maps.Keys(names)) {
		p, err := s.describe(n)
		if err != nil {
			return nil, err
		}
		if p.Hash != "" || len(p.Previous) > 0 {
			out = append(out, p)
		}
	}
	return out, nil
}

// describe builds a Plugin for name. s.mu must be held.
func (s *Store) describe(name string) (Plugin, error) {
	p := Plugin{Name: name}
	fi, err := s.root.Stat(name + ".wasm")
	switch {
	case err == nil:
		h, err := s.cachedHashOf(name, fi)
		if err != nil {
			return Plugin{}, err
		}
		p.Hash, p.Size, p.ModTime = h, fi.Size(), fi.ModTime()
	case !errors.Is(err, fs.ErrNotExist):
		return Plugin{}, fmt.Errorf("plugin %q: %w", name, err)
	}
	hist, _, err := s.rollbackHistory(name, p.Hash)
	if err != nil {
		return Plugin{}, err
	}
	p.Previous = hist
	if len(p.Previous) > MaxHistory {
		p.Previous = p.Previous[:MaxHistory]
	}
	return p, nil
}

// cachedHashOf returns the hash of NAME.wasm, reading the file only when its size or
// modification time changed since the last read. s.mu must be held.
func (s *Store) cachedHashOf(name string, fi fs.FileInfo) (string, error) {
	if c, ok := s.hashes[name]; ok && c.size == fi.Size() && c.modTime.Equal(fi.ModTime()) {
		return c.hash, nil
	}
	data, err := regularfile.ReadInRoot(s.root, name+".wasm", MaxFileBytes)
	if err != nil {
		return "", fmt.Errorf("plugin %q: %w", name, err)
	}
	h := Hash(data)
	s.hashes[name] = cachedHash{size: fi.Size(), modTime: fi.ModTime(), hash: h}
	return h, nil
}

// current reads NAME.wasm: its hash and bytes, or "" and nil when it does not exist.
func (s *Store) current(name string) (string, []byte, error) {
	data, err := regularfile.ReadInRoot(s.root, name+".wasm", MaxFileBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil, nil
	}
	if err != nil {
		return "", nil, fmt.Errorf("plugin %q: %w", name, err)
	}
	return Hash(data), data, nil
}

// version describes NAME.wasm after a write; hash is what was written.
func (s *Store) version(name, hash string) (Version, error) {
	fi, err := s.root.Stat(name + ".wasm")
	if err != nil {
		return Version{}, fmt.Errorf("plugin %q: %w", name, err)
	}
	s.hashes[name] = cachedHash{size: fi.Size(), modTime: fi.ModTime(), hash: hash}
	return Version{Name: name, Hash: hash, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// historyDir returns the folder of name's versions, relative to the store's folder.
func (s *Store) historyDir(name string) string {
	return filepath.Join(versionsDir, name)
}

// readDir lists dir (relative to the store's folder) sorted by name, as os.ReadDir does.
// s.mu must be held.
func (s *Store) readDir(dir string) ([]fs.DirEntry, error) {
	return fs.ReadDir(s.root.FS(), filepath.ToSlash(dir))
}

// readHistory returns the previous versions of name, newest first, leaving out lines that
// are not hashes and hashes whose file is missing.
func (s *Store) readHistory(name string) ([]string, error) {
	dir := s.historyDir(name)
	data, err := regularfile.ReadInRoot(s.root, filepath.Join(dir, historyFile), maxListBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("plugin %q: history: %w", name, err)
	}
	var hist []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		h := strings.TrimSpace(sc.Text())
		if !validHash(h) || slices.Contains(hist, h) {
			continue
		}
		if _, err := s.root.Stat(filepath.Join(dir, h+".wasm")); err != nil {
			continue
		}
		hist = append(hist, h)
	}
	return hist, nil
}

// writeHistory stores hist (trimmed to MaxHistory) and deletes version files no longer in
// it, except those this change took out of the list, which stay on disk unlisted so that
// Restore can undo the change (the next change deletes them): the version trimming pushed
// out (hist[MaxHistory]) and unlisted, the version the change made current. An empty history
// and nothing unlisted removes the plugin's folder under .versions.
func (s *Store) writeHistory(name string, hist []string, unlisted ...string) error {
	keep := slices.Clone(hist)
	if len(keep) > MaxHistory+1 {
		keep = keep[:MaxHistory+1]
	}
	keep = append(keep, unlisted...)
	if known := s.readCurrent(name); known != "" {
		keep = append(keep, known) // the copy of NAME.wasm, for a file dropped over it
	}
	if len(hist) > MaxHistory {
		hist = hist[:MaxHistory]
	}
	dir := s.historyDir(name)
	if len(keep) == 0 {
		// Nothing to keep, not even a current version: no NAME.wasm the store knows.
		if err := s.root.RemoveAll(dir); err != nil {
			return fmt.Errorf("plugin %q: history: %w", name, err)
		}
		return nil
	}
	if err := s.root.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("plugin %q: history: %w", name, err)
	}
	var b strings.Builder
	for _, h := range hist {
		b.WriteString(h)
		b.WriteByte('\n')
	}
	if err := s.writeAtomic(dir, historyFile, []byte(b.String())); err != nil {
		return fmt.Errorf("plugin %q: history: %w", name, err)
	}
	entries, err := s.readDir(dir)
	if err != nil {
		return fmt.Errorf("plugin %q: history: %w", name, err)
	}
	for _, e := range entries {
		h, ok := strings.CutSuffix(e.Name(), ".wasm")
		if ok && !slices.Contains(keep, h) {
			if err := s.root.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("plugin %q: history: %w", name, err)
			}
		}
	}
	return nil
}

// readCurrent returns the version the store knows as NAME.wasm (see currentFile), "" when none
// is recorded or its copy is missing.
func (s *Store) readCurrent(name string) string {
	b, err := regularfile.ReadInRoot(s.root, filepath.Join(s.historyDir(name), currentFile), maxListBytes)
	if err != nil {
		return ""
	}
	h := strings.TrimSpace(string(b))
	if !validHash(h) {
		return ""
	}
	if _, err := s.root.Stat(filepath.Join(s.historyDir(name), h+".wasm")); err != nil {
		return ""
	}
	return h
}

// setCurrent records hash as the version the store knows as NAME.wasm, first keeping a copy
// of data as its stored version when data is given (the copy must exist otherwise); "" clears
// the record. s.mu must be held.
func (s *Store) setCurrent(name, hash string, data []byte) error {
	path := filepath.Join(s.historyDir(name), currentFile)
	if hash == "" {
		if err := s.root.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("plugin %q: history: %w", name, err)
		}
		return nil
	}
	if data != nil {
		if err := s.saveVersion(name, hash, data); err != nil {
			return err
		}
	}
	if err := s.writeAtomic(s.historyDir(name), currentFile, []byte(hash+"\n")); err != nil {
		return fmt.Errorf("plugin %q: history: %w", name, err)
	}
	return nil
}

// saveVersion keeps data as a previous version of name (a no-op when already kept).
func (s *Store) saveVersion(name, hash string, data []byte) error {
	dir := s.historyDir(name)
	if _, err := s.root.Stat(filepath.Join(dir, hash+".wasm")); err == nil {
		return nil
	}
	if err := s.root.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("plugin %q: history: %w", name, err)
	}
	if err := s.writeAtomic(dir, hash+".wasm", data); err != nil {
		return fmt.Errorf("plugin %q: history: %w", name, err)
	}
	return nil
}

// readVersion reads a previous version and checks its bytes still match its hash.
func (s *Store) readVersion(name, hash string) ([]byte, error) {
	data, err := regularfile.ReadInRoot(s.root, filepath.Join(s.historyDir(name), hash+".wasm"), MaxFileBytes)
	if err != nil {
		return nil, fmt.Errorf("plugin %q: version %s: %w", name, hash, err)
	}
	if got := Hash(data); got != hash {
		return nil, fmt.Errorf("plugin %q: version %s: stored file is corrupt (its sha256 is %s)", name, hash, got)
	}
	return data, nil
}

func validHash(h string) bool {
	if len(h) != sha256.Size*2 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func prepend(hist []string, h string) []string {
	out := make([]string, 0, len(hist)+1)
	out = append(out, h)
	for _, x := range hist {
		if x != h {
			out = append(out, x)
		}
	}
	return out
}

// writeAtomic writes data to dir/name (dir relative to the store's folder) through a
// temporary file in dir (a dot file not ending in .wasm, so a watcher of *.wasm ignores it),
// synced, then renamed over the target. s.mu must be held.
func (s *Store) writeAtomic(dir, name string, data []byte) (err error) {
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmp := filepath.Join(dir, "."+name+".tmp-"+hex.EncodeToString(rnd[:]))
	f, err := s.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = s.root.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %s: %w", f.Name(), err)
	}
	if err = f.Chmod(0o644); err != nil {
		_ = f.Close()
		return fmt.Errorf("chmod %s: %w", f.Name(), err)
	}
	if err = f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("sync %s: %w", f.Name(), err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", f.Name(), err)
	}
	if err = s.root.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return err
	}
	s.syncDir(dir)
	return nil
}

// syncDir makes a rename or removal in dir (relative to the store's folder) durable where
// the platform can sync a directory; it is best effort, the rename itself already happened.
func (s *Store) syncDir(dir string) {
	d, err := s.root.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}
