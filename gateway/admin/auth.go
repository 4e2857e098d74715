package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode"
)

// MinTokenLen is the shortest token Auth.Validate accepts, in bytes.
const MinTokenLen = 16

// Auth holds the bearer tokens of the admin API. Token values are secrets: the admin package
// never logs them, never echoes them in a response, and compares them in constant time.
//
// The zero value has no tokens: every /api/v1 endpoint then answers 401, except
// /api/v1/status, which stays open while no Operator token is set (as it was before tokens
// existed).
type Auth struct {
	// Operator is the token that may call every endpoint, for every tenant and for the
	// top-level routes and plugins.dir. Empty means no operator token.
	Operator string
	// Tenants maps a tenant's name to its token. A tenant token sees and changes only its
	// own tenant. Empty tokens are ignored.
	Tenants map[string]string
	// OperatorUnavailable, with an empty Operator, says an operator token is configured but
	// cannot be used now (its file is unreadable or empty): nobody authenticates as the
	// operator, and what is open only while no operator token exists (/api/v1/status, and
	// /metrics under ProtectMetrics) stays closed. Fail closed.
	OperatorUnavailable bool
}

// Validate checks the tokens: each set token is at least MinTokenLen bytes with no
// whitespace or control characters, no two principals share a token, and tenant names are
// non-empty and not TopLevel. Errors name the operator or the tenant, never a token's value.
func (a Auth) Validate() error {
	var errs []error
	seen := map[[sha256.Size]byte]string{}
	check := func(who, tok string) {
		if tok == "" {
			return
		}
		switch {
		case len(tok) < MinTokenLen:
			errs = append(errs, fmt.Errorf("%s: admin token is shorter than %d bytes", who, MinTokenLen))
		case strings.IndexFunc(tok, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
			errs = append(errs, fmt.Errorf("%s: admin token contains whitespace or control characters", who))
		}
		d := sha256.Sum256([]byte(tok))
		if other, dup := seen[d]; dup {
			errs = append(errs, fmt.Errorf("%s: admin token is the same as the %s's", who, other))
			return
		}
		seen[d] = who
	}
	check("operator", a.Operator)
	names := make([]string, 0, len(a.Tenants))
	for n := range a.Tenants {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if n == "" || n == TopLevel {
			errs = append(errs, fmt.Errorf("tenant %q: not a tenant name for an admin token", n))
			continue
		}
		check(fmt.Sprintf("tenant %q", n), a.Tenants[n])
	}
	return errors.Join(errs...)
}

// principal is who a request authenticated as.
type principal struct {
	operator bool
	tenant   string // set when !operator
}

// String names the principal for logs: "operator" or "tenant NAME". Never the token.
func (p principal) String() string {
	if p.operator {
		return "operator"
	}
	return "tenant " + p.tenant
}

// canAccess reports whether p may see and change tenant (the API's path segment).
func (p principal) canAccess(tenant string) bool {
	return p.operator || (tenant != TopLevel && tenant == p.tenant)
}

// authenticator holds the sha256 digests of the configured tokens; it keeps no token itself.
type authenticator struct {
	entries     []authEntry
	hasOperator bool
}

type authEntry struct {
	digest [sha256.Size]byte
	who    principal
}

func newAuthenticator(a Auth) *authenticator {
	au := &authenticator{hasOperator: a.OperatorUnavailable}
	if a.Operator != "" {
		au.entries = append(au.entries, authEntry{digest: sha256.Sum256([]byte(a.Operator)), who: principal{operator: true}})
		au.hasOperator = true
	}
	for name, tok := range a.Tenants {
		if tok == "" || name == "" || name == TopLevel {
			continue
		}
		au.entries = append(au.entries, authEntry{digest: sha256.Sum256([]byte(tok)), who: principal{tenant: name}})
	}
	return au
}

// authFailure says why a request did not authenticate, for the WWW-Authenticate header and
// the log; it never carries the token.
type authFailure int

const (
	authOK authFailure = iota
	authMissing
	authMalformed
	authUnknown
)

func (f authFailure) String() string {
	switch f {
	case authMissing:
		return "no bearer token"
	case authMalformed:
		return "malformed Authorization header"
	case authUnknown:
		return "unknown token"
	}
	return "ok"
}

// authenticate finds the principal of r's bearer token. Both sides are compared as sha256
// digests, so the comparison is constant time and independent of the tokens' lengths, and
// every configured token is compared (no early exit). A token matching two principals (a
// misconfiguration Auth.Validate reports) authenticates as neither.
func (au *authenticator) authenticate(r *http.Request) (principal, authFailure) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return principal{}, authMissing
	}
	scheme, tok, ok := strings.Cut(h, " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return principal{}, authMalformed
	}
	d := sha256.Sum256([]byte(tok))
	var found principal
	matches := 0
	for _, e := range au.entries {
		if subtle.ConstantTimeCompare(d[:], e.digest[:]) == 1 {
			found = e.who
			matches++
		}
	}
	if matches != 1 {
		return principal{}, authUnknown
	}
	return found, authOK
}
