package devrun

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode"
)

// drainTimeout bounds the gateway's drain when the session stops, so that Ctrl-C is prompt:
// the in-memory Kafka takes what is in flight in far less.
const drainTimeout = 5 * time.Second

// compileTimeout is the least time dev allows for compiling one plugin to machine code (the
// gateway's default is 1 minute): a cold first run on a busy machine can take longer, and
// the modules are our own.
const compileTimeout = 5 * time.Minute

// newToken returns a random operator token for one session: 32 hex digits.
func newToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// checkToken applies the gateway's rule for admin tokens to a token given by the user.
func checkToken(tok string) error {
	if len(tok) < 16 {
		return fmt.Errorf("admin token: %d bytes, want at least 16 (e.g. openssl rand -hex 16)", len(tok))
	}
	if strings.IndexFunc(tok, unicode.IsSpace) >= 0 {
		return fmt.Errorf("admin token: contains whitespace")
	}
	return nil
}

// sessionPlugins copies the built plugins (cache/*.wasm) into a new temporary folder for the
// session's plugins.dir and returns it; the caller removes it.
func sessionPlugins(cache string) (string, error) {
	dir, err := os.MkdirTemp("", "tributary-dev-plugins-")
	if err != nil {
		return "", fmt.Errorf("session plugin folder: %w", err)
	}
	wasms, err := filepath.Glob(filepath.Join(cache, "*.wasm"))
	if err == nil {
		for _, src := range wasms {
			if err = copyFile(src, filepath.Join(dir, filepath.Base(src))); err != nil {
				break
			}
		}
	}
	if err != nil {
		_ = os.RemoveAll(dir)
		return "", fmt.Errorf("session plugin folder: %w", err)
	}
	return dir, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// adminLines writes the banner's admin API part: the token and curl lines that work as
// printed against this session (status, the plugins of the example routes, reload, and
// uploading a new version of a plugin built for the session).
func (s *session) adminLines(b *strings.Builder) {
	base := "http://" + s.cfg.Admin.Listen
	auth := fmt.Sprintf("-H 'Authorization: Bearer %s'", s.opts.AdminToken)
	fmt.Fprintf(b, "\nAdmin API, operator token %s (this session only; set it with --admin-token):\n", s.opts.AdminToken)
	fmt.Fprintf(b, "  curl -s %s %s/api/v1/status\n", auth, base)
	fmt.Fprintf(b, "  curl -s %s %s/api/v1/tenants/_          # the routes and their plugins' versions\n", auth, base)
	fmt.Fprintf(b, "  curl -s -X POST %s %s/api/v1/reload     # read the plugins again\n", auth, base)
	if name, file := s.uploadExample(); name != "" {
		fmt.Fprintf(b, "  curl -s -X PUT %s --data-binary @%s %s/api/v1/tenants/_/plugins/%s\n", auth, file, base, name)
		fmt.Fprintf(b, "    (uploads a plugin version; build yours with: tributary plugin build DIR, then @DIR/NAME.wasm)\n")
	}
	fmt.Fprintf(b, "  curl -s %s/metrics | grep ^tributary_   # no token needed; also /healthz, /readyz\n", base)
}

// uploadExample returns the name and absolute path of a plugin built for this session whose
// upload the banner shows, or "" when there is none. It prefers a plugin the routes use.
func (s *session) uploadExample() (name, file string) {
	if s.opts.PluginCache == "" {
		return "", ""
	}
	var used []string
	for _, r := range s.cfg.Routes {
		for _, st := range r.Chain {
			used = append(used, st.Plugin)
		}
	}
	slices.Sort(used)
	for _, n := range used {
		f := filepath.Join(s.opts.PluginCache, n+".wasm")
		if abs, err := filepath.Abs(f); err == nil {
			if _, err := os.Stat(abs); err == nil {
				return n, abs
			}
		}
	}
	return "", ""
}
