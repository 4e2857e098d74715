package admin_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tributary-gw/tributary/gateway/admin"
)

func TestHandler(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "test_things_total", Help: "things"})
	reg.MustRegister(c)
	c.Add(3)
	var notReady error = errors.New("mqtt: not connected")
	srv := httptest.NewServer(admin.Handler(admin.Options{
		Gatherer: reg,
		Ready:    func() error { return notReady },
		Status:   func() any { return map[string]int{"routes": 2} },
	}))
	defer srv.Close()

	tests := []struct {
		name     string
		path     string
		ready    error
		wantCode int
		wantBody string
	}{
		{name: "metrics", path: "/metrics", wantCode: 200, wantBody: "test_things_total 3"},
		{name: "healthz", path: "/healthz", wantCode: 200, wantBody: "ok"},
		{name: "not ready", path: "/readyz", ready: notReady, wantCode: 503, wantBody: "mqtt: not connected"},
		{name: "ready", path: "/readyz", wantCode: 200, wantBody: "ready"},
		{name: "status", path: "/api/v1/status", wantCode: 200, wantBody: `"routes": 2`},
		{name: "unknown", path: "/nope", wantCode: 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			notReady = tc.ready
			resp, err := http.Get(srv.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantCode {
				t.Fatalf("GET %s = %d, want %d (%s)", tc.path, resp.StatusCode, tc.wantCode, body)
			}
			if !strings.Contains(string(body), tc.wantBody) {
				t.Fatalf("GET %s body %q does not contain %q", tc.path, body, tc.wantBody)
			}
		})
	}
}
