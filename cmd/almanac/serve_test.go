package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/almanac-fs/almanac/internal/servertest"
	"github.com/almanac-fs/almanac/server/ui"
)

// TestHTTPRoutes checks what serve's HTTP address answers on each path: the
// server's metrics and health endpoints, Go profiles when asked for, and
// the web UI for everything else.
func TestHTTPRoutes(t *testing.T) {
	env := servertest.Start(t, servertest.Options{})
	webUI := ui.New(ui.Options{Project: servertest.Project, Served: env.Server.Served, Registry: env.Registry, Offline: env.Offline})
	tests := []struct {
		name   string
		pprof  bool
		path   string
		status int
		want   string
	}{
		{"metrics", false, "/metrics", http.StatusOK, "almanac_registry_version 1"},
		{"healthz", false, "/healthz", http.StatusOK, "ok"},
		{"readyz", false, "/readyz", http.StatusOK, "ready: registry version 1"},
		{"overview", false, "/", http.StatusOK, "<title>Overview · fixture · Almanac</title>"},
		{"view", false, "/views/driver_stats", http.StatusOK, "<title>Feature view driver_stats · fixture · Almanac</title>"},
		{"unknown path", false, "/metricsz", http.StatusNotFound, "There is no page at /metricsz."},
		{"pprof off", false, "/debug/pprof/", http.StatusNotFound, "There is no page at /debug/pprof/."},
		{"pprof on", true, "/debug/pprof/", http.StatusOK, "Types of profiles available"},
		{"metrics with pprof", true, "/metrics", http.StatusOK, "almanac_registry_version 1"},
		{"ui with pprof", true, "/views", http.StatusOK, "<title>Feature views · fixture · Almanac</title>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := httptest.NewServer(httpHandler(env.Server.HTTPHandler(env.Metrics), webUI, tt.pprof))
			defer hs.Close()
			resp, err := http.Get(hs.URL + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.status || !strings.Contains(string(body), tt.want) {
				t.Errorf("GET %s: status %d, want %d with %q in\n%s", tt.path, resp.StatusCode, tt.status, tt.want, body)
			}
		})
	}
}
