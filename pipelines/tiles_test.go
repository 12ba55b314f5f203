package pipelines

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/almanac-fs/almanac/internal/duck"
	"github.com/almanac-fs/almanac/internal/values"
	"github.com/almanac-fs/almanac/online"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
	"github.com/almanac-fs/almanac/window"
	"github.com/almanac-fs/almanac/window/windowtest"
)

// tilesRepo has a view over trips whose row-level SQL drops negative
// fares; the test makes it an aggregated view.
const tilesRepo = tripsRepo + `---
kind: FeatureView
name: trip_tiles
entities: [driver]
source: trips
online: true
sql: SELECT driver_id, event_ts, created_ts, fare, zone FROM source WHERE coalesce(fare, 0) >= 0
features:
  - {name: fare, type: float64}
  - {name: zone, type: string}
`

// tilesNow is the clock of the runs of TestMaterializeWritesTiles.
var tilesNow = time.Date(2024, 5, 10, 0, 0, 0, 0, time.UTC)

// tilesTrips are the trips of tilesRepo, seq their arrival order: drivers
// 1 to 20 over the 10 days before tilesNow in 5-minute slots (so that
// some tie on event time, and some of those on created time), one row at
// tilesNow itself; driver 99's rows are all 40 days older, driver 98's
// all after tilesNow. Some fares are null, some negative (dropped by the
// view's SQL).
const tilesTrips = `SELECT i AS seq,
  CASE WHEN i < 20 THEN 99 WHEN i < 25 THEN 98 ELSE i % 20 + 1 END AS driver_id,
  CASE WHEN i < 20 THEN TIMESTAMPTZ '2024-03-31 00:00:00+00' + to_minutes(i)
       WHEN i < 25 THEN TIMESTAMPTZ '2024-05-10 00:00:00+00' + to_hours(i - 19)
       WHEN i = 25 THEN TIMESTAMPTZ '2024-05-10 00:00:00+00'
       ELSE TIMESTAMPTZ '2024-05-10 00:00:00+00' - to_minutes(5 * CAST(hash(i) % 2880 AS BIGINT)) END AS event_ts,
  CASE WHEN i % 3 = 0 THEN NULL ELSE event_ts + to_minutes(i % 2) END AS created_ts,
  CASE WHEN i % 7 = 0 THEN NULL ELSE CAST(hash(i * 31) % 1000 AS DOUBLE) / 10 - 5 END AS fare,
  'z' || (i % 5) AS zone
FROM range(3000) AS t(i)`

// TestMaterializeWritesTiles checks that materializing an aggregated view
// writes each entity's tiles online, from its whole offline history up to
// the run's now: read back and evaluated at times from now on, they give
// the oracle's values over the source's rows up to now, lifetime features
// counting rows of an earlier run's range, an entity whose rows all left
// the windows reading 0 rather than not-found, one whose rows are all
// after now having no record. Materializing again writes the same records.
func TestMaterializeWritesTiles(t *testing.T) {
	windows := []registry.Aggregation{
		{Function: registry.AggCount, Windows: []time.Duration{time.Hour, 24 * time.Hour, 7 * 24 * time.Hour}},
		{Function: registry.AggSum, Column: "fare", Windows: []time.Duration{24 * time.Hour}},
		{Function: registry.AggMean, Column: "fare", Windows: []time.Duration{7 * 24 * time.Hour}},
		{Function: registry.AggStddev, Column: "fare", Windows: []time.Duration{24 * time.Hour}},
		{Function: registry.AggMax, Column: "fare", Windows: []time.Duration{time.Hour}},
		{Function: registry.AggLast, Column: "zone", Windows: []time.Duration{24 * time.Hour}},
		{Function: registry.AggLastN, Column: "zone", N: 3, Windows: []time.Duration{24 * time.Hour}},
	}
	aggregations := []struct {
		name string
		aggs []registry.Aggregation
	}{
		// Without a lifetime the run reads the rows of the largest window
		// only, and the others just to count.
		{"windows", windows},
		{"windows and lifetime", append(slices.Clone(windows),
			registry.Aggregation{Function: registry.AggCount},
			registry.Aggregation{Function: registry.AggSum, Column: "fare"})},
	}
	for _, tc := range onlineStores {
		for _, ac := range aggregations {
			t.Run(tc.name+"/"+ac.name, func(t *testing.T) {
				testMaterializeWritesTiles(t, tc.open, ac.aggs)
			})
		}
	}
}

func testMaterializeWritesTiles(t *testing.T, open func(t *testing.T, project string) online.Store, aggregations []registry.Aggregation) {
	dir := writeRepo(t, tilesRepo, map[string]string{"data/trips.parquet": tilesTrips})
	m := newMaterializer(t, dir, filepath.Join(t.TempDir(), "offline"))
	m.Now = func() time.Time { return tilesNow }
	m.Online = open(t, m.Config.Project)
	defer m.Online.Close()
	v := m.Defs.View("trip_tiles")
	aggregateView(t, m.Defs, v, aggregations...)
	views := []*registry.FeatureView{v}
	// An earlier run holds driver 99 and 7 of the 10 days of the
	// others; the later run reads the rest, some after now.
	split := tilesNow.Add(-3 * 24 * time.Hour)
	if _, err := m.Run(t.Context(), views, time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), split); err != nil {
		t.Fatal(err)
	}
	res, err := m.Run(t.Context(), views, split, tilesNow.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := res[0].OnlineRows, int64(20); got != want {
		t.Errorf("OnlineRows = %d, want %d (drivers 1 to 20; 98's rows are after now)", got, want)
	}
	drivers := []int64{98, 99}
	for d := range int64(20) {
		drivers = append(drivers, d+1)
	}
	first := readTiles(t, m.Online, v, drivers)
	aggs := window.Aggs(v.Aggregations, v.Windows)
	codec := window.NewCodec(aggs, v.Windows)
	oracle := tilesOracle(t, m, aggs)
	for i, d := range drivers {
		var set window.Set
		if first[i] != "" {
			if _, err := codec.DecodeSet(&set, first[i]); err != nil {
				t.Fatalf("driver %d: decode its tiles: %v", d, err)
			}
		}
		if got, want := first[i] != "", d != 98; got != want {
			t.Errorf("driver %d has a record: %t, want %t (99's rows are all older than its windows, 98's after now)", d, got, want)
		}
		for _, at := range []time.Duration{0, time.Millisecond, 30 * time.Minute, 24 * time.Hour, 8 * 24 * time.Hour} {
			at := tilesNow.Add(at)
			want, wantFound := window.Evaluate(oracle[d], aggs, v.Windows, at)
			got, gotFound := set.Evaluate(aggs, v.Windows, at)
			if gotFound != wantFound {
				t.Errorf("driver %d at %s: found = %t, want %t", d, at.Format(time.RFC3339Nano), gotFound, wantFound)
				continue
			}
			if d := windowtest.Diff(v.Windows, got, want); d != "" {
				t.Errorf("driver %d at %s: %s", drivers[i], at.Format(time.RFC3339Nano), d)
			}
		}
	}
	if _, err := m.Run(t.Context(), views, split, tilesNow.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	for i, rec := range readTiles(t, m.Online, v, drivers) {
		if rec != first[i] {
			t.Errorf("driver %d: the second run wrote another record (%d bytes, first %d)", drivers[i], len(rec), len(first[i]))
		}
	}
}

// readTiles returns the online records of v for drivers.
func readTiles(t *testing.T, store online.Store, v *registry.FeatureView, drivers []int64) []string {
	t.Helper()
	view := online.ViewOf(v)
	lookups := make([]online.Lookup, len(drivers))
	for i, d := range drivers {
		lookups[i] = online.Lookup{View: &view, Key: []*almanacv1.Value{values.Int64(d)}}
	}
	recs, err := online.ReadEncoded(t.Context(), store, lookups)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// tilesOracle returns the rows of trip_tiles, by driver, read from the
// source with the view's SQL's filter, up to tilesNow, for window.Evaluate;
// aggs are the view's aggregations, in the order of TestMaterializeWritesTiles.
func tilesOracle(t *testing.T, m *Materializer, aggs []window.Agg) map[int64][]window.Row {
	t.Helper()
	q := fmt.Sprintf(`SELECT driver_id, epoch_ms(event_ts), epoch_ms(created_ts), seq, fare, zone FROM read_parquet(%s)
		WHERE coalesce(fare, 0) >= 0 AND event_ts <= TIMESTAMPTZ '2024-05-10 00:00:00+00'`, duck.Quote(m.Config.Abs("data/trips.parquet")))
	rows, err := m.DB.QueryContext(t.Context(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64][]window.Row{}
	for rows.Next() {
		var driver int64
		var r window.Row
		var created *int64
		var fare, zone any
		if err := rows.Scan(&driver, &r.At.Time, &created, &r.At.Seq, &fare, &zone); err != nil {
			t.Fatal(err)
		}
		r.At.Created = window.NoCreated
		if created != nil {
			r.At.Created = *created
		}
		f, err := values.FromGo(fare, registry.TypeFloat64)
		if err != nil {
			t.Fatal(err)
		}
		z, err := values.FromGo(zone, registry.TypeString)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range aggs {
			switch {
			case a.Rows:
				r.Values = append(r.Values, nil)
			case a.Function == registry.AggLast || a.Function == registry.AggLastN:
				r.Values = append(r.Values, z)
			default:
				r.Values = append(r.Values, f)
			}
		}
		out[driver] = append(out[driver], r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
