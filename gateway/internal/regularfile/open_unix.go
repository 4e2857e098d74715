//go:build unix

package regularfile

import "syscall"

// openNonblock makes open(2) of a named pipe return at once instead of waiting for a writer;
// reading a regular file is not affected by it.
const openNonblock = syscall.O_NONBLOCK
