package pipelines

import (
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/almanac-fs/almanac/internal/values"
	"github.com/almanac-fs/almanac/offline"
	"github.com/almanac-fs/almanac/online"
	"github.com/almanac-fs/almanac/online/local"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
)

const boundsRepo = `
kind: Entity
name: driver
join_keys: [{name: driver_id, type: int64}]
---
kind: Source
name: live
format: push
timestamp_field: event_ts
schema:
  - {name: driver_id, type: int64}
  - {name: event_ts, type: timestamp}
  - {name: created_ts, type: timestamp}
  - {name: seen, type: timestamp}
  - {name: visits, type: list<timestamp>}
---
kind: FeatureView
name: live_stats
entities: [driver]
source: live
features: [{name: seen, type: timestamp}, {name: visits, type: list<timestamp>}]
`

// onlineRecord reads the record of driver in view from store.
func onlineRecord(t *testing.T, m *Materializer, store online.Store, view string, driver int64) online.Record {
	t.Helper()
	v := online.ViewOf(m.Defs.View(view))
	recs, err := store.Read(t.Context(), []online.Lookup{{View: &v, Key: []*almanacv1.Value{values.Int64(driver)}}})
	if err != nil {
		t.Fatal(err)
	}
	return recs[0]
}

// TestPushRejectsTimestampsOutOfRange checks that every timestamp of a
// push is bounded, event time, other timestamp columns, features and list elements,
// with an error wrapping online.ErrInvalid that names the column, row and
// bound, and that a rejected push leaves both stores untouched.
func TestPushRejectsTimestampsOutOfRange(t *testing.T) {
	m := newMaterializer(t, writeRepo(t, boundsRepo, nil), filepath.Join(t.TempDir(), "offline"))
	store, err := local.New(local.DefaultOptions(filepath.Join(t.TempDir(), "online.db")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	p := &Pusher{Online: store, Offline: m.Offline, DB: m.DB, MaxFuture: 10 * time.Minute, Now: func() time.Time { return now }}
	ts := func(ms int64) *almanacv1.Value {
		return &almanacv1.Value{Val: &almanacv1.Value_UnixTimestampVal{UnixTimestampVal: ms}}
	}
	list := func(ms ...int64) *almanacv1.Value {
		return &almanacv1.Value{Val: &almanacv1.Value_UnixTimestampListVal{UnixTimestampListVal: &almanacv1.Int64List{Val: ms}}}
	}
	at := now.Add(-time.Minute).UnixMilli()
	year1 := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	year10000 := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	// push pushes two rows of driver 1, the second with column set to v.
	push := func(column string, v *almanacv1.Value) error {
		cols := map[string][]*almanacv1.Value{
			"driver_id":  {values.Int64(1), values.Int64(1)},
			"event_ts":   {ts(at), ts(at)},
			"created_ts": {ts(at), ts(at)},
			"seen":       {ts(at), ts(at)},
			"visits":     {list(at), list(at)},
		}
		cols[column][1] = v
		_, err := p.Push(t.Context(), m.Defs, "live", cols)
		return err
	}
	for _, tc := range []struct {
		name, column string
		value        *almanacv1.Value
		mentions     []string
	}{
		{"event past max_future", "event_ts", ts(now.Add(10*time.Minute + time.Millisecond).UnixMilli()),
			[]string{`column "event_ts", row 1`, "2024-05-01T12:10:00.001Z is after 2024-05-01T12:10:00Z", "push.max_future (10m)"}},
		{"event before 1900", "event_ts", ts(time.Date(1899, 12, 31, 0, 0, 0, 0, time.UTC).UnixMilli()),
			[]string{`column "event_ts", row 1`, "before 1900-01-01"}},
		{"created time beyond DuckDB", "created_ts", ts(math.MaxInt64), []string{`column "created_ts", row 1`, "out of range", "end of 9999"}},
		{"created time before year 1", "created_ts", ts(year1 - 1), []string{`column "created_ts", row 1`, "out of range"}},
		{"feature in year 10000", "seen", ts(year10000), []string{`column "seen", row 1`, "10000-01-01T00:00:00Z", "out of range"}},
		{"feature before DuckDB", "seen", ts(math.MinInt64), []string{`column "seen", row 1`, "out of range"}},
		{"list element", "visits", list(at, year10000), []string{`column "visits", row 1`, "out of range"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := push(tc.column, tc.value)
			if !errors.Is(err, online.ErrInvalid) {
				t.Fatalf("push: %v, want ErrInvalid", err)
			}
			for _, m := range tc.mentions {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
		})
	}
	if _, err := m.Offline.Snapshot("live_stats"); !errors.Is(err, offline.ErrNoData) {
		t.Errorf("rejected pushes reached the offline store: %v", err)
	}
	if rec := onlineRecord(t, m, store, "live_stats", 1); rec.Found {
		t.Errorf("rejected pushes reached the online store: %+v", rec)
	}

	// The bounds themselves are in range.
	if err := push("seen", ts(year1)); err != nil {
		t.Fatalf("a timestamp feature at 0001-01-01: %v", err)
	}
	if err := push("event_ts", ts(now.Add(10*time.Minute).UnixMilli())); err != nil {
		t.Fatalf("an event time at now + max_future: %v", err)
	}
	if rec := onlineRecord(t, m, store, "live_stats", 1); !rec.EventTime.Equal(now.Add(10 * time.Minute)) {
		t.Errorf("online record at %v, want the push at now + max_future", rec.EventTime)
	}
}

// TestMaterializeDropsRowsOutOfRange checks that source rows whose event
// time is before 1900 are dropped and counted like rows without a key,
// instead of failing the online write on every run.
func TestMaterializeDropsRowsOutOfRange(t *testing.T) {
	dir := writeRepo(t, dropRepo, map[string]string{"data/trips.parquet": `SELECT * FROM (VALUES
  (1, 1::BIGINT, 'paris', 1, TIMESTAMPTZ '0001-01-01 00:00:00+00', 1.0::DOUBLE),
  (2, 2, 'paris', 1, TIMESTAMPTZ '1899-12-31 23:59:59+00', 2.0),
  (3, 3, 'paris', 1, TIMESTAMPTZ '1900-01-01 00:00:00+00', 3.0),
  (4, 4, 'paris', 1, TIMESTAMPTZ '2024-05-01 10:00:00+00', 4.0)
) AS t(n, driver_id, city, zone_id, event_ts, fare)`})
	m := newMaterializer(t, dir, filepath.Join(t.TempDir(), "offline"))
	store, err := local.New(local.DefaultOptions(filepath.Join(t.TempDir(), "online.db")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	m.Online = store
	end := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	for run := range 2 {
		results, err := m.RunIncremental(t.Context(), []*registry.FeatureView{m.Defs.View("by_driver")}, end)
		if err != nil {
			t.Fatalf("run %d: %v", run+1, err)
		}
		if run == 0 && (len(results) != 1 || results[0].RowsWritten != 2 || results[0].RowsDropped != 2) {
			t.Fatalf("results %+v, want 2 rows written and 2 dropped", results)
		}
	}
	for driver, want := range map[int64]bool{1: false, 2: false, 3: true, 4: true} {
		if got := onlineRecord(t, m, store, "by_driver", driver).Found; got != want {
			t.Errorf("driver %d found online: %v, want %v", driver, got, want)
		}
	}
}
