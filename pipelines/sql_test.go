package pipelines

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/almanac-fs/almanac/offline"
	"github.com/almanac-fs/almanac/registry"
)

// lockedMaterializer loads the repository in dir without checking its views
// against their input, as materializing the registry's definitions does,
// and wires a materializer with a database from OpenDB.
func lockedMaterializer(t *testing.T, dir string) *Materializer {
	t.Helper()
	repo, err := registry.Load(t.Context(), dir, registry.LoadOptions{Getenv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	db, err := OpenDB(repo.Config, repo.Defs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	store := offline.Open(repo.Config.Abs(repo.Config.OfflineStore.Path), offline.Options{Retain: -1})
	return &Materializer{Config: repo.Config, Defs: repo.Defs, Offline: store, DB: db}
}

// sqlViewRepo writes a repository with one view, v, whose conv_rate is
// computed by sql over the source of viewErrorData.
func sqlViewRepo(t *testing.T, sql string) string {
	t.Helper()
	defs := viewErrorRepo + "kind: FeatureView\nname: v\nentities: [driver]\nsource: stats\nsql: |\n  " + sql + "\nfeatures: [{name: conv_rate, type: float64}]\n"
	return writeRepo(t, defs, map[string]string{"data/stats.parquet": viewErrorData})
}

// runs are the ways to materialize views: from their watermark, and over
// a day that holds the rows of viewErrorData.
var runs = []struct {
	name string
	run  func(context.Context, *Materializer) ([]Result, error)
}{
	{"incremental", func(ctx context.Context, m *Materializer) ([]Result, error) {
		return m.RunIncremental(ctx, m.Defs.Views, time.Date(2024, 5, 2, 0, 0, 0, 0, time.UTC))
	}},
	{"range", func(ctx context.Context, m *Materializer) ([]Result, error) {
		return m.Run(ctx, m.Defs.Views, time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 5, 2, 0, 0, 0, 0, time.UTC))
	}},
}

// TestMaterializeViewSQL materializes views whose SQL ends in comments or a
// semicolon, or has a WITH clause: the view's SQL is put in a subquery, so
// a trailing line comment swallowed the closing parenthesis.
func TestMaterializeViewSQL(t *testing.T) {
	for _, tc := range []struct{ name, sql string }{
		{name: "plain", sql: "SELECT driver_id, event_ts, conv_rate FROM source"},
		{name: "trailing line comment", sql: "SELECT driver_id, event_ts, conv_rate FROM source -- every row"},
		{name: "trailing block comment", sql: "SELECT driver_id, event_ts, conv_rate FROM source /* every /* nested */ row */"},
		{name: "semicolon", sql: "SELECT driver_id, event_ts, conv_rate FROM source;"},
		{name: "semicolon and comment", sql: "SELECT driver_id, event_ts, conv_rate FROM source; -- every row"},
		{name: "strings like comments", sql: "SELECT driver_id, event_ts, conv_rate FROM source WHERE note <> '--;' AND note <> $$/*;$$ -- ;"},
		{name: "with clause", sql: "WITH s AS (SELECT * FROM source) SELECT driver_id, event_ts, conv_rate FROM s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := sqlViewRepo(t, tc.sql)
			schemas := NewSchemas()
			defer schemas.Close()
			if _, err := registry.Load(t.Context(), dir, registry.LoadOptions{Getenv: noEnv, Schemas: schemas}); err != nil {
				t.Fatalf("plan: %v", err)
			}
			m := lockedMaterializer(t, dir)
			for _, r := range runs {
				results, err := r.run(t.Context(), m)
				if err != nil {
					t.Fatalf("%s: %v", r.name, err)
				}
				if got := results[0].RowsWritten; got != 1 {
					t.Errorf("%s: wrote %d rows, want 1", r.name, got)
				}
			}
		})
	}
}

// TestMaterializeRefusesHostileSQL materializes definitions that were
// never planned, as those of a registry applied before views' SQL was
// checked: SQL that is not one SELECT is refused before anything runs, and
// the database reads no file outside the sources.
func TestMaterializeRefusesHostileSQL(t *testing.T) {
	out := t.TempDir()
	secret := filepath.Join(out, "secret.csv")
	if err := os.WriteFile(secret, []byte("secret\nhunter2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	owned := filepath.Join(out, "owned.csv")
	for _, tc := range []struct{ name, sql, want string }{
		{name: "copy between selects", sql: "SELECT driver_id, event_ts, conv_rate FROM source; COPY (SELECT 1) TO '" + owned + "'; SELECT driver_id, event_ts, conv_rate FROM source", want: "is not a SELECT statement"},
		{name: "second statement", sql: "SELECT driver_id, event_ts, conv_rate FROM source; SELECT 1", want: "has 2 statements"},
		{name: "read outside", sql: "SELECT driver_id, event_ts, conv_rate FROM source, read_csv('" + secret + "')", want: "Permission Error"},
		{name: "read outside when run", sql: "SELECT driver_id, event_ts, conv_rate FROM source WHERE (SELECT count(*) FROM read_text('" + secret + "')) > 0", want: "Permission Error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := lockedMaterializer(t, sqlViewRepo(t, tc.sql))
			for _, r := range runs {
				if _, err := r.run(t.Context(), m); err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s: %v, want an error containing %q", r.name, err, tc.want)
				}
			}
			if _, err := os.Stat(owned); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("materialize wrote %s (%v)", owned, err)
			}
			if _, err := m.Offline.Snapshot("v"); !errors.Is(err, offline.ErrNoData) {
				t.Errorf("after the refused runs, Snapshot = %v, want ErrNoData", err)
			}
		})
	}
}

// TestStatementTimeout runs a view whose SQL would take hours with
// pipelines.statement_timeout at 200ms.
func TestStatementTimeout(t *testing.T) {
	dir := sqlViewRepo(t, "SELECT driver_id, event_ts, conv_rate FROM source, range(1000000000000) r WHERE r.range = -1")
	if err := os.WriteFile(filepath.Join(dir, registry.ConfigFile), []byte("project: test\npipelines: {statement_timeout: 200ms}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m := lockedMaterializer(t, dir)
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			began := time.Now()
			_, err := r.run(t.Context(), m)
			if took := time.Since(began); took > 20*time.Second {
				t.Errorf("the run took %s, want it cancelled after 200ms", took)
			}
			if err == nil || !strings.Contains(err.Error(), "pipelines.statement_timeout (200ms)") {
				t.Errorf("materialize: %v, want an error naming pipelines.statement_timeout (200ms)", err)
			}
		})
	}

	// Describing the query takes no time at all: a timeout of 1ns shows
	// that plan's statements are bounded too.
	t.Run("plan", func(t *testing.T) {
		if err := os.WriteFile(filepath.Join(dir, registry.ConfigFile), []byte("project: test\npipelines: {statement_timeout: 1ns}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		schemas := NewSchemas()
		defer schemas.Close()
		_, err := registry.Load(t.Context(), dir, registry.LoadOptions{Getenv: noEnv, Schemas: schemas})
		if err == nil || !strings.Contains(err.Error(), "features.yaml:16: feature view \"v\": sql does not run: ") || !strings.Contains(err.Error(), "pipelines.statement_timeout (1ns)") {
			t.Errorf("plan: %v, want a problem naming pipelines.statement_timeout (1ns)", err)
		}
	})
}

const csvRepo = `
kind: Entity
name: driver
join_keys: [{name: driver_id, type: int64}]
---
kind: Source
name: stats
format: csv
path: data/stats/*.csv
timestamp_field: event_ts
schema:
  - {name: driver_id, type: int64}
  - {name: event_ts, type: timestamp}
  - {name: conv_rate, type: float64}
---
kind: FeatureView
name: v
entities: [driver]
source: stats
features: [{name: conv_rate, type: float64}]
`

// TestCSVErrorsNameTheFile reads a CSV source of which one file is ragged
// or empty: DuckDB's error names no file, Almanac's does.
func TestCSVErrorsNameTheFile(t *testing.T) {
	good := "driver_id,event_ts,conv_rate\n1,2024-05-01T10:00:00Z,0.5\n"
	for _, tc := range []struct{ name, bad string }{
		{name: "ragged", bad: "driver_id,event_ts,conv_rate\n2,2024-05-01T10:00:00Z,0.5,7\n"},
		{name: "empty", bad: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeRepo(t, csvRepo, nil)
			for name, data := range map[string]string{"1.csv": good, "2.csv": tc.bad, "3.csv": good} {
				path := filepath.Join(dir, "data", "stats", name)
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want := "file " + filepath.Join("data", "stats", "2.csv") + ": "
			schemas := NewSchemas()
			defer schemas.Close()
			if _, err := registry.Load(t.Context(), dir, registry.LoadOptions{Getenv: noEnv, Schemas: schemas}); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("plan: %v, want a problem containing %q", err, want)
			}
			m := lockedMaterializer(t, dir)
			if _, err := runs[1].run(t.Context(), m); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("materialize: %v, want an error containing %q", err, want)
			}
		})
	}
}
