package pipelines

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/almanac-fs/almanac/offline"
)

// watermarkRepo has one view over every Parquet file of a directory, so
// that rows arrive as new files.
const watermarkRepo = `
kind: Entity
name: driver
join_keys: [{name: driver_id, type: int64}]
---
kind: Source
name: trips
format: parquet
path: data/trips/*.parquet
timestamp_field: ts
---
kind: FeatureView
name: driver_trips
entities: [driver]
source: trips
features:
  - {name: fare, type: float64}
`

// tripRow is a one-row file of the trips source with event time ts.
func tripRow(ts time.Time) string {
	return "SELECT 1::BIGINT AS driver_id, TIMESTAMPTZ '" + ts.Format(time.RFC3339) + "' AS ts, 9.5::DOUBLE AS fare"
}

// clock is a settable clock for a Materializer.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// historyOf returns the rows, newest event time and materialized ranges of
// view's history.
func historyOf(t *testing.T, m *Materializer, view string) (rows int64, newest time.Time, ranges []offline.Interval) {
	t.Helper()
	snap, err := m.Offline.Snapshot(view)
	if err != nil {
		t.Fatal(err)
	}
	return snap.Rows(), snap.Newest(), snap.Materialized
}

var (
	firstEvent = time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	farFuture  = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
)

// An END in the future moves the watermark only to the time of the run;
// a row that arrives later, with an event time between that run and the
// next, is read by the next incremental run.
func TestFutureEndStopsTheWatermarkAtTheRun(t *testing.T) {
	ran := time.Date(2024, 5, 2, 0, 0, 0, 0, time.UTC)
	late := time.Date(2024, 5, 2, 6, 0, 0, 0, time.UTC)
	next := time.Date(2024, 5, 3, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		run  func(context.Context, *Materializer) ([]Result, error)
	}{
		{"materialize to 2100", func(ctx context.Context, m *Materializer) ([]Result, error) {
			return m.Run(ctx, m.Defs.Views, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), farFuture)
		}},
		{"materialize-incremental to 2100", func(ctx context.Context, m *Materializer) ([]Result, error) {
			return m.RunIncremental(ctx, m.Defs.Views, farFuture)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeRepo(t, watermarkRepo, map[string]string{"data/trips/1.parquet": tripRow(firstEvent)})
			m := newMaterializer(t, dir, filepath.Join(t.TempDir(), "offline"))
			c := &clock{ran}
			m.Now = c.now
			if _, err := tc.run(t.Context(), m); err != nil {
				t.Fatal(err)
			}
			snap, err := m.Offline.Snapshot("driver_trips")
			if err != nil {
				t.Fatal(err)
			}
			if got, want := snap.Watermark(), ran; !got.Equal(want) {
				t.Fatalf("watermark after a run at %v = %v, want %v", ran, got, want)
			}

			writeData(t, dir, map[string]string{"data/trips/2.parquet": tripRow(late)})
			c.t = next
			results, err := m.RunIncremental(t.Context(), m.Defs.Views, next)
			if err != nil {
				t.Fatal(err)
			}
			if len(results) != 1 || results[0].Skipped != "" || results[0].RowsWritten != 1 {
				t.Fatalf("incremental run = %+v, want the late row written", results)
			}
			rows, newest, ranges := historyOf(t, m, "driver_trips")
			if rows != 2 || !newest.Equal(late) {
				t.Errorf("history holds %d rows, the newest at %v; want 2, the newest at %v", rows, newest, late)
			}
			if got := ranges[len(ranges)-1].End; !got.Equal(next) {
				t.Errorf("watermark = %v, want %v", got, next)
			}
		})
	}
}

// A store whose watermark is in the future, as an older almanac recorded
// for `materialize 2000-01-01 2100-01-01`, recovers: the next run drops
// that range, and an incremental run starts over from the first event, so
// that rows that arrived since are read.
func TestFutureWatermarkOfAnOlderRunRecovers(t *testing.T) {
	ran := time.Date(2024, 5, 2, 0, 0, 0, 0, time.UTC)
	late := time.Date(2024, 5, 1, 18, 0, 0, 0, time.UTC)
	day := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		// first runs after the row arrived; then materialize-incremental
		// now runs.
		first      func(context.Context, *Materializer) ([]Result, error)
		wantRanges []offline.Interval
	}{
		{
			name:       "materialize-incremental now",
			first:      func(context.Context, *Materializer) ([]Result, error) { return nil, nil },
			wantRanges: []offline.Interval{{Start: firstEvent, End: ran}},
		},
		{
			name: "materialize a past day, then materialize-incremental now",
			first: func(ctx context.Context, m *Materializer) ([]Result, error) {
				return m.Run(ctx, m.Defs.Views, day.AddDate(0, 0, -1), day)
			},
			wantRanges: []offline.Interval{{Start: day.AddDate(0, 0, -1), End: ran}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeRepo(t, watermarkRepo, map[string]string{"data/trips/1.parquet": tripRow(firstEvent)})
			m := newMaterializer(t, dir, filepath.Join(t.TempDir(), "offline"))
			// The older almanac recorded END as it was: so does a run by a
			// clock past END.
			c := &clock{farFuture.AddDate(1, 0, 0)}
			m.Now = c.now
			if _, err := m.Run(t.Context(), m.Defs.Views, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), farFuture); err != nil {
				t.Fatal(err)
			}
			if _, _, ranges := historyOf(t, m, "driver_trips"); !ranges[len(ranges)-1].End.Equal(farFuture) {
				t.Fatalf("setting up: materialized %v, want a range to %v", ranges, farFuture)
			}

			writeData(t, dir, map[string]string{"data/trips/2.parquet": tripRow(late)})
			c.t = ran
			if _, err := tc.first(t.Context(), m); err != nil {
				t.Fatal(err)
			}
			results, err := m.RunIncremental(t.Context(), m.Defs.Views, ran)
			if err != nil {
				t.Fatal(err)
			}
			if len(results) != 1 || results[0].Skipped != "" {
				t.Fatalf("incremental run = %+v, want it run", results)
			}
			rows, newest, ranges := historyOf(t, m, "driver_trips")
			if rows != 2 || !newest.Equal(late) {
				t.Errorf("history holds %d rows, the newest at %v; want 2, the newest at %v", rows, newest, late)
			}
			if !slices.Equal(ranges, tc.wantRanges) {
				t.Errorf("materialized %v, want %v", ranges, tc.wantRanges)
			}
		})
	}
}
