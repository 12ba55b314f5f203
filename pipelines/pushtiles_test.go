package pipelines

import (
	"context"
	"database/sql/driver"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/almanac-fs/almanac/internal/values"
	"github.com/almanac-fs/almanac/online"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
	"github.com/almanac-fs/almanac/window"
	"github.com/almanac-fs/almanac/window/windowtest"
)

// pushTilesRepo adds to pushWindowRepo an aggregated view over its push
// source with an aggregation of most functions.
const pushTilesRepo = pushWindowRepo + `---
kind: FeatureView
name: live_tiles
entities: [driver]
source: live_trips
aggregations:
  - {function: count, windows: [1h, 1d]}
  - {column: fare, function: sum, windows: [1d]}
  - {column: fare, function: mean, windows: [1h]}
  - {column: fare, function: stddev, windows: [1d]}
  - {column: zone, function: last, windows: [1d]}
  - {column: zone, function: last_n, n: 3, windows: [1d]}
  - {function: count}
`

// pushNow is when the pushes of the tests of tiles begin.
var pushNow = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// trip is a row pushed to live_trips; a nil fare is a null.
type trip struct {
	driver int64
	at     time.Duration // from pushNow
	fare   *float64
	zone   string
}

func fare(f float64) *float64 { return &f }

// tilesPush pushes trips to live_tiles and keeps the oracle's rows: the
// rows a push took, in the order the tie rule gives them.
type tilesPush struct {
	m     *Materializer
	store online.Store
	p     *Pusher
	v     *registry.FeatureView
	aggs  []window.Agg
	codec *window.Codec
	now   time.Time // the pusher's clock; changed only between pushes
	seq   int64
	rows  map[int64][]window.Row // by driver
}

func newTilesPush(t *testing.T, open func(t *testing.T, project string) online.Store) *tilesPush {
	t.Helper()
	m := newMaterializer(t, writeRepo(t, pushTilesRepo, nil), filepath.Join(t.TempDir(), "offline"))
	store := open(t, m.Config.Project)
	t.Cleanup(func() { store.Close() })
	f := &tilesPush{m: m, store: store, v: m.Defs.View("live_tiles"), now: pushNow, rows: map[int64][]window.Row{}}
	f.aggs = window.Aggs(f.v.Aggregations, f.v.Windows)
	f.codec = window.NewCodec(f.aggs, f.v.Windows)
	f.p = &Pusher{Online: store, Offline: m.Offline, DB: m.DB, MaxFuture: time.Hour, Now: func() time.Time { return f.now }}
	return f
}

// columns returns the pushed columns of trips.
func (f *tilesPush) columns(trips []trip) map[string][]*almanacv1.Value {
	cols := map[string][]*almanacv1.Value{}
	for _, tr := range trips {
		fv := &almanacv1.Value{}
		if tr.fare != nil {
			fv = values.Float64(*tr.fare)
		}
		cols["driver_id"] = append(cols["driver_id"], values.Int64(tr.driver))
		cols["event_ts"] = append(cols["event_ts"], values.Timestamp(pushNow.Add(tr.at)))
		cols["fare"] = append(cols["fare"], fv)
		cols["zone"] = append(cols["zone"], values.String(tr.zone))
	}
	return cols
}

// push pushes trips and takes them into the oracle's rows.
func (f *tilesPush) push(t *testing.T, trips ...trip) {
	t.Helper()
	if _, err := f.p.Push(t.Context(), f.m.Defs, "live_trips", f.columns(trips)); err != nil {
		t.Fatal(err)
	}
	f.took(trips)
}

// took takes trips, pushed once, into the oracle's rows.
func (f *tilesPush) took(trips []trip) {
	for _, tr := range trips {
		row := window.Row{At: window.Order{Time: pushNow.Add(tr.at).UnixMilli(), Created: window.NoCreated, Seq: f.seq}}
		f.seq++
		for _, a := range f.v.Aggregations {
			var v *almanacv1.Value
			switch {
			case a.Column == "fare" && tr.fare != nil:
				v = values.Float64(*tr.fare)
			case a.Column == "zone":
				v = values.String(tr.zone)
			}
			row.Values = append(row.Values, v)
		}
		f.rows[tr.driver] = append(f.rows[tr.driver], row)
	}
}

// check reads the tiles of drivers 1 to 4 and evaluates them at the clock
// and later times, as lookups would: each value must be the oracle's over
// the rows pushed, each counted once.
func (f *tilesPush) check(t *testing.T) {
	t.Helper()
	drivers := []int64{1, 2, 3, 4}
	recs := readTiles(t, f.store, f.v, drivers)
	for i, d := range drivers {
		var set window.Set
		if recs[i] != "" {
			if _, err := f.codec.DecodeSet(&set, recs[i]); err != nil {
				t.Fatalf("driver %d: decode its tiles: %v", d, err)
			}
		}
		for _, after := range []time.Duration{0, time.Millisecond, 30 * time.Minute, 59 * time.Minute, 2 * time.Hour, 25 * time.Hour} {
			at := f.now.Add(after)
			want, wantFound := window.Evaluate(f.rows[d], f.aggs, f.v.Windows, at)
			got, gotFound := set.Evaluate(f.aggs, f.v.Windows, at)
			if gotFound != wantFound {
				t.Errorf("driver %d at %s: found = %t, want %t", d, at.Format(time.RFC3339Nano), gotFound, wantFound)
				continue
			}
			if diff := windowtest.Diff(f.v.Windows, got, want); diff != "" {
				t.Errorf("driver %d at %s: %s", d, at.Format(time.RFC3339Nano), diff)
			}
		}
	}
}

// someTrips are trips of drivers 1 and 2: ties on event time (within the
// push, the later row wins last), a null fare, a row at the clock itself
// and one older than every window, which only the lifetime count takes.
var someTrips = []trip{
	{1, -2 * time.Hour, fare(7.5), "a"},
	{1, -time.Minute, fare(3), "b"},
	{1, -time.Minute, nil, "c"},
	{1, 0, fare(4), "d"},
	{2, -3 * 24 * time.Hour, fare(1), "e"},
	{2, -5 * time.Minute, fare(2), "f"},
}

// TestPushMergesIntoTiles checks that pushed rows merge into their
// entities' tiles online: evaluated at the clock and later, the tiles give
// the oracle's values over every row pushed; a later push wins ties on
// event time, the same push again counts once, and a push after the clock
// moved merges with the tiles before it.
func TestPushMergesIntoTiles(t *testing.T) {
	for _, tc := range onlineStores {
		t.Run(tc.name, func(t *testing.T) {
			f := newTilesPush(t, tc.open)
			f.push(t, someTrips...)
			f.check(t)
			f.push(t, trip{1, -time.Minute, fare(9), "g"}, trip{3, -10 * time.Minute, fare(1.5), "h"})
			f.check(t)
			if _, err := f.p.Push(t.Context(), f.m.Defs, "live_trips", f.columns(someTrips)); err != nil {
				t.Fatal(err)
			}
			f.check(t) // the same push again: counted once
			f.now = pushNow.Add(90 * time.Minute)
			f.push(t, trip{1, 80 * time.Minute, fare(6), "i"}, trip{2, -time.Hour, fare(5), "j"})
			f.check(t)
		})
	}
}

// failingStore is a real online store whose Updates fail: before writing
// anything, or after writing, as when a connection drops before the reply.
type failingStore struct {
	online.Store
	after bool
}

var errOnlineFailed = errors.New("the online write failed")

func (s failingStore) Update(ctx context.Context, view online.View, keys [][]*almanacv1.Value, fn func(i int, old string) (string, error)) error {
	if s.after {
		if err := s.Store.(online.Updater).Update(ctx, view, keys, fn); err != nil {
			return err
		}
	}
	return errOnlineFailed
}

// TestPushIntoTilesRetried checks that a push whose online merge failed
// after its offline commit, and which is then retried, counts once in the
// tiles, whether the failed merge wrote them or not.
func TestPushIntoTilesRetried(t *testing.T) {
	for _, tc := range onlineStores {
		for _, fc := range []struct {
			name  string
			after bool
		}{{"fails before the write", false}, {"fails after the write", true}} {
			t.Run(tc.name+"/"+fc.name, func(t *testing.T) {
				f := newTilesPush(t, tc.open)
				f.push(t, trip{1, -30 * time.Minute, fare(1), "a"})
				f.p.Online = failingStore{f.store, fc.after}
				if _, err := f.p.Push(t.Context(), f.m.Defs, "live_trips", f.columns(someTrips)); !errors.Is(err, errOnlineFailed) {
					t.Fatalf("push through the failing store: error %v, want %v", err, errOnlineFailed)
				}
				f.p.Online = f.store
				f.push(t, someTrips...) // the retry
				f.check(t)
				f.push(t, trip{1, -20 * time.Minute, fare(2), "k"})
				f.check(t)
			})
		}
	}
}

// TestConcurrentPushesIntoTiles pushes rows of one driver from several
// goroutines at once: every row counts, once.
func TestConcurrentPushesIntoTiles(t *testing.T) {
	const pushers, pushes = 4, 5
	for _, tc := range onlineStores {
		t.Run(tc.name, func(t *testing.T) {
			f := newTilesPush(t, tc.open)
			var wg sync.WaitGroup
			errs := make([]error, pushers)
			var all []trip
			for g := range pushers {
				var mine [][]trip
				for i := range pushes {
					tr := trip{1, -time.Duration(g*pushes+i+1) * time.Minute, fare(float64(g*10 + i)), "z"}
					mine, all = append(mine, []trip{tr, {2, tr.at, tr.fare, "y"}}), append(all, tr, trip{2, tr.at, tr.fare, "y"})
				}
				wg.Go(func() {
					for _, trips := range mine {
						_, err := f.p.Push(t.Context(), f.m.Defs, "live_trips", f.columns(trips))
						errs[g] = errors.Join(errs[g], err)
					}
				})
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			f.took(all) // distinct event times: the order of pushes does not matter
			f.check(t)
		})
	}
}

// TestPushAheadOfTimeCountsFromItsTime checks that a row pushed with an
// event time after the clock (up to push.max_future) is not counted by a
// lookup before its time, and is from its time on, also once a later push
// has moved it into the tiles.
func TestPushAheadOfTimeCountsFromItsTime(t *testing.T) {
	for _, tc := range onlineStores {
		t.Run(tc.name, func(t *testing.T) {
			f := newTilesPush(t, tc.open)
			f.push(t, trip{1, -10 * time.Minute, fare(1), "a"}, trip{1, 30 * time.Minute, fare(100), "b"}, trip{3, 45 * time.Minute, fare(5), "c"})
			f.check(t)
			set := f.tiles(t, 1)
			got, _ := set.Evaluate(f.aggs, f.v.Windows, pushNow)
			if got[0].GetInt64Val() != 1 {
				t.Errorf("count_1h of driver 1 at now = %v, want 1: the row 30 minutes ahead counts", got[0])
			}
			if _, found := f.tiles(t, 3).Evaluate(f.aggs, f.v.Windows, pushNow); found {
				t.Error("driver 3, whose only row is 45 minutes ahead, is found at now")
			}
			f.now = pushNow.Add(40 * time.Minute)
			f.push(t, trip{1, 35 * time.Minute, fare(2), "d"})
			f.check(t)
		})
	}
}

// tiles returns the decoded tiles of driver.
func (f *tilesPush) tiles(t *testing.T, driver int64) *window.Set {
	t.Helper()
	var set window.Set
	rec := readTiles(t, f.store, f.v, []int64{driver})[0]
	if found, err := f.codec.DecodeSet(&set, rec); err != nil || !found {
		t.Fatalf("driver %d: decode its tiles: found %t, %v", driver, found, err)
	}
	return &set
}

// TestMaterializeKeepsPushes checks that materialization, which replaces
// each record with tiles from the offline history, keeps the push ids the
// record remembers and adds those of the history's latest appends, and
// keeps the pending rows after its now: pushing again what the history
// holds then counts once, and a row ahead of time still counts from its
// time. Views over push sources are not materialized, so the test writes
// the records as materialization does, through tileWriter.
func TestMaterializeKeepsPushes(t *testing.T) {
	for _, tc := range onlineStores {
		for _, ic := range []struct {
			name string
			// fromHistory: the record replaced is not the one the pushes
			// merged into, so the ids come from the history only.
			fromHistory bool
		}{{"ids of the record", false}, {"ids of the history", true}} {
			t.Run(tc.name+"/"+ic.name, func(t *testing.T) {
				f := newTilesPush(t, tc.open)
				pushes := []trip{{1, -10 * time.Minute, fare(1), "a"}, {1, 20 * time.Minute, fare(3), "b"}}
				if ic.fromHistory {
					f.p.Online = tc.open(t, f.m.Config.Project)
					defer f.p.Online.Close()
				}
				f.push(t, pushes...)
				f.p.Online = f.store
				w := tileWriter{
					store: f.store.(online.Updater), view: online.ViewOf(f.v), codec: f.codec, features: f.v.Windows,
					aggs: f.aggs, now: f.now, progress: func(int64) {},
				}
				if ic.fromHistory {
					snap, err := f.m.Offline.Snapshot(f.v.Name)
					if err != nil {
						t.Fatal(err)
					}
					w.pushes = snap.Appended
				}
				var upToNow []window.Row
				for _, r := range f.rows[1] {
					if r.At.Time <= f.now.UnixMilli() {
						upToNow = append(upToNow, r)
					}
				}
				// The entity as the tiles query gives it: its tiles, rows,
				// first and last event times up to now.
				w.keys, w.cur = f.m.Defs.JoinKeys(f.v), []driver.Value{int64(1)}
				w.set = window.Build(f.aggs, f.v.Windows, upToNow)
				w.rows, w.first, w.last = w.set.Rows, w.set.First, w.set.Last
				if err := w.flush(t.Context()); err != nil {
					t.Fatal(err)
				}
				if _, err := f.p.Push(t.Context(), f.m.Defs, "live_trips", f.columns(pushes)); err != nil {
					t.Fatal(err)
				}
				if ic.fromHistory {
					// The row ahead of time is in the history, after the
					// run's now: the next run takes it.
					f.rows[1] = upToNow
				}
				f.check(t)
			})
		}
	}
}
