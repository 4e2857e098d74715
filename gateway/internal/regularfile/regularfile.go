// Package regularfile reads files from folders someone untrusted may write: a tenant's
// folder (its tenant.yaml, its plugin files, the version history kept beside them) and the
// secret files a configuration names.
//
// os.ReadFile is not enough there. A named pipe in place of a file blocks the reader in
// open(2) until someone writes to it, which would stall a reload for good; a device such as
// /dev/zero never ends; a huge file is read whole into memory. Open refuses anything but a
// regular file without blocking (the open is non-blocking where the system has it, and the
// type is checked on the open file, so swapping the file between a check and the open does
// not help), and Read reads at most a bound. OpenIn and ReadIn also keep the file inside a
// folder: a symbolic link leading out of it (to another tenant's folder, to /etc) is refused
// by the opening itself, while links inside it (a Kubernetes ConfigMap's) work.
package regularfile

import (
	"fmt"
	"io"
	"io/fs"
	"os"
)

// Open opens path for reading if it is a regular file, and returns it with its FileInfo.
// Errors wrap the os error (fs.ErrNotExist for a missing file), or say that path is not a
// regular file.
func Open(path string) (*os.File, fs.FileInfo, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|openNonblock, 0)
	if err != nil {
		return nil, nil, err
	}
	return regular(f, path)
}

// regular returns f with its FileInfo if it is a regular file, and closes it otherwise.
func regular(f *os.File, path string) (*os.File, fs.FileInfo, error) {
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("%s is not a regular file (%s)", path, fi.Mode().Type())
	}
	return f, fi, nil
}

// TooLargeError is Read's error for a file larger than its bound.
type TooLargeError struct {
	Path string
	Size int64 // the size found; at least Max+1
	Max  int64
}

// Error implements error.
func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s is %d bytes, more than the %d allowed", e.Path, e.Size, e.Max)
}

// Read returns the contents of path, a regular file of at most max bytes (see Open). A larger
// file is a *TooLargeError, found from its size before anything is read (and while reading,
// should it grow).
func Read(path string, max int64) ([]byte, error) {
	f, fi, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readBounded(f, fi, path, max)
}

// readBounded reads f (path, of FileInfo fi) whole, up to max bytes.
func readBounded(f *os.File, fi fs.FileInfo, path string, max int64) ([]byte, error) {
	if fi.Size() > max {
		return nil, &TooLargeError{Path: path, Size: fi.Size(), Max: max}
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if int64(len(b)) > max {
		return nil, &TooLargeError{Path: path, Size: int64(len(b)), Max: max}
	}
	return b, nil
}
