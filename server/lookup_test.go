package server_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/almanac-fs/almanac/internal/servertest"
	"github.com/almanac-fs/almanac/internal/values"
	"github.com/almanac-fs/almanac/offline"
	"github.com/almanac-fs/almanac/pipelines"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
	"github.com/almanac-fs/almanac/sdk"
)

// entityRows are the (driver, customer) pairs looked up and exported: every
// case of the fixture, known and unknown keys, a repeated key.
var entityRows = [][2]int64{{1001, 501}, {1002, 502}, {1003, 503}, {1004, 504}, {1005, 501}, {1001, 503}}

// writeEntityFile writes entityRows as an entity file with event_timestamp
// at.
func writeEntityFile(t *testing.T, at time.Time) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("driver_id,customer_id,event_timestamp\n")
	for _, r := range entityRows {
		fmt.Fprintf(&b, "%d,%d,%s\n", r[0], r[1], at.UTC().Format(time.RFC3339Nano))
	}
	path := filepath.Join(t.TempDir(), "entities.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// exportAt runs the point-in-time export of refs for entityRows at time at
// and returns its feature columns, in order, and their values.
func exportAt(t *testing.T, env *servertest.Env, defs *registry.Definitions, refs []registry.FeatureRef, fullNames bool, at time.Time) ([]string, map[string][]*almanacv1.Value) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "train.parquet")
	res, err := env.Offline.Export(t.Context(), env.DB, offline.ExportRequest{
		Defs: defs, Refs: refs, EntityPath: writeEntityFile(t, at), OutPath: out, FullNames: fullNames,
	})
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	schema := []registry.Field{
		{Name: "driver_id", Type: registry.Type{Elem: registry.Int64}},
		{Name: "customer_id", Type: registry.Type{Elem: registry.Int64}},
		{Name: offline.DefaultTimestampColumn, Type: registry.Type{Elem: registry.Timestamp}},
	}
	var names []string
	for _, ref := range res.Features {
		r, err := registry.ParseFeatureRef(ref)
		if err != nil {
			t.Fatal(err)
		}
		f, ok := defs.View(r.View).Feature(r.Features[0])
		if !ok {
			t.Fatalf("export names feature %s, which the registry lacks", ref)
		}
		name := f.Name
		if fullNames {
			name = r.View + "__" + f.Name
		}
		names = append(names, name)
		schema = append(schema, registry.Field{Name: name, Type: f.Type})
	}
	if got, want := res.Columns[len(res.Columns)-len(names):], names; !slices.Equal(got, want) {
		t.Fatalf("export feature columns %q, want %q", got, want)
	}
	cols, n, err := pipelines.ReadRows(t.Context(), env.DB, out, schema)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(entityRows) {
		t.Fatalf("export has %d rows, want %d", n, len(entityRows))
	}
	return names, cols
}

// TestLookupMatchesExport checks the serving/training contract: after apply
// and materialize, an SDK lookup at "now" returns, for every feature and
// entity row, what the point-in-time export returns for entity rows at now.
func TestLookupMatchesExport(t *testing.T) {
	for _, backend := range backends {
		t.Run(string(backend), func(t *testing.T) {
			env := servertest.Start(t, servertest.Options{Backend: backend})
			c := dial(t, env.Addr)
			defs, err := env.Defs()
			if err != nil {
				t.Fatal(err)
			}
			ents := sdk.Entities{}
			for _, r := range entityRows {
				ents["driver_id"] = append(ents["driver_id"], r[0])
				ents["customer_id"] = append(ents["customer_id"], r[1])
			}
			tests := []struct {
				name     string
				service  string
				features []string
				full     bool
				keys     []string // join key columns, first in the response
			}{
				{name: servertest.DriverRanking, service: servertest.DriverRanking, keys: []string{"driver_id"}},
				{name: servertest.DriverProfile, service: servertest.DriverProfile, keys: []string{"driver_id"}},
				{name: servertest.Pricing, service: servertest.Pricing, keys: []string{"customer_id", "driver_id"}},
				{name: "pricing full names", service: servertest.Pricing, full: true, keys: []string{"customer_id", "driver_id"}},
				{
					name:     "every served view, full names",
					features: []string{"driver_stats", "driver_profile", "driver_embedding", "customer_stats"},
					full:     true,
					keys:     []string{"driver_id", "customer_id"},
				},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					refs := make([]registry.FeatureRef, 0, len(tt.features))
					if tt.service != "" {
						refs = defs.Service(tt.service).Features
					}
					for _, f := range tt.features {
						r, err := registry.ParseFeatureRef(f)
						if err != nil {
							t.Fatal(err)
						}
						refs = append(refs, r)
					}
					names, want := exportAt(t, env, defs, refs, tt.full, env.Now)

					res, err := c.GetOnlineFeatures(t.Context(), sdk.Query{FeatureService: tt.service, Features: tt.features, Entities: ents, FullNames: tt.full})
					if err != nil {
						t.Fatal(err)
					}
					if got, want := res.Names(), append(slices.Clone(tt.keys), names...); !slices.Equal(got, want) {
						t.Fatalf("names %q, want %q (join keys first, then the export's feature columns)", got, want)
					}
					if got := res.Len(); got != len(entityRows) {
						t.Fatalf("%d rows, want %d", got, len(entityRows))
					}
					for row := range entityRows {
						for _, k := range tt.keys {
							v, st, _ := wire(t, res, row, k)
							if !proto.Equal(v, want[k][row]) || st != sdk.Present {
								t.Errorf("row %d key %s: %v %v, want the request's %v PRESENT", row, k, v, st, want[k][row])
							}
						}
						for _, name := range names {
							got, st, ts := wire(t, res, row, name)
							exp := want[name][row]
							switch {
							case exp.GetVal() == nil:
								if got.GetVal() != nil || st == sdk.Present {
									t.Errorf("row %d (driver %d, customer %d) %s: online %v %v, export null", row, entityRows[row][0], entityRows[row][1], name, values.Describe(got), st)
								}
							case st != sdk.Present || !proto.Equal(got, exp):
								t.Errorf("row %d (driver %d, customer %d) %s: online %v %v, export %v", row, entityRows[row][0], entityRows[row][1], name, values.Describe(got), st, values.Describe(exp))
							}
							if found := st == sdk.Present || st == sdk.NullValue || st == sdk.OutsideMaxAge; found == ts.IsZero() {
								t.Errorf("row %d %s: status %v with event time %v", row, name, st, ts)
							}
						}
					}
				})
			}
		})
	}
}

// TestLookupStatuses checks each status, value and event time against what
// the fixture holds, on both backends.
func TestLookupStatuses(t *testing.T) {
	for _, backend := range backends {
		t.Run(string(backend), func(t *testing.T) {
			env := servertest.Start(t, servertest.Options{Backend: backend})
			c := dial(t, env.Addr)
			res, err := c.GetOnlineFeatures(t.Context(), sdk.Query{
				Features: []string{"driver_stats", "driver_profile", "driver_embedding:embedding"},
				Entities: drivers(1001, 1002, 1003, 1004, 1005),
			})
			if err != nil {
				t.Fatal(err)
			}
			T := env.Now
			tests := []struct {
				row     int
				feature string
				status  sdk.Status
				value   any // Go value (sdk.GoValue), nil when null
				at      time.Time
				// expired is set for a row already older than its TTL when
				// materialized: the store may have left it out (NOT_FOUND,
				// no event time) or keep it until removal (OUTSIDE_MAX_AGE).
				expired bool
			}{
				{0, "conv_rate", sdk.Present, 0.91, T.Add(-time.Hour), false},
				{0, "acc_rate", sdk.Present, float32(0.95), T.Add(-time.Hour), false},
				{0, "trips", sdk.Present, int64(12), T.Add(-time.Hour), false},
				{0, "city", sdk.Present, "paris", T.Add(-time.Hour), false},
				{0, "rating_count", sdk.Present, int32(250), T.Add(-10 * 24 * time.Hour), false},
				{0, "active", sdk.Present, true, T.Add(-10 * 24 * time.Hour), false},
				{0, "photo", sdk.Present, []byte{1, 2, 0xff}, T.Add(-10 * 24 * time.Hour), false},
				{0, "signup_ts", sdk.Present, T.Add(-400 * 24 * time.Hour), T.Add(-10 * 24 * time.Hour), false},
				{0, "tags", sdk.Present, []string{"fast", "friendly"}, T.Add(-10 * 24 * time.Hour), false},
				{0, "fares", sdk.Present, []float64{12.5, 8.25}, T.Add(-10 * 24 * time.Hour), false},
				{0, "zones", sdk.Present, []int64{75001, 75002}, T.Add(-10 * 24 * time.Hour), false},
				{0, "embedding", sdk.Present, []float32{0.1, 0.2, 0.3, 0.4}, T.Add(-7 * 24 * time.Hour), false},
				{1, "conv_rate", sdk.Present, 0.72, T.Add(-30 * time.Minute), false},
				{1, "acc_rate", sdk.NullValue, nil, T.Add(-30 * time.Minute), false},
				{1, "active", sdk.Present, false, T.Add(-2 * 24 * time.Hour), false},
				{1, "photo", sdk.NullValue, nil, T.Add(-2 * 24 * time.Hour), false},
				{1, "tags", sdk.Present, []string{}, T.Add(-2 * 24 * time.Hour), false},
				{1, "fares", sdk.NullValue, nil, T.Add(-2 * 24 * time.Hour), false},
				{2, "conv_rate", sdk.OutsideMaxAge, nil, T.Add(-5 * time.Hour), true},
				{2, "city", sdk.OutsideMaxAge, nil, T.Add(-5 * time.Hour), true},
				{2, "rating_count", sdk.NotFound, nil, time.Time{}, false},
				{2, "embedding", sdk.Present, []float32{-0.25, 0, 0.25, 1}, T.Add(-20 * 24 * time.Hour), false},
				{3, "conv_rate", sdk.Present, 0.15, T.Add(-90 * time.Minute), false},
				{3, "trips", sdk.Present, int64(6), T.Add(-90 * time.Minute), false},
				{4, "conv_rate", sdk.NotFound, nil, time.Time{}, false},
				{4, "embedding", sdk.NotFound, nil, time.Time{}, false},
			}
			for _, tt := range tests {
				t.Run(fmt.Sprintf("driver_%d/%s", 1001+tt.row, tt.feature), func(t *testing.T) {
					c, err := res.Cell(tt.row, tt.feature)
					if err != nil {
						t.Fatal(err)
					}
					if tt.expired && c.Status == sdk.NotFound {
						tt.status, tt.at = sdk.NotFound, time.Time{}
					}
					if c.Status != tt.status {
						t.Errorf("status %v, want %v", c.Status, tt.status)
					}
					if got := c.Value; fmt.Sprint(got) != fmt.Sprint(tt.value) || (got == nil) != (tt.value == nil) {
						t.Errorf("value %#v, want %#v", got, tt.value)
					}
					if !c.EventTime.Equal(tt.at) {
						t.Errorf("event time %v, want %v", c.EventTime, tt.at)
					}
				})
			}
		})
	}
}

// TestLookupShape checks the response's layout: join keys first, the
// request's key values echoed, full names view__feature, feature order as
// requested, and that a list of references and a service agree.
func TestLookupShape(t *testing.T) {
	env := servertest.Start(t, servertest.Options{})
	c := dial(t, env.Addr)
	tests := []struct {
		name  string
		query sdk.Query
		want  []string
	}{
		{
			name:  "service",
			query: sdk.Query{FeatureService: servertest.DriverRanking},
			want:  []string{"driver_id", "conv_rate", "acc_rate", "trips", "city", "embedding"},
		},
		{
			name:  "service full names",
			query: sdk.Query{FeatureService: servertest.DriverRanking, FullNames: true},
			want:  []string{"driver_id", "driver_stats__conv_rate", "driver_stats__acc_rate", "driver_stats__trips", "driver_stats__city", "driver_embedding__embedding"},
		},
		{
			name:  "references in request order",
			query: sdk.Query{Features: []string{"driver_embedding:embedding", "driver_stats:city", "driver_stats:conv_rate"}},
			want:  []string{"driver_id", "embedding", "city", "conv_rate"},
		},
		{
			name:  "a feature asked twice is returned once",
			query: sdk.Query{Features: []string{"driver_stats:city", "driver_stats", "driver_stats:city"}},
			want:  []string{"driver_id", "city", "conv_rate", "acc_rate", "trips"},
		},
		{
			name:  "two entities, keys in order of first use",
			query: sdk.Query{Features: []string{"customer_stats:tier", "driver_stats:trips"}, FullNames: true},
			want:  []string{"customer_id", "driver_id", "customer_stats__tier", "driver_stats__trips"},
		},
		{
			name:  "colliding short names with full names",
			query: sdk.Query{Features: []string{"driver_stats:conv_rate", "customer_stats:conv_rate"}, FullNames: true},
			want:  []string{"driver_id", "customer_id", "driver_stats__conv_rate", "customer_stats__conv_rate"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := tt.query
			q.Entities = sdk.Entities{"driver_id": {int64(1002), int32(1001)}, "customer_id": {501, 502}}
			res, err := c.GetOnlineFeatures(t.Context(), q)
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Names(); !slices.Equal(got, tt.want) {
				t.Errorf("names %q, want %q", got, tt.want)
			}
			resp := res.Response()
			if got, want := len(resp.GetResults()), len(tt.want); got != want {
				t.Fatalf("%d result columns, want %d", got, want)
			}
			for i, col := range resp.GetResults() {
				if len(col.GetValues()) != 2 || len(col.GetStatuses()) != 2 || len(col.GetEventTimestamps()) != 2 {
					t.Errorf("column %s: %d values, %d statuses, %d times, want 2 each", tt.want[i], len(col.GetValues()), len(col.GetStatuses()), len(col.GetEventTimestamps()))
				}
			}
			// The int32 key value is served as the key's type, int64.
			for row, want := range []int64{1002, 1001} {
				if got, st, err := res.Int64(row, "driver_id"); got != want || st != sdk.Present || err != nil {
					t.Errorf("row %d driver_id = %d %v, %v; want %d PRESENT", row, got, st, err, want)
				}
				if v, _, _ := wire(t, res, row, "driver_id"); !proto.Equal(v, int64Val(want)) {
					t.Errorf("row %d driver_id is %v, want int64 %d", row, values.Describe(v), want)
				}
			}
		})
	}

	t.Run("service equals its references", func(t *testing.T) {
		ents := drivers(1001, 1002, 1003, 1004, 1005)
		bySvc, err := c.GetOnlineFeatures(t.Context(), sdk.Query{FeatureService: servertest.DriverRanking, Entities: ents})
		if err != nil {
			t.Fatal(err)
		}
		byRefs, err := c.GetOnlineFeatures(t.Context(), sdk.Query{Features: []string{"driver_stats", "driver_embedding"}, Entities: ents})
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(bySvc.Response(), byRefs.Response()) {
			t.Errorf("service and references differ:\n%v\n%v", bySvc.Response(), byRefs.Response())
		}
	})

	t.Run("no entity rows", func(t *testing.T) {
		res, err := c.GetOnlineFeatures(t.Context(), sdk.Query{FeatureService: servertest.DriverRanking, Entities: sdk.Entities{"driver_id": {}}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Len() != 0 || len(res.Names()) != 6 {
			t.Errorf("%d rows, names %q; want 0 rows and the service's 6 names", res.Len(), res.Names())
		}
	})
}

// TestTTL moves the server's clock and checks that values turn
// OUTSIDE_MAX_AGE, served as null, exactly when they get older than their
// view's TTL, on both backends, with no sleeping.
func TestTTL(t *testing.T) {
	for _, backend := range backends {
		t.Run(string(backend), func(t *testing.T) {
			env := servertest.Start(t, servertest.Options{Backend: backend})
			c := dial(t, env.Addr)
			// driver 1001: driver_stats (ttl 2h) at T-1h, embedding (no ttl) at T-7d.
			// customer 501: customer_stats (ttl 24h) at T-2h.
			tests := []struct {
				at                   time.Duration // clock, from T
				stats, emb, customer sdk.Status
			}{
				{0, sdk.Present, sdk.Present, sdk.Present},
				{time.Hour, sdk.Present, sdk.Present, sdk.Present}, // exactly the TTL: still valid
				{time.Hour + time.Millisecond, sdk.OutsideMaxAge, sdk.Present, sdk.Present},
				{22 * time.Hour, sdk.OutsideMaxAge, sdk.Present, sdk.Present},
				{22*time.Hour + time.Second, sdk.OutsideMaxAge, sdk.Present, sdk.OutsideMaxAge},
				{365 * 24 * time.Hour, sdk.OutsideMaxAge, sdk.Present, sdk.OutsideMaxAge},
			}
			for _, tt := range tests {
				t.Run("T+"+tt.at.String(), func(t *testing.T) {
					env.Clock.Set(env.Now.Add(tt.at))
					res, err := c.GetOnlineFeatures(t.Context(), sdk.Query{
						Features: []string{"driver_stats:conv_rate", "driver_embedding:embedding", "customer_stats:tier"},
						Entities: sdk.Entities{"driver_id": {1001}, "customer_id": {501}},
					})
					if err != nil {
						t.Fatal(err)
					}
					for _, f := range []struct {
						name string
						want sdk.Status
						at   time.Time
					}{
						{"conv_rate", tt.stats, env.Now.Add(-time.Hour)},
						{"embedding", tt.emb, env.Now.Add(-7 * 24 * time.Hour)},
						{"tier", tt.customer, env.Now.Add(-2 * time.Hour)},
					} {
						v, st, at := wire(t, res, 0, f.name)
						if st != f.want {
							t.Errorf("%s: status %v, want %v", f.name, st, f.want)
						}
						if (st == sdk.Present) != (v.GetVal() != nil) {
							t.Errorf("%s: status %v with value %v; only PRESENT values are set", f.name, st, values.Describe(v))
						}
						if !at.Equal(f.at) {
							t.Errorf("%s: event time %v, want %v", f.name, at, f.at)
						}
					}
				})
			}
		})
	}
}

// wire returns a cell of res as a wire value, with its status and event
// time, to compare with what an export or a request holds.
func wire(t *testing.T, res *sdk.Result, row int, name string) (*almanacv1.Value, sdk.Status, time.Time) {
	t.Helper()
	c, err := res.Cell(row, name)
	if err != nil {
		t.Fatal(err)
	}
	v, err := sdk.ValueOf(c.Value)
	if err != nil {
		t.Fatal(err)
	}
	return v, c.Status, c.EventTime
}
