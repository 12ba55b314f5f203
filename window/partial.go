package window

import (
	"math"

	"github.com/almanac-fs/almanac/internal/values"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
)

// NoCreated is the created time of a row that has none: it loses every
// tie on event time to a row that has one.
const NoCreated int64 = math.MinInt64

// Order places a row among an entity's rows for last and last_n: by event
// time, ties by created time, then by arrival. Distinct rows have distinct
// orders when their arrival sequences differ.
type Order struct {
	Time    int64 // event time, ms since the Unix epoch
	Created int64 // created time in ms, or NoCreated
	Seq     int64 // arrival: a row that arrived later has a greater one
}

// Less reports whether o comes before p: p is the later row.
func (o Order) Less(p Order) bool {
	if o.Time != p.Time {
		return o.Time < p.Time
	}
	if o.Created != p.Created {
		return o.Created < p.Created
	}
	return o.Seq < p.Seq
}

// Agg is an aggregation as its partials need it.
type Agg struct {
	Function registry.AggFunction
	Rows     bool          // a count of rows: every row counts, no column is read
	N        int           // how many values last_n keeps
	Type     registry.Type // the type of the aggregation's features
}

// Aggs returns the Agg of each of a view's aggregations, given its window
// features (FeatureView.Windows), which give each aggregation's type.
func Aggs(aggs []registry.Aggregation, features []registry.WindowFeature) []Agg {
	out := make([]Agg, len(aggs))
	for i, a := range aggs {
		out[i] = Agg{Function: a.Function, Rows: a.Column == "", N: a.N}
	}
	for _, f := range features {
		out[f.Aggregation].Type = f.Type
	}
	return out
}

// Entry is one value of a last_n partial and the order of its row.
type Entry struct {
	Value *almanacv1.Value
	At    Order
}

// Partial is the partial aggregate of one Agg over some rows. Which fields
// hold state depends on the function; the others stay zero. The zero
// Partial aggregates no rows.
type Partial struct {
	Count  int64            // every function: values taken (rows, for a count of rows)
	IntSum int64            // sum, mean: the sum of integer values
	Sum    float64          // sum, mean: the sum of float values
	Mean   float64          // stddev: the mean of the values
	M2     float64          // stddev: the sum of squared deviations from Mean
	Value  *almanacv1.Value // min, max, last: the value so far, nil for none
	At     Order            // last: the order of Value's row
	Recent []Entry          // last_n: up to N values, newest first
}

// Add takes one row's value into p: v is the aggregation's column in the
// row (ignored for a count of rows), of the column's type or null, and at
// the row's order.
func (a Agg) Add(p *Partial, v *almanacv1.Value, at Order) {
	if a.Rows {
		p.Count++
		return
	}
	if v.GetVal() == nil {
		return
	}
	one := Partial{Count: 1}
	switch a.Function {
	case registry.AggMin, registry.AggMax:
		one.Value = v
	case registry.AggLast:
		one.Value, one.At = v, at
	case registry.AggSum, registry.AggMean:
		one.IntSum, one.Sum = values.Number(v)
	case registry.AggStddev:
		i, f := values.Number(v)
		one.Mean = float64(i) + f
	case registry.AggLastN:
		var buf [1]Entry
		buf[0] = Entry{Value: v, At: at}
		one.Recent = buf[:]
	}
	a.Merge(p, &one)
}

// Merge merges src into dst: afterwards dst aggregates the rows of both.
// Merging is associative and commutative: exactly for count, integer sums,
// min, max, last and last_n, up to float rounding for float sums, mean and
// stddev. last and last_n pick rows by Order, so they need distinct rows to
// have distinct Orders (distinct Seq when time and created tie): rows with
// equal Orders would make the pick depend on the merge order. dst never
// shares src's memory.
func (a Agg) Merge(dst, src *Partial) {
	if src.Count == 0 {
		return
	}
	if dst.Count == 0 {
		recent := dst.Recent[:0]
		*dst = *src
		dst.Recent = mergeRecent(recent, src.Recent, a.N)
		return
	}
	n := dst.Count + src.Count
	switch a.Function {
	case registry.AggSum, registry.AggMean:
		dst.IntSum += src.IntSum
		dst.Sum += src.Sum
	case registry.AggStddev:
		// Chan et al.'s parallel update of the mean and M2.
		delta := src.Mean - dst.Mean
		dst.Mean += delta * float64(src.Count) / float64(n)
		dst.M2 += src.M2 + delta*delta*float64(dst.Count)*float64(src.Count)/float64(n)
	case registry.AggMin:
		if dst.Value == nil || values.Less(src.Value, dst.Value) {
			dst.Value = src.Value
		}
	case registry.AggMax:
		if dst.Value == nil || values.Less(dst.Value, src.Value) {
			dst.Value = src.Value
		}
	case registry.AggLast:
		if dst.Value == nil || dst.At.Less(src.At) {
			dst.Value, dst.At = src.Value, src.At
		}
	case registry.AggLastN:
		dst.Recent = mergeRecent(dst.Recent, src.Recent, a.N)
	}
	dst.Count = n
}

// mergeRecent returns the n newest entries of dst and src, newest first,
// in dst's memory (grown to n entries when it is too small).
func mergeRecent(dst, src []Entry, n int) []Entry {
	// Count how many of the n newest come from each, then merge from the
	// back so that dst's entries move only to places already read.
	i, j := 0, 0
	for i+j < n && (i < len(dst) || j < len(src)) {
		if j == len(src) || (i < len(dst) && src[j].At.Less(dst[i].At)) {
			i++
		} else {
			j++
		}
	}
	k := i + j
	if cap(dst) < k {
		grown := make([]Entry, i, n)
		copy(grown, dst[:i])
		dst = grown
	}
	dst = dst[:k]
	i, j = i-1, j-1
	for w := k - 1; j >= 0; w-- {
		if i >= 0 && dst[i].At.Less(src[j].At) {
			dst[w] = dst[i]
			i--
		} else {
			dst[w] = src[j]
			j--
		}
	}
	return dst
}

// Result returns the value of the aggregation over p's rows (DESIGN §8):
// with no values, 0 for count and sum, an empty list for last_n, null for
// the others; null for stddev under 2 values.
func (a Agg) Result(p *Partial) *almanacv1.Value {
	switch a.Function {
	case registry.AggCount:
		return values.Int64(p.Count)
	case registry.AggSum:
		if a.Type.Elem == registry.Float64 {
			return values.Float64(p.Sum)
		}
		return values.Int64(p.IntSum)
	case registry.AggMean:
		if p.Count > 0 {
			return values.Float64((float64(p.IntSum) + p.Sum) / float64(p.Count))
		}
	case registry.AggStddev:
		if p.Count > 1 {
			return values.Float64(math.Sqrt(max(p.M2, 0) / float64(p.Count-1)))
		}
	case registry.AggMin, registry.AggMax, registry.AggLast:
		if p.Value != nil {
			return p.Value
		}
	case registry.AggLastN:
		return list(p.Recent, a.Type)
	}
	return &almanacv1.Value{}
}

// list returns the values of entries as a value of list type t.
func list(entries []Entry, t registry.Type) *almanacv1.Value {
	elems := make([]*almanacv1.Value, len(entries))
	for i, e := range entries {
		elems[i] = e.Value
	}
	return values.ListOf(t, elems)
}
