package pipelines

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/almanac-fs/almanac/internal/demo"
	"github.com/almanac-fs/almanac/registry"
)

// edit replaces the first old in a file of the demo repository with new.
type edit struct{ file, old, new string }

// demoRepo writes the demo repository with edits applied.
func demoRepo(t *testing.T, edits ...edit) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "rides")
	if _, err := demo.Write(dir, demo.Options{}); err != nil {
		t.Fatal(err)
	}
	for _, e := range edits {
		path := filepath.Join(dir, e.file)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		edited := strings.Replace(string(data), e.old, e.new, 1)
		if edited == string(data) {
			t.Fatalf("%s has no %q to replace", e.file, e.old)
		}
		if err := os.WriteFile(path, []byte(edited), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestSchemasCheckViews(t *testing.T) {
	noData := edit{"sources.yaml", "path: data/trips/*.parquet", "path: data/later/*.parquet"}
	for _, tc := range []struct {
		name  string
		edits []edit
		want  []string // substrings of the problems, one per problem
	}{
		{name: "demo is valid"},
		{
			name:  "sql without a join key",
			edits: []edit{{"driver_features.yaml", "    driver_id,\n    event_ts,", "    event_ts,"}},
			want:  []string{`feature view "driver_trip_activity": the result of sql has no column "driver_id" for join key`},
		},
		{
			name:  "sql that does not run",
			edits: []edit{{"driver_features.yaml", "FROM source", "FROM sauce"}},
			want:  []string{`feature view "driver_trip_activity": sql does not run: `},
		},
		{
			name:  "feature missing from the source",
			edits: []edit{{"driver_features.yaml", "  - {name: conv_rate, type: float64", "  - {name: acc_rates, type: float64}\n  - {name: conv_rate, type: float64"}},
			want:  []string{`feature view "driver_stats": source "driver_hourly" has no column "acc_rates" for feature; did you mean "acc_rate"?`},
		},
		{
			name:  "feature of an incompatible type",
			edits: []edit{{"driver_features.yaml", "{name: avg_daily_trips, type: int64", "{name: avg_daily_trips, type: bool"}},
			want:  []string{`feature view "driver_stats": source "driver_hourly" column "avg_daily_trips" is int64, which cannot hold feature bool; change the type or cast the column`},
		},
		{
			name:  "source without data yet",
			edits: []edit{{"sources.yaml", "path: data/driver_hourly/*.parquet", "path: data/later/*.parquet"}},
		},
		{
			name:  "sql with a second statement",
			edits: []edit{{"driver_features.yaml", "  FROM source\n", "  FROM source; SELECT 1\n"}},
			want:  []string{`feature view "driver_trip_activity": sql must be exactly one SELECT query over the table "source" (WITH … SELECT included), but it has 2 statements`},
		},
		{
			name:  "sql with a second statement over a source without data yet",
			edits: []edit{noData, {"driver_features.yaml", "  FROM source\n", "  FROM source; COPY (SELECT 1) TO 'owned.csv'\n"}},
			want:  []string{`feature view "driver_trip_activity": sql must be exactly one SELECT query over the table "source" (WITH … SELECT included), but it is not a SELECT statement`},
		},
		{
			name:  "sql that does not parse over a source without data yet",
			edits: []edit{noData, {"driver_features.yaml", "  SELECT\n    driver_id,", "  SELEC\n    driver_id,"}},
			want:  []string{`feature view "driver_trip_activity": sql must be exactly one SELECT query over the table "source" (WITH … SELECT included), but it does not parse: syntax error at or near "SELEC"`},
		},
		{
			name:  "sql with a WITH clause",
			edits: []edit{{"driver_features.yaml", "sql: |\n  SELECT\n", "sql: |\n  WITH trips AS (SELECT * FROM source)\n  SELECT\n"}},
		},
		{
			name:  "sql reading a file that is not its source's",
			edits: []edit{{"driver_features.yaml", "  FROM source\n", "  FROM source, read_csv('almanac.yaml')\n"}},
			want:  []string{`feature view "driver_trip_activity": sql does not run: describe the input of feature view "driver_trip_activity": a view's SQL reads only the files of its source: Permission Error: Cannot access file "almanac.yaml"`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := demoRepo(t, tc.edits...)
			schemas := NewSchemas()
			defer schemas.Close()
			_, err := registry.Load(context.Background(), dir, registry.LoadOptions{Schemas: schemas})
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				return
			}
			probs, ok := errors.AsType[registry.Problems](err)
			if !ok {
				t.Fatalf("Load error = %v, want Problems", err)
			}
			if len(probs) != len(tc.want) {
				t.Fatalf("got %d problems, want %d:\n%v", len(probs), len(tc.want), probs)
			}
			for i, w := range tc.want {
				if got := probs[i].String(); !strings.Contains(got, w) || probs[i].Pos.Line == 0 {
					t.Errorf("problem %d = %q, want it to contain %q with a line", i, got, w)
				}
			}
		})
	}
}
