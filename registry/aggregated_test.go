package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// aggDefs is a repository with an aggregated view over a push source; %s
// is the view's lines from its aggregations on (line 20).
const aggDefs = `kind: Entity
name: driver
join_keys: [{name: driver_id, type: int64}]
---
kind: Source
name: trips
format: push
timestamp_field: event_ts
schema:
  - {name: driver_id, type: int64}
  - {name: event_ts, type: timestamp}
  - {name: fare, type: float64}
  - {name: trips, type: int32}
  - {name: zone, type: string}
---
kind: FeatureView
name: w
entities: [driver]
source: trips
%s`

func TestLoadAggregationProblems(t *testing.T) {
	for _, tc := range []struct {
		name string
		view string // from line 20 on
		want []string
	}{
		{
			name: "unknown function",
			view: "aggregations:\n  - {function: summ, column: fare}\n",
			want: []string{`a.yaml:21: feature view "w": aggregation 1: unknown function "summ"; did you mean "sum"?`},
		},
		{
			name: "no function",
			view: "aggregations:\n  - {column: fare, windows: [1h]}\n",
			want: []string{`a.yaml:21: feature view "w": aggregation 1 has no function; add "function:" with one of count, sum, mean, min, max, stddev, last, last_n`},
		},
		{
			name: "no column",
			view: "aggregations:\n  - {function: count}\n  - {function: mean, windows: [1h]}\n",
			want: []string{`a.yaml:22: feature view "w": aggregation 2: mean needs a column; add "column:" naming the column to aggregate`},
		},
		{
			name: "non-numeric column",
			view: "aggregations:\n  - {function: sum, column: zone, windows: [1h]}\n",
			want: []string{`a.yaml:21: feature view "w": aggregation 1 over source "trips" schema column "zone": sum needs a numeric column (int32, int64, float32, float64), not string`},
		},
		{
			name: "column not in the schema",
			view: "aggregations:\n  - {function: sum,\n     column: fair}\n",
			want: []string{`a.yaml:22: feature view "w": aggregation 1: source "trips" schema has no column "fair" to aggregate; did you mean "fare"?`},
		},
		{
			name: "last_n without n",
			view: "aggregations:\n  - {function: last_n, column: zone, windows: [1d]}\n",
			want: []string{`a.yaml:21: feature view "w": aggregation 1: last_n needs "n:", the number of values to keep (1 or more)`},
		},
		{
			name: "last_n with n below 1",
			view: "aggregations:\n  - function: last_n\n    column: zone\n    n: -2\n",
			want: []string{`a.yaml:21: feature view "w": aggregation 1: last_n needs "n:", the number of values to keep (1 or more)`},
		},
		{
			name: "last_n with too large an n",
			view: "aggregations:\n  - function: last_n\n    column: zone\n    n: 5000\n",
			want: []string{`a.yaml:23: feature view "w": aggregation 1: n 5000 is more than 1000, the most values last_n keeps; lower it`},
		},
		{
			name: "n on another function",
			view: "aggregations:\n  - {function: sum, column: fare}\n  - {function: max, column: fare, n: 3}\n",
			want: []string{`a.yaml:22: feature view "w": aggregation 2: n is only for last_n; remove it`},
		},
		{
			name: "zero window",
			view: "aggregations:\n  - function: count\n    windows:\n      - 1h\n      - 0\n",
			want: []string{`a.yaml:24: feature view "w": aggregation 1 window 0 must be longer than 0; write a span such as 1h or 7d, or leave "windows:" out for a lifetime window (every row)`},
		},
		{
			name: "negative window",
			view: "aggregations:\n  - {function: count, windows: [-1h]}\n",
			want: []string{`a.yaml:21: feature view "w": aggregation 1 window: bad duration "-1h": write a duration such as 30m, 24h or 7d, or leave "windows:" out for a lifetime window (every row)`},
		},
		{
			name: "unparseable window",
			view: "aggregations:\n  - {function: count, windows: [1 hour]}\n",
			want: []string{`a.yaml:21: feature view "w": aggregation 1 window: bad duration "1 hour": write a duration such as 30m, 24h or 7d, or leave "windows:" out for a lifetime window (every row)`},
		},
		{
			name: "window too long",
			view: "aggregations:\n  - {function: count, windows: [40000d]}\n",
			want: []string{`a.yaml:21: feature view "w": aggregation 1 window 40000d is longer than 36500d (100 years), the longest window; shorten it, or leave "windows:" out for a lifetime window (every row)`},
		},
		{
			name: "a window twice",
			view: "aggregations:\n  - {function: count, windows: [1h, 60m]}\n",
			want: []string{`a.yaml:21: feature view "w": aggregation 1: window 1h is written twice; remove one`},
		},
		{
			name: "name with several windows",
			view: "aggregations:\n  - {function: count, windows: [1h, 1d], name: recent}\n",
			want: []string{`a.yaml:21: feature view "w": aggregation 1: name is for an aggregation with one window; remove it, or split the aggregation into one per window`},
		},
		{
			name: "bad name",
			view: "aggregations:\n  - {function: count, windows: [1h], name: Recent-Trips}\n",
			want: []string{`a.yaml:21: feature view "w": aggregation 1: name "Recent-Trips" must match [a-z_][a-z0-9_]*; try "recent_trips"`},
		},
		{
			name: "duplicate generated names",
			view: "aggregations:\n  - {function: count, windows: [1h, 1d]}\n  - {function: count, windows: [24h]}\n  - {function: sum, column: fare, windows: [1h], name: count_1h}\n",
			want: []string{
				`a.yaml:22: feature view "w": aggregation 2 computes feature "count_1d", as aggregation 1 does; give one a "name:" or change its windows`,
				`a.yaml:23: feature view "w": aggregation 3 computes feature "count_1h", as aggregation 1 does; give one a "name:" or change its windows`,
			},
		},
		{
			name: "name of the timestamp",
			view: "aggregations:\n  - {function: count}\n  - {function: max, column: event_ts, name: event_ts}\n",
			want: []string{`a.yaml:22: feature view "w": aggregation 2 computes feature "event_ts", the name of a join key or the timestamp; give the aggregation a "name:"`},
		},
		{
			name: "ttl",
			view: "ttl: 7d\naggregations:\n  - {function: count, windows: [1h]}\n",
			want: []string{`a.yaml:20: feature view "w": an aggregated view has no ttl: its windows bound the rows each value takes; remove "ttl:"`},
		},
		{
			name: "features",
			view: "features: [{name: trips_1h, type: int64}]\naggregations:\n  - {function: count, windows: [1h]}\n",
			want: []string{`a.yaml:20: feature view "w": an aggregated view has no "features:": its aggregations name and type the features; remove "features:"`},
		},
		{
			name: "interval without aggregations",
			view: "features: [{name: fare, type: float64}]\naggregation_interval: 5m\n",
			want: []string{`a.yaml:21: feature view "w": aggregation_interval is the hop of the view's windows, but it has no aggregations; add "aggregations:" or remove "aggregation_interval:"`},
		},
		{
			name: "zero interval",
			view: "aggregations:\n  - {function: count, windows: [1h]}\naggregation_interval: 0\n",
			want: []string{`a.yaml:22: feature view "w": aggregation_interval must be longer than 0, such as 5m; or remove it to use each window's default hop`},
		},
		{
			name: "bad interval",
			view: "aggregations:\n  - {function: count, windows: [1h]}\naggregation_interval: often\n",
			want: []string{`a.yaml:22: feature view "w": aggregation_interval: bad duration "often": write a duration such as 30m, 24h or 7d, or remove it to use each window's default hop`},
		},
		{
			name: "service selects a feature the aggregations do not compute",
			view: "aggregations:\n  - {function: count, windows: [1h]}\n---\nkind: FeatureService\nname: s\nfeatures: [\"w:count_1d\"]\n",
			want: []string{`a.yaml:25: feature service "s": feature view "w" has no feature "count_1d"; did you mean "count_1h"?`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeRepo(t, map[string]string{"almanac.yaml": goodConfig, "a.yaml": fmt.Sprintf(aggDefs, tc.view)})
			_, err := Load(t.Context(), dir, LoadOptions{})
			probs, ok := errors.AsType[Problems](err)
			if !ok {
				t.Fatalf("Load error = %v, want Problems", err)
			}
			if got, want := probs.Error(), strings.Join(tc.want, "\n"); got != want {
				t.Errorf("problems:\n got: %s\nwant: %s", strings.ReplaceAll(got, "\n", "\n      "), strings.ReplaceAll(want, "\n", "\n      "))
			}
		})
	}
}

// fixedColumns is a SchemaResolver whose sources have the columns given
// for them, and no data when they have none.
type fixedColumns map[string][]Column

func (f fixedColumns) ViewColumns(_ context.Context, _ *Config, src *Source, _ *FeatureView) ([]Column, error) {
	cols, ok := f[src.Name]
	if !ok {
		return nil, fmt.Errorf("read source %q: %w", src.Name, ErrNoData)
	}
	return cols, nil
}

// fileAggDefs has an aggregated view over a parquet source; the first %s
// is the source's extra lines (line 10 on), the second the view's from
// sql on.
const fileAggDefs = `kind: Entity
name: driver
join_keys: [{name: driver_id, type: int64}]
---
kind: Source
name: trips
format: parquet
path: data/*.parquet
timestamp_field: event_ts
%s---
kind: FeatureView
name: w
entities: [driver]
source: trips
%saggregations:
  - {function: count, windows: [1h, 7d]}
  - {column: fare, function: sum, windows: [1d]}
  - {column: fare, function: max, windows: [1h], name: max_fare_last_hour}
  - {column: zone, function: last_n, n: 3, windows: [1d]}
  - {column: trips, function: sum}
aggregation_interval: 10m
`

func TestAggregatedViewTypes(t *testing.T) {
	const m = time.Minute
	int32Cols := []Column{{Name: "driver_id", Type: TypeInt64}, {Name: "event_ts", Type: TypeTimestamp},
		{Name: "fare", Type: TypeInt32}, {Name: "zone", Type: TypeString}, {Name: "trips", Type: TypeInt32}}
	floatCols := []Column{{Name: "driver_id", Type: TypeInt64}, {Name: "event_ts", Type: TypeTimestamp},
		{Name: "fare", Type: TypeFloat32}, {Name: "zone", Type: TypeString}, {Name: "trips", Type: TypeFloat64}}
	feature := func(name string, typ Type, agg int, span time.Duration) WindowFeature {
		hop := 10 * m
		if span == Lifetime {
			hop = 0
		}
		return WindowFeature{Field{Name: name, Type: typ}, agg, Window{span, hop}}
	}
	windows := func(fare, trips Type) []WindowFeature {
		return []WindowFeature{
			feature("count_1h", TypeInt64, 0, time.Hour),
			feature("count_7d", TypeInt64, 0, 7*day),
			feature("fare_sum_1d", fare, 1, day),
			feature("max_fare_last_hour", map[Type]Type{TypeInt64: TypeInt32, TypeFloat64: TypeFloat32}[fare], 2, time.Hour),
			feature("zone_last_n_1d", ListOf(String), 3, day),
			feature("trips_sum", trips, 4, Lifetime),
		}
	}
	schema := "schema:\n  - {name: driver_id, type: int64}\n  - {name: event_ts, type: timestamp}\n  - {name: fare, type: float32}\n  - {name: zone, type: string}\n  - {name: trips, type: float64}\n"
	for _, tc := range []struct {
		name    string
		source  string // the source's extra lines
		sql     string // the view's lines before aggregations
		columns fixedColumns
		want    []WindowFeature
		wantErr string
	}{
		{name: "typed by the data", columns: fixedColumns{"trips": int32Cols}, want: windows(TypeInt64, TypeInt64)},
		{name: "typed by sql's result", sql: "sql: SELECT * FROM source\n", columns: fixedColumns{"trips": floatCols}, want: windows(TypeFloat64, TypeFloat64)},
		{name: "typed by the declared schema without data", source: schema, want: windows(TypeFloat64, TypeFloat64)},
		{
			name:    "no data, no schema",
			wantErr: `defs.yaml:17: feature view "w": aggregates column "fare" of source "trips", which has no data yet; declare the source's schema or add data`,
		},
		{
			name: "no data under sql", sql: "sql: SELECT * FROM source\n", source: schema,
			wantErr: `defs.yaml:24: feature view "w": aggregates column "fare" of its sql's result over source "trips", which has no data yet; add data, so that the column's type is known`,
		},
		{
			name: "column not in sql's result", sql: "sql: SELECT driver_id, event_ts, fare AS fares, zone, trips FROM source\n",
			columns: fixedColumns{"trips": int32Cols[:4]},
			wantErr: `defs.yaml:21: feature view "w": aggregation 5: the result of sql has no column "trips" to aggregate`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defs := fmt.Sprintf(fileAggDefs, tc.source, tc.sql)
			dir := writeRepo(t, map[string]string{"almanac.yaml": goodConfig, "defs.yaml": defs})
			repo, err := Load(t.Context(), dir, LoadOptions{Schemas: tc.columns})
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("Load error:\n got: %v\nwant: %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			v := repo.Defs.View("w")
			if got, want := v.Windows, tc.want; !reflect.DeepEqual(got, want) {
				t.Errorf("windows:\n got: %v\nwant: %v", got, want)
			}
			for i, f := range v.Features {
				if !reflect.DeepEqual(f, v.Windows[i].Field) {
					t.Errorf("feature %d = %v, want the window's %v", i, f, v.Windows[i].Field)
				}
			}
			back, err := DefinitionsFromProto(repo.Defs.ToProto("rides"))
			if err != nil {
				t.Fatal(err)
			}
			bv := back.View("w")
			if !reflect.DeepEqual(bv.Aggregations, v.Aggregations) || bv.AggregationInterval != v.AggregationInterval ||
				!reflect.DeepEqual(bv.Windows, v.Windows) || !reflect.DeepEqual(bv.Features, v.Features) {
				t.Errorf("after a proto round trip: %+v\nwant %+v", bv, v)
			}
		})
	}
}

func TestAggregatedPlanAndDescribe(t *testing.T) {
	view := "aggregations:\n  - {function: count, windows: [1h]}\n  - {column: fare, function: sum, windows: [7d]}\n"
	cur := loadDefs(t, fmt.Sprintf(aggDefs, view)).ToProto("rides")
	cur.Version = 1
	next := loadDefs(t, fmt.Sprintf(aggDefs, view+"  - {column: trips, function: sum}\naggregation_interval: 1h\n"))
	plan, err := MakePlan("rides", cur, next)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := plan.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	want := `Plan for project "rides" (registry version 1 -> 2):

  ~ feature view w
      aggregations.2: + sum(trips) over lifetime
      aggregation_interval: + 1h
      features: count_1h, fare_sum_7d -> count_1h, fare_sum_7d, trips_sum
      features.trips_sum.type: + int64
      features.count_1h.window: count(*) over 1h, hop 5m -> count(*) over 1h, hop 1h
      features.trips_sum.window: + sum(trips) over lifetime
      note: the view's online values read as not found until it is materialized again (its features changed: names, types or order)

0 to add, 1 to change, 0 to remove.
`
	if got := b.String(); got != want {
		t.Errorf("plan text:\n%s\nwant:\n%s", got, want)
	}

	obj, err := next.Describe(KindFeatureView, "w")
	if err != nil {
		t.Fatal(err)
	}
	var y, j bytes.Buffer
	if err := yaml.NewEncoder(&y).Encode(obj); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"aggregation_interval: 1h", "windows: [7d]", "# generated features:\n#   count_1h     int64    count(*) over 1h, hop 1h\n#   fare_sum_7d  float64  sum(fare) over 7d, hop 1h\n#   trips_sum    int64    sum(trips) over lifetime\n"} {
		if !strings.Contains(y.String(), want) {
			t.Errorf("describe YAML lacks %q:\n%s", want, y.String())
		}
	}
	if strings.Contains(y.String(), "\nfeatures:") {
		t.Errorf("describe YAML writes features of an aggregated view:\n%s", y.String())
	}
	// The YAML still reads as the definition it describes.
	again := loadDefs(t, strings.Replace(fmt.Sprintf(aggDefs, ""), "kind: FeatureView\nname: w\nentities: [driver]\nsource: trips\n", y.String(), 1))
	if !reflect.DeepEqual(again.View("w").Windows, next.View("w").Windows) {
		t.Errorf("described view loads with windows %v, want %v", again.View("w").Windows, next.View("w").Windows)
	}
	if err := json.NewEncoder(&j).Encode(obj); err != nil {
		t.Fatal(err)
	}
	if want := `"generated_features":[{"name":"count_1h","type":"int64","aggregation":"count(*) over 1h, hop 1h"}`; !strings.Contains(j.String(), want) {
		t.Errorf("describe JSON lacks %s:\n%s", want, j.String())
	}
}
