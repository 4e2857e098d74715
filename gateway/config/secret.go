package config

import (
	"fmt"
	"io"
	"log/slog"
)

// LogValue implements slog.LogValuer: a set secret logs as "[redacted]", an empty one as "".
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Format implements fmt.Formatter so that every verb (%v, %+v, %#v, %s, %q, %x, %d, …)
// prints the redacted form, also when the Secret is a field of a printed struct.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		_, _ = fmt.Fprintf(f, "%q", s.String())
		return
	}
	_, _ = io.WriteString(f, s.String())
}

var (
	_ fmt.Stringer   = Secret("")
	_ fmt.Formatter  = Secret("")
	_ slog.LogValuer = Secret("")
)

// ReadSecretFile reads a *_file secret the way Load does (admin.token_file, a tenant's
// admin_token_file, …): a regular file of at most 64 KiB, trailing newlines removed, not
// empty. Errors name the file, never its contents. The gateway uses it to re-read token files
// when they change.
func ReadSecretFile(path string) (Secret, error) {
	v, err := readSecretFile(path)
	return Secret(v), err
}
