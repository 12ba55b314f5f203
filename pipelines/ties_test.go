package pipelines

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/almanac-fs/almanac/internal/duck"
	"github.com/almanac-fs/almanac/offline"
	"github.com/almanac-fs/almanac/online"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
)

// tiesRepo has a CSV source and a push source, each with a view keyed by
// driver, for rows that tie on driver and event time.
const tiesRepo = `
kind: Entity
name: driver
join_keys: [{name: driver_id, type: int64}]
---
kind: Source
name: trips
format: csv
path: data/*.csv
timestamp_field: event_ts
schema:
  - {name: driver_id, type: int64}
  - {name: event_ts, type: timestamp}
  - {name: fare, type: int64}
---
kind: FeatureView
name: trip_fares
entities: [driver]
source: trips
features: [{name: fare, type: int64}]
---
kind: Source
name: pings
format: push
timestamp_field: event_ts
schema:
  - {name: driver_id, type: int64}
  - {name: event_ts, type: timestamp}
  - {name: speed, type: int64}
---
kind: FeatureView
name: ping_speeds
entities: [driver]
source: pings
features: [{name: speed, type: int64}]
`

// tieTime is the event time every row of the tie tests has.
var tieTime = time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)

// writeTiesRepo writes tiesRepo with its CSV files, whose lines are given
// as "driver_id,fare" (all at tieTime).
func writeTiesRepo(t *testing.T, files map[string][]string) string {
	t.Helper()
	dir := writeRepo(t, tiesRepo, nil)
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, lines := range files {
		var b strings.Builder
		b.WriteString("driver_id,event_ts,fare\n")
		for _, l := range lines {
			id, fare, _ := strings.Cut(l, ",")
			fmt.Fprintf(&b, "%s,%s,%s\n", id, tieTime.Format(time.RFC3339), fare)
		}
		if err := os.WriteFile(filepath.Join(dir, "data", name), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// exported exports the first feature of view for drivers 1..n at tieTime
// plus an hour and returns each driver's value (0 for null).
func exported(t *testing.T, m *Materializer, view string, n int) map[int64]int64 {
	t.Helper()
	ctx := t.Context()
	dir := t.TempDir()
	entities, out := filepath.Join(dir, "entities.parquet"), filepath.Join(dir, "train.parquet")
	q := fmt.Sprintf("COPY (SELECT range AS driver_id, TIMESTAMPTZ %s AS event_timestamp FROM range(1, %d)) TO %s (FORMAT parquet)",
		duck.Quote(tieTime.Add(time.Hour).Format(time.RFC3339)), n+1, duck.Quote(entities))
	if _, err := m.DB.ExecContext(ctx, q); err != nil {
		t.Fatal(err)
	}
	_, err := m.Offline.Export(ctx, m.DB, offline.ExportRequest{Defs: m.Defs, Refs: []registry.FeatureRef{{View: view}}, EntityPath: entities, OutPath: out})
	if err != nil {
		t.Fatalf("export %s: %v", view, err)
	}
	feature := duck.Ident(m.Defs.View(view).Features[0].Name)
	rows, err := m.DB.QueryContext(ctx, fmt.Sprintf("SELECT driver_id, coalesce(%s, 0) FROM read_parquet(%s)", feature, duck.Quote(out)))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[int64]int64{}
	for rows.Next() {
		var id, v int64
		if err := rows.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		got[id] = v
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

// served reads view for drivers 1..n from the online store and returns
// each driver's first feature (0 when not found or null).
func served(t *testing.T, m *Materializer, store online.Store, view string, n int) map[int64]int64 {
	t.Helper()
	v := online.ViewOf(m.Defs.View(view))
	lookups := make([]online.Lookup, n)
	for i := range lookups {
		lookups[i] = online.Lookup{View: &v, Key: []*almanacv1.Value{int64Value(int64(i + 1))}}
	}
	recs, err := store.Read(t.Context(), lookups)
	if err != nil {
		t.Fatalf("read %s online: %v", view, err)
	}
	got := map[int64]int64{}
	for i, rec := range recs {
		if rec.Found {
			got[int64(i+1)] = rec.Values[0].GetInt64Val()
		}
	}
	return got
}

// checkTies compares, for drivers 1..n, the exported value, the served one
// and the one the tie rule picks, and reports how many drivers disagree.
func checkTies(t *testing.T, m *Materializer, store online.Store, view string, n int, want map[int64]int64) {
	t.Helper()
	offlineVals, onlineVals := exported(t, m, view, n), served(t, m, store, view, n)
	var differ, wrong int
	var examples []string
	for id := int64(1); id <= int64(n); id++ {
		off, on, w := offlineVals[id], onlineVals[id], want[id]
		if off != on {
			differ++
		}
		if off != w || on != w {
			wrong++
			if len(examples) < 5 {
				examples = append(examples, fmt.Sprintf("driver %d: exported %d, served %d, want %d", id, off, on, w))
			}
		}
	}
	if differ > 0 || wrong > 0 {
		t.Errorf("%s: %d of %d drivers exported one value and served another; %d not the rule's winner:\n%s",
			view, differ, n, wrong, strings.Join(examples, "\n"))
	}
}

// pings returns the columns of a push to pings: the drivers ids at tieTime,
// with the speed speed(id).
func pings(ids []int64, speed func(int64) int64) map[string][]*almanacv1.Value {
	cols := map[string][]*almanacv1.Value{}
	for _, id := range ids {
		cols["driver_id"] = append(cols["driver_id"], int64Value(id))
		cols["event_ts"] = append(cols["event_ts"], &almanacv1.Value{Val: &almanacv1.Value_UnixTimestampVal{UnixTimestampVal: tieTime.UnixMilli()}})
		cols["speed"] = append(cols["speed"], int64Value(speed(id)))
	}
	return cols
}

func int64Value(v int64) *almanacv1.Value {
	return &almanacv1.Value{Val: &almanacv1.Value_Int64Val{Int64Val: v}}
}

// TestTiesMaterializedExportMatchesOnline reproduces issue 13's finding 4:
// every driver has five rows at one event time, in shuffled order over two
// CSV files. The row last in the files (by path, then by line) must be both
// exported and served.
func TestTiesMaterializedExportMatchesOnline(t *testing.T) {
	const drivers, perDriver = 20_000, 5
	type row struct{ id, fare int64 }
	var rows []row
	for id := int64(1); id <= drivers; id++ {
		for k := int64(1); k <= perDriver; k++ {
			rows = append(rows, row{id, k*100_000 + id})
		}
	}
	rng := rand.New(rand.NewPCG(13, 4))
	rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	files := map[string][]string{}
	want := map[int64]int64{}
	for i, r := range rows { // a.csv then b.csv: the last line of a driver wins
		name := "a.csv"
		if i >= len(rows)/2 {
			name = "b.csv"
		}
		files[name] = append(files[name], fmt.Sprintf("%d,%d", r.id, r.fare))
		want[r.id] = r.fare
	}
	dir := writeTiesRepo(t, files)
	for _, tc := range onlineStores {
		t.Run(tc.name, func(t *testing.T) {
			m := newMaterializer(t, dir, t.TempDir())
			m.Online = tc.open(t, m.Config.Project)
			defer m.Online.Close()
			views := []*registry.FeatureView{m.Defs.View("trip_fares")}
			// Twice: a second run over the same range must change nothing.
			for range 2 {
				if _, err := m.Run(t.Context(), views, tieTime.Add(-time.Hour), tieTime.Add(time.Hour)); err != nil {
					t.Fatal(err)
				}
				checkTies(t, m, m.Online, "trip_fares", drivers, want)
			}
		})
	}
}

// TestTiesPushedExportMatchesOnline pushes rows at one event time: the later
// push wins, and within a push the later row, both online and in training
// sets; pushing an earlier push's rows again changes nothing.
func TestTiesPushedExportMatchesOnline(t *testing.T) {
	const drivers = 1000
	dir := writeTiesRepo(t, nil)
	var all, even []int64
	for id := int64(1); id <= drivers; id++ {
		all = append(all, id)
		if id%2 == 0 {
			even = append(even, id)
		}
	}
	// The first push has every driver twice: first with 100000+id, then
	// with 200000+id. The second push has the even drivers with 300000+id.
	first := pings(append(all, all...), func(id int64) int64 { return 100_000 + id })
	for i := range drivers {
		first["speed"][drivers+i] = int64Value(200_000 + all[i])
	}
	second := pings(even, func(id int64) int64 { return 300_000 + id })
	want := map[int64]int64{}
	for _, id := range all {
		want[id] = 200_000 + id
		if id%2 == 0 {
			want[id] = 300_000 + id
		}
	}
	for _, tc := range onlineStores {
		t.Run(tc.name, func(t *testing.T) {
			m := newMaterializer(t, dir, t.TempDir())
			store := tc.open(t, m.Config.Project)
			defer store.Close()
			p := &Pusher{Online: store, Offline: m.Offline, DB: m.DB}
			pushes := []struct {
				name string
				cols map[string][]*almanacv1.Value
			}{{"first", first}, {"second", second}, {"first again", first}}
			for _, ps := range pushes {
				cols := map[string][]*almanacv1.Value{} // Push converts values in place
				for k, v := range ps.cols {
					cols[k] = append([]*almanacv1.Value(nil), v...)
				}
				if _, err := p.Push(t.Context(), m.Defs, "pings", cols); err != nil {
					t.Fatalf("push %s: %v", ps.name, err)
				}
			}
			checkTies(t, m, store, "ping_speeds", drivers, want)
		})
	}
}

// TestTiesConcurrentPushesAgree pushes rows of the same drivers and event
// time from several goroutines at once: whichever push is last, training
// sets and the online store must both take it.
func TestTiesConcurrentPushesAgree(t *testing.T) {
	const drivers, pushers, pushes = 20, 6, 5
	dir := writeTiesRepo(t, nil)
	var ids []int64
	for id := int64(1); id <= drivers; id++ {
		ids = append(ids, id)
	}
	for _, tc := range onlineStores {
		t.Run(tc.name, func(t *testing.T) {
			m := newMaterializer(t, dir, t.TempDir())
			store := tc.open(t, m.Config.Project)
			defer store.Close()
			p := &Pusher{Online: store, Offline: m.Offline, DB: m.DB}
			var wg sync.WaitGroup
			errs := make(chan error, pushers)
			for g := range int64(pushers) {
				wg.Go(func() {
					for i := range int64(pushes) {
						cols := pings(ids, func(int64) int64 { return g*1000 + i })
						if _, err := p.Push(t.Context(), m.Defs, "pings", cols); err != nil {
							errs <- err
							return
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			offlineVals, onlineVals := exported(t, m, "ping_speeds", drivers), served(t, m, store, "ping_speeds", drivers)
			for id := int64(1); id <= drivers; id++ {
				if offlineVals[id] != onlineVals[id] {
					t.Errorf("driver %d: exported %d, served %d", id, offlineVals[id], onlineVals[id])
				}
			}
		})
	}
}
