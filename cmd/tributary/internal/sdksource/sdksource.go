package sdksource

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tributary-gw/tributary/sdk/abi"
)

// ArchiveName is the generated archive's file name in this package's folder.
const ArchiveName = "sdk.tar.gz"

// Module is the SDK's module path and Version the version of the carried copy: the
// require line a plugin's go.mod needs.
const (
	Module  = abi.ModulePath
	Version = abi.ModuleVersion
)

//go:embed sdk.tar.gz
var archive []byte

var unpacked struct {
	once  sync.Once
	files map[string][]byte
	err   error
}

// Files returns the carried SDK's files by path relative to the module root, '/'-separated.
// The map is shared: do not change it.
//
// # Errors
//
// Files returns an error when the embedded archive is corrupt (a broken build).
func Files() (map[string][]byte, error) {
	unpacked.once.Do(func() { unpacked.files, unpacked.err = Unpack(archive) })
	return unpacked.files, unpacked.err
}

// Names returns the carried files' paths, sorted.
func Names() ([]string, error) {
	files, err := Files()
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	return names, nil
}

// GoVersion returns the go line of the carried go.mod ("1.26"): the least Go a plugin's module
// must declare.
//
// # Errors
//
// GoVersion returns an error when the carried go.mod has no go line.
func GoVersion() (string, error) {
	files, err := Files()
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(files["go.mod"]), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "go "); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", errors.New("sdksource: the carried go.mod has no go line")
}

// Write writes the carried SDK module into dir, creating it; dir must not exist yet, so
// nothing is ever overwritten. It returns the files written, relative to dir with '/'
// separators, sorted. On an error it removes what it created.
//
// # Errors
//
// Write returns an error naming dir when it exists or cannot be written.
func Write(dir string) ([]string, error) {
	names, err := Names()
	if err != nil {
		return nil, err
	}
	if _, err := os.Lstat(dir); err == nil {
		return nil, fmt.Errorf("SDK folder %s already exists", dir)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, fmt.Errorf("SDK folder %s: %w", dir, err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("SDK folder %s: %w", dir, err)
	}
	files, _ := Files()
	for _, n := range names {
		p := filepath.Join(dir, filepath.FromSlash(n))
		err := os.MkdirAll(filepath.Dir(p), 0o755)
		if err == nil {
			err = os.WriteFile(p, files[n], 0o644)
		}
		if err != nil {
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("SDK file %s: %w", p, err)
		}
	}
	return names, nil
}

// Carried reports whether the file at rel (relative to the SDK module's root, '/'-separated)
// belongs in the copy: go.mod, the top-level *.md documents and non-test .go files, outside
// testdata, hidden and '_' folders.
func Carried(rel string) bool {
	dir, base := path.Split(rel)
	for _, elem := range strings.Split(strings.TrimSuffix(dir, "/"), "/") {
		if elem == "testdata" || elem == "node_modules" || strings.HasPrefix(elem, ".") || strings.HasPrefix(elem, "_") {
			return false
		}
	}
	switch {
	case rel == "go.mod":
		return true
	case dir == "" && strings.HasSuffix(base, ".md"):
		return true
	default:
		return strings.HasSuffix(base, ".go") && !strings.HasSuffix(base, "_test.go") && !strings.HasPrefix(base, ".")
	}
}

// Collect reads the files of the SDK module in root that Carried accepts, by relative path.
//
// # Errors
//
// Collect returns an error naming root when it cannot be read or has no go.mod.
func Collect(root string) (map[string][]byte, error) {
	files := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel != "." && !Carried(rel+"/x.go") {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !Carried(rel) {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files[rel] = b
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("SDK source %s: %w", root, err)
	}
	if _, ok := files["go.mod"]; !ok {
		return nil, fmt.Errorf("SDK source %s: no go.mod", root)
	}
	return files, nil
}

// Pack returns the archive of the SDK module in root (see Collect): a gzip-compressed tar of
// its files in path order, each with mode 0644 and a fixed time, so the same source packs to
// the same bytes.
//
// # Errors
//
// Pack returns Collect's errors.
func Pack(root string) ([]byte, error) {
	files, err := Collect(root)
	if err != nil {
		return nil, err
	}
	return PackFiles(files)
}

// PackFiles returns the archive of files (by '/'-separated relative path), as Pack writes it:
// the same files pack to the same bytes. The AssemblyScript SDK's copy (pluginkit) is packed
// with it too.
//
// # Errors
//
// PackFiles returns an error only when writing to memory fails (never, in practice).
func PackFiles(files map[string][]byte) ([]byte, error) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	tw := tar.NewWriter(zw)
	epoch := time.Unix(0, 0).UTC()
	for _, n := range names {
		hdr := &tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), ModTime: epoch, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(files[n]); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Unpack reads an archive written by Pack.
//
// # Errors
//
// Unpack returns an error for anything but a gzip-compressed tar of regular files with clean
// relative paths.
func Unpack(b []byte) (map[string][]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("sdksource: %w", err)
	}
	tr := tar.NewReader(zr)
	files := map[string][]byte{}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files, nil
		}
		if err != nil {
			return nil, fmt.Errorf("sdksource: %w", err)
		}
		if hdr.Typeflag != tar.TypeReg || !fs.ValidPath(hdr.Name) {
			return nil, fmt.Errorf("sdksource: unexpected entry %q", hdr.Name)
		}
		content, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("sdksource: %s: %w", hdr.Name, err)
		}
		files[hdr.Name] = content
	}
}
