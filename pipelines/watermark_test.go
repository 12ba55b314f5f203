package pipelines

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/almanac-fs/almanac/offline"
	"github.com/almanac-fs/almanac/registry"
)

// clock is a settable clock for a Materializer.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// arrive writes a file of tiesRepo's trips source with one row at ts.
func arrive(t *testing.T, dir, name string, ts time.Time) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	row := "driver_id,event_ts,fare\n1," + ts.Format(time.RFC3339) + ",9\n"
	if err := os.WriteFile(filepath.Join(dir, "data", name), []byte(row), 0o644); err != nil {
		t.Fatal(err)
	}
}

// newClocked writes tiesRepo with a row at firstEvent and returns it with
// a materializer whose clock reads at.
func newClocked(t *testing.T, at time.Time) (string, *Materializer, *clock) {
	t.Helper()
	dir := writeRepo(t, tiesRepo, nil)
	arrive(t, dir, "1.csv", firstEvent)
	m := newMaterializer(t, dir, filepath.Join(t.TempDir(), "offline"))
	c := &clock{at}
	m.Now = c.now
	return dir, m, c
}

// fares is the view of tiesRepo's trips source.
func fares(m *Materializer) []*registry.FeatureView {
	return []*registry.FeatureView{m.Defs.View("trip_fares")}
}

// readsLate runs materialize-incremental to end, checks that it ran and
// that the history holds the first row and the one at late, and returns
// the ranges recorded as materialized.
func readsLate(t *testing.T, m *Materializer, end, late time.Time) []offline.Interval {
	t.Helper()
	results, err := m.RunIncremental(t.Context(), fares(m), end)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 1 || results[0].Skipped != "" {
		t.Fatalf("incremental run = %+v, want it run", results)
	}
	snap, err := m.Offline.Snapshot("trip_fares")
	if err != nil {
		t.Fatal(err)
	}
	if rows, newest := snap.Rows(), snap.Newest(); rows != 2 || !newest.Equal(late) {
		t.Errorf("history holds %d rows, the newest at %v; want 2, the newest at %v", rows, newest, late)
	}
	return snap.Materialized
}

// run is a materialization run.
type run func(context.Context, *Materializer) ([]Result, error)

var (
	longAgo    = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	firstEvent = time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	ran        = time.Date(2024, 5, 2, 0, 0, 0, 0, time.UTC)
	farFuture  = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
)

// An END in the future moves the watermark only to the time of the run;
// a row that arrives later, with an event time between that run and the
// next, is read by the next incremental run.
func TestFutureEndStopsTheWatermarkAtTheRun(t *testing.T) {
	late := time.Date(2024, 5, 2, 6, 0, 0, 0, time.UTC)
	next := time.Date(2024, 5, 3, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		run  run
	}{
		{"materialize to 2100", func(ctx context.Context, m *Materializer) ([]Result, error) {
			return m.Run(ctx, fares(m), longAgo, farFuture)
		}},
		{"materialize-incremental to 2100", func(ctx context.Context, m *Materializer) ([]Result, error) {
			return m.RunIncremental(ctx, fares(m), farFuture)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, m, c := newClocked(t, ran)
			if _, err := tc.run(t.Context(), m); err != nil {
				t.Fatal(err)
			}
			snap, err := m.Offline.Snapshot("trip_fares")
			if err != nil {
				t.Fatal(err)
			}
			if got, want := snap.Watermark(), ran; !got.Equal(want) {
				t.Fatalf("watermark after a run at %v = %v, want %v", ran, got, want)
			}
			arrive(t, dir, "2.csv", late)
			c.t = next
			ranges := readsLate(t, m, next, late)
			if got, want := ranges[len(ranges)-1].End, next; !got.Equal(want) {
				t.Errorf("watermark = %v, want %v", got, want)
			}
		})
	}
}

// A store whose watermark is in the future, as an older almanac recorded
// for `materialize 2000-01-01 2100-01-01`, recovers: the next run drops
// that range, and an incremental run starts over from the first event, so
// that rows that arrived since are read.
func TestFutureWatermarkOfAnOlderRunRecovers(t *testing.T) {
	late := time.Date(2024, 5, 1, 18, 0, 0, 0, time.UTC)
	day := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		// before runs after the row arrived, before materialize-incremental.
		before     run
		wantRanges []offline.Interval
	}{
		{
			name:       "materialize-incremental now",
			wantRanges: []offline.Interval{{Start: firstEvent, End: ran}},
		},
		{
			name: "materialize a past day, then materialize-incremental now",
			before: func(ctx context.Context, m *Materializer) ([]Result, error) {
				return m.Run(ctx, fares(m), day.AddDate(0, 0, -1), day)
			},
			wantRanges: []offline.Interval{{Start: day.AddDate(0, 0, -1), End: ran}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The older almanac recorded END as it was: so does a run by a
			// clock past END.
			dir, m, c := newClocked(t, farFuture.AddDate(1, 0, 0))
			if _, err := m.Run(t.Context(), fares(m), longAgo, farFuture); err != nil {
				t.Fatal(err)
			}
			snap, err := m.Offline.Snapshot("trip_fares")
			if err != nil {
				t.Fatal(err)
			}
			if got := snap.Watermark(); !got.Equal(farFuture) {
				t.Fatalf("setting up: watermark %v, want %v", got, farFuture)
			}
			arrive(t, dir, "2.csv", late)
			c.t = ran
			if tc.before != nil {
				if _, err := tc.before(t.Context(), m); err != nil {
					t.Fatal(err)
				}
			}
			if got, want := readsLate(t, m, ran, late), tc.wantRanges; !slices.Equal(got, want) {
				t.Errorf("materialized %v, want %v", got, want)
			}
		})
	}
}
