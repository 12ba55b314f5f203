package window_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/almanac-fs/almanac/internal/values"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
	"github.com/almanac-fs/almanac/window"
	"github.com/almanac-fs/almanac/window/windowtest"
)

const day = 24 * time.Hour

// base is the start of the random rows' times: a day boundary.
var base = time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)

// TestTilesMatchOracle compares, over many seeds, the value of random
// window features at random times from tiles (built at once, and built in
// two halves then merged) with the oracle's over the raw rows.
func TestTilesMatchOracle(t *testing.T) {
	for seed := range uint64(500) {
		r := rand.New(rand.NewPCG(seed, 15))
		aggs, features := randomAggregations(r)
		rows := randomRows(r, len(aggs), aggs)
		for range 20 {
			key := r.IntN(3)
			at := randomTime(r, rows[key], features)
			want, wantFound := window.Evaluate(rows[key], aggs, features, at)

			var upToT []window.Row
			var half [2][]window.Row
			for _, row := range rows[key] {
				if row.At.Time <= at.UnixMilli() {
					upToT = append(upToT, row)
					h := r.IntN(2)
					half[h] = append(half[h], row)
				}
			}
			whole := window.Build(aggs, features, upToT)
			merged := window.Build(aggs, features, half[0])
			other := window.Build(aggs, features, half[1])
			merged.Merge(aggs, &other)
			for name, set := range map[string]*window.Set{"built": &whole, "merged": &merged} {
				got, found := set.Evaluate(aggs, features, at)
				if found != wantFound {
					t.Fatalf("seed %d, %s tiles: key %d at %s: found = %t, oracle %t", seed, name, key, at.Format(time.RFC3339Nano), found, wantFound)
				}
				if d := windowtest.Diff(features, got, want); d != "" {
					t.Fatalf("seed %d, %s tiles: key %d at %s: %s (the oracle's is the want)\nfeatures %v", seed, name, key, at.Format(time.RFC3339Nano), d, features)
				}
			}
		}
	}
}

// randomTypes are the column types of the random aggregations.
var randomTypes = []registry.Type{
	registry.TypeInt32, registry.TypeInt64, registry.TypeFloat32, registry.TypeFloat64,
	registry.TypeString, registry.TypeTimestamp, registry.TypeBool, registry.TypeBytes, registry.ListOf(registry.Float32),
}

var randomWindows = []time.Duration{5 * time.Minute, 7 * time.Minute, time.Hour, 90 * time.Minute, 12 * time.Hour, day, 7 * day}

var randomIntervals = []time.Duration{0, 0, time.Minute, 5 * time.Minute, 10 * time.Minute, time.Hour}

// randomAggregations returns 1 to 6 aggregations, each over a column of a
// type it takes, in 1 to 3 windows or lifetime.
func randomAggregations(r *rand.Rand) ([]window.Agg, []registry.WindowFeature) {
	interval := randomIntervals[r.IntN(len(randomIntervals))]
	var aggs []registry.Aggregation
	var features []registry.WindowFeature
	for len(aggs) < 1+r.IntN(6) {
		a := registry.Aggregation{Function: registry.AggFunction(1 + r.IntN(int(registry.AggLastN)))}
		col := randomTypes[r.IntN(len(randomTypes))]
		if a.Function == registry.AggCount && r.IntN(2) == 0 {
			col = registry.Type{}
		} else {
			a.Column = fmt.Sprintf("c%d", len(aggs))
		}
		if a.Function == registry.AggLastN {
			a.N = 1 + r.IntN(4)
		}
		if r.IntN(5) > 0 {
			for range 1 + r.IntN(3) {
				a.Windows = append(a.Windows, randomWindows[r.IntN(len(randomWindows))])
			}
		}
		fs, err := a.Features(len(aggs), col, interval)
		if err != nil {
			continue // a type the function does not take
		}
		aggs = append(aggs, a)
		features = append(features, fs...)
	}
	return window.Aggs(aggs, features), features
}

// randomRows returns the rows of 3 entities over 3 days (and a few far
// older), many tied on time and created time, with nulls.
func randomRows(r *rand.Rand, n int, aggs []window.Agg) [3][]window.Row {
	var rows [3][]window.Row
	for seq := range int64(r.IntN(80)) {
		ms := base.UnixMilli() + r.Int64N(3*day.Milliseconds())
		switch r.IntN(4) {
		case 0: // on a 5m hop boundary: ties, and rows at the tail
			ms -= ms % (5 * time.Minute).Milliseconds()
		case 1:
			ms = base.UnixMilli() - r.Int64N(400*day.Milliseconds())
		}
		row := window.Row{At: window.Order{Time: ms, Created: window.NoCreated, Seq: seq}}
		if r.IntN(2) == 0 {
			row.At.Created = base.UnixMilli() + r.Int64N(3)
		}
		for i := range n {
			row.Values = append(row.Values, randomValue(r, aggs[i]))
		}
		key := r.IntN(3)
		rows[key] = append(rows[key], row)
	}
	return rows
}

// randomValue returns a value of a's column, null one time in five.
func randomValue(r *rand.Rand, a window.Agg) *almanacv1.Value {
	if r.IntN(5) == 0 {
		return &almanacv1.Value{}
	}
	t := a.Type
	switch a.Function {
	case registry.AggCount, registry.AggMean, registry.AggStddev:
		t = registry.TypeFloat64 // any column: only nulls count, and numbers aggregate
		if r.IntN(2) == 0 {
			t = registry.TypeInt32
		}
	case registry.AggLastN:
		t = registry.Type{Elem: t.Elem}
	}
	switch {
	case t.List:
		return &almanacv1.Value{Val: &almanacv1.Value_FloatListVal{FloatListVal: &almanacv1.FloatList{Val: []float32{r.Float32()}}}}
	case t.Elem == registry.Int32:
		return values.Int32(int32(r.IntN(100) - 50))
	case t.Elem == registry.Int64:
		return values.Int64(r.Int64N(2e6) - 1e6)
	case t.Elem == registry.Float32:
		return values.Float32(float32(r.NormFloat64() * 50))
	case t.Elem == registry.Float64:
		return values.Float64(r.NormFloat64() * 100)
	case t.Elem == registry.String:
		return values.String(string(rune('a' + r.IntN(6))))
	case t.Elem == registry.Timestamp:
		return values.Timestamp(base.Add(time.Duration(r.Int64N(int64(day)))))
	case t.Elem == registry.Bool:
		return values.Bool(r.IntN(2) == 0)
	}
	return &almanacv1.Value{Val: &almanacv1.Value_BytesVal{BytesVal: []byte{byte(r.IntN(256))}}}
}

// randomTime returns a time to evaluate at: between events, at an event
// or 1 ms around it, on a hop boundary, or where a window's tail meets a
// row.
func randomTime(r *rand.Rand, rows []window.Row, features []registry.WindowFeature) time.Time {
	ms := base.UnixMilli() - day.Milliseconds() + r.Int64N(5*day.Milliseconds())
	if len(rows) > 0 {
		row := rows[r.IntN(len(rows))].At.Time
		w := features[r.IntN(len(features))].Window
		switch r.IntN(5) {
		case 0:
			ms = row + r.Int64N(3) - 1
		case 1:
			ms = row + w.Span.Milliseconds() + r.Int64N(3) - 1
		case 2:
			if hop := w.Hop.Milliseconds(); hop > 0 {
				ms = row + w.Span.Milliseconds() + hop - row%hop - r.Int64N(2)
			}
		}
	}
	return time.UnixMilli(ms).UTC()
}
