package jsonfield

// Outcomes of a host-accelerated call (see host_wasip1.go). hostNone means
// the host path was not taken (native builds, or a document too large for
// it) and the Go implementation must run.
const (
	hostNone = iota
	hostOK
	hostNotFound
	hostMalformed
)
