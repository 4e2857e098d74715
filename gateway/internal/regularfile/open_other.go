//go:build !unix

package regularfile

// openNonblock is 0 where the system has no non-blocking open; Open still refuses what is
// not a regular file once opened.
const openNonblock = 0
