package window

import (
	"math"
	"sort"
	"time"

	"github.com/almanac-fs/almanac/internal/values"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
)

// Evaluate returns the value at t of each feature computed from an
// entity's raw rows as DESIGN §8 reads, without tiles, and whether the
// entity has a row at or before t; without one the values are nil. It is
// written to be plainly right rather than fast: the tiles are tested
// against it.
func Evaluate(rows []Row, aggs []Agg, features []registry.WindowFeature, t time.Time) ([]*almanacv1.Value, bool) {
	ms := t.UnixMilli()
	found := false
	for _, r := range rows {
		found = found || r.At.Time <= ms
	}
	if !found {
		return nil, false
	}
	out := make([]*almanacv1.Value, len(features))
	for i, f := range features {
		lo := int64(math.MinInt64)
		if start, ok := f.Window.Start(t); ok {
			lo = start.UnixMilli()
		}
		var in []Row
		for _, r := range rows {
			if r.At.Time >= lo && r.At.Time <= ms {
				in = append(in, r)
			}
		}
		out[i] = aggregate(aggs[f.Aggregation], f.Aggregation, in)
	}
	return out, true
}

// aggregate returns the value of a over rows, whose column is Values[col].
func aggregate(a Agg, col int, rows []Row) *almanacv1.Value {
	if a.Rows {
		return values.Int64(int64(len(rows)))
	}
	var in []Row // the rows whose value is not null
	for _, r := range rows {
		if col < len(r.Values) && r.Values[col].GetVal() != nil {
			in = append(in, r)
		}
	}
	var ints int64
	var floats []float64
	for _, r := range in {
		i, f := values.Number(r.Values[col])
		ints += i
		floats = append(floats, float64(i)+f)
	}
	var sum float64
	for _, f := range floats {
		sum += f
	}
	n := len(in)
	switch a.Function {
	case registry.AggCount:
		return values.Int64(int64(n))
	case registry.AggSum:
		if a.Type.Elem == registry.Float64 {
			return values.Float64(sum)
		}
		return values.Int64(ints)
	case registry.AggMean:
		if n > 0 {
			return values.Float64(sum / float64(n))
		}
	case registry.AggStddev:
		if n > 1 {
			mean, squares := sum/float64(n), 0.0
			for _, f := range floats {
				squares += (f - mean) * (f - mean)
			}
			return values.Float64(math.Sqrt(squares / float64(n-1)))
		}
	case registry.AggMin, registry.AggMax:
		var best *almanacv1.Value
		for _, r := range in {
			v := r.Values[col]
			if best == nil || (a.Function == registry.AggMin && values.Less(v, best)) || (a.Function == registry.AggMax && values.Less(best, v)) {
				best = v
			}
		}
		if best != nil {
			return best
		}
	case registry.AggLast, registry.AggLastN:
		sort.Slice(in, func(i, j int) bool { return in[j].At.Less(in[i].At) }) // newest first
		if a.Function == registry.AggLast {
			if n > 0 {
				return in[0].Values[col]
			}
			break
		}
		entries := make([]Entry, 0, min(n, a.N))
		for _, r := range in[:min(n, a.N)] {
			entries = append(entries, Entry{Value: r.Values[col], At: r.At})
		}
		return list(entries, a.Type)
	}
	return &almanacv1.Value{}
}
