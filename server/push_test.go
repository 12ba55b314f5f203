package server_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/almanac-fs/almanac/internal/servertest"
	"github.com/almanac-fs/almanac/internal/values"
	"github.com/almanac-fs/almanac/pipelines"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
	"github.com/almanac-fs/almanac/sdk"
	"github.com/almanac-fs/almanac/window"
	"github.com/almanac-fs/almanac/window/windowtest"
)

// offlineRows renders the rows of a view's current offline snapshot as
// "driver_id event_ts lat lon status", sorted.
func offlineRows(t *testing.T, env *servertest.Env, view string) []string {
	t.Helper()
	snap, err := env.Offline.Snapshot(view)
	if err != nil {
		t.Fatalf("snapshot of %s: %v", view, err)
	}
	defs, err := env.Defs()
	if err != nil {
		t.Fatal(err)
	}
	schema := defs.Source(servertest.PushSource).Schema
	var out []string
	for _, path := range snap.Paths() {
		cols, n, err := pipelines.ReadRows(t.Context(), env.DB, path, schema)
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			out = append(out, fmt.Sprintf("%v %s %v %v %v", values.Go(cols["driver_id"][i]), values.Time(cols["event_ts"][i]).UTC().Format(time.RFC3339),
				values.Go(cols["lat"][i]), values.Go(cols["lon"][i]), values.Go(cols["status"][i])))
		}
	}
	slices.Sort(out)
	return out
}

// TestPushThenRead pushes rows and checks that the newest row of each
// entity is served at once, that an older row pushed later never replaces
// it, and that every pushed row is in the view's offline history and in
// training sets.
func TestPushThenRead(t *testing.T) {
	for _, backend := range backends {
		t.Run(string(backend), func(t *testing.T) {
			env := servertest.Start(t, servertest.Options{Backend: backend})
			c := dial(t, env.Addr)
			T := env.Now
			lookup := func(t *testing.T) *sdk.Result {
				t.Helper()
				res, err := c.GetOnlineFeatures(t.Context(), sdk.Query{FeatureService: servertest.Dispatch, Entities: drivers(1001, 1002, 1005)})
				if err != nil {
					t.Fatal(err)
				}
				return res
			}
			type loc struct {
				lat, lon float64
				status   string
				at       time.Time
			}
			check := func(t *testing.T, res *sdk.Result, row int, want loc) {
				t.Helper()
				lat, st1, err1 := res.Float64(row, "lat")
				lon, st2, err2 := res.Float64(row, "lon")
				status, st3, err3 := res.String(row, "status")
				c, err4 := res.Cell(row, "lat")
				if err := errors.Join(err1, err2, err3, err4); err != nil {
					t.Fatal(err)
				}
				if got := (loc{lat, lon, status, c.EventTime}); got != want || st1 != sdk.Present || st2 != sdk.Present || st3 != sdk.Present {
					t.Errorf("row %d: %+v (%v %v %v), want %+v PRESENT", row, got, st1, st2, st3, want)
				}
			}

			res := lookup(t)
			for row := range 3 {
				if c, err := res.Cell(row, "lat"); err != nil || c.Status != sdk.NotFound {
					t.Fatalf("row %d before any push: %v, %v; want NOT_FOUND", row, c.Status, err)
				}
			}

			n, err := c.Push(t.Context(), servertest.PushSource, map[string][]any{
				"driver_id": {1001, 1002},
				"event_ts":  {T.Add(-2 * time.Minute), T.Add(-5 * time.Minute)},
				"lat":       {48.85, 45.76},
				"lon":       {2.35, 4.83},
				"status":    {"available", "on_trip"},
			})
			if err != nil || n != 2 {
				t.Fatalf("push: %d rows, %v; want 2", n, err)
			}
			res = lookup(t)
			check(t, res, 0, loc{48.85, 2.35, "available", T.Add(-2 * time.Minute)})
			check(t, res, 1, loc{45.76, 4.83, "on_trip", T.Add(-5 * time.Minute)})
			if c, err := res.Cell(2, "lat"); err != nil || c.Status != sdk.NotFound {
				t.Errorf("driver 1005, never pushed: %v, %v; want NOT_FOUND", c.Status, err)
			}
			// A feature of another view in the same service is unaffected.
			if acc, st, err := res.Float32(0, "acc_rate"); acc != 0.95 || st != sdk.Present || err != nil {
				t.Errorf("acc_rate of 1001: %v %v, %v; want 0.95 PRESENT", acc, st, err)
			}

			t.Run("older row does not replace newer", func(t *testing.T) {
				_, err := c.Push(t.Context(), servertest.PushSource, map[string][]any{
					"driver_id": {1001, 1002},
					"event_ts":  {T.Add(-10 * time.Minute), T.Add(-time.Minute)},
					"lat":       {0.0, 45.77},
					"lon":       {0.0, 4.84},
					"status":    {"stale", "available"},
				})
				if err != nil {
					t.Fatal(err)
				}
				res := lookup(t)
				check(t, res, 0, loc{48.85, 2.35, "available", T.Add(-2 * time.Minute)})
				check(t, res, 1, loc{45.77, 4.84, "available", T.Add(-time.Minute)})
			})

			t.Run("several rows of one entity in one push", func(t *testing.T) {
				_, err := c.Push(t.Context(), servertest.PushSource, map[string][]any{
					"driver_id": {1005, 1005, 1005},
					"event_ts":  {T.Add(-3 * time.Minute), T.Add(-time.Second), T.Add(-4 * time.Minute)},
					"lat":       {1.0, 3.0, 2.0},
					"lon":       {1.0, 3.0, 2.0},
					"status":    {"a", "c", "b"},
				})
				if err != nil {
					t.Fatal(err)
				}
				check(t, lookup(t), 2, loc{3, 3, "c", T.Add(-time.Second)})
			})

			t.Run("offline history holds every pushed row", func(t *testing.T) {
				ts := func(d time.Duration) string { return T.Add(d).UTC().Format(time.RFC3339) }
				want := []string{
					"1001 " + ts(-10*time.Minute) + " 0 0 stale",
					"1001 " + ts(-2*time.Minute) + " 48.85 2.35 available",
					"1002 " + ts(-5*time.Minute) + " 45.76 4.83 on_trip",
					"1002 " + ts(-time.Minute) + " 45.77 4.84 available",
					"1005 " + ts(-4*time.Minute) + " 2 2 b",
					"1005 " + ts(-3*time.Minute) + " 1 1 a",
					"1005 " + ts(-time.Second) + " 3 3 c",
				}
				slices.Sort(want)
				if got := offlineRows(t, env, "driver_location"); !slices.Equal(got, want) {
					t.Errorf("offline rows of driver_location:\n%q\nwant\n%q", got, want)
				}
			})

			t.Run("training sets see pushed rows", func(t *testing.T) {
				defs, err := env.Defs()
				if err != nil {
					t.Fatal(err)
				}
				// Entity rows at T-3m: driver 1001's row of T-2m is in their future.
				names, cols := exportAt(t, env, defs, []registry.FeatureRef{{View: "driver_location", Features: []string{"status"}}}, false, T.Add(-3*time.Minute))
				if !slices.Equal(names, []string{"status"}) {
					t.Fatalf("export columns %q", names)
				}
				var got []any
				for _, v := range cols["status"] {
					got = append(got, values.Go(v))
				}
				// entityRows: drivers 1001, 1002, 1003, 1004, 1005, 1001.
				want := []any{"stale", "on_trip", nil, nil, "a", "stale"}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("exported status at T-3m: %v, want %v", got, want)
				}
			})
		})
	}
}

// TestConcurrentPushes pushes rows of one entity from several goroutines
// in shuffled event-time order: the newest row is served whatever order
// the pushes land in, and the offline history holds every row.
func TestConcurrentPushes(t *testing.T) {
	for _, backend := range backends {
		t.Run(string(backend), func(t *testing.T) {
			env := servertest.Start(t, servertest.Options{Backend: backend})
			c := dial(t, env.Addr, sdk.WithTimeout(time.Minute))
			const workers, each = 4, 6
			// Row k is at T-k s with lat k; row 1 is the newest.
			order := rand.Perm(workers * each)
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					for _, i := range order[w*each : (w+1)*each] {
						k := i + 1
						_, err := c.Push(t.Context(), servertest.PushSource, map[string][]any{
							"driver_id": {1001},
							"event_ts":  {env.Now.Add(-time.Duration(k) * time.Second)},
							"lat":       {float64(k)},
						})
						if err != nil {
							t.Errorf("push row %d: %v", k, err)
						}
					}
				})
			}
			wg.Wait()
			res, err := c.GetOnlineFeatures(t.Context(), sdk.Query{Features: []string{"driver_location:lat"}, Entities: drivers(1001)})
			if err != nil {
				t.Fatal(err)
			}
			if c, err := res.Cell(0, "lat"); err != nil || c.Value != 1.0 || c.Status != sdk.Present || !c.EventTime.Equal(env.Now.Add(-time.Second)) {
				t.Errorf("served lat %v %v at %v, %v; want the newest row: 1 PRESENT at T-1s", c.Value, c.Status, c.EventTime, err)
			}
			if got := len(offlineRows(t, env, "driver_location")); got != workers*each {
				t.Errorf("offline history holds %d rows, want %d", got, workers*each)
			}
		})
	}
}

// TestPushThenLookupWindows pushes rows of driver_moves' source through the
// gRPC Push, twice (the second as a retry), over tiles materialized
// before, then looks up every window feature: each value, status and event
// time is what window.Evaluate makes of the rows materialized and pushed,
// every pushed row counted once, and a row pushed ahead of now only from
// its time on.
func TestPushThenLookupWindows(t *testing.T) {
	for _, backend := range backends {
		t.Run(string(backend), func(t *testing.T) {
			env, view, rows, now := windowEnv(t, backend)
			c := dial(t, env.Addr)
			pushed := []move{
				{1001, time.Minute, values.Float64(3), "p"},
				{1005, 30 * time.Minute, values.Float64(6), "q"},
				{1004, -5 * time.Minute, values.Float64(7), "r"}, // ahead of now
				{1002, 0, nil, "s"},
				{1002, 0, values.Float64(2), "t"}, // ties with the row before, and wins
			}
			cols := map[string][]any{}
			for i, m := range pushed {
				var lat any
				if m.lat != nil {
					lat = m.lat.GetDoubleVal()
				}
				cols["driver_id"] = append(cols["driver_id"], m.driver)
				cols["event_ts"] = append(cols["event_ts"], now.Add(-m.ago))
				cols["lat"] = append(cols["lat"], lat)
				cols["status"] = append(cols["status"], m.status)
				r := window.Row{At: window.Order{Time: now.Add(-m.ago).UnixMilli(), Created: window.NoCreated, Seq: int64(len(moves) + i)}}
				for _, a := range view.Aggregations {
					r.Values = append(r.Values, map[string]*almanacv1.Value{"lat": m.lat, "status": values.String(m.status)}[a.Column])
				}
				rows[m.driver] = append(rows[m.driver], r)
			}
			for _, attempt := range []string{"push", "retry"} {
				if n, err := c.Push(t.Context(), servertest.PushSource, cols); err != nil || n != int64(len(pushed)) {
					t.Fatalf("%s: %d rows, %v; want %d", attempt, n, err, len(pushed))
				}
			}
			for _, at := range []time.Time{now, now.Add(5*time.Minute - time.Millisecond), now.Add(5 * time.Minute)} {
				env.Clock.Set(at)
				lookupWindows(t, c, view, rows, at)
			}
		})
	}
}

// lookupWindows looks up every feature of view for drivers 1001 to 1005
// and checks each value, status and event time against window.Evaluate of
// their rows at the lookup's time at.
func lookupWindows(t *testing.T, c *sdk.Client, view *registry.FeatureView, rows map[int64][]window.Row, at time.Time) {
	t.Helper()
	ids := []int64{1001, 1002, 1003, 1004, 1005}
	var refs []string
	for _, f := range view.Features {
		refs = append(refs, view.Name+":"+f.Name)
	}
	res, err := c.GetOnlineFeatures(t.Context(), sdk.Query{Features: refs, Entities: drivers(ids...)})
	if err != nil {
		t.Fatal(err)
	}
	aggs := window.Aggs(view.Aggregations, view.Windows)
	for i, id := range ids {
		want, found := window.Evaluate(rows[id], aggs, view.Windows, at)
		latest := int64(math.MinInt64)
		for _, r := range rows[id] {
			if r.At.Time <= at.UnixMilli() {
				latest = max(latest, r.At.Time)
			}
		}
		for f, feature := range view.Features {
			col := res.Response().GetResults()[1+f]
			got, st := col.GetValues()[i], col.GetStatuses()[i]
			switch {
			case !found && st != almanacv1.FieldStatus_NOT_FOUND:
				t.Errorf("at %s, driver %d, %s: %v %v, want NOT_FOUND", at, id, feature.Name, st, got)
			case found && !windowtest.Equal(got, want[f]):
				t.Errorf("at %s, driver %d, %s: %v, want %v", at, id, feature.Name, got, want[f])
			case found && !col.GetEventTimestamps()[i].AsTime().Equal(time.UnixMilli(latest)):
				t.Errorf("at %s, driver %d, %s: event time %s, want %s", at, id, feature.Name, col.GetEventTimestamps()[i].AsTime(), time.UnixMilli(latest).UTC())
			}
		}
	}
}
