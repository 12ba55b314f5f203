package demo_test

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/almanac-fs/almanac/internal/demo"
	"github.com/almanac-fs/almanac/registry"
)

func noEnv(string) string { return "" }

func TestDemoDefinitionsLoad(t *testing.T) {
	dir, _ := writeDemo(t, demo.Options{})
	repo, err := registry.Load(t.Context(), dir, registry.LoadOptions{Getenv: noEnv})
	if err != nil {
		t.Fatalf("Load:\n%v", err)
	}

	want := registry.DefaultConfig("rides")
	want.Dir = repo.Config.Dir
	if got := *repo.Config; !configEqual(got, want) {
		t.Errorf("config %+v, want the defaults %+v", got, want)
	}

	defs := repo.Defs
	tests := []struct {
		kind      string
		got, want []string
	}{
		{"entities", sortedNames(defs.Entities, func(e *registry.Entity) string { return e.Name }),
			[]string{"customer", "driver"}},
		{"sources", sortedNames(defs.Sources, func(s *registry.Source) string { return s.Name }),
			[]string{"customer_profile", "driver_embeddings", "driver_hourly", "driver_location", "trips"}},
		{"views", sortedNames(defs.Views, func(v *registry.FeatureView) string { return v.Name }),
			[]string{"customer_profile", "driver_embedding", "driver_location", "driver_stats", "driver_trip_activity"}},
		{"services", sortedNames(defs.Services, func(s *registry.FeatureService) string { return s.Name }),
			[]string{"driver_dispatch_v1", "driver_ranking_v1", "trip_pricing_v1"}},
	}
	for _, tt := range tests {
		if !slices.Equal(tt.got, tt.want) {
			t.Errorf("%s %v, want %v", tt.kind, tt.got, tt.want)
		}
	}

	ttls := map[string]time.Duration{
		"driver_stats":         48 * time.Hour,
		"driver_trip_activity": 0, // aggregated: its windows bound time
		"customer_profile":     72 * time.Hour,
		"driver_location":      time.Hour,
		"driver_embedding":     0,
	}
	for name, want := range ttls {
		if v := defs.View(name); v != nil && v.TTL != want {
			t.Errorf("view %s: ttl %v, want %v", name, v.TTL, want)
		}
	}
	if v := defs.View("driver_embedding"); v != nil {
		if f, _ := v.Feature("embedding"); f.Type != registry.ListOf(registry.Float32) {
			t.Errorf("driver_embedding:embedding is %v, want list<float32>", f.Type)
		}
	}
	if s := defs.Source("driver_location"); s != nil && (s.Format != registry.FormatPush || len(s.Schema) != 5) {
		t.Errorf("driver_location source: format %s with %d schema columns, want push with 5", s.Format, len(s.Schema))
	}
	for _, s := range defs.Sources {
		if s.Format == registry.FormatPush {
			continue
		}
		if m, _ := filepath.Glob(filepath.Join(dir, s.Path)); len(m) == 0 {
			t.Errorf("source %s: path %s matches no file", s.Name, s.Path)
		}
	}
}

// configEqual compares configurations, treating nil and empty lists alike.
func configEqual(a, b registry.Config) bool {
	if len(a.OnlineStore.Addrs) == 0 && len(b.OnlineStore.Addrs) == 0 {
		a.OnlineStore.Addrs, b.OnlineStore.Addrs = nil, nil
	}
	return reflect.DeepEqual(a, b)
}

func sortedNames[T any](objs []T, name func(T) string) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = name(o)
	}
	slices.Sort(out)
	return out
}

func TestWriteSkeleton(t *testing.T) {
	tests := []struct {
		name    string
		project string
		setup   func(t *testing.T, dir string)
		wantErr string
	}{
		{name: "new directory", project: "fraud"},
		{
			name:    "directory with data",
			project: "fraud_v2",
			setup: func(t *testing.T, dir string) {
				if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name:    "existing almanac.yaml",
			project: "fraud",
			setup: func(t *testing.T, dir string) {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "almanac.yaml"), []byte("project: mine\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: "file exists",
		},
		{name: "bad project name", project: "Fraud-Detection", wantErr: `project name "Fraud-Detection" must match`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "repo")
			if tt.setup != nil {
				tt.setup(t, dir)
			}
			before := readTreeOrFile(t, dir)
			err := demo.WriteSkeleton(dir, tt.project)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("WriteSkeleton error %v, want one saying %q", err, tt.wantErr)
				}
				if after := readTreeOrFile(t, dir); after != before {
					t.Errorf("WriteSkeleton changed %s: before %q, after %q", dir, before, after)
				}
				return
			}
			if err != nil {
				t.Fatalf("WriteSkeleton: %v", err)
			}
			cfg, err := registry.LoadConfig(dir, noEnv)
			if err != nil {
				t.Fatalf("LoadConfig:\n%v", err)
			}
			want := registry.DefaultConfig(tt.project)
			want.Dir = cfg.Dir
			if !configEqual(*cfg, want) {
				t.Errorf("config %+v, want the defaults %+v", *cfg, want)
			}
			b, err := os.ReadFile(filepath.Join(dir, "almanac.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), "# type: redis") || !strings.Contains(string(b), "almanac init DIR --demo") {
				t.Errorf("almanac.yaml lacks the commented Redis settings or the pointer to the demo:\n%s", b)
			}
		})
	}
}
