package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/almanac-fs/almanac/bench/internal/machine"
	"github.com/almanac-fs/almanac/internal/duck"
	"github.com/almanac-fs/almanac/offline"
	"github.com/almanac-fs/almanac/registry"
)

// The export's view, with the lookups' aggregations.
const (
	exportView = "trip_windows"
	exportDays = 10
	// eventsPerKey is how many events each driver has over exportDays:
	// eventsPerDay a day.
	eventsPerKey = eventsPerDay * exportDays
)

var exportBase = time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)

// exportAggs are the aggregations of the export's view.
var exportAggs = []registry.Aggregation{
	{Function: registry.AggCount, Windows: []time.Duration{time.Hour, 24 * time.Hour, 7 * 24 * time.Hour}},
	{Function: registry.AggSum, Column: "fare", Windows: []time.Duration{time.Hour, 24 * time.Hour, 7 * 24 * time.Hour}},
	{Function: registry.AggMean, Column: "fare", Windows: []time.Duration{time.Hour, 24 * time.Hour, 7 * 24 * time.Hour}},
	{Function: registry.AggCount, Column: "fare", Windows: []time.Duration{7 * 24 * time.Hour}},
}

// exportReport is what the export benchmark measured.
type exportReport struct {
	Events, EntityRows  int64
	Features            int
	Almanac, Baseline   []time.Duration // each run, in order
	LoadBefore, LoadEnd string
}

// runExport generates the events into an offline store and the entity
// rows, checks that Almanac's export and the hand-written query give the
// same training set, then times both, alternating, o.runs times each.
func runExport(ctx context.Context, o options) (*exportReport, error) {
	rep := &exportReport{Events: o.events, EntityRows: o.entityRows, LoadBefore: machine.LoadAverages()}
	db, err := duck.Open(duck.Options{})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	drivers := max(o.events/eventsPerKey, 1)
	progressf("writing %d events of %d drivers to an offline store, and %d entity rows\n", o.events, drivers, o.entityRows)
	_, err = conn.ExecContext(ctx, fmt.Sprintf(`CREATE TEMP TABLE events AS SELECT
		CAST(hash(i) %% %[1]d AS BIGINT) AS driver_id,
		TIMESTAMPTZ '2024-05-01 00:00:00+00' + to_microseconds(CAST(hash(i, 'ts') %% %[2]d AS BIGINT)) AS event_ts,
		CASE WHEN hash(i, 'null') %% 20 <> 0 THEN CAST(hash(i, 'fare') %% 10000 AS DOUBLE) / 100 END AS fare
		FROM range(%[3]d) AS r(i)`, drivers, int64(exportDays)*24*3600*1_000_000, o.events))
	if err != nil {
		return nil, fmt.Errorf("generate events: %w", err)
	}
	store := offline.Open(filepath.Join(o.dir, "offline"), offline.Options{Retain: -1})
	if _, err := store.Write(ctx, offline.Batch{View: exportView, Start: exportBase, End: exportBase.AddDate(0, 0, exportDays),
		Conn: conn, Table: "events", TimestampColumn: "event_ts", SortBy: []string{"driver_id"}}); err != nil {
		return nil, fmt.Errorf("write the offline store: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "DROP TABLE events"); err != nil {
		return nil, fmt.Errorf("drop events: %w", err)
	}
	entityPath := filepath.Join(o.dir, "entities.parquet")
	_, err = conn.ExecContext(ctx, fmt.Sprintf(`COPY (SELECT
		CAST(hash(i, 'e') %% %[1]d AS BIGINT) AS driver_id,
		TIMESTAMPTZ '2024-05-01 00:00:00+00' + to_microseconds(CAST(hash(i, 'et') %% %[2]d AS BIGINT)) AS event_timestamp,
		i AS label
		FROM range(%[3]d) AS r(i)) TO %[4]s (FORMAT parquet)`, drivers, int64(exportDays+1)*24*3600*1_000_000, o.entityRows, duck.Quote(entityPath)))
	if err != nil {
		return nil, fmt.Errorf("write entity rows: %w", err)
	}
	defs, err := exportDefs()
	if err != nil {
		return nil, err
	}
	rep.Features = len(defs.View(exportView).Features)
	snap, err := store.Snapshot(exportView)
	if err != nil {
		return nil, err
	}
	almanacOut, baselineOut := filepath.Join(o.dir, "almanac.parquet"), filepath.Join(o.dir, "baseline.parquet")
	almanac := func() error {
		_, err := store.Export(ctx, db, offline.ExportRequest{Defs: defs, Refs: []registry.FeatureRef{{View: exportView}}, EntityPath: entityPath, OutPath: almanacOut})
		return err
	}
	baselineQ := baselineQuery(defs.View(exportView), snap.Paths(), entityPath, baselineOut)
	if err := os.WriteFile(filepath.Join(o.dir, "baseline.sql"), []byte(baselineQ+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("write the baseline query: %w", err)
	}
	baseline := func() error {
		_, err := conn.ExecContext(ctx, baselineQ)
		return err
	}
	progressf("checking both exports\n")
	if err := almanac(); err != nil {
		return nil, fmt.Errorf("almanac export: %w", err)
	}
	if err := baseline(); err != nil {
		return nil, fmt.Errorf("baseline query: %w", err)
	}
	if err := sameExports(ctx, conn, almanacOut, baselineOut, defs.View(exportView), o.entityRows); err != nil {
		return nil, err
	}
	for i := range o.runs {
		for _, side := range []struct {
			run func() error
			dst *[]time.Duration
		}{{almanac, &rep.Almanac}, {baseline, &rep.Baseline}} {
			start := time.Now()
			if err := side.run(); err != nil {
				return nil, err
			}
			*side.dst = append(*side.dst, time.Since(start))
		}
		progressf("  run %d/%d: almanac %s, baseline %s\n", i+1, o.runs, rep.Almanac[i], rep.Baseline[i])
	}
	rep.LoadEnd = machine.LoadAverages()
	return rep, nil
}

// exportDefs are the definitions of the export's view.
func exportDefs() (*registry.Definitions, error) {
	v := &registry.FeatureView{Name: exportView, Entities: []string{"driver"}, Source: "trips", Aggregations: exportAggs}
	for i, a := range exportAggs {
		col := registry.Type{}
		if a.Column != "" {
			col = registry.TypeFloat64
		}
		wfs, err := a.Features(i, col, 0)
		if err != nil {
			return nil, fmt.Errorf("features of aggregation %d: %w", i, err)
		}
		v.Windows = append(v.Windows, wfs...)
		for _, wf := range wfs {
			v.Features = append(v.Features, wf.Field)
		}
	}
	return &registry.Definitions{
		Entities: []*registry.Entity{{Name: "driver", JoinKeys: []registry.Field{{Name: "driver_id", Type: registry.TypeInt64}}}},
		Sources:  []*registry.Source{{Name: "trips", Format: registry.FormatParquet, Path: "trips.parquet", TimestampField: "event_ts"}},
		Views:    []*registry.FeatureView{v},
	}, nil
}

// baselineQuery is the hand-written DuckDB query of the same windows: a
// range join of each entity row with its driver's events in its largest
// window, aggregated per entity row with a FILTER per feature on the start
// of its window (one start per window), in integer milliseconds; the tail
// of a window is floor(t - w, hop) by integer division. An entity row
// before its driver's first event gets nulls.
func baselineQuery(v *registry.FeatureView, files []string, entityPath, out string) string {
	quoted := make([]string, len(files))
	for i, f := range files {
		quoted[i] = duck.Quote(f)
	}
	var starts, sIdx, aggs, cols []string
	start := map[registry.Window]string{} // one per window, as a person writes it
	for i, f := range v.Windows {
		if start[f.Window] == "" {
			span, hop := f.Window.Span.Milliseconds(), f.Window.Hop.Milliseconds()
			start[f.Window] = fmt.Sprintf("s%d", len(starts))
			starts = append(starts, fmt.Sprintf("(t - %d) // %d * %d AS %s", span, hop, hop, start[f.Window]))
			sIdx = append(sIdx, "e."+start[f.Window])
		}
		in := "r.ms >= e." + start[f.Window]
		a := exportAggs[f.Aggregation]
		switch {
		case a.Function == registry.AggCount && a.Column == "":
			aggs = append(aggs, fmt.Sprintf("count(*) FILTER (WHERE %s) AS a%d", in, i))
			cols = append(cols, fmt.Sprintf("CASE WHEN f.first <= e.t THEN coalesce(w.a%d, 0) END AS %s", i, duck.Ident(f.Field.Name)))
		case a.Function == registry.AggCount:
			aggs = append(aggs, fmt.Sprintf("count(r.fare) FILTER (WHERE %s) AS a%d", in, i))
			cols = append(cols, fmt.Sprintf("CASE WHEN f.first <= e.t THEN coalesce(w.a%d, 0) END AS %s", i, duck.Ident(f.Field.Name)))
		case a.Function == registry.AggSum:
			aggs = append(aggs, fmt.Sprintf("sum(r.fare) FILTER (WHERE %s) AS a%d", in, i))
			cols = append(cols, fmt.Sprintf("CASE WHEN f.first <= e.t THEN coalesce(w.a%d, 0) END AS %s", i, duck.Ident(f.Field.Name)))
		default: // mean
			aggs = append(aggs, fmt.Sprintf("avg(r.fare) FILTER (WHERE %s) AS a%d", in, i))
			cols = append(cols, fmt.Sprintf("w.a%d AS %s", i, duck.Ident(f.Field.Name)))
		}
	}
	return fmt.Sprintf(`COPY (
WITH e AS (SELECT *, epoch_ms(event_timestamp) AS t, file_row_number AS rn FROM read_parquet(%[1]s, file_row_number = true)),
r AS (SELECT driver_id, epoch_ms(event_ts) AS ms, fare FROM read_parquet([%[2]s])),
w AS (SELECT e.rn, %[3]s
  FROM (SELECT rn, driver_id, t, %[4]s FROM e) AS e
  JOIN r ON r.driver_id = e.driver_id AND r.ms <= e.t AND r.ms >= least(%[5]s)
  GROUP BY e.rn),
f AS (SELECT driver_id, min(ms) AS first FROM r GROUP BY driver_id)
SELECT e.driver_id, e.event_timestamp, e.label, %[6]s
FROM e LEFT JOIN w USING (rn) LEFT JOIN f USING (driver_id)
ORDER BY e.rn) TO %[7]s (FORMAT parquet, COMPRESSION zstd)`,
		duck.Quote(entityPath), strings.Join(quoted, ", "), strings.Join(aggs, ", "), strings.Join(starts, ", "),
		strings.Join(sIdx, ", "), strings.Join(cols, ", "), duck.Quote(out))
}

// sameExports checks that both training sets have the same columns and the
// same rows in the same order, float64 values within 1e-9 relative (the
// two add a window's values in different orders).
func sameExports(ctx context.Context, conn *sql.Conn, almanacOut, baselineOut string, v *registry.FeatureView, rows int64) error {
	cols := []string{"driver_id", "event_timestamp", "label"}
	for _, f := range v.Features {
		cols = append(cols, f.Name)
	}
	var got []string
	rs, err := conn.QueryContext(ctx, fmt.Sprintf("SELECT name FROM parquet_schema(%s) WHERE num_children IS NULL", duck.Quote(almanacOut)))
	if err != nil {
		return fmt.Errorf("read the columns of almanac's export: %w", err)
	}
	for rs.Next() {
		var name string
		if err := rs.Scan(&name); err != nil {
			rs.Close()
			return err
		}
		got = append(got, name)
	}
	if err := rs.Close(); err != nil {
		return err
	}
	if !slices.Equal(got, cols) {
		return fmt.Errorf("almanac's export has columns %q, want %q", got, cols)
	}
	var diff []string
	for i, c := range cols {
		a, b := "a."+duck.Ident(c), "b."+duck.Ident(c)
		d := fmt.Sprintf("%s IS DISTINCT FROM %s", a, b)
		if i >= 3 && v.Features[i-3].Type == registry.TypeFloat64 {
			d = fmt.Sprintf("(%[1]s IS NULL) <> (%[2]s IS NULL) OR abs(%[1]s - %[2]s) > 1e-9 * greatest(1, abs(%[1]s), abs(%[2]s))", a, b)
		}
		diff = append(diff, "("+d+")")
	}
	q := fmt.Sprintf(`SELECT count(*), count(*) FILTER (WHERE %s), count(*) FILTER (WHERE b.count_7d > 0)
FROM read_parquet(%s, file_row_number = true) a FULL JOIN read_parquet(%s, file_row_number = true) b USING (file_row_number)`,
		strings.Join(diff, " OR "), duck.Quote(almanacOut), duck.Quote(baselineOut))
	var n, differ, matched int64
	if err := conn.QueryRowContext(ctx, q).Scan(&n, &differ, &matched); err != nil {
		return fmt.Errorf("compare the exports: %w", err)
	}
	if n != rows || differ != 0 || matched == 0 {
		return fmt.Errorf("the exports differ: %d rows (want %d), %d differ, %d with events in the 7d window", n, rows, differ, matched)
	}
	progressf("both exports: %d rows, equal; %d with events in the 7d window\n", n, matched)
	return nil
}

// write prints the export report as a Markdown table.
func (r *exportReport) write(f *os.File) {
	med := func(ds []time.Duration) time.Duration {
		s := slices.Clone(ds)
		slices.Sort(s)
		return s[len(s)/2]
	}
	a, b := med(r.Almanac), med(r.Baseline)
	fmt.Fprintf(f, "machine: %s\nload average (1, 5, 15 min): %s before, %s after\n", machine.Describe(), r.LoadBefore, r.LoadEnd)
	fmt.Fprintf(f, "export of %d window features for %d entity rows over %d events, median of %d runs\n\n", r.Features, r.EntityRows, r.Events, len(r.Almanac))
	fmt.Fprintln(f, "| work | Almanac | baseline | Almanac/baseline | DESIGN §12 target |")
	fmt.Fprintln(f, "| --- | ---: | ---: | ---: | --- |")
	fmt.Fprintf(f, "| export, time | %.2f s | %.2f s | **%.2f×** | ≤ 1.5× |\n\n", a.Seconds(), b.Seconds(), a.Seconds()/b.Seconds())
	fmt.Fprintf(f, "runs, s: Almanac %s; baseline %s\n", secs(r.Almanac), secs(r.Baseline))
}

func secs(ds []time.Duration) string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = fmt.Sprintf("%.2f", d.Seconds())
	}
	return strings.Join(s, " ")
}
