package pipelines

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/almanac-fs/almanac/internal/demo"
	"github.com/almanac-fs/almanac/internal/redistest"
	"github.com/almanac-fs/almanac/online"
	"github.com/almanac-fs/almanac/online/local"
	"github.com/almanac-fs/almanac/online/redis"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
)

// latestOnline reads driver_stats for drivers from store.
func latestOnline(t *testing.T, store online.Store, m *Materializer, drivers []int64) []online.Record {
	t.Helper()
	view := online.ViewOf(m.Defs.View("driver_stats"))
	lookups := make([]online.Lookup, len(drivers))
	for i, d := range drivers {
		lookups[i] = online.Lookup{View: &view, Key: []*almanacv1.Value{{Val: &almanacv1.Value_Int64Val{Int64Val: d}}}}
	}
	recs, err := store.Read(t.Context(), lookups)
	if err != nil {
		t.Fatalf("read online store: %v", err)
	}
	return recs
}

// wantLatest returns, per driver, the event time of its latest driver_stats
// row in the offline store, the ground truth the online store must match.
func wantLatest(t *testing.T, m *Materializer, drivers []int64) []time.Time {
	t.Helper()
	snap, err := m.Offline.Snapshot("driver_stats")
	if err != nil {
		t.Fatal(err)
	}
	out := make([]time.Time, len(drivers))
	for i, d := range drivers {
		var ts time.Time
		q := "SELECT max(event_ts) FROM read_parquet(?) WHERE driver_id = ?"
		if err := m.DB.QueryRowContext(t.Context(), q, snap.Paths(), d).Scan(&ts); err != nil {
			t.Fatalf("latest offline row of driver %d: %v", d, err)
		}
		out[i] = ts.UTC()
	}
	return out
}

// writeFreshDemo writes the demo repository with history up to now, so that
// its latest rows are within their TTL and reach the online store.
func writeFreshDemo(t *testing.T) (dir string, start, end time.Time) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "rides")
	sum, err := demo.Write(dir, demo.Options{Now: time.Now().UTC().Truncate(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return dir, sum.Start, sum.End
}

// onlineStores are the online stores materialization tests write to: the
// embedded store, and a Redis of the test's own with the project's keys.
var onlineStores = []struct {
	name string
	open func(t *testing.T, project string) online.Store
}{
	{"local", func(t *testing.T, _ string) online.Store {
		s, err := local.New(local.DefaultOptions(filepath.Join(t.TempDir(), "online.db")))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}},
	{"redis", func(t *testing.T, project string) online.Store {
		opts := redis.DefaultOptions()
		opts.Addrs, opts.Project = []string{redistest.Start(t).Addr()}, project
		s, err := redis.New(opts)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}},
}

func TestMaterializeWritesLatestRowsOnline(t *testing.T) {
	drivers := []int64{1001, 1050, 1100}
	for _, tc := range onlineStores {
		t.Run(tc.name, func(t *testing.T) {
			dir, start, end := writeFreshDemo(t)
			m := newMaterializer(t, dir, t.TempDir())
			m.Online = tc.open(t, m.Config.Project)
			defer m.Online.Close()
			// A newer half first, then the whole range: the older rows of the
			// second run must not replace the newer ones.
			mid := start.Add(end.Sub(start) / 2)
			views := []*registry.FeatureView{m.Defs.View("driver_stats")}
			if _, err := m.Run(t.Context(), views, mid, end); err != nil {
				t.Fatal(err)
			}
			res, err := m.Run(t.Context(), views, start, end)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := res[0].OnlineRows, int64(100); got != want {
				t.Errorf("online rows = %d, want %d (one per driver)", got, want)
			}
			want := wantLatest(t, m, drivers)
			for i, rec := range latestOnline(t, m.Online, m, drivers) {
				if !rec.Found || !rec.EventTime.Equal(want[i]) {
					t.Errorf("driver %d: online event time %v (found %v), want the latest offline one %v", drivers[i], rec.EventTime, rec.Found, want[i])
				}
			}
			// An older range alone never makes a value go back in time.
			if _, err := m.Run(t.Context(), views, start, mid); err != nil {
				t.Fatal(err)
			}
			for i, rec := range latestOnline(t, m.Online, m, drivers) {
				if !rec.EventTime.Equal(want[i]) {
					t.Errorf("driver %d regressed to %v after materializing an older range, want %v", drivers[i], rec.EventTime, want[i])
				}
			}
		})
	}
}

// TestMaterializeSurvivesRedisRestart stops Redis before a run: the run
// fails clearly with the offline history committed, and a re-run after
// Redis is back completes.
func TestMaterializeSurvivesRedisRestart(t *testing.T) {
	dir, start, end := writeFreshDemo(t)
	m := newMaterializer(t, dir, t.TempDir())
	srv := redistest.Start(t)
	opts := redis.DefaultOptions()
	opts.Addrs, opts.Project = []string{srv.Addr()}, m.Config.Project
	store, err := redis.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	m.Online = store
	views := []*registry.FeatureView{m.Defs.View("driver_stats")}

	srv.Stop()
	_, err = m.Run(t.Context(), views, start, end)
	if !errors.Is(err, online.ErrUnavailable) || !strings.Contains(err.Error(), "offline history is committed") {
		t.Fatalf("materialize with Redis down: %v; want an unavailable error saying the offline half is committed", err)
	}
	if snap, err := m.Offline.Snapshot("driver_stats"); err != nil || snap.Rows() == 0 {
		t.Fatalf("offline history after the failed online half: %v", err)
	}
	srv.Restart()
	if _, err := m.Run(t.Context(), views, start, end); err != nil {
		t.Fatalf("re-run after Redis restarted: %v", err)
	}
	drivers := []int64{1001, 1100}
	want := wantLatest(t, m, drivers)
	for i, rec := range latestOnline(t, store, m, drivers) {
		if !rec.Found || !rec.EventTime.Equal(want[i]) {
			t.Errorf("driver %d after re-run: %v (found %v), want %v", drivers[i], rec.EventTime, rec.Found, want[i])
		}
	}
}

// manyRepo has 5,500 users × 3 rows, the last the latest, so that the
// online half writes several full batches and a partial one.
const manyRepo = `
kind: Entity
name: user
join_keys: [{name: user_id, type: string}]
---
kind: Entity
name: region
join_keys: [{name: region_id, type: int64}]
---
kind: Source
name: events
format: parquet
path: data/events.parquet
timestamp_field: ts
---
kind: FeatureView
name: user_stats
entities: [user, region]
source: events
features:
  - {name: score, type: float64}
  - {name: visits, type: int64}
  - {name: label, type: string}
  - {name: active, type: bool}
  - {name: recent, type: list<int64>}
`

const manyUsers = 5500

// manyData makes row r of user i: its values are those of manyLatest with
// r in place of 2, and its event time grows with r.
const manyData = `SELECT 'u' || i AS user_id, i % 7 AS region_id,
  TIMESTAMPTZ '2024-05-01 00:00:00+00' + to_hours(r) + to_minutes(i % 50) AS ts,
  CASE WHEN i % 11 = 0 THEN NULL ELSE i * 0.5 + r END AS score,
  i * 10 + r AS visits, 'user ' || i || ' row ' || r AS label, (i + r) % 2 = 0 AS active,
  [i, r] AS recent
FROM range(5500) a(i), range(3) b(r) ORDER BY hash(i, r)`

// manyLatest is what the online store must hold for user i.
func manyLatest(i int64) []*almanacv1.Value {
	const r = 2
	score := &almanacv1.Value{Val: &almanacv1.Value_DoubleVal{DoubleVal: float64(i)*0.5 + r}}
	if i%11 == 0 {
		score = nil
	}
	return []*almanacv1.Value{
		score,
		{Val: &almanacv1.Value_Int64Val{Int64Val: i*10 + r}},
		{Val: &almanacv1.Value_StringVal{StringVal: fmt.Sprintf("user %d row %d", i, r)}},
		{Val: &almanacv1.Value_BoolVal{BoolVal: (i+r)%2 == 0}},
		{Val: &almanacv1.Value_Int64ListVal{Int64ListVal: &almanacv1.Int64List{Val: []int64{i, r}}}},
	}
}

// TestMaterializeOnlineManyBatches checks every entity's online record after
// a materialization that spans many write batches, on both stores: batches
// and buffers are reused from one write to the next, and no row may see
// another's values.
func TestMaterializeOnlineManyBatches(t *testing.T) {
	dir := writeRepo(t, manyRepo, map[string]string{"data/events.parquet": manyData})
	for _, tc := range onlineStores {
		t.Run(tc.name, func(t *testing.T) {
			m := newMaterializer(t, dir, t.TempDir())
			m.Online = tc.open(t, m.Config.Project)
			defer m.Online.Close()
			v := m.Defs.View("user_stats")
			res, err := m.Run(t.Context(), []*registry.FeatureView{v}, time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 5, 2, 0, 0, 0, 0, time.UTC))
			if err != nil {
				t.Fatal(err)
			}
			if got := res[0].OnlineRows; got != manyUsers {
				t.Errorf("online rows = %d, want %d", got, manyUsers)
			}
			view := online.ViewOf(v)
			lookups := make([]online.Lookup, manyUsers)
			for i := range lookups {
				lookups[i] = online.Lookup{View: &view, Key: []*almanacv1.Value{
					{Val: &almanacv1.Value_StringVal{StringVal: fmt.Sprintf("u%d", i)}},
					{Val: &almanacv1.Value_Int64Val{Int64Val: int64(i % 7)}},
				}}
			}
			recs, err := m.Online.Read(t.Context(), lookups)
			if err != nil {
				t.Fatal(err)
			}
			bad := 0
			for i, rec := range recs {
				wantTime := time.Date(2024, 5, 1, 2, i%50, 0, 0, time.UTC)
				want := manyLatest(int64(i))
				ok := rec.Found && rec.EventTime.Equal(wantTime) && len(rec.Values) == len(want)
				for f := range want {
					ok = ok && proto.Equal(rec.Values[f], want[f])
				}
				if !ok && bad < 5 {
					bad++
					t.Errorf("user u%d: found %v at %v with %v, want %v with %v", i, rec.Found, rec.EventTime, rec.Values, wantTime, want)
				}
			}
		})
	}
}
