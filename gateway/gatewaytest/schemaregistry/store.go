package schemaregistry

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
)

// apiError is an error the registry answers with: an HTTP status and
// Confluent's error code and message.
type apiError struct {
	status int
	code   int
	msg    string
}

func (e *apiError) Error() string { return fmt.Sprintf("%s (error_code %d)", e.msg, e.code) }

func errSubjectNotFound(subject string) *apiError {
	return &apiError{http.StatusNotFound, 40401, fmt.Sprintf("Subject '%s' not found.", subject)}
}

func errVersionNotFound(subject string, version int) *apiError {
	return &apiError{http.StatusNotFound, 40402, fmt.Sprintf("Version %d not found for subject '%s'.", version, subject)}
}

func errSchemaNotFound(what string) *apiError {
	return &apiError{http.StatusNotFound, 40403, "Schema " + what + " not found"}
}

func errInvalidSchema(format string, a ...any) *apiError {
	return &apiError{http.StatusUnprocessableEntity, 42201, "Invalid schema: " + fmt.Sprintf(format, a...)}
}

func errInvalidVersion(v string) *apiError {
	return &apiError{http.StatusUnprocessableEntity, 42202, fmt.Sprintf("The specified version '%s' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\"", v)}
}

func errInvalidLevel(level string) *apiError {
	return &apiError{http.StatusUnprocessableEntity, 42203, fmt.Sprintf("Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive; got %q", level)}
}

// schemaRecord is one registered schema, under one id, shared by every
// subject version that holds it.
type schemaRecord struct {
	id     int
	schema Schema
	// parsed is the Avro schema once parsed (with its references), for
	// compatibility checks; nil for the other types.
	parsed any
}

type version struct {
	version int
	id      int
	deleted bool
}

type subject struct {
	versions []version
	level    string // "" when the subject has no level of its own
}

// live returns the subject's versions that are not soft-deleted (all of
// them with deleted).
func (s *subject) live(deleted bool) []version {
	var out []version
	for _, v := range s.versions {
		if deleted || !v.deleted {
			out = append(out, v)
		}
	}
	return out
}

// store is the registry's state behind one lock.
type store struct {
	mu       sync.Mutex
	level    string
	subjects map[string]*subject
	byID     map[int]*schemaRecord
	byKey    map[string]*schemaRecord
	nextID   int
}

func newStore(level string) *store {
	return &store{
		level:    level,
		subjects: map[string]*subject{},
		byID:     map[int]*schemaRecord{},
		byKey:    map[string]*schemaRecord{},
		nextID:   1,
	}
}

func (st *store) setLevel(subj, level string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if subj == "" {
		st.level = level
		return
	}
	s := st.subjects[subj]
	if s == nil {
		s = &subject{}
		st.subjects[subj] = s
	}
	s.level = level
}

// levelOf is the subject's level, else the global one. st.mu is held.
func (st *store) levelOf(subj string) string {
	if s := st.subjects[subj]; s != nil && s.level != "" {
		return s.level
	}
	return st.level
}

// findVersion resolves a version of a subject: -1 is the latest live one.
// st.mu is held.
func (st *store) findVersion(subj string, v int, deleted bool) (version, *apiError) {
	s := st.subjects[subj]
	if s == nil || len(s.live(deleted)) == 0 {
		return version{}, errSubjectNotFound(subj)
	}
	live := s.live(deleted)
	if v == -1 {
		return live[len(live)-1], nil
	}
	for _, x := range live {
		if x.version == v {
			return x, nil
		}
	}
	return version{}, errVersionNotFound(subj, v)
}

// register adds s to subj, or returns the id it already has there.
func (st *store) register(subj string, s Schema) (int, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	s = withDefaultType(s)
	key, err := identity(s)
	if err != nil {
		return 0, err
	}
	sub := st.subjects[subj]
	if sub != nil {
		for _, v := range sub.live(false) {
			if st.byID[v.id] == st.byKey[key] && st.byKey[key] != nil {
				return v.id, nil
			}
		}
	}
	rec := st.byKey[key]
	if rec == nil {
		parsed, err := st.parse(s)
		if err != nil {
			return 0, err
		}
		rec = &schemaRecord{schema: s, parsed: parsed}
	}
	if sub != nil {
		if msgs := st.check(rec, subj, sub.live(false), st.levelOf(subj)); len(msgs) > 0 {
			return 0, &apiError{http.StatusConflict, 409, fmt.Sprintf("Schema being registered is incompatible with an earlier schema for subject %q, details: [%s]", subj, strings.Join(msgs, "; "))}
		}
	}
	if rec.id == 0 {
		rec.id = st.nextID
		st.nextID++
		st.byID[rec.id] = rec
		st.byKey[key] = rec
	}
	if sub == nil {
		sub = &subject{}
		st.subjects[subj] = sub
	}
	next := 1
	if n := len(sub.versions); n > 0 {
		next = sub.versions[n-1].version + 1
	}
	sub.versions = append(sub.versions, version{version: next, id: rec.id})
	return rec.id, nil
}

// parse validates s, its references resolved. st.mu is held.
func (st *store) parse(s Schema) (any, *apiError) {
	refs, aerr := st.resolve(s.References, 0)
	if aerr != nil {
		return nil, aerr
	}
	parsed, err := parseSchema(s, refs)
	if err != nil {
		return nil, errInvalidSchema("%v", err)
	}
	return parsed, nil
}

// resolve returns the schemas s's references name, each after its own
// references (depth first), so that parsing them in order defines every
// named type before its use. st.mu is held.
func (st *store) resolve(refs []Reference, depth int) ([]Schema, *apiError) {
	if depth > 32 {
		return nil, errInvalidSchema("references nested deeper than 32 levels")
	}
	var out []Schema
	for _, ref := range refs {
		v, aerr := st.findVersion(ref.Subject, ref.Version, false)
		if aerr != nil {
			return nil, errInvalidSchema("reference %q to subject %q version %d: %s", ref.Name, ref.Subject, ref.Version, aerr.msg)
		}
		rec := st.byID[v.id]
		deeper, aerr := st.resolve(rec.schema.References, depth+1)
		if aerr != nil {
			return nil, aerr
		}
		out = append(out, deeper...)
		out = append(out, rec.schema)
	}
	return out, nil
}

// check returns why rec is incompatible with the subject's versions at
// level (nothing when it is compatible). st.mu is held.
func (st *store) check(rec *schemaRecord, subj string, versions []version, level string) []string {
	if level == CompatNone || len(versions) == 0 {
		return nil
	}
	if !strings.HasSuffix(level, "_TRANSITIVE") {
		versions = versions[len(versions)-1:]
	}
	var msgs []string
	for _, v := range slices.Backward(versions) {
		old := st.byID[v.id]
		for _, m := range compatible(rec, old, strings.TrimSuffix(level, "_TRANSITIVE")) {
			msgs = append(msgs, fmt.Sprintf("version %d of subject %q: %s", v.version, subj, m))
		}
	}
	return msgs
}

// lookup finds s among subj's versions.
func (st *store) lookup(subj string, s Schema, deleted bool) (version, *schemaRecord, *apiError) {
	st.mu.Lock()
	defer st.mu.Unlock()
	s = withDefaultType(s)
	sub := st.subjects[subj]
	if sub == nil || len(sub.live(deleted)) == 0 {
		return version{}, nil, errSubjectNotFound(subj)
	}
	key, err := identity(s)
	if err != nil {
		return version{}, nil, err
	}
	rec := st.byKey[key]
	if rec != nil {
		for _, v := range slices.Backward(sub.live(deleted)) {
			if v.id == rec.id {
				return v, rec, nil
			}
		}
	}
	return version{}, nil, errSchemaNotFound("")
}

// subjectNames lists subjects with a live version (any version with
// deleted), sorted.
func (st *store) subjectNames(deleted bool) []string {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := []string{}
	for name, s := range st.subjects {
		if len(s.live(deleted)) > 0 {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

func withDefaultType(s Schema) Schema {
	if s.Type == "" {
		s.Type = TypeAvro
	}
	return s
}

func validLevel(level string) bool {
	switch level {
	case CompatNone, CompatBackward, CompatBackwardTransitive, CompatForward,
		CompatForwardTransitive, CompatFull, CompatFullTransitive:
		return true
	}
	return false
}
