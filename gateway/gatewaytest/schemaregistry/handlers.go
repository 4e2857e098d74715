package schemaregistry

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// contentType is the registry's media type for every JSON answer.
const contentType = "application/vnd.schemaregistry.v1+json"

// schemaRequest is the body of a registration, lookup or compatibility
// check. Other fields (id, version, metadata, ruleSet) are accepted and
// ignored.
type schemaRequest struct {
	Schema     string      `json:"schema"`
	SchemaType string      `json:"schemaType"`
	References []Reference `json:"references"`
}

// subjectVersion is the answer for one version of a subject.
type subjectVersion struct {
	Subject    string      `json:"subject"`
	Version    int         `json:"version"`
	ID         int         `json:"id"`
	SchemaType string      `json:"schemaType,omitempty"`
	References []Reference `json:"references,omitempty"`
	Schema     string      `json:"schema"`
}

func (r *Registry) routes() http.Handler {
	mux := http.NewServeMux()
	h := func(pattern string, f func(*http.Request) (any, *apiError)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, req *http.Request) {
			v, aerr := f(req)
			if aerr != nil {
				writeError(w, aerr.status, aerr.code, aerr.msg)
				return
			}
			if raw, ok := v.(rawText); ok {
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
				io.WriteString(w, string(raw))
				return
			}
			writeJSON(w, http.StatusOK, v)
		})
	}
	st := r.store
	h("GET /{$}", func(*http.Request) (any, *apiError) { return struct{}{}, nil })
	h("GET /schemas/types", func(*http.Request) (any, *apiError) { return []string{TypeJSON, TypeProtobuf, TypeAvro}, nil })
	h("GET /subjects", func(req *http.Request) (any, *apiError) { return st.subjectNames(flag(req, "deleted")), nil })
	h("POST /subjects/{subject}/versions", st.handleRegister)
	h("POST /subjects/{subject}", st.handleLookup)
	h("GET /subjects/{subject}/versions", st.handleVersions)
	h("GET /subjects/{subject}/versions/{version}", st.handleVersion)
	h("GET /subjects/{subject}/versions/{version}/schema", func(req *http.Request) (any, *apiError) {
		v, aerr := st.handleVersion(req)
		if aerr != nil {
			return nil, aerr
		}
		return rawText(v.(subjectVersion).Schema), nil
	})
	h("GET /subjects/{subject}/versions/{version}/referencedby", st.handleReferencedBy)
	h("DELETE /subjects/{subject}", st.handleDeleteSubject)
	h("DELETE /subjects/{subject}/versions/{version}", st.handleDeleteVersion)
	h("GET /schemas/ids/{id}", func(req *http.Request) (any, *apiError) {
		rec, aerr := st.byIDParam(req)
		if aerr != nil {
			return nil, aerr
		}
		return struct {
			SchemaType string      `json:"schemaType,omitempty"`
			References []Reference `json:"references,omitempty"`
			Schema     string      `json:"schema"`
		}{typeField(rec.schema.Type), rec.schema.References, rec.schema.Text}, nil
	})
	h("GET /schemas/ids/{id}/schema", func(req *http.Request) (any, *apiError) {
		rec, aerr := st.byIDParam(req)
		if aerr != nil {
			return nil, aerr
		}
		return rawText(rec.schema.Text), nil
	})
	h("GET /schemas/ids/{id}/subjects", func(req *http.Request) (any, *apiError) {
		uses, aerr := st.usages(req)
		if aerr != nil {
			return nil, aerr
		}
		out := []string{}
		for _, u := range uses {
			if !slices.Contains(out, u.Subject) {
				out = append(out, u.Subject)
			}
		}
		return out, nil
	})
	h("GET /schemas/ids/{id}/versions", func(req *http.Request) (any, *apiError) {
		uses, aerr := st.usages(req)
		if aerr != nil {
			return nil, aerr
		}
		type sv struct {
			Subject string `json:"subject"`
			Version int    `json:"version"`
		}
		out := []sv{}
		for _, u := range uses {
			out = append(out, sv{u.Subject, u.Version})
		}
		return out, nil
	})
	h("POST /compatibility/subjects/{subject}/versions/{version}", st.handleCompatibility)
	h("POST /compatibility/subjects/{subject}/versions", st.handleCompatibility)
	h("GET /config", func(*http.Request) (any, *apiError) {
		st.mu.Lock()
		defer st.mu.Unlock()
		return map[string]string{"compatibilityLevel": st.level}, nil
	})
	h("GET /config/{subject}", st.handleGetConfig)
	h("PUT /config", st.handlePutConfig)
	h("PUT /config/{subject}", st.handlePutConfig)
	h("DELETE /config", st.handleDeleteConfig)
	h("DELETE /config/{subject}", st.handleDeleteConfig)
	h("GET /mode", func(*http.Request) (any, *apiError) { return map[string]string{"mode": "READWRITE"}, nil })
	mux.HandleFunc("/", func(w http.ResponseWriter, req *http.Request) {
		writeError(w, http.StatusNotFound, 404, "HTTP 404 Not Found")
	})
	return mux
}

// rawText is an answer sent as text, not JSON (the .../schema endpoints).
type rawText string

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error_code":500,"message":"encoding the answer failed"}`)
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	w.Write(b)
}

func writeError(w http.ResponseWriter, status, code int, msg string) {
	writeJSON(w, status, struct {
		ErrorCode int    `json:"error_code"`
		Message   string `json:"message"`
	}{code, msg})
}

// typeField is the schemaType field of an answer: absent for Avro, as the
// registry writes it.
func typeField(t string) string {
	if t == TypeAvro {
		return ""
	}
	return t
}

func flag(req *http.Request, name string) bool {
	b, _ := strconv.ParseBool(req.URL.Query().Get(name))
	return b
}

func decodeSchema(req *http.Request) (Schema, *apiError) {
	var body schemaRequest
	if err := json.NewDecoder(io.LimitReader(req.Body, 8<<20)).Decode(&body); err != nil {
		return Schema{}, &apiError{http.StatusUnprocessableEntity, 42201, "Invalid schema: request body: " + err.Error()}
	}
	if strings.TrimSpace(body.Schema) == "" {
		return Schema{}, errInvalidSchema("empty schema")
	}
	return Schema{Type: strings.ToUpper(body.SchemaType), Text: body.Schema, References: body.References}, nil
}

// versionParam parses {version}: "latest" and -1 are -1, else 1..2^31-1.
func versionParam(req *http.Request) (int, *apiError) {
	s := req.PathValue("version")
	if s == "latest" || s == "-1" {
		return -1, nil
	}
	v, err := strconv.ParseInt(s, 10, 32)
	if err != nil || v < 1 {
		return 0, errInvalidVersion(s)
	}
	return int(v), nil
}

func (st *store) handleRegister(req *http.Request) (any, *apiError) {
	s, aerr := decodeSchema(req)
	if aerr != nil {
		return nil, aerr
	}
	id, err := st.register(req.PathValue("subject"), s)
	if err != nil {
		return nil, err.(*apiError)
	}
	return map[string]int{"id": id}, nil
}

func (st *store) handleLookup(req *http.Request) (any, *apiError) {
	s, aerr := decodeSchema(req)
	if aerr != nil {
		return nil, aerr
	}
	subj := req.PathValue("subject")
	v, rec, aerr := st.lookup(subj, s, flag(req, "deleted"))
	if aerr != nil {
		return nil, aerr
	}
	return subjectVersion{subj, v.version, rec.id, typeField(rec.schema.Type), rec.schema.References, rec.schema.Text}, nil
}

func (st *store) handleVersions(req *http.Request) (any, *apiError) {
	st.mu.Lock()
	defer st.mu.Unlock()
	subj := req.PathValue("subject")
	s := st.subjects[subj]
	if s == nil || len(s.live(flag(req, "deleted"))) == 0 {
		return nil, errSubjectNotFound(subj)
	}
	out := []int{}
	for _, v := range s.live(flag(req, "deleted")) {
		out = append(out, v.version)
	}
	return out, nil
}

func (st *store) handleVersion(req *http.Request) (any, *apiError) {
	n, aerr := versionParam(req)
	if aerr != nil {
		return nil, aerr
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	subj := req.PathValue("subject")
	v, aerr := st.findVersion(subj, n, flag(req, "deleted"))
	if aerr != nil {
		return nil, aerr
	}
	rec := st.byID[v.id]
	return subjectVersion{subj, v.version, rec.id, typeField(rec.schema.Type), rec.schema.References, rec.schema.Text}, nil
}

func (st *store) handleReferencedBy(req *http.Request) (any, *apiError) {
	n, aerr := versionParam(req)
	if aerr != nil {
		return nil, aerr
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	subj := req.PathValue("subject")
	v, aerr := st.findVersion(subj, n, false)
	if aerr != nil {
		return nil, aerr
	}
	out := []int{}
	for _, id := range st.referrers(subj, v.version) {
		out = append(out, id)
	}
	return out, nil
}

// referrers lists the ids of live schemas referring to subj's version,
// sorted. st.mu is held.
func (st *store) referrers(subj string, version int) []int {
	var out []int
	for _, s := range st.subjects {
		for _, v := range s.live(false) {
			for _, ref := range st.byID[v.id].schema.References {
				if ref.Subject == subj && ref.Version == version && !slices.Contains(out, v.id) {
					out = append(out, v.id)
				}
			}
		}
	}
	sort.Ints(out)
	return out
}

func (st *store) handleDeleteSubject(req *http.Request) (any, *apiError) {
	st.mu.Lock()
	defer st.mu.Unlock()
	subj := req.PathValue("subject")
	s := st.subjects[subj]
	if s == nil || len(s.versions) == 0 {
		return nil, errSubjectNotFound(subj)
	}
	permanent := flag(req, "permanent")
	out := []int{}
	if permanent {
		if len(s.live(false)) > 0 {
			return nil, &apiError{http.StatusNotFound, 40405, "Subject '" + subj + "' was not deleted first before being permanently deleted"}
		}
		for _, v := range s.versions {
			out = append(out, v.version)
		}
		delete(st.subjects, subj)
		return out, nil
	}
	if len(s.live(false)) == 0 {
		return nil, &apiError{http.StatusNotFound, 40404, "Subject '" + subj + "' was soft deleted.Set permanent=true to delete permanently"}
	}
	for i := range s.versions {
		if !s.versions[i].deleted {
			s.versions[i].deleted = true
			out = append(out, s.versions[i].version)
		}
	}
	return out, nil
}

func (st *store) handleDeleteVersion(req *http.Request) (any, *apiError) {
	n, aerr := versionParam(req)
	if aerr != nil {
		return nil, aerr
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	subj := req.PathValue("subject")
	permanent := flag(req, "permanent")
	v, aerr := st.findVersion(subj, n, permanent)
	if aerr != nil {
		return nil, aerr
	}
	s := st.subjects[subj]
	i := slices.IndexFunc(s.versions, func(x version) bool { return x.version == v.version })
	if permanent {
		if !v.deleted {
			return nil, &apiError{http.StatusNotFound, 40407, "Subject '" + subj + "' Version " + strconv.Itoa(v.version) + " was not deleted first before being permanently deleted"}
		}
		s.versions = slices.Delete(s.versions, i, i+1)
		return v.version, nil
	}
	if refs := st.referrers(subj, v.version); len(refs) > 0 {
		return nil, &apiError{http.StatusUnprocessableEntity, 42206, "One or more references exist to the schema {subject=" + subj + ",version=" + strconv.Itoa(v.version) + "}"}
	}
	s.versions[i].deleted = true
	return v.version, nil
}

func (st *store) byIDParam(req *http.Request) (*schemaRecord, *apiError) {
	id, err := strconv.Atoi(req.PathValue("id"))
	st.mu.Lock()
	defer st.mu.Unlock()
	rec := st.byID[id]
	if err != nil || rec == nil {
		return nil, errSchemaNotFound(req.PathValue("id"))
	}
	return rec, nil
}

// usages lists the live subject versions holding the schema with id
// {id}, by subject then version.
func (st *store) usages(req *http.Request) ([]subjectVersion, *apiError) {
	rec, aerr := st.byIDParam(req)
	if aerr != nil {
		return nil, aerr
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	var out []subjectVersion
	for name, s := range st.subjects {
		for _, v := range s.live(flag(req, "deleted")) {
			if v.id == rec.id {
				out = append(out, subjectVersion{Subject: name, Version: v.version, ID: v.id})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Subject != out[j].Subject {
			return out[i].Subject < out[j].Subject
		}
		return out[i].Version < out[j].Version
	})
	return out, nil
}

func (st *store) handleCompatibility(req *http.Request) (any, *apiError) {
	s, aerr := decodeSchema(req)
	if aerr != nil {
		return nil, aerr
	}
	s = withDefaultType(s)
	if _, aerr := identity(s); aerr != nil {
		return nil, aerr
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	subj := req.PathValue("subject")
	parsed, aerr := st.parse(s)
	if aerr != nil {
		return nil, aerr
	}
	rec := &schemaRecord{schema: s, parsed: parsed}
	level := st.levelOf(subj)
	var against []version
	if req.PathValue("version") != "" {
		n, aerr := versionParam(req)
		if aerr != nil {
			return nil, aerr
		}
		v, aerr := st.findVersion(subj, n, false)
		if aerr != nil {
			return nil, aerr
		}
		against = []version{v}
		level = strings.TrimSuffix(level, "_TRANSITIVE")
	} else if sub := st.subjects[subj]; sub != nil {
		against = sub.live(false)
	}
	msgs := st.check(rec, subj, against, level)
	out := struct {
		Is       bool     `json:"is_compatible"`
		Messages []string `json:"messages,omitempty"`
	}{Is: len(msgs) == 0}
	if flag(req, "verbose") {
		out.Messages = msgs
	}
	return out, nil
}

func (st *store) handleGetConfig(req *http.Request) (any, *apiError) {
	st.mu.Lock()
	defer st.mu.Unlock()
	subj := req.PathValue("subject")
	if s := st.subjects[subj]; s != nil && s.level != "" {
		return map[string]string{"compatibilityLevel": s.level}, nil
	}
	if flag(req, "defaultToGlobal") {
		return map[string]string{"compatibilityLevel": st.level}, nil
	}
	return nil, &apiError{http.StatusNotFound, 40408, "Subject '" + subj + "' does not have subject-level compatibility configured"}
}

func (st *store) handlePutConfig(req *http.Request) (any, *apiError) {
	var body struct {
		Compatibility string `json:"compatibility"`
	}
	if err := json.NewDecoder(io.LimitReader(req.Body, 1<<20)).Decode(&body); err != nil {
		return nil, errInvalidLevel("")
	}
	level := strings.ToUpper(body.Compatibility)
	if !validLevel(level) {
		return nil, errInvalidLevel(body.Compatibility)
	}
	st.setLevel(req.PathValue("subject"), level)
	return map[string]string{"compatibility": level}, nil
}

func (st *store) handleDeleteConfig(req *http.Request) (any, *apiError) {
	st.mu.Lock()
	defer st.mu.Unlock()
	subj := req.PathValue("subject")
	if subj == "" {
		prev := st.level
		st.level = CompatBackward
		return map[string]string{"compatibility": prev}, nil
	}
	s := st.subjects[subj]
	if s == nil {
		return nil, errSubjectNotFound(subj)
	}
	if s.level == "" {
		return nil, &apiError{http.StatusNotFound, 40408, "Subject '" + subj + "' does not have subject-level compatibility configured"}
	}
	prev := s.level
	s.level = ""
	return map[string]string{"compatibility": prev}, nil
}
