package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/almanac-fs/almanac/bench/internal/repo"
	"github.com/almanac-fs/almanac/online"
	"github.com/almanac-fs/almanac/online/local"
	"github.com/almanac-fs/almanac/online/redis"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
)

// The generated feature repository: one entity, one push source holding
// every column, numViews views of featuresPerView features each, and one
// feature service over all of them.
const (
	project         = "bench"
	joinKey         = "user_id"
	serviceName     = "user_features"
	numViews        = 5
	featuresPerView = 10
	viewTTL         = 30 * 24 * time.Hour
	// keyPrefix is the prefix of online/redis keys for Options.Project
	// "bench" (see online/redis doc.go); the floor server builds the same
	// keys, which its check before timing confirms.
	keyPrefix = "almanac:" + project + ":"
	// localDB is the embedded store's file, relative to the repository.
	localDB = ".almanac/online.db"
)

func viewName(v int) string       { return "user_view_" + strconv.Itoa(v) }
func featureName(v, f int) string { return fmt.Sprintf("v%d_f%d", v, f) }

// featureType is the type of feature f of every view: four float64, four
// int64, two strings.
func featureType(f int) registry.Type {
	switch {
	case f < 4:
		return registry.TypeFloat64
	case f < 8:
		return registry.TypeInt64
	}
	return registry.TypeString
}

// fixture is the generated repository and what was written to the stores.
type fixture struct {
	dir      string
	entities int64
	// base is the newest event time; entity e's row in view v is
	// eventTime(e, v) before it.
	base  time.Time
	views []online.View
}

// writeRepo writes almanac.yaml, pointing at Redis on redisAddr, and the
// definitions into dir, then applies them as the registry's first version.
// A negative logSampleRate leaves the feature service's served-feature log
// at its default rate.
func writeRepo(ctx context.Context, dir, redisAddr string, logSampleRate float64) (*registry.Definitions, error) {
	cfg := fmt.Sprintf("project: %s\nonline_store:\n  type: redis\n  addr: %s\n  path: %s\n", project, redisAddr, localDB)
	if err := os.WriteFile(filepath.Join(dir, registry.ConfigFile), []byte(cfg), 0o644); err != nil {
		return nil, fmt.Errorf("write %s: %w", registry.ConfigFile, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "features.yaml"), []byte(definitions(logSampleRate)), 0o644); err != nil {
		return nil, fmt.Errorf("write definitions: %w", err)
	}
	return repo.Apply(ctx, dir)
}

// definitions renders the entity, the push source, the views and the
// feature service as YAML.
func definitions(logSampleRate float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "kind: Entity\nname: user\njoin_keys:\n  - {name: %s, type: int64}\n---\n", joinKey)
	fmt.Fprintf(&b, "kind: Source\nname: user_events\nformat: push\ntimestamp_field: event_ts\nschema:\n")
	fmt.Fprintf(&b, "  - {name: %s, type: int64}\n  - {name: event_ts, type: timestamp}\n", joinKey)
	for v := range numViews {
		for f := range featuresPerView {
			fmt.Fprintf(&b, "  - {name: %s, type: %s}\n", featureName(v, f), featureType(f))
		}
	}
	for v := range numViews {
		fmt.Fprintf(&b, "---\nkind: FeatureView\nname: %s\nentities: [user]\nsource: user_events\nttl: %s\nfeatures:\n",
			viewName(v), registry.FormatDuration(viewTTL))
		for f := range featuresPerView {
			fmt.Fprintf(&b, "  - {name: %s, type: %s}\n", featureName(v, f), featureType(f))
		}
	}
	fmt.Fprintf(&b, "---\nkind: FeatureService\nname: %s\nfeatures:\n", serviceName)
	for v := range numViews {
		fmt.Fprintf(&b, "  - %s\n", viewName(v))
	}
	if logSampleRate >= 0 {
		fmt.Fprintf(&b, "logging:\n  sample_rate: %g\n", logSampleRate)
	}
	return b.String()
}

// newFixture generates the repository in dir and fills both online stores
// with the rows of entities users.
func newFixture(ctx context.Context, dir, redisAddr string, entities int64, logSampleRate float64) (*fixture, error) {
	defs, err := writeRepo(ctx, dir, redisAddr, logSampleRate)
	if err != nil {
		return nil, err
	}
	fx := &fixture{dir: dir, entities: entities, base: time.Now().Truncate(time.Millisecond)}
	for v := range numViews {
		def := defs.View(viewName(v))
		if def == nil {
			return nil, fmt.Errorf("applied registry has no view %q", viewName(v))
		}
		fx.views = append(fx.views, online.ViewOf(def))
	}
	opts := redis.DefaultOptions()
	opts.Addrs, opts.Project = []string{redisAddr}, project
	rs, err := redis.New(opts)
	if err != nil {
		return nil, err
	}
	if err := fx.fill(ctx, rs); err != nil {
		rs.Close()
		return nil, fmt.Errorf("fill redis: %w", err)
	}
	if err := rs.Close(); err != nil {
		return nil, err
	}
	ls, err := local.New(local.DefaultOptions(filepath.Join(dir, localDB)))
	if err != nil {
		return nil, fmt.Errorf("open embedded store: %w", err)
	}
	if err := fx.fill(ctx, ls); err != nil {
		ls.Close()
		return nil, fmt.Errorf("fill embedded store: %w", err)
	}
	if err := ls.Close(); err != nil {
		return nil, fmt.Errorf("close embedded store: %w", err)
	}
	return fx, nil
}

// fillBatch is how many rows one Store.Write carries while filling.
const fillBatch = 5000

// fill writes every entity's row of every view through store.Write.
func (fx *fixture) fill(ctx context.Context, store online.Store) error {
	for v, view := range fx.views {
		rows := make([]online.Row, 0, fillBatch)
		for e := range fx.entities {
			rows = append(rows, fx.row(e, v))
			if len(rows) == fillBatch || e == fx.entities-1 {
				if err := store.Write(ctx, view, rows); err != nil {
					return fmt.Errorf("write view %s: %w", view.Name, err)
				}
				rows = rows[:0]
			}
		}
	}
	return nil
}

// row is entity e's row in view v.
func (fx *fixture) row(e int64, v int) online.Row {
	r := online.Row{
		Key:       []*almanacv1.Value{int64Value(e)},
		EventTime: fx.eventTime(e, v),
		Values:    make([]*almanacv1.Value, featuresPerView),
	}
	for f := range featuresPerView {
		r.Values[f] = value(e, v, f)
	}
	return r
}

// eventTime is when entity e's row of view v happened: within the day before
// base, so well inside the views' TTL.
func (fx *fixture) eventTime(e int64, v int) time.Time {
	ms := mix(uint64(e), uint64(v), 1<<20) % uint64(24*time.Hour/time.Millisecond)
	return fx.base.Add(-time.Duration(ms) * time.Millisecond)
}

// value is entity e's value of feature f of view v.
func value(e int64, v, f int) *almanacv1.Value {
	h := mix(uint64(e), uint64(v), uint64(f))
	switch featureType(f) {
	case registry.TypeFloat64:
		return &almanacv1.Value{Val: &almanacv1.Value_DoubleVal{DoubleVal: float64(h%1_000_000) / 1000}}
	case registry.TypeInt64:
		return &almanacv1.Value{Val: &almanacv1.Value_Int64Val{Int64Val: int64(h % 100_000)}}
	}
	return &almanacv1.Value{Val: &almanacv1.Value_StringVal{StringVal: "s_" + strconv.FormatUint(h%(1<<40), 36)}}
}

func int64Value(n int64) *almanacv1.Value {
	return &almanacv1.Value{Val: &almanacv1.Value_Int64Val{Int64Val: n}}
}

// mix hashes three numbers (SplitMix64's finalizer over their combination).
func mix(a, b, c uint64) uint64 {
	x := a*0x9e3779b97f4a7c15 ^ b*0xbf58476d1ce4e5b9 ^ c*0x94d049bb133111eb
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}
