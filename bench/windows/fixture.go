package main

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	_ "github.com/duckdb/duckdb-go/v2" // the "duckdb" database/sql driver

	"github.com/almanac-fs/almanac/bench/internal/repo"
	"github.com/almanac-fs/almanac/online"
	"github.com/almanac-fs/almanac/online/redis"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
	"github.com/almanac-fs/almanac/window"
)

// The generated feature repository.
const (
	project      = "benchwin"
	joinKey      = "user_id"
	plainView    = "user_plain"
	windowView   = "user_windows"
	window7dView = "user_windows_7d"
	plainService = "plain"
	windowed     = "windowed"
	numFeatures  = 10
	// keyPrefix is the prefix of online/redis keys for Options.Project.
	keyPrefix = "almanac:" + project + ":"
	// The events: eventsPerDay a day over days days before the run's start.
	eventsPerDay = 100
	days         = 7
	// rawRowBytes is an event as a plain uncompressed row: user_id,
	// event_ts and fare, 8 bytes each.
	rawRowBytes = 24
)

const definitions = `kind: Entity
name: user
join_keys:
  - {name: user_id, type: int64}
---
kind: Source
name: user_events
format: push
timestamp_field: event_ts
schema:
  - {name: user_id, type: int64}
  - {name: event_ts, type: timestamp}
  - {name: fare, type: float64}
%[1]s---
kind: FeatureView
name: user_plain
entities: [user]
source: user_events
ttl: 30d
features:
%[2]s---
kind: FeatureView
name: user_windows
entities: [user]
source: user_events
aggregations:
  - {function: count, windows: [1h, 1d, 7d]}
  - {column: fare, function: sum, windows: [1h, 1d, 7d]}
  - {column: fare, function: mean, windows: [1h, 1d, 7d]}
  - {column: fare, function: count, windows: [7d]}
---
kind: FeatureView
name: user_windows_7d
entities: [user]
source: user_events
aggregations:
  - {function: count, windows: [7d]}
  - {column: fare, function: sum, windows: [7d]}
  - {column: fare, function: mean, windows: [7d]}
---
kind: FeatureService
name: plain
features: [user_plain]
---
kind: FeatureService
name: windowed
features: [user_windows]
`

func plainFeature(f int) string { return "p" + strconv.Itoa(f) }

// fixture is the generated repository and what was written to Redis.
type fixture struct {
	dir      string
	entities int64
	// base is the run's start: the newest event is before it, and the
	// tiles are trimmed at it.
	base    time.Time
	plain   online.View
	windows *registry.FeatureView
	aggs    []window.Agg // of windows
	// windows7d has only 7d windows; its records are measured, not
	// looked up.
	windows7d *registry.FeatureView
	// sample holds the events of the users the checks look up.
	sample map[int64][]window.Row
	// parquetBytes is the size of the events as Parquet files.
	parquetBytes int64
}

// writeRepo writes almanac.yaml, pointing at Redis on redisAddr, and the
// definitions into dir, then applies them.
func writeRepo(ctx context.Context, dir, redisAddr string) (*registry.Definitions, error) {
	cfg := fmt.Sprintf("project: %s\nonline_store:\n  type: redis\n  addr: %s\n", project, redisAddr)
	if err := os.WriteFile(filepath.Join(dir, registry.ConfigFile), []byte(cfg), 0o644); err != nil {
		return nil, fmt.Errorf("write %s: %w", registry.ConfigFile, err)
	}
	var cols, feats strings.Builder
	for f := range numFeatures {
		fmt.Fprintf(&cols, "  - {name: %s, type: float64}\n", plainFeature(f))
		fmt.Fprintf(&feats, "  - {name: %s, type: float64}\n", plainFeature(f))
	}
	defs := fmt.Sprintf(definitions, cols.String(), feats.String())
	if err := os.WriteFile(filepath.Join(dir, "features.yaml"), []byte(defs), 0o644); err != nil {
		return nil, fmt.Errorf("write definitions: %w", err)
	}
	return repo.Apply(ctx, dir)
}

// newFixture generates the repository in dir, the events, their Parquet
// files in parquetDir, and writes every user's records to Redis.
func newFixture(ctx context.Context, dir, parquetDir, redisAddr string, entities int64) (*fixture, error) {
	defs, err := writeRepo(ctx, dir, redisAddr)
	if err != nil {
		return nil, err
	}
	fx := &fixture{dir: dir, entities: entities, base: time.Now().Truncate(time.Millisecond), sample: map[int64][]window.Row{}}
	pv := defs.View(plainView)
	fx.windows, fx.windows7d = defs.View(windowView), defs.View(window7dView)
	if pv == nil || fx.windows == nil || fx.windows7d == nil || len(fx.windows.Windows) != numFeatures {
		return nil, fmt.Errorf("applied registry lacks %s, %s or %s with %d features", plainView, window7dView, windowView, numFeatures)
	}
	fx.plain = online.ViewOf(pv)
	fx.aggs = window.Aggs(fx.windows.Aggregations, fx.windows.Windows)
	for _, id := range sampleIDs(entities) {
		fx.sample[id] = nil
	}

	opts := redis.DefaultOptions()
	opts.Addrs, opts.Project = []string{redisAddr}, project
	rs, err := redis.New(opts)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return nil, fmt.Errorf("open duckdb: %w", err)
	}
	defer db.Close()
	if err := fx.events(ctx, db, parquetDir); err != nil {
		return nil, err
	}
	if err := fx.writeTiles(ctx, db, rs); err != nil {
		return nil, err
	}
	return fx, fx.writePlain(ctx, rs)
}

// events creates the events table and writes it as Parquet files into
// parquetDir, as the offline store lays a view's rows out.
func (fx *fixture) events(ctx context.Context, db *sql.DB, parquetDir string) error {
	slot := int64(24*time.Hour/time.Millisecond) / eventsPerDay
	q := fmt.Sprintf(`CREATE TABLE events AS
SELECT e AS user_id, epoch_ms(%[1]d - i * %[2]d - CAST(hash(e, i) %% %[2]d AS BIGINT)) AS event_ts,
  CASE WHEN hash(e, i, 1) %% 20 = 0 THEN NULL ELSE CAST(hash(e, i, 2) %% 10000 AS DOUBLE) / 100 END AS fare
FROM range(%[3]d) r(e), range(%[4]d) s(i)`,
		fx.base.UnixMilli()-1, slot, fx.entities, eventsPerDay*days)
	if _, err := db.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("generate events: %w", err)
	}
	q = fmt.Sprintf(`COPY (SELECT *, CAST(event_ts AS DATE) AS date FROM events ORDER BY user_id, event_ts)
TO '%s' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (date))`, parquetDir)
	if _, err := db.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("write events as parquet: %w", err)
	}
	return filepath.WalkDir(parquetDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		fx.parquetBytes += info.Size()
		return err
	})
}

// tileBatch is how many users one Update carries.
const tileBatch = 500

// tiled is an aggregated view whose tiles are written, and those being
// built.
type tiled struct {
	def     *registry.FeatureView
	view    online.View
	aggs    []window.Agg
	codec   *window.Codec
	set     window.Set // of the user being read
	records []string
}

// writeTiles builds each user's tiles of both aggregated views from its
// events, as materialize does (Add in event order, Trim at the start),
// and writes them through Update.
func (fx *fixture) writeTiles(ctx context.Context, db *sql.DB, store online.Updater) error {
	rows, err := db.QueryContext(ctx, "SELECT user_id, epoch_ms(event_ts), fare FROM events ORDER BY user_id, event_ts")
	if err != nil {
		return fmt.Errorf("read events: %w", err)
	}
	defer rows.Close()
	views := make([]*tiled, 0, 2)
	for _, def := range []*registry.FeatureView{fx.windows, fx.windows7d} {
		t := &tiled{def: def, view: online.ViewOf(def), aggs: window.Aggs(def.Aggregations, def.Windows)}
		t.codec = window.NewCodec(t.aggs, def.Windows)
		views = append(views, t)
	}
	var keys [][]*almanacv1.Value
	flush := func() error {
		for _, t := range views {
			if err := store.Update(ctx, t.view, keys, func(i int, _ string) (string, error) { return t.records[i], nil }); err != nil {
				return fmt.Errorf("write the tiles of %s: %w", t.def.Name, err)
			}
			t.records = t.records[:0]
		}
		keys = keys[:0]
		return nil
	}
	cur, seq := int64(-1), int64(0)
	finish := func() error {
		if cur < 0 {
			return nil
		}
		for _, t := range views {
			t.set.Trim(t.def.Windows, fx.base)
			rec, err := t.codec.AppendSet(nil, &t.set)
			if err != nil {
				return fmt.Errorf("encode the tiles of user %d in %s: %w", cur, t.def.Name, err)
			}
			t.records = append(t.records, string(rec))
		}
		keys = append(keys, []*almanacv1.Value{int64Value(cur)})
		if len(keys) == tileBatch {
			return flush()
		}
		return nil
	}
	for rows.Next() {
		var id, ms int64
		var fare sql.NullFloat64
		if err := rows.Scan(&id, &ms, &fare); err != nil {
			return fmt.Errorf("read events: %w", err)
		}
		if id != cur {
			if err := finish(); err != nil {
				return err
			}
			cur, seq = id, 0
			for _, t := range views {
				t.set = window.NewSet(t.def.Windows)
			}
		}
		v := &almanacv1.Value{}
		if fare.Valid {
			v = &almanacv1.Value{Val: &almanacv1.Value_DoubleVal{DoubleVal: fare.Float64}}
		}
		// One value per aggregation: none for the count of rows, fare for
		// the others (both views list count, then fare's).
		r := window.Row{At: window.Order{Time: ms, Created: window.NoCreated, Seq: seq}, Values: []*almanacv1.Value{nil, v, v, v}}
		seq++
		for _, t := range views {
			t.set.Add(t.aggs, window.Row{At: r.At, Values: r.Values[:len(t.aggs)]})
		}
		if rs, ok := fx.sample[id]; ok {
			fx.sample[id] = append(rs, r)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read events: %w", err)
	}
	if err := finish(); err != nil {
		return err
	}
	if len(keys) > 0 {
		return flush()
	}
	return nil
}

// writePlain writes each user's row of the plain view.
func (fx *fixture) writePlain(ctx context.Context, store online.Store) error {
	var batch []online.Row
	for e := range fx.entities {
		batch = append(batch, fx.plainRow(e))
		if len(batch) == tileBatch || e == fx.entities-1 {
			if err := store.Write(ctx, fx.plain, batch); err != nil {
				return fmt.Errorf("write view %s: %w", plainView, err)
			}
			batch = batch[:0]
		}
	}
	return nil
}

// plainRow is user e's row of the plain view, an hour before the start.
func (fx *fixture) plainRow(e int64) online.Row {
	r := online.Row{Key: []*almanacv1.Value{int64Value(e)}, EventTime: fx.base.Add(-time.Hour)}
	for f := range numFeatures {
		r.Values = append(r.Values, &almanacv1.Value{Val: &almanacv1.Value_DoubleVal{DoubleVal: float64(e*numFeatures+int64(f)) / 8}})
	}
	return r
}

func int64Value(n int64) *almanacv1.Value {
	return &almanacv1.Value{Val: &almanacv1.Value_Int64Val{Int64Val: n}}
}
