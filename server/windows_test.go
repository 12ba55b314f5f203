package server_test

import (
	"database/sql"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/almanac-fs/almanac/internal/servertest"
	"github.com/almanac-fs/almanac/internal/values"
	"github.com/almanac-fs/almanac/online"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
	"github.com/almanac-fs/almanac/sdk"
	"github.com/almanac-fs/almanac/window"
)

// movesYAML adds to the fixture a view with window aggregations over its
// push source, and a service of it and a plain view's feature, every
// lookup of which is logged.
const movesYAML = `kind: FeatureView
name: driver_moves
entities: [driver]
source: driver_location
aggregations:
  - {function: count, windows: [1h, 1d]}
  - {column: lat, function: sum, windows: [1h, 1d]}
  - {column: lat, function: mean, windows: [1d]}
  - {column: status, function: last_n, n: 2, windows: [1d]}
---
kind: FeatureService
name: moves_v1
features:
  - driver_moves
  - driver_stats:trips
logging: {sample_rate: 1}
`

// move is a row of driver_moves: a driver's event ago before the lookup's
// now (after it when negative).
type move struct {
	driver int64
	ago    time.Duration
	lat    *almanacv1.Value // nil for null
	status string
}

// moves are the rows of the drivers looked up: 1001 has rows in every
// window, some outside the 1h one or all of them, and a null lat; 1002
// only rows outside every window (0, null and an empty list); 1003 only a
// row after now (NOT_FOUND); 1004 a row exactly at now; 1005 no record.
var moves = []move{
	{1001, 2 * time.Minute, values.Float64(1.5), "a"},
	{1001, 40 * time.Minute, nil, "b"},
	{1001, 70 * time.Minute, values.Float64(2), "c"},
	{1001, 5 * time.Hour, values.Float64(4), "d"},
	{1001, 3 * 24 * time.Hour, values.Float64(8), "e"},
	{1002, 3 * 24 * time.Hour, values.Float64(1), "f"},
	{1002, 2 * 24 * time.Hour, values.Float64(3), "g"},
	{1003, -10 * time.Minute, values.Float64(5), "h"},
	{1004, 0, values.Float64(0.25), "i"},
}

// windowEnv starts the fixture with driver_moves on backend, its clock at
// now, and writes the tiles of moves to the online store as materialization
// does: built from the rows, trimmed at now, one record per driver. It
// returns the env, the view and the rows of each driver.
func windowEnv(t *testing.T, backend servertest.Backend) (*servertest.Env, *registry.FeatureView, map[int64][]window.Row, time.Time) {
	t.Helper()
	env := servertest.Start(t, servertest.Options{Backend: backend, FeatureLog: true})
	if err := servertest.AppendDefinitions(env.Dir, movesYAML); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Apply(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := env.Server.Reload(); err != nil {
		t.Fatal(err)
	}
	defs, err := env.Defs()
	if err != nil {
		t.Fatal(err)
	}
	view := defs.View("driver_moves")
	now := env.Now.Add(17*time.Minute + 250*time.Millisecond)
	env.Clock.Set(now)
	rows := map[int64][]window.Row{}
	var ids []int64
	for seq, m := range moves {
		r := window.Row{At: window.Order{Time: now.Add(-m.ago).UnixMilli(), Created: window.NoCreated, Seq: int64(seq)}}
		for _, a := range view.Aggregations {
			switch a.Column {
			case "lat":
				r.Values = append(r.Values, m.lat)
			case "status":
				r.Values = append(r.Values, values.String(m.status))
			default:
				r.Values = append(r.Values, nil)
			}
		}
		if rows[m.driver] == nil {
			ids = append(ids, m.driver)
		}
		rows[m.driver] = append(rows[m.driver], r)
	}
	aggs := window.Aggs(view.Aggregations, view.Windows)
	codec := window.NewCodec(aggs, view.Windows)
	keys := make([][]*almanacv1.Value, len(ids))
	for i, id := range ids {
		keys[i] = []*almanacv1.Value{int64Val(id)}
	}
	update(t, env, view, keys, func(i int, _ string) (string, error) {
		set := window.Build(aggs, view.Windows, rows[ids[i]])
		set.Trim(view.Windows, now)
		rec, err := codec.AppendSet(nil, &set)
		return string(rec), err
	})
	return env, view, rows, now
}

// update runs an Update of view's records of keys on env's online store.
func update(t *testing.T, env *servertest.Env, view *registry.FeatureView, keys [][]*almanacv1.Value, fn func(int, string) (string, error)) {
	t.Helper()
	up, ok := env.Online.(online.Updater)
	if !ok {
		t.Fatalf("online store %T is not an online.Updater", env.Online)
	}
	if err := up.Update(t.Context(), online.ViewOf(view), keys, fn); err != nil {
		t.Fatalf("write tiles: %v", err)
	}
}

// TestLookupWindows looks up driver_moves at an injected now, by feature
// list and by feature service, beside a plain view's feature, on both
// stores: every window's value, status and event time is what window.Evaluate
// (the plain reading of DESIGN §8) makes of the driver's rows, and the
// feature log holds what the lookups served.
func TestLookupWindows(t *testing.T) {
	for _, backend := range backends {
		t.Run(string(backend), func(t *testing.T) {
			env, view, rows, now := windowEnv(t, backend)
			aggs := window.Aggs(view.Aggregations, view.Windows)
			ids := []int64{1001, 1002, 1003, 1004, 1005}
			var refs []string
			for _, f := range view.Features {
				refs = append(refs, "driver_moves:"+f.Name)
			}
			c := dial(t, env.Addr)
			for _, q := range []struct {
				name  string
				query sdk.Query
			}{
				{"features", sdk.Query{Features: append(refs, "driver_stats:trips"), Entities: drivers(ids...)}},
				{"service", sdk.Query{FeatureService: "moves_v1", Entities: drivers(ids...)}},
			} {
				t.Run(q.name, func(t *testing.T) {
					res, err := c.GetOnlineFeatures(t.Context(), q.query)
					if err != nil {
						t.Fatal(err)
					}
					resp := res.Response()
					for i, id := range ids {
						want, found := window.Evaluate(rows[id], aggs, view.Windows, now)
						var latest int64
						for _, r := range rows[id] {
							latest = max(latest, r.At.Time)
						}
						for f, feature := range view.Features {
							col := resp.GetResults()[1+f]
							got, st, at := col.GetValues()[i], col.GetStatuses()[i], col.GetEventTimestamps()[i]
							wantSt, wantValue, wantAt := almanacv1.FieldStatus_NOT_FOUND, &almanacv1.Value{}, time.Time{}
							if found {
								wantSt, wantValue, wantAt = almanacv1.FieldStatus_PRESENT, want[f], time.UnixMilli(latest).UTC()
								if want[f].GetVal() == nil {
									wantSt = almanacv1.FieldStatus_NULL_VALUE
								}
							}
							if st != wantSt || !proto.Equal(got, wantValue) || !at.AsTime().Equal(wantAt) && wantSt != almanacv1.FieldStatus_NOT_FOUND {
								t.Errorf("driver %d, %s: %v %v at %v, want %v %v at %v", id, feature.Name, st, got, at.AsTime(), wantSt, wantValue, wantAt)
							}
						}
					}
					trips := resp.GetResults()[1+len(view.Features)]
					if got := trips.GetValues()[0].GetInt64Val(); got != 12 || trips.GetStatuses()[0] != almanacv1.FieldStatus_PRESENT {
						t.Errorf("driver 1001, trips: %d (%v), want 12 beside the windows", got, trips.GetStatuses()[0])
					}
				})
			}

			want, err := c.GetOnlineFeatures(t.Context(), sdk.Query{FeatureService: "moves_v1", Entities: drivers(ids...)})
			if err != nil {
				t.Fatal(err)
			}
			checkWindowLog(t, env, want)
		})
	}
}

// checkWindowLog checks that every lookup of moves_v1 logged the values
// and statuses of count_1h and lat_mean_1d that want, a lookup of every
// driver, holds.
func checkWindowLog(t *testing.T, env *servertest.Env, want *sdk.Result) {
	t.Helper()
	db, log := closedLog(t, env, "moves_v1")
	logged, err := db.Query(fmt.Sprintf(`SELECT DISTINCT driver_id, driver_moves__count_1h, driver_moves__count_1h__status,
		driver_moves__lat_mean_1d, driver_moves__lat_mean_1d__status FROM %s ORDER BY driver_id`, log))
	if err != nil {
		t.Fatalf("read the log: %v", err)
	}
	defer logged.Close()
	seen := 0
	for logged.Next() {
		var id int64
		var count sql.NullInt64
		var mean sql.NullFloat64
		var countStatus, meanStatus string
		if err := logged.Scan(&id, &count, &countStatus, &mean, &meanStatus); err != nil {
			t.Fatal(err)
		}
		row := int(id - 1001)
		if row != seen {
			t.Fatalf("logged driver %d, want each of 1001 to 1005 once with one set of values", id)
		}
		seen++
		cnt, err := want.Cell(row, "count_1h")
		if err != nil {
			t.Fatal(err)
		}
		avg, err := want.Cell(row, "lat_mean_1d")
		if err != nil {
			t.Fatal(err)
		}
		wantCount, _ := cnt.Value.(int64)
		wantMean, _ := avg.Value.(float64)
		const format = "count_1h %v %v, lat_mean_1d %v %v"
		if got, want := fmt.Sprintf(format, count, countStatus, mean, meanStatus), fmt.Sprintf(format,
			sql.NullInt64{Int64: wantCount, Valid: cnt.Value != nil}, cnt.Status,
			sql.NullFloat64{Float64: wantMean, Valid: avg.Value != nil}, avg.Status); got != want {
			t.Errorf("driver %d: logged %s, lookup gave %s", id, got, want)
		}
	}
	if err := logged.Err(); err != nil {
		t.Fatal(err)
	}
	if seen != want.Len() {
		t.Errorf("logged %d drivers, want %d", seen, want.Len())
	}
}

// TestCorruptTiles checks that a tile record the server cannot decode
// fails the lookup with DATA_LOSS naming its view and entity, as a corrupt
// plain record does.
func TestCorruptTiles(t *testing.T) {
	env, view, _, _ := windowEnv(t, servertest.Local)
	update(t, env, view, [][]*almanacv1.Value{{int64Val(1004)}}, func(_ int, old string) (string, error) {
		return old[:len(old)-1], nil
	})
	c := dial(t, env.Addr)
	if _, err := c.GetOnlineFeatures(t.Context(), sdk.Query{FeatureService: "moves_v1", Entities: drivers(1001)}); err != nil {
		t.Fatalf("lookup of a driver whose tiles are whole: %v", err)
	}
	_, err := c.GetOnlineFeatures(t.Context(), sdk.Query{FeatureService: "moves_v1", Entities: drivers(1001, 1004)})
	checkStatus(t, err, codes.DataLoss, "corrupt", "driver_id=1004", `view "driver_moves"`)
}
