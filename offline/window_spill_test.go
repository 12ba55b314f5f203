package offline_test

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/almanac-fs/almanac/internal/duck"
	"github.com/almanac-fs/almanac/offline"
	"github.com/almanac-fs/almanac/registry"
)

// TestExportWindowsBeyondMemory exports window features of more events
// than DuckDB's memory limit holds, so that the join and the aggregate
// spill, and checks entity rows against their windows counted directly.
// It leaves out last and last_n: DuckDB keeps the states of arg_max and
// max_by in memory it does not spill, and the export runs out of it here.
func TestExportWindowsBeyondMemory(t *testing.T) {
	const (
		events   = 2_000_000
		entities = 200_000
		drivers  = 20_000
	)
	ctx := t.Context()
	dir := t.TempDir()
	db, err := duck.Open(duck.Options{MemoryLimit: "64MB"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	base := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	days := 10
	// Events spread over days, each with a fare; hash() makes them
	// repeatable.
	_, err = conn.ExecContext(ctx, fmt.Sprintf(`CREATE TEMP TABLE events AS SELECT
		CAST(hash(i) %% %d AS BIGINT) AS driver_id,
		TIMESTAMPTZ '2024-05-01 00:00:00+00' + to_microseconds(CAST(hash(i, 'ts') %% %d AS BIGINT)) AS event_ts,
		CAST(hash(i, 'fare') %% 100 AS BIGINT) AS fare
		FROM range(%d) AS r(i)`, drivers, int64(days)*24*3600*1_000_000, events))
	if err != nil {
		t.Fatal(err)
	}
	store := offline.Open(filepath.Join(dir, "offline"), offline.Options{Retain: -1})
	if _, err := store.Write(ctx, offline.Batch{View: "trip_windows", Start: base, End: base.AddDate(0, 0, days),
		Conn: conn, Table: "events", TimestampColumn: "event_ts", SortBy: []string{"driver_id"}}); err != nil {
		t.Fatal(err)
	}
	entityPath := filepath.Join(dir, "entities.parquet")
	_, err = conn.ExecContext(ctx, fmt.Sprintf(`COPY (SELECT
		CAST(hash(i, 'e') %% %d AS BIGINT) AS driver_id,
		TIMESTAMPTZ '2024-05-01 00:00:00+00' + to_microseconds(CAST(hash(i, 'et') %% %d AS BIGINT)) AS event_timestamp,
		i AS label
		FROM range(%d) AS r(i)) TO %s (FORMAT parquet)`, drivers, int64(days+1)*24*3600*1_000_000, entities, duck.Quote(entityPath)))
	if err != nil {
		t.Fatal(err)
	}

	aggs := []registry.Aggregation{
		{Function: registry.AggCount, Windows: []time.Duration{time.Hour}},
		{Function: registry.AggSum, Column: "fare", Windows: []time.Duration{24 * time.Hour}},
		{Function: registry.AggStddev, Column: "fare", Windows: []time.Duration{time.Hour}},
	}
	v := &registry.FeatureView{Name: "trip_windows", Entities: []string{"driver"}, Source: "trips", Aggregations: aggs}
	for i, a := range aggs {
		col := registry.Type{}
		if a.Column != "" {
			col = registry.TypeInt64
		}
		wfs, err := a.Features(i, col, 0)
		if err != nil {
			t.Fatal(err)
		}
		v.Windows, v.Features = append(v.Windows, wfs...), append(v.Features, wfs[0].Field)
	}
	defs := &registry.Definitions{
		Entities: []*registry.Entity{{Name: "driver", JoinKeys: []registry.Field{{Name: "driver_id", Type: registry.TypeInt64}}}},
		Sources:  []*registry.Source{{Name: "trips", Format: registry.FormatParquet, Path: "trips.parquet", TimestampField: "event_ts"}},
		Views:    []*registry.FeatureView{v},
	}
	out := filepath.Join(dir, "train.parquet")
	res, err := store.Export(ctx, db, offline.ExportRequest{Defs: defs, Refs: []registry.FeatureRef{{View: v.Name}}, EntityPath: entityPath, OutPath: out})
	if err != nil {
		t.Fatalf("export with DuckDB's memory limited to 64MB: %v", err)
	}
	if res.Rows != entities {
		t.Errorf("exported %d rows, want %d", res.Rows, entities)
	}
	// Every 10000th entity row, against its windows counted directly.
	type sample struct {
		label, driver int64
		ts            time.Time
		count, sum    sql.NullInt64
	}
	var samples []sample
	rows, err := conn.QueryContext(ctx, fmt.Sprintf("SELECT label, driver_id, event_timestamp, count_1h, fare_sum_1d FROM read_parquet(%s) WHERE label %% 10000 = 0 ORDER BY label", duck.Quote(out)))
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s sample
		if err := rows.Scan(&s.label, &s.driver, &s.ts, &s.count, &s.sum); err != nil {
			t.Fatal(err)
		}
		samples = append(samples, s)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, s := range samples {
		hourStart, _ := v.Windows[0].Window.Start(s.ts)
		dayStart, _ := v.Windows[1].Window.Start(s.ts)
		var wantCount, wantSum, before sql.NullInt64
		err := conn.QueryRowContext(ctx, `SELECT count(*) FILTER (WHERE event_ts >= ?), sum(fare) FILTER (WHERE event_ts >= ?), count(*) FROM events WHERE driver_id = ? AND event_ts <= ?`,
			hourStart, dayStart, s.driver, s.ts).Scan(&wantCount, &wantSum, &before)
		if err != nil {
			t.Fatal(err)
		}
		if before.Int64 == 0 {
			wantCount, wantSum = sql.NullInt64{}, sql.NullInt64{}
		} else if !wantSum.Valid {
			wantSum = sql.NullInt64{Valid: true}
		}
		if s.count != wantCount || s.sum != wantSum {
			t.Errorf("entity row %d (driver %d at %s): count_1h %v, fare_sum_1d %v; want %v, %v", s.label, s.driver, s.ts, s.count, s.sum, wantCount, wantSum)
		}
		checked++
	}
	if checked != entities/10000 {
		t.Errorf("checked %d entity rows, want %d", checked, entities/10000)
	}
}
