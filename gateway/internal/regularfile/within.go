package regularfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// OpenIn opens name, a path relative to dir, like Open, and refuses it when name or a
// symbolic link met on the way leads out of dir. Links that stay inside dir are followed,
// so a Kubernetes ConfigMap mounted as the folder (each file a link to ..data/FILE, ..data a
// link to a timestamped folder beside it) reads as usual, while a link to another tenant's
// folder or to /etc does not. The check is made by the opening itself (os.Root), not before
// it, so replacing a file or a folder by a link between a check and the open does not help.
func OpenIn(dir, name string) (*os.File, fs.FileInfo, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, nil, err
	}
	defer root.Close()
	return OpenInRoot(root, name)
}

// OpenInRoot is OpenIn with the folder already open as root.
func OpenInRoot(root *os.Root, name string) (*os.File, fs.FileInfo, error) {
	path := filepath.Join(root.Name(), name)
	f, err := root.OpenFile(name, os.O_RDONLY|openNonblock, 0)
	if err != nil {
		if escapes(root.Name(), path) {
			return nil, nil, &EscapeError{Path: path, Dir: root.Name()}
		}
		return nil, nil, err
	}
	return regular(f, path)
}

// ReadIn is Read of name within dir (see OpenIn).
func ReadIn(dir, name string, max int64) ([]byte, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	return ReadInRoot(root, name, max)
}

// ReadInRoot is ReadIn with the folder already open as root.
func ReadInRoot(root *os.Root, name string, max int64) ([]byte, error) {
	f, fi, err := OpenInRoot(root, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readBounded(f, fi, filepath.Join(root.Name(), name), max)
}

// EscapeError is OpenIn's error for a path that leads out of its folder through a symbolic
// link (or "..").
type EscapeError struct {
	Path string // the path asked for
	Dir  string // the folder it must stay in
}

// Error implements error.
func (e *EscapeError) Error() string {
	return fmt.Sprintf("%s leads out of %s through a symbolic link: refused, files here must stay inside their folder", e.Path, e.Dir)
}

// escapes tells, for the error message only, whether path resolves outside dir. os.Root
// reports an escape with an unexported error; resolving the links again says it plainly.
func escapes(dir, path string) bool {
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return false
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		var pe *fs.PathError
		// A dangling link: resolve what it points at by hand, one level.
		if errors.As(err, &pe) {
			if target, lerr := os.Readlink(path); lerr == nil {
				if !filepath.IsAbs(target) {
					target = filepath.Join(filepath.Dir(path), target)
				}
				real = filepath.Clean(target)
			}
		}
		if real == "" {
			return false
		}
	}
	rel, err := filepath.Rel(realDir, real)
	return err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator))
}
