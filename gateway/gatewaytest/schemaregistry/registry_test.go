package schemaregistry_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/tributary-gw/tributary/gateway/gatewaytest/schemaregistry"
)

// The registry is tested through franz-go's Schema Registry client, an
// independent implementation of the REST API's client side.

const (
	userV1 = `{"type":"record","name":"User","namespace":"t","fields":[{"name":"id","type":"string"}]}`
	// userV2 adds a field with a default: BACKWARD and FORWARD compatible.
	userV2 = `{"type":"record","name":"User","namespace":"t","fields":[{"name":"id","type":"string"},{"name":"age","type":"int","default":0}]}`
	// userV3 adds a field without a default: FORWARD only.
	userV3 = `{"type":"record","name":"User","namespace":"t","fields":[{"name":"id","type":"string"},{"name":"age","type":"int","default":0},{"name":"site","type":"string"}]}`
	// userBroken changes id's type: compatible in no direction.
	userBroken = `{"type":"record","name":"User","namespace":"t","fields":[{"name":"id","type":"boolean"}]}`
)

func client(t *testing.T, reg *schemaregistry.Registry, opts ...sr.ClientOpt) *sr.Client {
	t.Helper()
	cl, err := sr.NewClient(append([]sr.ClientOpt{sr.URLs(reg.URL())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func avro(text string) sr.Schema { return sr.Schema{Schema: text} }

// wantCode fails unless err is a registry error with this error_code.
func wantCode(t *testing.T, err error, code int) {
	t.Helper()
	var re *sr.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v, want a registry error with error_code %d", err, code)
	}
	if re.ErrorCode != code {
		t.Fatalf("error_code = %d (%s), want %d", re.ErrorCode, re.Message, code)
	}
}

func TestRegisterAndRead(t *testing.T) {
	reg := schemaregistry.Start(t)
	cl := client(t, reg)
	ctx := context.Background()

	id1, err := cl.RegisterSchema(ctx, "users-value", avro(userV1), -1, -1)
	if err != nil {
		t.Fatal(err)
	}
	// The same schema, spaced and ordered differently: the same id, no new version.
	again := `{ "namespace":"t", "type":"record", "name":"User", "fields":[ {"type":"string","name":"id"} ] }`
	if id, err := cl.RegisterSchema(ctx, "users-value", avro(again), -1, -1); err != nil || id != id1 {
		t.Fatalf("registering the same schema again: id %d, %v; want %d", id, err, id1)
	}
	id2, err := cl.RegisterSchema(ctx, "users-value", avro(userV2), -1, -1)
	if err != nil || id2 == id1 {
		t.Fatalf("v2: id %d, %v; want a new id", id2, err)
	}
	// The same schema in another subject shares its id.
	if id, err := cl.RegisterSchema(ctx, "archive-value", avro(userV1), -1, -1); err != nil || id != id1 {
		t.Fatalf("another subject: id %d, %v; want %d", id, err, id1)
	}

	if subs, err := cl.Subjects(ctx); err != nil || !slices.Equal(subs, []string{"archive-value", "users-value"}) {
		t.Fatalf("Subjects = %v, %v", subs, err)
	}
	if vs, err := cl.SubjectVersions(ctx, "users-value"); err != nil || !slices.Equal(vs, []int{1, 2}) {
		t.Fatalf("SubjectVersions = %v, %v", vs, err)
	}
	latest, err := cl.SchemaByVersion(ctx, "users-value", -1)
	if err != nil || latest.ID != id2 || latest.Version != 2 || latest.Schema.Schema != userV2 || latest.Type != sr.TypeAvro {
		t.Fatalf("latest = %+v, %v", latest, err)
	}
	if s, err := cl.SchemaByID(ctx, id1); err != nil || s.Schema != userV1 {
		t.Fatalf("SchemaByID(%d) = %+v, %v", id1, s, err)
	}
	if text, err := cl.SchemaTextByID(ctx, id2); err != nil || text != userV2 {
		t.Fatalf("SchemaTextByID = %q, %v", text, err)
	}
	if text, err := cl.SchemaTextByVersion(ctx, "users-value", 1); err != nil || text != userV1 {
		t.Fatalf("SchemaTextByVersion = %q, %v", text, err)
	}
	if subs, err := cl.SubjectsByID(ctx, id1); err != nil || !slices.Equal(subs, []string{"archive-value", "users-value"}) {
		t.Fatalf("SubjectsByID = %v, %v", subs, err)
	}
	found, err := cl.LookupSchema(ctx, "users-value", avro(userV2))
	if err != nil || found.ID != id2 || found.Version != 2 {
		t.Fatalf("LookupSchema = %+v, %v", found, err)
	}
	created, err := cl.CreateSchema(ctx, "users-value", avro(userV2[:len(userV2)-2]+`,{"name":"site","type":"string","default":""}]}`))
	if err != nil || created.Version != 3 || created.Subject != "users-value" {
		t.Fatalf("CreateSchema = %+v, %v", created, err)
	}
	if types, err := cl.SupportedTypes(ctx); err != nil || len(types) != 3 {
		t.Fatalf("SupportedTypes = %v, %v", types, err)
	}
}

func TestErrors(t *testing.T) {
	reg := schemaregistry.Start(t)
	cl := client(t, reg)
	ctx := context.Background()
	id, err := cl.RegisterSchema(ctx, "s", avro(userV1), -1, -1)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		call func() error
		code int
	}{
		{"unknown subject", func() error { _, err := cl.SubjectVersions(ctx, "nope"); return err }, 40401},
		{"unknown subject's version", func() error { _, err := cl.SchemaByVersion(ctx, "nope", 1); return err }, 40401},
		{"unknown version", func() error { _, err := cl.SchemaByVersion(ctx, "s", 7); return err }, 40402},
		{"unknown id", func() error { _, err := cl.SchemaByID(ctx, id+100); return err }, 40403},
		{"lookup of an unregistered schema", func() error { _, err := cl.LookupSchema(ctx, "s", avro(userV2)); return err }, 40403},
		{"invalid version", func() error {
			return cl.Do(ctx, http.MethodGet, "/subjects/s/versions/zero", nil, nil)
		}, 42202},
		{"Avro that does not parse", func() error {
			_, err := cl.RegisterSchema(ctx, "bad", avro(`{"type":"record","name":"X","fields":[{"name":"a","type":"nosuchtype"}]}`), -1, -1)
			return err
		}, 42201},
		{"text that is not JSON", func() error {
			_, err := cl.RegisterSchema(ctx, "bad", avro(`record X {`), -1, -1)
			return err
		}, 42201},
		{"Protobuf with a syntax error", func() error {
			_, err := cl.RegisterSchema(ctx, "bad", sr.Schema{Type: sr.TypeProtobuf, Schema: `syntax = "proto3"; message X { int32 a = }`}, -1, -1)
			return err
		}, 42201},
		{"JSON Schema that is a string", func() error {
			_, err := cl.RegisterSchema(ctx, "bad", sr.Schema{Type: sr.TypeJSON, Schema: `"object"`}, -1, -1)
			return err
		}, 42201},
		{"reference to a missing subject", func() error {
			_, err := cl.RegisterSchema(ctx, "bad", sr.Schema{Schema: userV1, References: []sr.SchemaReference{{Name: "t.Site", Subject: "site", Version: 1}}}, -1, -1)
			return err
		}, 42201},
		{"incompatible schema", func() error { _, err := cl.RegisterSchema(ctx, "s", avro(userBroken), -1, -1); return err }, 409},
		{"unknown compatibility level", func() error {
			return cl.Do(ctx, http.MethodPut, "/config", map[string]string{"compatibility": "SIDEWAYS"}, nil)
		}, 42203},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { wantCode(t, tc.call(), tc.code) })
	}
	if _, err := cl.SubjectVersions(ctx, "bad"); err == nil {
		t.Fatal("subject bad exists after only failed registrations")
	}
}

func TestAvroCompatibility(t *testing.T) {
	tests := []struct {
		level       sr.CompatibilityLevel
		history     []string // registered in order
		next        string
		wantAllowed bool
	}{
		{sr.CompatBackward, []string{userV1}, userV2, true},
		{sr.CompatBackward, []string{userV2}, userV3, false}, // the new field has no default
		{sr.CompatForward, []string{userV2}, userV3, true},
		{sr.CompatForward, []string{userV3}, userV2, false}, // old readers need site
		{sr.CompatFull, []string{userV1}, userV2, true},
		{sr.CompatFull, []string{userV2}, userV3, false},
		{sr.CompatNone, []string{userV1}, userBroken, true},
		{sr.CompatBackward, []string{userV1}, userBroken, false},
		// Not transitive, only the latest version counts; transitive, every one.
		{sr.CompatBackward, []string{userBroken, userV1}, userV2, true},
		{sr.CompatBackwardTransitive, []string{userBroken, userV1}, userV2, false},
	}
	for _, tc := range tests {
		t.Run(tc.level.String()+"/"+strings.Join([]string{shortName(tc.history...), shortName(tc.next)}, "->"), func(t *testing.T) {
			reg := schemaregistry.Start(t, schemaregistry.WithCompatibility(schemaregistry.CompatNone))
			cl := client(t, reg)
			ctx := context.Background()
			for _, h := range tc.history {
				if _, err := cl.RegisterSchema(ctx, "s", avro(h), -1, -1); err != nil {
					t.Fatal(err)
				}
			}
			if r := cl.SetCompatibility(ctx, sr.SetCompatibility{Level: tc.level}, "s"); r[0].Err != nil || r[0].Level != tc.level {
				t.Fatalf("SetCompatibility: %+v", r[0])
			}
			check, err := cl.CheckCompatibility(sr.WithParams(ctx, sr.Verbose), "s", -2, avro(tc.next))
			if err != nil {
				t.Fatal(err)
			}
			if check.Is != tc.wantAllowed || (check.Is == (len(check.Messages) > 0)) {
				t.Fatalf("check = %+v, want compatible %v (messages only when not)", check, tc.wantAllowed)
			}
			_, err = cl.RegisterSchema(ctx, "s", avro(tc.next), -1, -1)
			if tc.wantAllowed && err != nil {
				t.Fatalf("register: %v", err)
			}
			if !tc.wantAllowed {
				wantCode(t, err, 409)
			}
		})
	}
}

func shortName(texts ...string) string {
	names := map[string]string{userV1: "v1", userV2: "v2", userV3: "v3", userBroken: "broken"}
	var out []string
	for _, s := range texts {
		out = append(out, names[s])
	}
	return strings.Join(out, ",")
}

func TestCompatibilityAgainstOneVersion(t *testing.T) {
	reg := schemaregistry.Start(t)
	cl := client(t, reg)
	ctx := context.Background()
	for _, s := range []string{userV1, userV2} {
		if _, err := cl.RegisterSchema(ctx, "s", avro(s), -1, -1); err != nil {
			t.Fatal(err)
		}
	}
	// BACKWARD: userV3 (a field without default) cannot read v2's data.
	if c, err := cl.CheckCompatibility(ctx, "s", 2, avro(userV3)); err != nil || c.Is {
		t.Fatalf("against v2: %+v, %v; want incompatible", c, err)
	}
	if _, err := cl.CheckCompatibility(ctx, "s", 9, avro(userV3)); err == nil {
		t.Fatal("against a missing version: no error")
	} else {
		wantCode(t, err, 40402)
	}
}

func TestConfig(t *testing.T) {
	reg := schemaregistry.Start(t)
	cl := client(t, reg)
	ctx := context.Background()
	if r := cl.Compatibility(ctx); r[0].Err != nil || r[0].Level != sr.CompatBackward {
		t.Fatalf("global level: %+v, want BACKWARD", r[0])
	}
	r := cl.Compatibility(ctx, "s")
	wantCode(t, r[0].Err, 40408)
	if r := cl.Compatibility(sr.WithParams(ctx, sr.DefaultToGlobal), "s"); r[0].Err != nil || r[0].Level != sr.CompatBackward {
		t.Fatalf("defaultToGlobal: %+v", r[0])
	}
	if r := cl.SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatFullTransitive}, "s"); r[0].Err != nil {
		t.Fatal(r[0].Err)
	}
	if r := cl.Compatibility(ctx, "s"); r[0].Err != nil || r[0].Level != sr.CompatFullTransitive {
		t.Fatalf("subject level: %+v", r[0])
	}
	if r := cl.ResetCompatibility(ctx, "s"); r[0].Err != nil || r[0].Level != sr.CompatFullTransitive {
		t.Fatalf("reset: %+v", r[0])
	}
	wantCode(t, cl.Compatibility(ctx, "s")[0].Err, 40408)
	if r := cl.SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatNone}); r[0].Err != nil {
		t.Fatal(r[0].Err)
	}
	if r := cl.Compatibility(ctx); r[0].Level != sr.CompatNone {
		t.Fatalf("global after PUT: %+v", r[0])
	}
}

func TestReferences(t *testing.T) {
	reg := schemaregistry.Start(t)
	cl := client(t, reg)
	ctx := context.Background()
	site := `{"type":"record","name":"Site","namespace":"t","fields":[{"name":"name","type":"string"}]}`
	reading := `{"type":"record","name":"Reading","namespace":"t","fields":[{"name":"site","type":"t.Site"},{"name":"v","type":"double"}]}`
	if _, err := cl.RegisterSchema(ctx, "site", avro(site), -1, -1); err != nil {
		t.Fatal(err)
	}
	// Without the reference the named type is unknown.
	_, err := cl.RegisterSchema(ctx, "reading-value", avro(reading), -1, -1)
	wantCode(t, err, 42201)
	refs := []sr.SchemaReference{{Name: "t.Site", Subject: "site", Version: 1}}
	id, err := cl.RegisterSchema(ctx, "reading-value", sr.Schema{Schema: reading, References: refs}, -1, -1)
	if err != nil {
		t.Fatal(err)
	}
	got, err := cl.SchemaByID(ctx, id)
	if err != nil || !slices.Equal(got.References, refs) {
		t.Fatalf("SchemaByID = %+v, %v; want its references", got, err)
	}
	if by, err := cl.SchemaReferences(ctx, "site", 1); err != nil || len(by) != 1 || by[0].ID != id {
		t.Fatalf("SchemaReferences = %+v, %v", by, err)
	}
	// A referenced version cannot be deleted.
	wantCode(t, cl.DeleteSchema(ctx, "site", 1, sr.SoftDelete), 42206)
}

func TestDelete(t *testing.T) {
	reg := schemaregistry.Start(t)
	cl := client(t, reg)
	ctx := context.Background()
	for _, s := range []string{userV1, userV2} {
		if _, err := cl.RegisterSchema(ctx, "s", avro(s), -1, -1); err != nil {
			t.Fatal(err)
		}
	}
	_, err := cl.DeleteSubject(ctx, "s", sr.HardDelete)
	wantCode(t, err, 40405) // soft first
	if vs, err := cl.DeleteSubject(ctx, "s", sr.SoftDelete); err != nil || !slices.Equal(vs, []int{1, 2}) {
		t.Fatalf("soft delete = %v, %v", vs, err)
	}
	_, err = cl.SubjectVersions(ctx, "s")
	wantCode(t, err, 40401)
	if vs, err := cl.SubjectVersions(sr.WithParams(ctx, sr.ShowDeleted), "s"); err != nil || len(vs) != 2 {
		t.Fatalf("versions with deleted = %v, %v", vs, err)
	}
	if _, err := cl.DeleteSubject(ctx, "s", sr.HardDelete); err != nil {
		t.Fatal(err)
	}
	if subs, err := cl.Subjects(sr.WithParams(ctx, sr.ShowDeleted)); err != nil || len(subs) != 0 {
		t.Fatalf("subjects after hard delete = %v, %v", subs, err)
	}
}

func TestAuth(t *testing.T) {
	ctx := context.Background()
	reg := schemaregistry.Start(t, schemaregistry.WithBasicAuth("alice", "s3cret"), schemaregistry.WithBearerToken("tok"))
	tests := []struct {
		name string
		opt  []sr.ClientOpt
		ok   bool
	}{
		{"none", nil, false},
		{"basic", []sr.ClientOpt{sr.BasicAuth("alice", "s3cret")}, true},
		{"wrong password", []sr.ClientOpt{sr.BasicAuth("alice", "nope")}, false},
		{"bearer", []sr.ClientOpt{sr.BearerToken("tok")}, true},
		{"wrong token", []sr.ClientOpt{sr.BearerToken("tok2")}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := client(t, reg, tc.opt...).Subjects(ctx)
			if tc.ok && err != nil {
				t.Fatal(err)
			}
			if !tc.ok {
				wantCode(t, err, 401)
			}
		})
	}
}

func TestMutualTLS(t *testing.T) {
	ctx := context.Background()
	reg := schemaregistry.Start(t, schemaregistry.WithTLS(true))
	if !strings.HasPrefix(reg.URL(), "https://") {
		t.Fatalf("URL %s, want https", reg.URL())
	}
	files := reg.TLSFiles()
	caPEM, err := os.ReadFile(files.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("no certificate in", files.CAFile)
	}
	pair, err := tls.LoadX509KeyPair(files.CertFile, files.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client(t, reg, sr.DialTLSConfig(&tls.Config{RootCAs: pool})).Subjects(ctx); err == nil {
		t.Fatal("without a client certificate: no error")
	}
	if _, err := client(t, reg).Subjects(ctx); err == nil {
		t.Fatal("without the CA: no error")
	}
	cl := client(t, reg, sr.DialTLSConfig(&tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}}))
	if _, err := cl.RegisterSchema(ctx, "s", avro(userV1), -1, -1); err != nil {
		t.Fatal(err)
	}
}

func TestOutage(t *testing.T) {
	reg := schemaregistry.Start(t)
	cl := client(t, reg)
	ctx := context.Background()
	id, err := cl.RegisterSchema(ctx, "s", avro(userV1), -1, -1)
	if err != nil {
		t.Fatal(err)
	}

	reg.SetOutage(schemaregistry.OutageUnavailable)
	_, err = cl.SchemaByID(ctx, id)
	var re *sr.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("during the outage: %v, want HTTP 503", err)
	}

	reg.SetOutage(schemaregistry.OutageStall)
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	_, err = cl.SchemaByID(short, id)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("during a stall: %v, want the client's deadline", err)
	}
	// A stalled request is served once the stall ends.
	done := make(chan error, 1)
	go func() { _, err := cl.SchemaByID(ctx, id); done <- err }()
	path := "/schemas/ids/1"
	deadline := time.Now().Add(10 * time.Second)
	for reg.Requests(http.MethodGet, path) < 3 { // the 503, the abandoned stall, this one
		if time.Now().After(deadline) {
			t.Fatal("the stalled request never reached the registry")
		}
		time.Sleep(5 * time.Millisecond)
	}
	reg.SetOutage(schemaregistry.OutageNone)
	if err := <-done; err != nil {
		t.Fatalf("after the stall: %v", err)
	}
	if n := reg.Requests(http.MethodGet, path); n != 3 {
		t.Fatalf("Requests(GET %s) = %d, want 3", path, n)
	}
}

func TestNewOnFixedAddress(t *testing.T) {
	reg, err := schemaregistry.New(schemaregistry.WithAddr("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client(t, reg).Subjects(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := reg.Close(); err != nil {
		t.Fatal(err)
	}
	if err := reg.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	if _, err := schemaregistry.New(schemaregistry.WithCompatibility("SIDEWAYS")); err == nil {
		t.Fatal("an unknown level: no error")
	}
}
