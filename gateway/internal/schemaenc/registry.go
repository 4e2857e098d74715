package schemaenc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/internal/regularfile"
)

// maxSchemaFileBytes bounds a schema file (to.value_schema.file): a schema is kilobytes, and
// a tenant's folder may hold anything.
const maxSchemaFileBytes = 1 << 20

// The backoff between attempts to resolve a schema while the registry fails: from
// defaultRetryBase, doubling up to defaultRetryMax. The ceiling is short because a registry is
// cheap to ask and every message of the route waits for the answer.
const (
	defaultRetryBase = 250 * time.Millisecond
	defaultRetryMax  = 5 * time.Second
)

// ErrClosed is returned by Encoder.Wait when the registry was closed before the schema was
// resolved.
var ErrClosed = errors.New("schema registry client closed")

// Metrics are the Prometheus instruments a Registry updates; the caller registers them.
type Metrics struct {
	// Encoded counts values and keys encoded, by subject.
	Encoded *prometheus.CounterVec
	// Invalid counts payloads (or keys) that did not fit their schema, by subject.
	Invalid *prometheus.CounterVec
	// RegistryErrors counts failed attempts to resolve a schema at the registry.
	RegistryErrors prometheus.Counter
}

// Registry is the gateway's client of a Confluent-compatible Schema Registry
// (kafka.schema_registry): one encoder per distinct route schema, each resolved once (fetched,
// looked up or registered, then compiled) and cached. A schema that cannot be resolved yet is
// retried in the background with a backoff; its encoder is not ready until then, and the
// routes using it hold their messages.
//
// Safe for concurrent use.
type Registry struct {
	client       *sr.Client
	url          string
	autoRegister bool
	timeout      time.Duration
	log          *slog.Logger
	metrics      Metrics

	retryBase, retryMax time.Duration

	// ctx is done when the registry closes: resolutions in progress stop.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	encoders map[config.Schema]*Encoder
	codecs   map[codecKey]codec // compiled schemas by id, shared by encoders of one schema
}

// codecKey names one compiled schema: its id, and the message for Protobuf.
type codecKey struct {
	id      int
	message string
}

// New builds the registry client for cfg; it connects to nothing until a schema is resolved.
// Errors name the key concerned.
func New(cfg config.SchemaRegistry, log *slog.Logger, m Metrics) (*Registry, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if strings.HasPrefix(cfg.URL, "https://") {
		tc, err := cfg.TLS.TLS().ClientConfig("kafka.schema_registry.tls")
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = tc
	}
	opts := []sr.ClientOpt{
		sr.URLs(cfg.URL),
		sr.HTTPClient(&http.Client{Transport: tr, Timeout: cfg.Timeout}),
		sr.UserAgent("tributary"),
	}
	switch {
	case cfg.Username != "":
		opts = append(opts, sr.BasicAuth(cfg.Username, cfg.Password.Value()))
	case cfg.Token != "":
		opts = append(opts, sr.BearerToken(cfg.Token.Value()))
	}
	cl, err := sr.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka.schema_registry: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Registry{ctx: ctx, cancel: cancel, client: cl, url: cfg.URL, autoRegister: cfg.AutoRegister, timeout: cfg.Timeout,
		log: log, metrics: m, retryBase: defaultRetryBase, retryMax: defaultRetryMax,
		encoders: map[config.Schema]*Encoder{}, codecs: map[codecKey]codec{}}, nil
}

// URL returns kafka.schema_registry.url.
func (r *Registry) URL() string { return r.url }

// Encoder returns the encoder of s, a route's value or key schema, creating it on first use:
// its schema is then resolved in the background (see Encoder.Wait). Routes with the same
// schema, across reloads too, share one encoder.
func (r *Registry) Encoder(s config.Schema) *Encoder {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e := r.encoders[s]; e != nil {
		return e
	}
	e := &Encoder{reg: r, conf: s, ready: make(chan struct{}), failedCh: make(chan struct{}),
		encoded: r.metrics.Encoded.WithLabelValues(s.Subject), invalid: r.metrics.Invalid.WithLabelValues(s.Subject)}
	e.lastErr.Store(new(string))
	r.encoders[s] = e
	if r.ctx.Err() != nil {
		return e // closed: never resolves; Wait returns ErrClosed
	}
	r.wg.Go(func() { r.resolveLoop(e) })
	return e
}

// Close stops resolving schemas and waits for the resolvers to return; encoders not resolved
// by then stay so, and their waiters get ErrClosed.
func (r *Registry) Close() {
	r.cancel()
	r.wg.Wait()
}

// Waiting describes the encoders not resolved yet, each with its last error, sorted; empty
// when every schema is ready.
func (r *Registry) Waiting() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.encoders {
		if !e.Ready() {
			out = append(out, e.Pending())
		}
	}
	slices.Sort(out)
	return out
}

// resolveLoop resolves e's schema, retrying with a backoff until it succeeds or the registry
// closes.
func (r *Registry) resolveLoop(e *Encoder) {
	wait := r.retryBase
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(r.ctx, r.timeout)
		res, err := r.resolve(ctx, e.conf)
		cancel()
		if err == nil {
			e.res.Store(res)
			close(e.ready)
			r.log.Info("schema resolved", slog.String("schema_registry", r.url), slog.String("subject", e.conf.Subject),
				slog.String("format", e.conf.Format), slog.Int("id", res.id), slog.Int("attempts", attempt))
			return
		}
		if r.ctx.Err() != nil {
			return
		}
		msg := err.Error()
		e.lastErr.Store(&msg)
		r.metrics.RegistryErrors.Inc()
		if !transient(err) {
			// The registry answered, and the answer will not change by waiting: the routes
			// dead-letter their messages instead of holding them (and their shards) for ever;
			// the resolver keeps asking, so registering the schema later heals the route.
			e.failOnce.Do(func() {
				e.failed.Store(&msg)
				close(e.failedCh)
			})
			r.log.Error("schema registry: the schema cannot be resolved; its routes dead-letter their messages (kind schema_unresolved) until it can",
				slog.String("schema_registry", r.url), slog.String("subject", e.conf.Subject), slog.String("format", e.conf.Format),
				slog.String("error", msg), slog.Int("attempt", attempt), slog.Duration("retry_in", wait))
		} else {
			r.log.Warn("schema registry: cannot resolve schema; its routes hold their messages and retry",
				slog.String("schema_registry", r.url), slog.String("subject", e.conf.Subject), slog.String("format", e.conf.Format),
				slog.String("error", msg), slog.Int("attempt", attempt), slog.Duration("retry_in", wait))
		}
		t := time.NewTimer(wait)
		select {
		case <-r.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, r.retryMax)
	}
}

// transient reports whether err, from resolving a schema, may go away by itself: the registry
// unreachable, slow, overloaded or failing (5xx), or refusing the credentials (401, 403: an
// operator fixes those, and holding is safer than dead-lettering a fleet's data meanwhile).
// Anything else is an answer that waiting will not change: a subject, version or schema that
// does not exist, a schema that does not compile or is incompatible, a schema file that cannot
// be read or is not registered, a format that differs from the subject's.
func transient(err error) bool {
	if re := (*sr.ResponseError)(nil); errors.As(err, &re) {
		switch re.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden, http.StatusRequestTimeout, http.StatusTooManyRequests:
			return true
		}
		return re.StatusCode >= 500
	}
	var unresolvable *unresolvableError
	return !errors.As(err, &unresolvable)
}

// isNetError reports whether err came from reaching the registry (a connection refused or
// cut, a timeout), not from its answer.
func isNetError(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// unresolvableError marks an error of resolve that is not the registry's answer but still
// permanent: the schema file, or the schema's format or text.
type unresolvableError struct{ err error }

func (e *unresolvableError) Error() string { return e.err.Error() }
func (e *unresolvableError) Unwrap() error { return e.err }

// resolved is a schema ready to encode with: its registry id and compiled form.
type resolved struct {
	id    int
	codec codec
}

// codec validates a JSON document against one compiled schema and appends its encoding.
type codec interface {
	// encode appends the encoding of doc to dst, or returns an *InvalidError.
	encode(dst, doc []byte) ([]byte, error)
	// index is the Protobuf message index of the wire format; nil for other formats.
	index() []int
	// wantsString reports whether the schema is a bare string, so that a key is taken as one.
	wantsString() bool
}

// schemaTypes maps config formats to the registry's schema types.
var schemaTypes = map[string]sr.SchemaType{
	config.SchemaAvro: sr.TypeAvro, config.SchemaProtobuf: sr.TypeProtobuf, config.SchemaJSONSchema: sr.TypeJSON,
}

// resolve finds s's schema at the registry (by subject and version, or the id of its file,
// registering the file first with auto_register), its references, and compiles it.
func (r *Registry) resolve(ctx context.Context, s config.Schema) (*resolved, error) {
	typ := schemaTypes[s.Format]
	var ss sr.SubjectSchema
	if s.File != "" {
		text, err := regularfile.Read(s.File, maxSchemaFileBytes)
		if err != nil {
			return nil, &unresolvableError{fmt.Errorf("schema file: %w", err)}
		}
		ss.Schema = sr.Schema{Schema: string(text), Type: typ}
		if r.autoRegister {
			id, err := r.client.RegisterSchema(ctx, s.Subject, ss.Schema, -1, -1)
			if err != nil {
				return nil, fmt.Errorf("registering %s under subject %s: %w", s.File, s.Subject, err)
			}
			ss.ID = id
		} else {
			found, err := r.client.LookupSchema(ctx, s.Subject, ss.Schema)
			if re := (*sr.ResponseError)(nil); errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
				return nil, fmt.Errorf("%s is not registered in subject %s (kafka.schema_registry.auto_register is false: register it, or turn that on): %w", s.File, s.Subject, err)
			}
			if err != nil {
				return nil, fmt.Errorf("looking up %s in subject %s: %w", s.File, s.Subject, err)
			}
			ss.ID = found.ID
		}
	} else {
		v := s.Version
		if v == 0 {
			v = -1 // latest
		}
		var err error
		if ss, err = r.client.SchemaByVersion(ctx, s.Subject, v); err != nil {
			return nil, fmt.Errorf("fetching subject %s version %s: %w", s.Subject, versionName(s.Version), err)
		}
		if ss.Type != typ {
			return nil, &unresolvableError{fmt.Errorf("subject %s version %d is a %s schema, the route says %s", s.Subject, ss.Version, ss.Type, s.Format)}
		}
	}
	key := codecKey{id: ss.ID, message: s.Message}
	r.mu.Lock()
	c := r.codecs[key]
	r.mu.Unlock()
	if c == nil {
		var err error
		if c, err = r.compile(ctx, s, ss); err != nil {
			err = fmt.Errorf("subject %s id %d: %w", s.Subject, ss.ID, err)
			if re := (*sr.ResponseError)(nil); !errors.As(err, &re) && ctx.Err() == nil && !isNetError(err) {
				err = &unresolvableError{err} // the schema itself does not compile
			}
			return nil, err
		}
		r.mu.Lock()
		r.codecs[key] = c
		r.mu.Unlock()
	}
	return &resolved{id: ss.ID, codec: c}, nil
}

func versionName(v int) string {
	if v == 0 {
		return "latest"
	}
	return fmt.Sprint(v)
}

// compile fetches ss's references and compiles it for s's format.
func (r *Registry) compile(ctx context.Context, s config.Schema, ss sr.SubjectSchema) (codec, error) {
	refs := &references{byName: map[string]string{}, seen: map[string]bool{}}
	if err := r.fetchReferences(ctx, ss.References, refs, 0); err != nil {
		return nil, err
	}
	switch s.Format {
	case config.SchemaAvro:
		return newAvroCodec(ss.Schema.Schema, refs.ordered)
	case config.SchemaProtobuf:
		return newProtoCodec(ctx, ss.Schema.Schema, refs.byName, s.Message)
	default:
		return newJSONSchemaCodec(ss.Schema.Schema, refs.byName)
	}
}

// references are the texts a schema references, directly or not: by reference name, and in
// dependency order (a schema after those it references).
type references struct {
	byName  map[string]string
	ordered []string
	seen    map[string]bool
}

// maxReferenceDepth bounds how deep references may nest.
const maxReferenceDepth = 32

func (r *Registry) fetchReferences(ctx context.Context, list []sr.SchemaReference, refs *references, depth int) error {
	if depth > maxReferenceDepth {
		return fmt.Errorf("references nest deeper than %d", maxReferenceDepth)
	}
	for _, ref := range list {
		if refs.seen[ref.Name] {
			continue
		}
		refs.seen[ref.Name] = true
		ss, err := r.client.SchemaByVersion(ctx, ref.Subject, ref.Version)
		if err != nil {
			return fmt.Errorf("reference %s (subject %s version %d): %w", ref.Name, ref.Subject, ref.Version, err)
		}
		if err := r.fetchReferences(ctx, ss.References, refs, depth+1); err != nil {
			return err
		}
		refs.byName[ref.Name] = ss.Schema.Schema
		refs.ordered = append(refs.ordered, ss.Schema.Schema)
	}
	return nil
}

// Encoder encodes one route schema's values (or keys) in the Confluent wire format: magic byte
// 0, the schema id (4 bytes, big-endian), for Protobuf the message indexes, then the
// encoding. Safe for concurrent use.
type Encoder struct {
	reg     *Registry
	conf    config.Schema
	ready   chan struct{} // closed once res is set
	res     atomic.Pointer[resolved]
	lastErr atomic.Pointer[string]

	// failed is the first error that waiting cannot fix (see transient); failedCh is closed
	// when it is set. The resolver goes on asking: a schema registered later is used.
	failed   atomic.Pointer[string]
	failedCh chan struct{}
	failOnce sync.Once

	encoded, invalid prometheus.Counter
}

// Schema returns the route schema e encodes with.
func (e *Encoder) Schema() config.Schema { return e.conf }

// Ready reports whether the schema is resolved.
func (e *Encoder) Ready() bool { return e.res.Load() != nil }

// ID returns the registry id of the resolved schema, 0 before.
func (e *Encoder) ID() int {
	if res := e.res.Load(); res != nil {
		return res.id
	}
	return 0
}

// UnresolvableError is Wait's error for a schema the registry answered about in a way that
// waiting will not change (no such subject or version, a schema that does not compile, a file
// not registered): the route dead-letters its messages while it lasts.
type UnresolvableError struct {
	Schema config.Schema
	Reason string // the registry's answer, or why the schema cannot be used
}

// Error implements error.
func (e *UnresolvableError) Error() string {
	return e.Schema.String() + " cannot be resolved: " + e.Reason
}

// Wait returns nil once the schema is resolved, an *UnresolvableError once resolving it failed
// in a way waiting will not fix (and nil again once a later attempt resolves it), ErrClosed if
// the registry closes first, or the error of stop when it is done first.
func (e *Encoder) Wait(stop context.Context) error {
	if e.Ready() {
		return nil
	}
	if msg := e.failed.Load(); msg != nil {
		return &UnresolvableError{Schema: e.conf, Reason: *msg}
	}
	select {
	case <-e.ready:
		return nil
	case <-e.failedCh:
		if e.Ready() {
			return nil
		}
		return &UnresolvableError{Schema: e.conf, Reason: *e.failed.Load()}
	case <-e.reg.ctx.Done():
		return ErrClosed
	case <-stop.Done():
		return stop.Err()
	}
}

// Pending describes the schema and, before it is resolved, the last error resolving it:
// "avro subject readings-value latest: fetching ...: connection refused".
func (e *Encoder) Pending() string {
	if e.Ready() {
		return e.conf.String() + ": resolved"
	}
	if msg := *e.lastErr.Load(); msg != "" {
		return e.conf.String() + ": " + msg
	}
	return e.conf.String() + ": not resolved yet"
}

// ErrNotReady is returned by Encode before the schema is resolved (see Wait).
var ErrNotReady = errors.New("schema not resolved yet")

// Encode appends to dst the wire format of doc, a JSON document checked against the schema.
// A document that does not fit returns an *InvalidError; before the schema is resolved it
// returns ErrNotReady.
func (e *Encoder) Encode(dst, doc []byte) ([]byte, error) {
	res := e.res.Load()
	if res == nil {
		return nil, ErrNotReady
	}
	start := len(dst)
	dst, _ = (&sr.ConfluentHeader{}).AppendEncode(dst, res.id, res.codec.index()) // never fails
	out, err := res.codec.encode(dst, doc)
	if err != nil {
		e.invalid.Inc()
		return dst[:start], err
	}
	e.encoded.Inc()
	return out, nil
}

// EncodeKey is Encode for a record key rendered from the route's key template: when the
// schema is a bare string (Avro "string", JSON Schema type string) the key is that string;
// otherwise it must be a JSON document.
func (e *Encoder) EncodeKey(dst, key []byte) ([]byte, error) {
	res := e.res.Load()
	if res == nil {
		return nil, ErrNotReady
	}
	if res.codec.wantsString() {
		key = quoteJSON(key)
	}
	return e.Encode(dst, key)
}
