package pipelines

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/almanac-fs/almanac/internal/values"
	"github.com/almanac-fs/almanac/offline"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
)

// tripsRepo has the driver entity and the trips source of the repositories
// of aggregated views' tests, which add a view.
const tripsRepo = `
kind: Entity
name: driver
join_keys: [{name: driver_id, type: int64}]
---
kind: Source
name: trips
format: parquet
path: data/*.parquet
timestamp_field: event_ts
created_timestamp_field: created_ts
`

// windowRepo has a view over trips whose row-level SQL drops negative fares
// and derives a column; the test makes it an aggregated view.
const windowRepo = tripsRepo + `---
kind: FeatureView
name: trip_windows
entities: [driver]
source: trips
sql: SELECT driver_id, event_ts, created_ts, fare, fare * 2 AS double_fare FROM source WHERE coalesce(fare, 0) >= 0
features:
  - {name: fare, type: int64}
  - {name: double_fare, type: int64}
`

// windowTrips are the trips of windowRepo: the note and the row with a
// negative fare never reach the view's rows.
const windowTrips = `SELECT * FROM (VALUES
  (1, TIMESTAMPTZ '2024-05-01 10:00:00+00', TIMESTAMPTZ '2024-05-01 10:01:00+00', 5, 'a'),
  (1, TIMESTAMPTZ '2024-05-01 11:00:00+00', NULL, -1, 'b'),
  (2, TIMESTAMPTZ '2024-05-02 09:00:00+00', TIMESTAMPTZ '2024-05-02 09:00:00+00', NULL, 'c')
) AS t(driver_id, event_ts, created_ts, fare, note)`

// aggregateView makes v an aggregated view of aggs, as the definitions'
// decoder does, typing their columns by v's join keys and features.
func aggregateView(t *testing.T, defs *registry.Definitions, v *registry.FeatureView, aggs ...registry.Aggregation) {
	t.Helper()
	types := map[string]registry.Type{}
	for _, f := range append(defs.JoinKeys(v), v.Features...) {
		types[f.Name] = f.Type
	}
	v.Aggregations, v.Features = aggs, nil
	for i, a := range aggs {
		wfs, err := a.Features(i, types[a.Column], 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, wf := range wfs {
			v.Windows, v.Features = append(v.Windows, wf), append(v.Features, wf.Field)
		}
	}
}

// TestMaterializeAggregatedView checks that an aggregated view's offline
// history holds its rows after its SQL, with the columns its aggregations
// read and no feature values, that materializing again gives the same
// store, and that it writes each driver's tiles online.
func TestMaterializeAggregatedView(t *testing.T) {
	dir := writeRepo(t, windowRepo, map[string]string{"data/trips.parquet": windowTrips})
	m := newMaterializer(t, dir, filepath.Join(t.TempDir(), "offline"))
	m.Online = onlineStores[0].open(t, m.Config.Project)
	defer m.Online.Close()
	v := m.Defs.View("trip_windows")
	aggregateView(t, m.Defs, v,
		registry.Aggregation{Function: registry.AggCount, Windows: []time.Duration{time.Hour}},
		registry.Aggregation{Function: registry.AggSum, Column: "double_fare", Windows: []time.Duration{time.Hour, 24 * time.Hour}},
		registry.Aggregation{Function: registry.AggLast, Column: "fare"},
		registry.Aggregation{Function: registry.AggMax, Column: "driver_id"},
	)
	start, end := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 5, 3, 0, 0, 0, 0, time.UTC)
	want := map[string]viewState{"trip_windows": {
		Partitions: map[string][]string{
			"2024-05-01": {"created_ts=2024-05-01T10:01:00Z double_fare=10 driver_id=1 event_ts=2024-05-01T10:00:00Z fare=5"},
			"2024-05-02": {"created_ts=2024-05-02T09:00:00Z double_fare=<nil> driver_id=2 event_ts=2024-05-02T09:00:00Z fare=<nil>"},
		},
		Recorded:     map[string]int64{"2024-05-01": 1, "2024-05-02": 1},
		Materialized: []offline.Interval{{Start: start, End: end}},
	}}
	for _, run := range []string{"once", "twice"} {
		t.Run(run, func(t *testing.T) {
			res, err := m.Run(t.Context(), []*registry.FeatureView{v}, start, end)
			if err != nil {
				t.Fatal(err)
			}
			if got := res[0].OnlineRows; got != 2 {
				t.Errorf("OnlineRows = %d, want 2 (the tiles of drivers 1 and 2)", got)
			}
			if got := res[0].RowsWritten; got != 2 {
				t.Errorf("RowsWritten = %d, want 2", got)
			}
			if d := diffStates(storeState(t, m), want); d != "" {
				t.Error(d)
			}
		})
	}
}

// pushWindowRepo has an aggregated view over a push source, typed from the
// source's schema.
const pushWindowRepo = `
kind: Entity
name: driver
join_keys: [{name: driver_id, type: int64}]
---
kind: Source
name: live_trips
format: push
timestamp_field: event_ts
schema:
  - {name: driver_id, type: int64}
  - {name: event_ts, type: timestamp}
  - {name: fare, type: float64}
  - {name: zone, type: string}
---
kind: FeatureView
name: live_windows
entities: [driver]
source: live_trips
aggregations:
  - {function: count, windows: [1h]}
  - {column: fare, function: sum, windows: [1d]}
`

// TestPushIntoAggregatedView checks that rows pushed to a source that an
// aggregated view reads reach the view's offline history as rows, with the
// columns its aggregations read (not the columns they do not, nor
// generated features). TestPushMergesIntoTiles checks their tiles online.
func TestPushIntoAggregatedView(t *testing.T) {
	m := newMaterializer(t, writeRepo(t, pushWindowRepo, nil), filepath.Join(t.TempDir(), "offline"))
	store := onlineStores[0].open(t, m.Config.Project)
	defer store.Close()
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	p := &Pusher{Online: store, Offline: m.Offline, DB: m.DB, MaxFuture: time.Hour, Now: func() time.Time { return now }}
	at := func(d time.Duration) *almanacv1.Value { return values.Timestamp(now.Add(-d)) }
	if _, err := p.Push(t.Context(), m.Defs, "live_trips", map[string][]*almanacv1.Value{
		"driver_id": {values.Int64(1), values.Int64(1), values.Int64(2)},
		"event_ts":  {at(2 * time.Hour), at(time.Minute), at(time.Minute)},
		"fare":      {values.Float64(7.5), {}, values.Float64(3)},
		"zone":      {values.String("a"), values.String("b"), values.String("c")},
	}); err != nil {
		t.Fatal(err)
	}
	got := storeState(t, m)["live_windows"].Partitions
	want := map[string][]string{"2024-05-01": {
		"driver_id=1 event_ts=2024-05-01T10:00:00Z fare=7.5",
		"driver_id=1 event_ts=2024-05-01T11:59:00Z fare=<nil>",
		"driver_id=2 event_ts=2024-05-01T11:59:00Z fare=3",
	}}
	if d := diffStates(map[string]viewState{"v": {Partitions: got}}, map[string]viewState{"v": {Partitions: want}}); d != "" {
		t.Error(d)
	}
}
