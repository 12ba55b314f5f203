package demo_test

import (
	"context"
	"database/sql"
	"fmt"
	"path"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/almanac-fs/almanac/internal/demo"
	"github.com/almanac-fs/almanac/registry"
)

func openDuckDB(t *testing.T) *sql.Conn {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	conn, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// TestDuckDBReadsData reads every data file as DuckDB does, the engine the
// pipelines and point-in-time joins run on.
func TestDuckDBReadsData(t *testing.T) {
	dir, sum := writeDemo(t, demo.Options{})
	conn := openDuckDB(t)
	const tstz = "TIMESTAMP WITH TIME ZONE" // how DuckDB reads isAdjustedToUTC timestamps
	tests := []struct {
		read   string // read_parquet or read_csv
		glob   string // relative to dir
		column string // a timestamp column
		want   string // its type
	}{
		{"read_parquet", "data/driver_hourly/*.parquet", "event_ts", tstz},
		{"read_parquet", "data/driver_hourly/*.parquet", "created_ts", tstz},
		{"read_parquet", "data/trips/*.parquet", "event_ts", tstz},
		{"read_parquet", "data/trips/*.parquet", "created_ts", tstz},
		{"read_parquet", "data/driver_embeddings.parquet", "event_ts", tstz},
		{"read_parquet", "data/labels/trip_outcomes.parquet", "event_timestamp", tstz},
		{"read_csv", "data/customer_profile.csv", "event_ts", tstz},
		{"read_csv", "data/push/driver_location.csv", "event_ts", tstz},
	}
	for _, tt := range tests {
		t.Run(tt.glob+"/"+tt.column, func(t *testing.T) {
			q := fmt.Sprintf("SELECT typeof(%s), count(*), min(%[1]s) >= ?, max(%[1]s) < ? FROM %s('%s/%s') GROUP BY ALL",
				tt.column, tt.read, filepath.ToSlash(dir), tt.glob)
			var typ string
			var n int
			var afterStart, beforeEnd bool
			if err := conn.QueryRowContext(t.Context(), q, sum.Start, sum.End).Scan(&typ, &n, &afterStart, &beforeEnd); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			if typ != tt.want {
				t.Errorf("%s is %s, want %s", tt.column, typ, tt.want)
			}
			if want := rowsMatching(sum, tt.glob); n != want {
				t.Errorf("%d rows, the summary says %d", n, want)
			}
			if !afterStart || !beforeEnd {
				t.Errorf("%s outside [%v, %v)", tt.column, sum.Start, sum.End)
			}
		})
	}

	t.Run("embedding type", func(t *testing.T) {
		var typ string
		q := fmt.Sprintf("SELECT DISTINCT typeof(embedding) FROM read_parquet('%s/data/driver_embeddings.parquet')", filepath.ToSlash(dir))
		if err := conn.QueryRowContext(t.Context(), q).Scan(&typ); err != nil {
			t.Fatal(err)
		}
		if typ != "FLOAT[]" {
			t.Errorf("embedding is %s, want FLOAT[]", typ)
		}
	})

	// Nearly every label finds the driver's stats within driver_stats' ttl
	// of 2 days: the labels are useful for a training set.
	t.Run("labels join driver_stats", func(t *testing.T) {
		q := fmt.Sprintf(`
			SELECT count(*), count(s.conv_rate)
			FROM read_parquet('%[1]s/data/labels/trip_outcomes.parquet') l
			ASOF LEFT JOIN read_parquet('%[1]s/data/driver_hourly/*.parquet') s
			  ON l.driver_id = s.driver_id AND l.event_timestamp >= s.event_ts`, filepath.ToSlash(dir))
		var labels, joined int
		if err := conn.QueryRowContext(t.Context(), q).Scan(&labels, &joined); err != nil {
			t.Fatal(err)
		}
		if joined < labels*99/100 {
			t.Errorf("%d of %d labels have driver stats", joined, labels)
		}
	})
}

// TestDuckDBViewColumns checks every feature view against the columns DuckDB
// finds in its source or computes with its SQL, as `almanac plan` does with
// a schema resolver.
func TestDuckDBViewColumns(t *testing.T) {
	dir, _ := writeDemo(t, demo.Options{})
	conn := openDuckDB(t)
	repo, err := registry.Load(t.Context(), dir, registry.LoadOptions{Getenv: noEnv, Schemas: duckResolver{conn}})
	if err != nil {
		t.Fatalf("Load with schemas:\n%v", err)
	}

	activity := repo.Defs.View("driver_trip_activity")
	src := repo.Defs.Source(activity.Source)
	if err := createSource(t.Context(), conn, repo.Config, src); err != nil {
		t.Fatal(err)
	}
	q := fmt.Sprintf(`
		SELECT count(*), count(*) FILTER (WHERE rating IS NULL),
		       count(*) FILTER (WHERE completed = 1), count(*) FILTER (WHERE completed_fare IS NOT NULL)
		FROM (%s)`, activity.SQL)
	var n, nullRatings, completed, fares int
	if err := conn.QueryRowContext(t.Context(), q).Scan(&n, &nullRatings, &completed, &fares); err != nil {
		t.Fatalf("run driver_trip_activity: %v", err)
	}
	t.Logf("driver_trip_activity: %d rows, %d without a rating, %d completed, %d with a completed fare", n, nullRatings, completed, fares)
	if nullRatings == 0 || nullRatings >= n/2 {
		t.Errorf("%d of %d rows without a rating, want some but under half", nullRatings, n)
	}
	if completed == 0 || completed == n || fares != completed {
		t.Errorf("%d of %d rows completed, %d with a completed fare; want some completed, some not, and a fare for each completed one", completed, n, fares)
	}
}

// rowsMatching sums the rows of the summary's files matching glob.
func rowsMatching(sum demo.Summary, glob string) int {
	var n int
	for _, f := range sum.Files {
		if ok, _ := path.Match(glob, f.Path); ok {
			n += f.Rows
		}
	}
	return n
}

// duckResolver finds the columns of feature views with DuckDB.
type duckResolver struct{ conn *sql.Conn }

var _ registry.SchemaResolver = duckResolver{}

func (r duckResolver) ViewColumns(ctx context.Context, cfg *registry.Config, src *registry.Source, view *registry.FeatureView) ([]registry.Column, error) {
	if err := createSource(ctx, r.conn, cfg, src); err != nil {
		return nil, err
	}
	query := "SELECT * FROM source"
	if view.SQL != "" {
		query = view.SQL
	}
	rows, err := r.conn.QueryContext(ctx, "DESCRIBE "+query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cols []registry.Column
	for rows.Next() {
		var name, typ string
		var null, key, def, extra sql.NullString
		if err := rows.Scan(&name, &typ, &null, &key, &def, &extra); err != nil {
			return nil, err
		}
		cols = append(cols, registry.Column{Name: name, Type: duckType(typ), DBType: typ})
	}
	return cols, rows.Err()
}

// createSource makes the source's rows the table "source".
func createSource(ctx context.Context, conn *sql.Conn, cfg *registry.Config, src *registry.Source) error {
	read := "read_parquet"
	if src.Format == registry.FormatCSV {
		read = "read_csv"
	}
	q := fmt.Sprintf("CREATE OR REPLACE TEMP VIEW source AS SELECT * FROM %s('%s')", read, filepath.ToSlash(cfg.Abs(src.Path)))
	if _, err := conn.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("read source %s: %w", src.Name, err)
	}
	return nil
}

func duckType(typ string) registry.Type {
	if elem, ok := strings.CutSuffix(typ, "[]"); ok {
		if t := duckType(elem); !t.List {
			return registry.ListOf(t.Elem)
		}
		return registry.Type{}
	}
	scalars := map[string]registry.Scalar{
		"INTEGER": registry.Int32, "BIGINT": registry.Int64, "FLOAT": registry.Float32, "DOUBLE": registry.Float64,
		"BOOLEAN": registry.Bool, "VARCHAR": registry.String, "BLOB": registry.Bytes,
		"TIMESTAMP": registry.Timestamp, "TIMESTAMP WITH TIME ZONE": registry.Timestamp,
	}
	return registry.Type{Elem: scalars[typ]}
}
