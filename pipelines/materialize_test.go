package pipelines

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/almanac-fs/almanac/internal/demo"
	"github.com/almanac-fs/almanac/internal/duck"
	"github.com/almanac-fs/almanac/offline"
	"github.com/almanac-fs/almanac/registry"
)

func noEnv(string) string { return "" }

// newMaterializer loads the repository in dir and wires a materializer with
// an offline store in storeDir that removes replaced files at once.
func newMaterializer(t *testing.T, dir, storeDir string) *Materializer {
	t.Helper()
	repo, err := registry.Load(t.Context(), dir, registry.LoadOptions{Getenv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	db, err := duck.Open(duck.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &Materializer{Config: repo.Config, Defs: repo.Defs, Offline: offline.Open(storeDir, offline.Options{Retain: -1}), DB: db}
}

// writeDemo writes the demo repository and returns it with the range of its
// history.
func writeDemo(t *testing.T) (dir string, start, end time.Time) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "rides")
	sum, err := demo.Write(dir, demo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return dir, sum.Start, sum.End
}

// viewState is what the offline store holds for a view, independent of file
// names: the rows of each partition (rendered, sorted), the rows the
// snapshot records per partition and the materialized ranges.
type viewState struct {
	Partitions   map[string][]string
	Recorded     map[string]int64
	Materialized []offline.Interval
}

// storeState reads every view's current snapshot. It also checks that the
// view's folder holds no file the snapshot does not name.
func storeState(t *testing.T, m *Materializer) map[string]viewState {
	t.Helper()
	out := map[string]viewState{}
	for _, v := range m.Defs.Views {
		snap, err := m.Offline.Snapshot(v.Name)
		if errors.Is(err, offline.ErrNoData) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		st := viewState{Partitions: map[string][]string{}, Recorded: map[string]int64{}, Materialized: snap.Materialized}
		paths := snap.Paths()
		for i, f := range snap.Files {
			st.Recorded[f.Date] += f.Rows
			rows, err := readRows(t.Context(), m.DB, paths[i])
			if err != nil {
				t.Fatalf("read %s: %v", paths[i], err)
			}
			st.Partitions[f.Date] = append(st.Partitions[f.Date], rows...)
		}
		for _, rows := range st.Partitions {
			slices.Sort(rows)
		}
		out[v.Name] = st
		viewDir := filepath.Join(m.Offline.Dir(), "views", v.Name)
		onDisk, err := filepath.Glob(filepath.Join(viewDir, "*", "*.parquet"))
		if err != nil {
			t.Fatal(err)
		}
		if slices.Sort(onDisk); !slices.Equal(onDisk, sorted(paths)) {
			t.Errorf("view %s: folder holds %q, snapshot %d names %q", v.Name, onDisk, snap.Version, paths)
		}
		if _, err := os.Stat(filepath.Join(viewDir, "_staging")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("view %s: staging folder left behind (%v)", v.Name, err)
		}
	}
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// readRows renders each row of a Parquet file as one line, columns in name
// order.
func readRows(ctx context.Context, db *duck.DB, path string) ([]string, error) {
	rows, err := db.QueryContext(ctx, fmt.Sprintf("SELECT * FROM read_parquet(%s, hive_partitioning = false)", duck.Quote(path)))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	names, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out []string
	for rows.Next() {
		vals := make([]any, len(names))
		ptrs := make([]any, len(names))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		cells := map[string]string{}
		for i, v := range vals {
			if ts, ok := v.(time.Time); ok {
				v = ts.UTC().Format(time.RFC3339Nano)
			}
			cells[names[i]] = fmt.Sprintf("%v", v)
		}
		var line []string
		for _, n := range slices.Sorted(maps.Keys(cells)) {
			line = append(line, n+"="+cells[n])
		}
		out = append(out, strings.Join(line, " "))
	}
	return out, rows.Err()
}

// diffStates describes how two store states differ, or returns "".
func diffStates(got, want map[string]viewState) string {
	var out []string
	for _, view := range slices.Sorted(maps.Keys(want)) {
		g, ok := got[view]
		if !ok {
			out = append(out, fmt.Sprintf("view %s: no snapshot", view))
			continue
		}
		w := want[view]
		if !maps.Equal(g.Recorded, w.Recorded) {
			out = append(out, fmt.Sprintf("view %s: rows per partition %v, want %v", view, g.Recorded, w.Recorded))
		}
		if !slices.Equal(g.Materialized, w.Materialized) {
			out = append(out, fmt.Sprintf("view %s: materialized %v, want %v", view, g.Materialized, w.Materialized))
		}
		for _, date := range slices.Sorted(maps.Keys(w.Partitions)) {
			if !slices.Equal(g.Partitions[date], w.Partitions[date]) {
				out = append(out, fmt.Sprintf("view %s: partition %s differs: %d rows, want %d", view, date, len(g.Partitions[date]), len(w.Partitions[date])))
			}
		}
		for date := range g.Partitions {
			if _, ok := w.Partitions[date]; !ok {
				out = append(out, fmt.Sprintf("view %s: unexpected partition %s", view, date))
			}
		}
	}
	for view := range got {
		if _, ok := want[view]; !ok {
			out = append(out, fmt.Sprintf("unexpected view %s", view))
		}
	}
	return strings.Join(out, "\n")
}

// withoutRanges drops the materialized ranges, for comparing only content.
func withoutRanges(s map[string]viewState) map[string]viewState {
	out := map[string]viewState{}
	for k, v := range s {
		v.Materialized = nil
		out[k] = v
	}
	return out
}

func TestMaterializeTwiceGivesTheSameStore(t *testing.T) {
	dir, start, end := writeDemo(t)
	m := newMaterializer(t, dir, filepath.Join(dir, ".almanac", "offline"))
	ctx := t.Context()
	if _, err := m.Run(ctx, m.Defs.Views, start, end); err != nil {
		t.Fatal(err)
	}
	once := storeState(t, m)
	if len(once) < 4 {
		t.Fatalf("the demo materialized %d views, want every view with files (4)", len(once))
	}
	for view, st := range once {
		if len(st.Partitions) == 0 {
			t.Errorf("view %s: no partitions", view)
		}
	}

	t.Run("whole range again", func(t *testing.T) {
		if _, err := m.Run(ctx, m.Defs.Views, start, end); err != nil {
			t.Fatal(err)
		}
		if d := diffStates(storeState(t, m), once); d != "" {
			t.Error(d)
		}
	})
	t.Run("a sub-range twice", func(t *testing.T) {
		// Not aligned to days, so that partitions are partly replaced.
		from, to := start.Add(3*24*time.Hour+7*time.Hour), start.Add(5*24*time.Hour+13*time.Hour+30*time.Minute)
		for range 2 {
			if _, err := m.Run(ctx, m.Defs.Views, from, to); err != nil {
				t.Fatal(err)
			}
			if d := diffStates(storeState(t, m), once); d != "" {
				t.Error(d)
			}
		}
	})
	t.Run("incremental after a full run", func(t *testing.T) {
		versions := map[string]int64{}
		for view := range once {
			snap, err := m.Offline.Snapshot(view)
			if err != nil {
				t.Fatal(err)
			}
			versions[view] = snap.Version
		}
		results, err := m.RunIncremental(ctx, m.Defs.Views, end)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range results {
			if r.Skipped == "" || r.RowsWritten != 0 {
				t.Errorf("view %s: incremental run after a full one wrote %d rows (skipped: %q), want it skipped", r.View, r.RowsWritten, r.Skipped)
			}
		}
		for view, v := range versions {
			if snap, err := m.Offline.Snapshot(view); err != nil || snap.Version != v {
				t.Errorf("view %s: snapshot version after the incremental run = %v (%v), want %d", view, snap.Version, err, v)
			}
		}
		if d := diffStates(storeState(t, m), once); d != "" {
			t.Error(d)
		}
	})
	t.Run("incremental in two steps from an empty store", func(t *testing.T) {
		inc := newMaterializer(t, dir, filepath.Join(t.TempDir(), "offline"))
		mid := start.Add(9*24*time.Hour + 5*time.Hour + 17*time.Minute)
		for _, to := range []time.Time{mid, end} {
			if _, err := inc.RunIncremental(ctx, inc.Defs.Views, to); err != nil {
				t.Fatal(err)
			}
		}
		if d := diffStates(withoutRanges(storeState(t, inc)), withoutRanges(once)); d != "" {
			t.Error(d)
		}
	})
}

// duckTypeNames are the types DuckDB reports for each definition type,
// written out here rather than taken from the code under test.
var duckTypeNames = map[string]string{
	"int32": "INTEGER", "int64": "BIGINT", "float32": "FLOAT", "float64": "DOUBLE",
	"bool": "BOOLEAN", "string": "VARCHAR", "bytes": "BLOB", "timestamp": "TIMESTAMP WITH TIME ZONE",
}

func wantDuckType(t registry.Type) string {
	s := duckTypeNames[t.Elem.String()]
	if t.List {
		s += "[]"
	}
	return s
}

// allTypesRepo has a view with a feature of every type, read from source
// columns of other (convertible) types where there are some.
const allTypesRepo = `
kind: Entity
name: item
join_keys: [{name: item_id, type: string}]
---
kind: Entity
name: shop
join_keys: [{name: shop_id, type: int32}]
---
kind: Source
name: items
format: parquet
path: data/items.parquet
timestamp_field: ts
---
kind: FeatureView
name: item_features
entities: [item, shop]
source: items
features:
  - {name: f_int32, type: int32}
  - {name: f_int64, type: int64}
  - {name: f_float32, type: float32}
  - {name: f_float64, type: float64}
  - {name: f_bool, type: bool}
  - {name: f_string, type: string}
  - {name: f_bytes, type: bytes}
  - {name: f_timestamp, type: timestamp}
  - {name: l_int64, type: list<int64>}
  - {name: l_float32, type: list<float32>}
  - {name: l_string, type: list<string>}
  - {name: l_bool, type: list<bool>}
  - {name: l_timestamp, type: list<timestamp>}
`

const allTypesData = `SELECT 'a' AS item_id, CAST(1 AS SMALLINT) AS shop_id, TIMESTAMP '2024-05-01 10:00:00' AS ts,
  CAST(1 AS TINYINT) AS f_int32, CAST(2 AS INTEGER) AS f_int64, CAST(0.5 AS DOUBLE) AS f_float32, CAST(1 AS BIGINT) AS f_float64,
  true AS f_bool, 'x' AS f_string, 'raw' AS f_bytes, DATE '2024-01-01' AS f_timestamp,
  [1, 2]::INTEGER[] AS l_int64, [0.5, 1.5]::DOUBLE[] AS l_float32, ['p', 'q'] AS l_string, [true] AS l_bool,
  [TIMESTAMPTZ '2024-01-01 00:00:00+00'] AS l_timestamp`

// writeRepo writes almanac.yaml, the definitions and, for each data file,
// the result of a DuckDB query as Parquet.
func writeRepo(t *testing.T, defs string, data map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "almanac.yaml"), []byte("project: test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "features.yaml"), []byte(defs), 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := duck.Open(duck.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for name, q := range data {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(t.Context(), fmt.Sprintf("COPY (%s) TO %s (FORMAT parquet)", q, duck.Quote(path))); err != nil {
			t.Fatalf("write %s: %v", name, err)
		}
	}
	return dir
}

func TestStoredFilesReadBackWithDeclaredTypes(t *testing.T) {
	demoDir, demoStart, demoEnd := writeDemo(t)
	for _, tc := range []struct {
		name       string
		dir        string
		start, end time.Time
	}{
		{name: "demo", dir: demoDir, start: demoStart, end: demoEnd},
		{name: "every type", dir: writeRepo(t, allTypesRepo, map[string]string{"data/items.parquet": allTypesData}),
			start: time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), end: time.Date(2024, 5, 2, 0, 0, 0, 0, time.UTC)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMaterializer(t, tc.dir, filepath.Join(t.TempDir(), "offline"))
			if _, err := m.Run(t.Context(), m.Defs.Views, tc.start, tc.end); err != nil {
				t.Fatal(err)
			}
			files := 0
			for _, v := range m.Defs.Views {
				snap, err := m.Offline.Snapshot(v.Name)
				if errors.Is(err, offline.ErrNoData) {
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				want := map[string]string{m.Defs.TimestampField(v): "TIMESTAMP WITH TIME ZONE"}
				for _, k := range m.Defs.JoinKeys(v) {
					want[k.Name] = wantDuckType(k.Type)
				}
				if c := m.Defs.Source(v.Source).CreatedTimestampField; c != "" {
					want[c] = "TIMESTAMP WITH TIME ZONE"
				}
				for _, f := range v.Features {
					want[f.Name] = wantDuckType(f.Type)
				}
				// An aggregated view keeps its rows: the columns its
				// aggregations read, typed as its input has them, not its
				// features.
				var aggregated []string
				if v.Aggregated() {
					for _, f := range v.Features {
						delete(want, f.Name)
					}
					for _, a := range v.Aggregations {
						if a.Column != "" {
							aggregated = append(aggregated, a.Column)
						}
					}
				}
				for _, path := range snap.Paths() {
					files++
					cols, err := duck.Describe(t.Context(), m.DB, fmt.Sprintf("SELECT * FROM read_parquet(%s, hive_partitioning = false)", duck.Quote(path)))
					if err != nil {
						t.Fatalf("describe %s: %v", path, err)
					}
					got := map[string]string{}
					for _, c := range cols {
						got[c.Name] = c.DBType
					}
					for _, a := range aggregated {
						if _, ok := got[a]; ok {
							want[a] = got[a]
						}
					}
					if !maps.Equal(got, want) {
						t.Errorf("view %s, %s: columns %v, want %v", v.Name, filepath.Base(filepath.Dir(path)), got, want)
					}
				}
				// The view's folder reads as a Hive-partitioned dataset.
				var rows int64
				var badDates int64
				q := fmt.Sprintf("SELECT count(*), count(*) FILTER (WHERE CAST(date AS DATE) <> CAST(%s AS DATE)) FROM read_parquet(%s, hive_partitioning = true)",
					duck.Ident(m.Defs.TimestampField(v)), duck.Quote(filepath.Join(m.Offline.Dir(), "views", v.Name, "*", "*.parquet")))
				if err := m.DB.QueryRowContext(t.Context(), q).Scan(&rows, &badDates); err != nil {
					t.Fatalf("read view %s as a Hive dataset: %v", v.Name, err)
				}
				if rows != snap.Rows() || badDates != 0 {
					t.Errorf("view %s as a Hive dataset: %d rows (%d in the wrong date folder), want %d", v.Name, rows, badDates, snap.Rows())
				}
			}
			if files == 0 {
				t.Fatal("no files written")
			}
		})
	}
}

// viewErrorRepo has the source stats with columns driver_id, event_ts,
// conv_rate (DOUBLE) and note (VARCHAR); each case adds a view over it.
const viewErrorRepo = `
kind: Entity
name: driver
join_keys: [{name: driver_id, type: int64}]
---
kind: Source
name: stats
format: parquet
path: data/stats.parquet
timestamp_field: event_ts
---
`

const viewErrorData = `SELECT 1::BIGINT AS driver_id, TIMESTAMPTZ '2024-05-01 10:00:00+00' AS event_ts, 0.5::DOUBLE AS conv_rate, 'high' AS note`

func TestMaterializeRejectsViewsThatDoNotMatchTheirInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		view string
		want []string
	}{
		{
			name: "sql without a feature",
			view: "sql: SELECT driver_id, event_ts FROM source\nfeatures: [{name: conv_rate, type: float64}]",
			want: []string{`"v"`, `"conv_rate"`, "feature"},
		},
		{
			name: "sql with a feature of an incompatible type",
			view: "sql: SELECT driver_id, event_ts, note AS conv_rate FROM source\nfeatures: [{name: conv_rate, type: float64}]",
			want: []string{`"v"`, `"conv_rate"`, "string", "float64"},
		},
		{
			name: "source column of an incompatible type",
			view: "features: [{name: note, type: int64}]",
			want: []string{`"v"`, `"note"`, "string", "int64"},
		},
		{
			name: "scalar column for a list feature",
			view: "features: [{name: conv_rate, type: list<float32>}]",
			want: []string{`"v"`, `"conv_rate"`, "float64", "list<float32>"},
		},
		{
			name: "sql without the join key",
			view: "sql: SELECT event_ts, conv_rate FROM source\nfeatures: [{name: conv_rate, type: float64}]",
			want: []string{`"v"`, `"driver_id"`, "join key"},
		},
		{
			name: "sql without the timestamp",
			view: "sql: SELECT driver_id, conv_rate FROM source\nfeatures: [{name: conv_rate, type: float64}]",
			want: []string{`"v"`, `"event_ts"`, "timestamp"},
		},
		{
			name: "sql with a timestamp of text",
			view: "sql: SELECT driver_id, note AS event_ts, conv_rate FROM source\nfeatures: [{name: conv_rate, type: float64}]",
			want: []string{`"v"`, `"event_ts"`, "string", "timestamp"},
		},
		{
			name: "sql that does not run",
			view: "sql: SELECT driver_id, event_ts, conv_rat FROM source\nfeatures: [{name: conv_rate, type: float64}]",
			want: []string{`"v"`, "conv_rat"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defs := viewErrorRepo + "kind: FeatureView\nname: v\nentities: [driver]\nsource: stats\n" + tc.view + "\n"
			dir := writeRepo(t, defs, map[string]string{"data/stats.parquet": viewErrorData})
			m := newMaterializer(t, dir, filepath.Join(t.TempDir(), "offline"))
			_, err := m.Run(t.Context(), m.Defs.Views, time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 5, 2, 0, 0, 0, 0, time.UTC))
			if err == nil {
				t.Fatalf("Run succeeded, want an error containing %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if _, err := m.Offline.Snapshot("v"); !errors.Is(err, offline.ErrNoData) {
				t.Errorf("after the failed run, Snapshot = %v, want ErrNoData", err)
			}
		})
	}
}

const dropRepo = `
kind: Entity
name: driver
join_keys: [{name: driver_id, type: int64}]
---
kind: Entity
name: zone
join_keys: [{name: city, type: string}, {name: zone_id, type: int32}]
---
kind: Source
name: trips
format: parquet
path: data/trips.parquet
timestamp_field: event_ts
---
kind: FeatureView
name: by_driver
entities: [driver]
source: trips
features: [{name: fare, type: float64}]
---
kind: FeatureView
name: by_zone
entities: [zone]
source: trips
sql: SELECT city, zone_id, event_ts, fare FROM source WHERE fare IS NOT NULL OR city IS NULL
features: [{name: fare, type: float64}]
`

// dropData: rows 1 and 2 are complete; 3 lacks the driver, 4 the time, 5
// both, 6 the city (one of two zone keys), 7 the zone id, 8 is outside the
// materialized range, with a null driver.
const dropData = `SELECT * FROM (VALUES
  (1, 1::BIGINT, 'paris', 1, TIMESTAMPTZ '2024-05-01 10:00:00+00', 10.0::DOUBLE),
  (2, 2, 'paris', 2, TIMESTAMPTZ '2024-05-01 11:00:00+00', NULL),
  (3, NULL, 'lyon', 1, TIMESTAMPTZ '2024-05-01 12:00:00+00', 12.0),
  (4, 3, 'lyon', 2, NULL, 13.0),
  (5, NULL, 'lyon', 3, NULL, 14.0),
  (6, 4, NULL, 1, TIMESTAMPTZ '2024-05-01 13:00:00+00', 15.0),
  (7, 5, 'nice', NULL, TIMESTAMPTZ '2024-05-01 14:00:00+00', 16.0),
  (8, NULL, 'nice', 1, TIMESTAMPTZ '2024-05-03 14:00:00+00', 17.0)
) AS t(n, driver_id, city, zone_id, event_ts, fare) ORDER BY n`

func TestMaterializeDropsRowsWithoutKeyOrTime(t *testing.T) {
	dir := writeRepo(t, dropRepo, map[string]string{"data/trips.parquet": dropData})
	m := newMaterializer(t, dir, filepath.Join(t.TempDir(), "offline"))
	results, err := m.Run(t.Context(), m.Defs.Views, time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 5, 2, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	type counts struct{ written, dropped, stored int64 }
	want := map[string]counts{
		// by_driver drops rows 3, 4, 5 (row 8 is out of range).
		"by_driver": {written: 4, dropped: 3, stored: 4},
		// by_zone's SQL removes row 2 (null fare); rows 4, 5, 6, 7 lack a
		// key or the time.
		"by_zone": {written: 2, dropped: 4, stored: 2},
	}
	got := map[string]counts{}
	for _, r := range results {
		snap, err := m.Offline.Snapshot(r.View)
		if err != nil {
			t.Fatal(err)
		}
		got[r.View] = counts{written: r.RowsWritten, dropped: r.RowsDropped, stored: snap.Rows()}
		if snap.LastRun == nil || snap.LastRun.RowsDropped != r.RowsDropped {
			t.Errorf("view %s: snapshot's last run %+v, want %d rows dropped recorded", r.View, snap.LastRun, r.RowsDropped)
		}
	}
	if !maps.Equal(got, want) {
		t.Errorf("written, dropped, stored = %+v, want %+v", got, want)
	}
}

// TestMaterializeSkipsSourcesWithoutFiles checks that a view whose source
// has no files to read is skipped, by a full and an incremental run, with
// the reason its source kind gives.
func TestMaterializeSkipsSourcesWithoutFiles(t *testing.T) {
	m := newMaterializer(t, writeRepo(t, tiesRepo, nil), filepath.Join(t.TempDir(), "offline"))
	start, end := tieTime.Add(-time.Hour), tieTime.Add(time.Hour)
	for _, tc := range []struct {
		name string
		view string
		want string
	}{
		{"push source", "ping_speeds", m.Defs.Source("pings").WithoutFiles()},
		{"file source without files", "trip_fares", "no files match data/*.csv"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			views := []*registry.FeatureView{m.Defs.View(tc.view)}
			full, err := m.Run(t.Context(), views, start, end)
			if err != nil {
				t.Fatal(err)
			}
			incremental, err := m.RunIncremental(t.Context(), views, end)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range append(full, incremental...) {
				if r.Skipped != tc.want || r.RowsWritten != 0 {
					t.Errorf("got skipped %q with %d rows, want skipped %q", r.Skipped, r.RowsWritten, tc.want)
				}
			}
		})
	}
}
