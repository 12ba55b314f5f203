package runtime_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/almanac-fs/almanac/internal/runtime"
	"github.com/almanac-fs/almanac/internal/servertest"
	"github.com/almanac-fs/almanac/internal/stores"
	"github.com/almanac-fs/almanac/pipelines"
	"github.com/almanac-fs/almanac/registry"
)

// fixture writes servertest's repository (embedded online store) and returns
// its settings.
func fixture(t *testing.T) *registry.Config {
	t.Helper()
	dir := t.TempDir()
	if err := servertest.WriteRepo(t.Context(), dir, time.Now().UTC().Truncate(time.Second)); err != nil {
		t.Fatal(err)
	}
	cfg, err := registry.LoadConfig(dir, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// apply applies the repository of cfg, as "almanac apply" does.
func apply(ctx context.Context, rt *runtime.Runtime) error {
	schemas := pipelines.NewSchemas()
	defer schemas.Close()
	repo, err := registry.Load(ctx, rt.Config.Dir, registry.LoadOptions{Getenv: func(string) string { return "" }, Schemas: schemas})
	if err != nil {
		return err
	}
	_, _, err = registry.Apply(ctx, rt.Registry, repo.Config.Project, repo.Defs, true)
	return err
}

// TestOpen opens the fixture as "almanac serve" does: the zero Options give
// a Pusher, a feature log, the server's metrics beside Go's and the
// settings' tokens.
func TestOpen(t *testing.T) {
	cfg := fixture(t)
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte("secret read\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Serving.TokensFile = tokens
	rt, err := runtime.Open(t.Context(), cfg, runtime.Options{Prepare: apply})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rt.Server.Version(), int64(1); got != want {
		t.Errorf("registry version %d, want %d", got, want)
	}
	if rt.FeatureLog == nil || rt.Auth == nil || rt.TLS != nil {
		t.Errorf("FeatureLog %v, Auth %v, TLS %v; want a feature log, the tokens of %s and no TLS", rt.FeatureLog, rt.Auth, rt.TLS, tokens)
	}
	families, err := rt.Metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range families {
		names[f.GetName()] = true
	}
	for _, want := range []string{"almanac_registry_version", "go_goroutines"} {
		if !names[want] {
			t.Errorf("metrics lack %s", want)
		}
	}
	if err := rt.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	reopen(t, cfg)
}

// TestOpenFails checks that a runtime that cannot start says why and
// closes what it had opened: the embedded online store opens again at once.
func TestOpenFails(t *testing.T) {
	failed := errors.New("prepare failed")
	tests := []struct {
		name   string
		change func(*registry.Config)
		opts   runtime.Options
		want   string
		is     error
	}{
		{"nothing applied", nil, runtime.Options{}, "registry", registry.ErrNoVersion},
		{"prepare fails", nil, runtime.Options{Prepare: func(context.Context, *runtime.Runtime) error { return failed }}, "prepare failed", failed},
		{"missing tokens file", func(c *registry.Config) { c.Serving.TokensFile = "missing-tokens" }, runtime.Options{Prepare: apply}, "read tokens", os.ErrNotExist},
		{"missing TLS certificate", func(c *registry.Config) { c.Serving.TLSCert, c.Serving.TLSKey = "cert.pem", "key.pem" }, runtime.Options{Prepare: apply}, "load TLS certificate", os.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := fixture(t)
			if tt.change != nil {
				tt.change(cfg)
			}
			rt, err := runtime.Open(t.Context(), cfg, tt.opts)
			if err == nil {
				rt.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Open: %v, want %q wrapping %v", err, tt.want, tt.is)
			}
			reopen(t, cfg)
		})
	}
}

// reopen opens the embedded online store of cfg, which fails while another
// runtime holds it.
func reopen(t *testing.T, cfg *registry.Config) {
	t.Helper()
	s, err := stores.Online(cfg, stores.OnlineOptions{})
	if err != nil {
		t.Fatalf("online store still held: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
