package schemaregistry

import (
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"
)

// Schema types, as the registry spells them in "schemaType".
const (
	TypeAvro     = "AVRO"
	TypeProtobuf = "PROTOBUF"
	TypeJSON     = "JSON"
)

// Compatibility levels, as the registry spells them.
const (
	CompatNone               = "NONE"
	CompatBackward           = "BACKWARD"
	CompatBackwardTransitive = "BACKWARD_TRANSITIVE"
	CompatForward            = "FORWARD"
	CompatForwardTransitive  = "FORWARD_TRANSITIVE"
	CompatFull               = "FULL"
	CompatFullTransitive     = "FULL_TRANSITIVE"
)

// Reference is one schema reference: the name the referring schema uses
// (an Avro full name, a Protobuf import path, a JSON Schema $ref) and the
// subject and version that hold the referenced schema. Version -1 means the
// latest.
type Reference struct {
	Name    string `json:"name"`
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

// Schema is a schema as registered: its type (TypeAvro when empty), its text
// and its references.
type Schema struct {
	Type       string
	Text       string
	References []Reference
}

// Outage selects how the registry answers while a test simulates an outage.
type Outage int

const (
	// OutageNone serves normally.
	OutageNone Outage = iota
	// OutageUnavailable answers every request with HTTP 503 and a Confluent
	// error body.
	OutageUnavailable
	// OutageStall holds every request without answering until the outage
	// ends, the client gives up or the registry closes.
	OutageStall
)

// Option configures a Registry at New or Start.
type Option func(*options)

type options struct {
	addr       string
	user, pass string
	token      string
	tls        bool
	clientCert bool
	compat     string
}

// WithAddr listens on addr (host:port) instead of a free port on 127.0.0.1.
func WithAddr(addr string) Option { return func(o *options) { o.addr = addr } }

// WithBasicAuth requires HTTP basic authentication with user and password.
// With WithBearerToken too, either is accepted.
func WithBasicAuth(user, password string) Option {
	return func(o *options) { o.user, o.pass = user, password }
}

// WithBearerToken requires "Authorization: Bearer token". With
// WithBasicAuth too, either is accepted.
func WithBearerToken(token string) Option { return func(o *options) { o.token = token } }

// WithTLS serves HTTPS with a certificate for 127.0.0.1, ::1 and localhost
// signed by a certificate authority generated for this registry
// ([Registry.TLSFiles] has its file). With requireClientCert the registry
// also requires a client certificate signed by that authority (mutual TLS);
// TLSFiles has one.
func WithTLS(requireClientCert bool) Option {
	return func(o *options) { o.tls, o.clientCert = true, requireClientCert }
}

// WithCompatibility sets the global compatibility level; BACKWARD by
// default. Unknown levels make New fail.
func WithCompatibility(level string) Option { return func(o *options) { o.compat = level } }

// TLSFiles are the PEM files of a registry started WithTLS: the certificate
// authority that signed the server's certificate, and a client certificate
// and key it accepts.
type TLSFiles struct {
	CAFile, CertFile, KeyFile string
}

// Registry is a running Schema Registry. Its methods are safe for concurrent
// use.
type Registry struct {
	opts   options
	url    string
	srv    *http.Server
	ln     net.Listener
	files  TLSFiles
	tmpDir string // removed by Close when New created it

	outageMu sync.Mutex
	outage   Outage
	resume   chan struct{} // closed when a stall ends
	closed   chan struct{}

	reqMu    sync.Mutex
	requests map[string]int

	store *store
}

// Start starts a registry for the test and closes it in t.Cleanup. It fails
// the test when the registry cannot start.
func Start(t testing.TB, opts ...Option) *Registry {
	t.Helper()
	r, err := New(opts...)
	if err != nil {
		t.Fatalf("schema registry: %v", err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// New starts a registry serving in the background; Close stops it. Without
// WithAddr it listens on a free port of 127.0.0.1.
func New(opts ...Option) (*Registry, error) {
	o := options{addr: "127.0.0.1:0", compat: CompatBackward}
	for _, opt := range opts {
		opt(&o)
	}
	if !validLevel(o.compat) {
		return nil, fmt.Errorf("compatibility level %q: want one of NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE", o.compat)
	}
	r := &Registry{
		opts:     o,
		closed:   make(chan struct{}),
		requests: map[string]int{},
		store:    newStore(o.compat),
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", o.addr, err)
	}
	scheme := "http"
	if o.tls {
		dir, err := os.MkdirTemp("", "schemaregistry-tls-")
		if err != nil {
			ln.Close()
			return nil, err
		}
		r.tmpDir = dir
		cfg, files, err := makeTLS(dir, o.clientCert)
		if err != nil {
			ln.Close()
			os.RemoveAll(dir)
			return nil, fmt.Errorf("tls: %w", err)
		}
		r.files = files
		ln = tls.NewListener(ln, cfg)
		scheme = "https"
	}
	r.ln = ln
	r.url = scheme + "://" + ln.Addr().String()
	r.srv = &http.Server{Handler: r.Handler(), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: log.New(io.Discard, "", 0)} // refused handshakes are the tests' point
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

// URL is the registry's base URL, http://127.0.0.1:PORT (https with
// WithTLS).
func (r *Registry) URL() string { return r.url }

// TLSFiles returns the registry's PEM files; empty without WithTLS.
func (r *Registry) TLSFiles() TLSFiles { return r.files }

// Close stops the registry: stalled requests are released, connections
// closed, generated TLS files removed. It may be called more than once.
func (r *Registry) Close() error {
	r.outageMu.Lock()
	select {
	case <-r.closed:
		r.outageMu.Unlock()
		return nil
	default:
		close(r.closed)
	}
	r.outageMu.Unlock()
	err := r.srv.Close()
	if r.tmpDir != "" {
		os.RemoveAll(r.tmpDir)
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// SetOutage switches the simulated outage; OutageNone ends it and releases
// stalled requests, which are then served.
func (r *Registry) SetOutage(o Outage) {
	r.outageMu.Lock()
	defer r.outageMu.Unlock()
	if r.outage == OutageStall && o != OutageStall {
		close(r.resume)
	}
	if o == OutageStall && r.outage != OutageStall {
		r.resume = make(chan struct{})
	}
	r.outage = o
}

// Requests returns how many requests reached the registry with this method
// and escaped path (for example "GET", "/schemas/ids/1"), counting those
// refused by an outage or authentication. With method "" it counts every
// method, and with path "" every path.
func (r *Registry) Requests(method, path string) int {
	r.reqMu.Lock()
	defer r.reqMu.Unlock()
	n := 0
	for k, c := range r.requests {
		m, p, _ := cutKey(k)
		if (method == "" || m == method) && (path == "" || p == path) {
			n += c
		}
	}
	return n
}

func cutKey(k string) (method, path string, ok bool) {
	for i := range len(k) {
		if k[i] == ' ' {
			return k[:i], k[i+1:], true
		}
	}
	return k, "", false
}

// Register registers s under subject as POST /subjects/{subject}/versions
// does (the same checks, the same id for the same schema) and returns its
// id, without going through HTTP: a test's way to seed the registry.
func (r *Registry) Register(subject string, s Schema) (int, error) {
	id, err := r.store.register(subject, s)
	if err != nil {
		return 0, err
	}
	return id, nil
}

// SetCompatibility sets a subject's compatibility level, or the global one
// when subject is "".
func (r *Registry) SetCompatibility(subject, level string) error {
	if !validLevel(level) {
		return fmt.Errorf("compatibility level %q is not one the registry knows", level)
	}
	r.store.setLevel(subject, level)
	return nil
}

// Handler is the registry's HTTP handler, with authentication and the
// outage switch in front; New serves it.
func (r *Registry) Handler() http.Handler {
	api := r.routes()
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.reqMu.Lock()
		r.requests[req.Method+" "+req.URL.EscapedPath()]++
		r.reqMu.Unlock()
		if !r.waitOutage(w, req) {
			return
		}
		if !r.authorized(req) {
			if r.opts.user != "" {
				w.Header().Set("WWW-Authenticate", `Basic realm="SchemaRegistry"`)
			}
			writeError(w, http.StatusUnauthorized, 401, "Unauthorized")
			return
		}
		api.ServeHTTP(w, req)
	})
}

// waitOutage applies the outage switch: false when the request has been
// answered (503) or abandoned (stall ended by the client or Close).
func (r *Registry) waitOutage(w http.ResponseWriter, req *http.Request) bool {
	for {
		r.outageMu.Lock()
		o, resume := r.outage, r.resume
		r.outageMu.Unlock()
		switch o {
		case OutageUnavailable:
			writeError(w, http.StatusServiceUnavailable, 50003, "schema registry unavailable (outage simulated by the test)")
			return false
		case OutageStall:
			select {
			case <-resume:
				continue
			case <-req.Context().Done():
				return false
			case <-r.closed:
				return false
			}
		default:
			return true
		}
	}
}

func (r *Registry) authorized(req *http.Request) bool {
	o := r.opts
	if o.user == "" && o.token == "" {
		return true
	}
	if o.user != "" {
		if u, p, ok := req.BasicAuth(); ok && equal(u, o.user) && equal(p, o.pass) {
			return true
		}
	}
	if o.token != "" {
		if h := req.Header.Get("Authorization"); len(h) > 7 && equal(h[:7], "Bearer ") && equal(h[7:], o.token) {
			return true
		}
	}
	return false
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
