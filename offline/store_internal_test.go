package offline

import (
	"cmp"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/almanac-fs/almanac/internal/duck"
	"github.com/almanac-fs/almanac/registry"
)

// histRow is a row of the test view: driver_id, event_ts, v and, in stores
// made with a date column, a column named like the partition folders.
type histRow struct {
	Key  int64
	TS   time.Time
	V    float64
	Date string
}

func (r histRow) String() string {
	return fmt.Sprintf("%d %s %g %s", r.Key, r.TS.UTC().Format(time.RFC3339Nano), r.V, r.Date)
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

// testStore is a store in a temporary directory and a DuckDB connection to
// stage batches on.
type testStore struct {
	t     testing.TB
	store *Store
	db    *duck.DB
	conn  *sql.Conn
	// dateColumn adds the column date (histRow.Date) to the rows.
	dateColumn bool
}

func newTestStore(t testing.TB) *testStore {
	t.Helper()
	db, err := duck.Open(duck.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	conn, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &testStore{t: t, store: Open(filepath.Join(t.TempDir(), "offline"), Options{Retain: -1}), db: db, conn: conn}
}

const testView = "driver_stats"

// write stages rows in a temporary table and writes them for [start, end).
func (ts *testStore) write(start, end time.Time, rows []histRow) (*Snapshot, error) {
	ts.t.Helper()
	return ts.writeBatch(Batch{Start: start, End: end}, rows)
}

// writeBatch stages rows in a temporary table and writes them with b's
// range and mode.
func (ts *testStore) writeBatch(b Batch, rows []histRow) (*Snapshot, error) {
	t := ts.t
	t.Helper()
	q := "(SELECT CAST(NULL AS BIGINT) AS driver_id, CAST(NULL AS TIMESTAMPTZ) AS event_ts, CAST(NULL AS DOUBLE) AS v"
	if ts.dateColumn {
		q += ", CAST(NULL AS VARCHAR) AS date"
	}
	q += " LIMIT 0)"
	for _, r := range rows {
		q += fmt.Sprintf(" UNION ALL SELECT %d, %s, %g", r.Key, timeLiteral(r.TS), r.V)
		if ts.dateColumn {
			q += ", " + duck.Quote(r.Date)
		}
	}
	if len(rows) == 0 {
		q = "SELECT * FROM " + q
	}
	if _, err := ts.conn.ExecContext(t.Context(), "CREATE OR REPLACE TEMP TABLE batch AS "+q); err != nil {
		t.Fatal(err)
	}
	b.View, b.Conn, b.Table, b.TimestampColumn, b.SortBy = testView, ts.conn, "batch", "event_ts", []string{"driver_id"}
	return ts.store.Write(t.Context(), b)
}

// read returns the rows of snap's files as they are stored, checking that
// each file exists, holds the rows the snapshot says, and only rows of its
// partition's date.
func (ts *testStore) read(snap *Snapshot) []histRow {
	t := ts.t
	t.Helper()
	var all []histRow
	for _, f := range snap.Files {
		path := filepath.Join(snap.dir, f.Path)
		if _, err := os.Stat(path); err != nil {
			t.Errorf("snapshot %d names %s: %v", snap.Version, f.Path, err)
			continue
		}
		if want := "date=" + f.Date; filepath.Base(filepath.Dir(f.Path)) != want {
			t.Errorf("file %s of date %s is not in folder %s", f.Path, f.Date, want)
		}
		date := "CAST(NULL AS VARCHAR)"
		if ts.dateColumn {
			date = "date"
		}
		rows, err := ts.db.QueryContext(t.Context(), fmt.Sprintf(
			"SELECT driver_id, event_ts, v, %s FROM read_parquet(%s, hive_partitioning = false)", date, duck.Quote(path)))
		if err != nil {
			t.Fatalf("read %s: %v", f.Path, err)
		}
		var n int64
		for rows.Next() {
			var r histRow
			var date sql.NullString
			if err := rows.Scan(&r.Key, &r.TS, &r.V, &date); err != nil {
				t.Fatal(err)
			}
			r.Date = date.String
			if d := r.TS.UTC().Format(time.DateOnly); d != f.Date {
				t.Errorf("file %s of date %s holds a row of %s", f.Path, f.Date, d)
			}
			all = append(all, r)
			n++
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		if n != f.Rows {
			t.Errorf("file %s holds %d rows, its snapshot says %d", f.Path, n, f.Rows)
		}
	}
	sortRows(all)
	return all
}

func sortRows(rows []histRow) {
	slices.SortFunc(rows, func(a, b histRow) int {
		return cmp.Or(cmp.Compare(a.Key, b.Key), a.TS.Compare(b.TS), cmp.Compare(a.V, b.V))
	})
}

// orphans lists the Parquet files under the view's folder that the current
// snapshot does not name.
func (ts *testStore) orphans(snap *Snapshot) []string {
	ts.t.Helper()
	named := map[string]bool{}
	for _, f := range snap.Files {
		named[f.Path] = true
	}
	var out []string
	err := filepath.WalkDir(ts.store.viewDir(testView), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".parquet") {
			return err
		}
		rel, _ := filepath.Rel(ts.store.viewDir(testView), path)
		if !named[rel] {
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		ts.t.Fatal(err)
	}
	return out
}

// diffRows compares two sets of rows in sorted order.
func diffRows(got, want []histRow) string {
	got, want = slices.Clone(got), slices.Clone(want)
	sortRows(got)
	sortRows(want)
	var g, w []string
	for _, r := range got {
		g = append(g, r.String())
	}
	for _, r := range want {
		w = append(w, r.String())
	}
	if slices.Equal(g, w) {
		return ""
	}
	return fmt.Sprintf("got %d rows:\n  %s\nwant %d rows:\n  %s", len(g), strings.Join(g, "\n  "), len(w), strings.Join(w, "\n  "))
}

// every6h returns rows for keys 1 and 2 every 6 hours in [start, end).
func every6h(start, end time.Time, v float64, date string) []histRow {
	var rows []histRow
	for ts := start; ts.Before(end); ts = ts.Add(6 * time.Hour) {
		for key := int64(1); key <= 2; key++ {
			rows = append(rows, histRow{Key: key, TS: ts, V: v + float64(key)/10, Date: date})
		}
	}
	return rows
}

var errInjected = errors.New("injected failure before commit")

func TestWriteFailureBeforeCommitKeepsPreviousSnapshot(t *testing.T) {
	ts := newTestStore(t)
	start, end := at("2024-05-01T00:00:00Z"), at("2024-05-04T00:00:00Z")
	first := every6h(start, end, 1, "")
	before, err := ts.write(start, end, first)
	if err != nil {
		t.Fatal(err)
	}
	if d := diffRows(ts.read(before), first); d != "" {
		t.Fatalf("after the first write: %s", d)
	}

	ts.store.failBeforeCommit = func() error { return errInjected }
	second := every6h(start, end.Add(24*time.Hour), 2, "")
	if _, err := ts.write(start, end.Add(24*time.Hour), second); !errors.Is(err, errInjected) {
		t.Fatalf("failed write returned %v, want %v", err, errInjected)
	}
	ts.store.failBeforeCommit = nil

	after, err := ts.store.Snapshot(testView)
	if err != nil {
		t.Fatal(err)
	}
	if after.Version != before.Version || !slices.Equal(after.Files, before.Files) || !slices.Equal(after.Materialized, before.Materialized) {
		t.Errorf("snapshot after the failed write = version %d %v %v, want version %d %v %v",
			after.Version, after.Files, after.Materialized, before.Version, before.Files, before.Materialized)
	}
	if d := diffRows(ts.read(after), first); d != "" {
		t.Errorf("after the failed write: %s", d)
	}
	if got, want := after.Rows(), int64(len(first)); got != want {
		t.Errorf("snapshot rows = %d, want %d", got, want)
	}

	// An export started after the failure sees the first write only.
	got := exportValues(t, ts, []string{"2024-05-01T06:00:00Z", "2024-05-03T23:00:00Z", "2024-05-04T12:00:00Z"})
	if want := []string{"1.1", "1.1", "1.1"}; !slices.Equal(got, want) {
		t.Errorf("export after the failed write = %q, want %q", got, want)
	}

	// The next write succeeds over what the failed one left behind, and
	// leaves no file its snapshot does not name.
	next, err := ts.write(start, end.Add(24*time.Hour), second)
	if err != nil {
		t.Fatal(err)
	}
	if d := diffRows(ts.read(next), second); d != "" {
		t.Errorf("after the next write: %s", d)
	}
	if o := ts.orphans(next); len(o) > 0 {
		t.Errorf("files left that no snapshot names: %q", o)
	}
	got = exportValues(t, ts, []string{"2024-05-01T06:00:00Z", "2024-05-03T23:00:00Z", "2024-05-04T12:00:00Z"})
	if want := []string{"2.1", "2.1", "2.1"}; !slices.Equal(got, want) {
		t.Errorf("export after the next write = %q, want %q", got, want)
	}
}

// exportValues exports feature v of driver 1 at each time and returns the
// values as text.
func exportValues(t *testing.T, ts *testStore, times []string) []string {
	t.Helper()
	defs := &registry.Definitions{
		Entities: []*registry.Entity{{Name: "driver", JoinKeys: []registry.Field{{Name: "driver_id", Type: registry.TypeInt64}}}},
		Sources:  []*registry.Source{{Name: "src", Format: registry.FormatParquet, Path: "unused/*.parquet", TimestampField: "event_ts"}},
		Views: []*registry.FeatureView{{Name: testView, Entities: []string{"driver"}, Source: "src",
			Features: []registry.Field{{Name: "v", Type: registry.TypeFloat64}}}},
	}
	dir := t.TempDir()
	entities := filepath.Join(dir, "entities.parquet")
	var sel []string
	for i, s := range times {
		sel = append(sel, fmt.Sprintf("SELECT %d AS i, CAST(1 AS BIGINT) AS driver_id, %s AS event_timestamp", i, timeLiteral(at(s))))
	}
	q := fmt.Sprintf("COPY (SELECT driver_id, event_timestamp FROM (%s) ORDER BY i) TO %s (FORMAT parquet)", strings.Join(sel, " UNION ALL "), duck.Quote(entities))
	if _, err := ts.db.ExecContext(t.Context(), q); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.parquet")
	if _, err := ts.store.Export(t.Context(), ts.db, ExportRequest{
		Defs: defs, Refs: []registry.FeatureRef{{View: testView, Features: []string{"v"}}}, EntityPath: entities, OutPath: out,
	}); err != nil {
		t.Fatal(err)
	}
	rows, err := ts.db.QueryContext(t.Context(), "SELECT v FROM read_parquet("+duck.Quote(out)+")")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var v sql.NullFloat64
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		if v.Valid {
			got = append(got, fmt.Sprint(v.Float64))
		} else {
			got = append(got, "null")
		}
	}
	return got
}

func TestWriteReplacesExactlyItsRange(t *testing.T) {
	initialStart, initialEnd := at("2024-05-01T00:00:00Z"), at("2024-05-04T00:00:00Z")
	for _, tc := range []struct {
		name       string
		start, end string
		batch      []histRow
	}{
		{
			name:  "range inside two days",
			start: "2024-05-01T12:00:00Z", end: "2024-05-02T12:00:00Z",
			batch: []histRow{
				{Key: 1, TS: at("2024-05-01T12:00:00Z"), V: 9},
				{Key: 3, TS: at("2024-05-01T13:00:00Z"), V: 9},
				{Key: 2, TS: at("2024-05-02T11:59:59.999Z"), V: 9},
			},
		},
		{
			name:  "range within one day",
			start: "2024-05-02T05:00:00Z", end: "2024-05-02T07:00:00Z",
			batch: []histRow{{Key: 1, TS: at("2024-05-02T06:00:00Z"), V: 9}},
		},
		{
			name:  "range of whole days",
			start: "2024-05-02T00:00:00Z", end: "2024-05-03T00:00:00Z",
			batch: []histRow{{Key: 1, TS: at("2024-05-02T00:00:00Z"), V: 9}},
		},
		{name: "range without rows clears it", start: "2024-05-01T18:00:00Z", end: "2024-05-03T06:00:00Z"},
		{
			name:  "range reaching past the history",
			start: "2024-05-03T12:00:00Z", end: "2024-05-06T00:00:00Z",
			batch: []histRow{
				{Key: 1, TS: at("2024-05-03T12:00:00Z"), V: 9},
				{Key: 1, TS: at("2024-05-05T23:59:59Z"), V: 9},
			},
		},
		{
			name:  "range before the history",
			start: "2024-04-29T00:00:00Z", end: "2024-05-01T00:00:00.001Z",
			batch: []histRow{{Key: 1, TS: at("2024-04-30T10:00:00Z"), V: 9}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestStore(t)
			initial := every6h(initialStart, initialEnd, 1, "")
			if _, err := ts.write(initialStart, initialEnd, initial); err != nil {
				t.Fatal(err)
			}
			start, end := at(tc.start), at(tc.end)
			snap, err := ts.write(start, end, tc.batch)
			if err != nil {
				t.Fatal(err)
			}
			var want []histRow
			for _, r := range initial {
				if r.TS.Before(start) || !r.TS.Before(end) {
					want = append(want, r)
				}
			}
			want = append(want, tc.batch...)
			sortRows(want)
			if d := diffRows(ts.read(snap), want); d != "" {
				t.Error(d)
			}
			if o := ts.orphans(snap); len(o) > 0 {
				t.Errorf("files left that no snapshot names: %q", o)
			}
			wantIntervals := mergeIntervals([]Interval{{initialStart, initialEnd}, {start, end}})
			if !slices.Equal(snap.Materialized, wantIntervals) {
				t.Errorf("Materialized = %v, want %v", snap.Materialized, wantIntervals)
			}
			// Writing the same batch again changes nothing.
			again, err := ts.write(start, end, tc.batch)
			if err != nil {
				t.Fatal(err)
			}
			if d := diffRows(ts.read(again), want); d != "" {
				t.Errorf("after writing the batch again: %s", d)
			}
		})
	}
}

// A column named date, like the partition folders, keeps its values when
// the rows of its partition are rewritten.
func TestWriteKeepsColumnNamedLikeThePartitions(t *testing.T) {
	ts := newTestStore(t)
	ts.dateColumn = true
	start, end := at("2024-05-01T00:00:00Z"), at("2024-05-02T00:00:00Z")
	initial := every6h(start, end, 1, "kept")
	if _, err := ts.write(start, end, initial); err != nil {
		t.Fatal(err)
	}
	batch := []histRow{{Key: 1, TS: at("2024-05-01T12:00:00Z"), V: 9, Date: "new"}}
	snap, err := ts.write(at("2024-05-01T12:00:00Z"), at("2024-05-01T13:00:00Z"), batch)
	if err != nil {
		t.Fatal(err)
	}
	var want []histRow
	for _, r := range initial {
		if !r.TS.Equal(at("2024-05-01T12:00:00Z")) {
			want = append(want, r)
		}
	}
	want = append(want, batch...)
	sortRows(want)
	if d := diffRows(ts.read(snap), want); d != "" {
		t.Error(d)
	}
}

// An export running while a write has its files in place but has not yet
// committed sees the previous snapshot; once the write commits, the next
// export sees the new rows.
func TestExportDuringWriteSeesPreviousSnapshot(t *testing.T) {
	ts := newTestStore(t)
	start, end := at("2024-05-01T00:00:00Z"), at("2024-05-03T00:00:00Z")
	if _, err := ts.write(start, end, every6h(start, end, 1, "")); err != nil {
		t.Fatal(err)
	}
	times := []string{"2024-05-01T06:00:00Z", "2024-05-02T23:00:00Z"}
	var during []string
	ts.store.failBeforeCommit = func() error {
		during = exportValues(t, ts, times)
		return nil
	}
	if _, err := ts.write(start, end, every6h(start, end, 2, "")); err != nil {
		t.Fatal(err)
	}
	if want := []string{"1.1", "1.1"}; !slices.Equal(during, want) {
		t.Errorf("export during the write = %q, want %q", during, want)
	}
	ts.store.failBeforeCommit = nil
	if got, want := exportValues(t, ts, times), []string{"2.1", "2.1"}; !slices.Equal(got, want) {
		t.Errorf("export after the write = %q, want %q", got, want)
	}
}

// Writes of different ranges to one view at the same time are serialized:
// each builds on the other's commit, so neither's rows are lost, whatever
// the interleaving.
func TestConcurrentWritesKeepEveryCommit(t *testing.T) {
	ts := newTestStore(t)
	const writers = 4
	day := func(i int) time.Time { return at("2024-05-01T00:00:00Z").Add(time.Duration(i) * 24 * time.Hour) }
	var want []histRow
	errs := make(chan error, writers)
	for i := range writers {
		rows := every6h(day(i), day(i+1), float64(i), "")
		want = append(want, rows...)
		conn, err := ts.db.Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		table := fmt.Sprintf("batch%d", i)
		q := "SELECT * FROM (VALUES "
		var vals []string
		for _, r := range rows {
			vals = append(vals, fmt.Sprintf("(%d, %s, %g)", r.Key, timeLiteral(r.TS), r.V))
		}
		q += strings.Join(vals, ", ") + ") AS v(driver_id, event_ts, v)"
		if _, err := conn.ExecContext(t.Context(), fmt.Sprintf("CREATE TEMP TABLE %s AS SELECT CAST(driver_id AS BIGINT) AS driver_id, event_ts, CAST(v AS DOUBLE) AS v FROM (%s)", table, q)); err != nil {
			t.Fatal(err)
		}
		go func() {
			_, err := ts.store.Write(t.Context(), Batch{
				View: testView, Start: day(i), End: day(i + 1), Conn: conn, Table: table,
				TimestampColumn: "event_ts", SortBy: []string{"driver_id"},
			})
			errs <- err
		}()
	}
	for range writers {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	snap, err := ts.store.Snapshot(testView)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Version != writers {
		t.Errorf("snapshot version = %d, want %d (one per write)", snap.Version, writers)
	}
	if d := diffRows(ts.read(snap), want); d != "" {
		t.Error(d)
	}
	if want := []Interval{{day(0), day(writers)}}; !slices.Equal(snap.Materialized, want) {
		t.Errorf("Materialized = %v, want %v", snap.Materialized, want)
	}
}

// Appended rows (pushed ones) add to the history without replacing any and
// without moving the watermark; a later replacing write of a range keeps
// the appended rows outside it.
func TestAppendAddsRowsAndKeepsTheWatermark(t *testing.T) {
	ts := newTestStore(t)
	start, end := at("2024-05-01T00:00:00Z"), at("2024-05-02T00:00:00Z")
	initial := every6h(start, end, 1, "")
	if _, err := ts.write(start, end, initial); err != nil {
		t.Fatal(err)
	}
	pushed := []histRow{
		{Key: 1, TS: at("2024-05-01T06:00:00Z"), V: 5},
		{Key: 3, TS: at("2024-05-01T07:00:00Z"), V: 5},
		{Key: 1, TS: at("2024-05-02T07:00:00Z"), V: 5},
	}
	want := slices.Concat(initial, pushed)
	for i := range 2 {
		snap, err := ts.writeBatch(Batch{Start: at("2024-05-01T06:00:00Z"), End: at("2024-05-02T07:00:01Z"), Append: true}, pushed)
		if err != nil {
			t.Fatal(err)
		}
		if d := diffRows(ts.read(snap), want); d != "" {
			t.Errorf("after append %d: %s", i+1, d)
		}
		if wantIv := []Interval{{start, end}}; !slices.Equal(snap.Materialized, wantIv) {
			t.Errorf("after append %d: Materialized = %v, want %v", i+1, snap.Materialized, wantIv)
		}
		want = append(want, pushed...)
	}
	// Replacing the first day drops every row of it, pushed or not, and
	// keeps the second day's pushed rows.
	batch := []histRow{{Key: 1, TS: at("2024-05-01T12:00:00Z"), V: 9}}
	snap, err := ts.write(start, end, batch)
	if err != nil {
		t.Fatal(err)
	}
	want = []histRow{batch[0], pushed[2], pushed[2]}
	if d := diffRows(ts.read(snap), want); d != "" {
		t.Errorf("after replacing the first day: %s", d)
	}
	if o := ts.orphans(snap); len(o) > 0 {
		t.Errorf("files left that no snapshot names: %q", o)
	}
}

// An append with the ID of a recent append is skipped, so a retried push
// is stored once; appends without an ID, or with other IDs, all add their
// rows.
func TestAppendWithIDStoresRowsOnce(t *testing.T) {
	pushed := []histRow{{Key: 1, TS: at("2024-05-01T06:00:00Z"), V: 5}}
	for _, tc := range []struct {
		ids    []string
		copies int
	}{
		{ids: []string{"a", "a"}, copies: 1},
		{ids: []string{"a", "b"}, copies: 2},
		{ids: []string{"a", "b", "a", "b"}, copies: 2},
		{ids: []string{"", ""}, copies: 2},
	} {
		t.Run(strings.Join(tc.ids, ","), func(t *testing.T) {
			ts := newTestStore(t)
			var prev *Snapshot
			for _, id := range tc.ids {
				snap, err := ts.writeBatch(Batch{Start: pushed[0].TS, End: pushed[0].TS.Add(time.Millisecond), Append: true, ID: id}, pushed)
				if err != nil {
					t.Fatal(err)
				}
				if prev != nil {
					skipped, wantSkip := snap.Version == prev.Version, id != "" && slices.Contains(prev.Appended, id)
					if skipped != wantSkip {
						t.Errorf("append %q: skipped %v, want %v (versions %d then %d)", id, skipped, wantSkip, prev.Version, snap.Version)
					}
				}
				prev = snap
			}
			var want []histRow
			for range tc.copies {
				want = append(want, pushed...)
			}
			if d := diffRows(ts.read(prev), want); d != "" {
				t.Error(d)
			}
		})
	}
}

// Many small appends to a partition are merged as they come: the partition
// keeps fewer than mergeFanIn small files of each size tier, every appended
// row once, the materialized file of another day untouched, and no file
// that no snapshot names. An append whose merge fails before its commit
// leaves the previous snapshot and its files.
func TestAppendsMergeSmallFiles(t *testing.T) {
	ts := newTestStore(t)
	day1, day2 := at("2024-05-01T00:00:00Z"), at("2024-05-02T00:00:00Z")
	want := every6h(day1, day2, 1, "")
	snap, err := ts.write(day1, day2, want)
	if err != nil {
		t.Fatal(err)
	}
	materialized := snap.Files[0]
	const appends = 70 // 64 merge into one file, 6 stay
	for i := range appends {
		row := []histRow{{Key: int64(i % 3), TS: day2.Add(time.Duration(i) * time.Minute), V: float64(i)}}
		if snap, err = ts.writeBatch(Batch{Start: row[0].TS, End: row[0].TS.Add(time.Millisecond), Append: true}, row); err != nil {
			t.Fatal(err)
		}
		want = append(want, row...)
		tiers := map[int]int{}
		for _, f := range snap.Files {
			if f.Date == "2024-05-02" {
				tiers[sizeTier(f.Rows)]++
			}
		}
		for tier, n := range tiers {
			if n >= mergeFanIn {
				t.Fatalf("after %d appends, partition 2024-05-02 holds %d files of tier %d: %+v", i+1, n, tier, snap.Files)
			}
		}
	}
	if d := diffRows(ts.read(snap), want); d != "" {
		t.Error(d)
	}
	if !slices.Contains(snap.Files, materialized) {
		t.Errorf("the materialized file %+v of 2024-05-01 is gone: %+v", materialized, snap.Files)
	}
	if got := len(snap.Files); got != 1+1+6 {
		t.Errorf("%d files after %d one-row appends, want 8: the materialized one, one of 64 rows, 6 of one row: %+v", got, appends, snap.Files)
	}
	if o := ts.orphans(snap); len(o) > 0 {
		t.Errorf("files left that no snapshot names: %q", o)
	}

	// Two more appends make the tier of one-row files full: the merge is
	// staged, and dies before the commit.
	row := []histRow{{Key: 9, TS: day2.Add(23 * time.Hour), V: 9}}
	if _, err := ts.writeBatch(Batch{Start: row[0].TS, End: row[0].TS.Add(time.Millisecond), Append: true}, row); err != nil {
		t.Fatal(err)
	}
	ts.store.failBeforeCommit = func() error { return errInjected }
	if _, err := ts.writeBatch(Batch{Start: row[0].TS, End: row[0].TS.Add(time.Millisecond), Append: true}, row); !errors.Is(err, errInjected) {
		t.Fatalf("append with a failing commit: %v, want the injected error", err)
	}
	ts.store.failBeforeCommit = nil
	cur, err := ts.store.Snapshot(testView)
	if err != nil {
		t.Fatal(err)
	}
	if d := diffRows(ts.read(cur), append(want, row...)); d != "" {
		t.Errorf("after a failed merging append: %s", d)
	}
}

// Rows tied on key and event time stay in the order they were appended, the
// last the winner, when appends are merged and when a replacing write of
// another range rewrites their partition: Export takes the last of them.
// The appends are large enough for DuckDB to sort them in parallel.
func TestTiedRowsKeepTheirOrder(t *testing.T) {
	ts := newTestStore(t)
	ctx := t.Context()
	day := at("2024-05-01T00:00:00Z")
	const keys = 20_000
	write := func(b Batch, q string) *Snapshot {
		t.Helper()
		if _, err := ts.conn.ExecContext(ctx, "CREATE OR REPLACE TEMP TABLE batch AS "+q); err != nil {
			t.Fatal(err)
		}
		b.View, b.Conn, b.Table, b.TimestampColumn, b.SortBy = testView, ts.conn, "batch", "event_ts", []string{"driver_id"}
		snap, err := ts.store.Write(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		return snap
	}
	// checkOrder counts, in each file, the rows found after a tied row of a
	// later append.
	checkOrder := func(what string, snap *Snapshot) {
		t.Helper()
		for _, path := range snap.Paths() {
			var n int64
			q := fmt.Sprintf(`SELECT count(*) FROM (SELECT v, lag(v) OVER (PARTITION BY driver_id, event_ts ORDER BY file_row_number) AS prev
				FROM read_parquet(%s)) WHERE v < prev`, duck.Quote(path))
			if err := ts.conn.QueryRowContext(ctx, q).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n > 0 {
				t.Errorf("%s: %s holds %d rows after the tied row of a later append", what, path, n)
			}
		}
	}
	tied := timeLiteral(day.Add(time.Hour))
	var snap *Snapshot
	for i := range mergeFanIn {
		snap = write(Batch{Start: day.Add(time.Hour), End: day.Add(time.Hour + time.Millisecond), Append: true},
			fmt.Sprintf("SELECT hash(range, %d) %% %d AS driver_id, %s AS event_ts, CAST(%d AS DOUBLE) AS v FROM range(%d)", i, keys, tied, i, keys))
	}
	if len(snap.Files) != 1 {
		t.Fatalf("after %d appends: %d files, want them merged into one", mergeFanIn, len(snap.Files))
	}
	checkOrder("merged", snap)
	snap = write(Batch{Start: day.Add(12 * time.Hour), End: day.Add(13 * time.Hour)},
		fmt.Sprintf("SELECT 1 AS driver_id, %s AS event_ts, CAST(99 AS DOUBLE) AS v", timeLiteral(day.Add(12*time.Hour))))
	if got, want := snap.Rows(), int64(mergeFanIn*keys+1); got != want {
		t.Errorf("after the replacing write: %d rows, want %d", got, want)
	}
	checkOrder("rewritten", snap)
}

// BenchmarkAppend reports what one append of a one-row batch costs (as
// pushes make them) in a view that takes b.N of them, next to a baseline
// that stages the same row and copies it to a new Parquet file of its own;
// and how many files the view holds at the end. The store keeps replaced
// files and snapshots for the default 10 minutes. Run it with
// -benchtime=1000x: the cost of an append must not grow with the appends
// before it.
func BenchmarkAppend(b *testing.B) {
	ts := newTestStore(b)
	ts.store = Open(b.TempDir(), Options{}) // replaced files kept 10 minutes, as by default
	day := at("2024-05-01T00:00:00Z")
	row := func(i int) []histRow {
		return []histRow{{Key: int64(i % 50), TS: day.Add(time.Duration(i) * time.Second), V: float64(i)}}
	}
	n := 0
	var snap *Snapshot
	for b.Loop() {
		r := row(n)
		var err error
		if snap, err = ts.writeBatch(Batch{Start: r[0].TS, End: r[0].TS.Add(time.Millisecond), Append: true, ID: fmt.Sprint(n)}, r); err != nil {
			b.Fatal(err)
		}
		n++
	}
	almanac := b.Elapsed() / time.Duration(n)

	dir := b.TempDir()
	began := time.Now()
	for i := range n {
		r := row(i)
		q := fmt.Sprintf("CREATE OR REPLACE TEMP TABLE batch AS SELECT %d AS driver_id, %s AS event_ts, %g AS v", r[0].Key, timeLiteral(r[0].TS), r[0].V)
		if _, err := ts.conn.ExecContext(b.Context(), q); err != nil {
			b.Fatal(err)
		}
		path := filepath.Join(dir, fmt.Sprintf("%d.parquet", i))
		if _, err := ts.conn.ExecContext(b.Context(), fmt.Sprintf("COPY batch TO %s (FORMAT parquet, COMPRESSION zstd)", duck.Quote(path))); err != nil {
			b.Fatal(err)
		}
	}
	baseline := time.Since(began) / time.Duration(n)
	b.ReportMetric(float64(almanac.Microseconds())/1000, "ms/append")
	b.ReportMetric(float64(baseline.Microseconds())/1000, "baseline-ms")
	b.ReportMetric(float64(almanac)/float64(baseline), "x-baseline")
	b.ReportMetric(float64(len(snap.Files)), "files")
}
