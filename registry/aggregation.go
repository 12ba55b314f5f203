package registry

import (
	"fmt"
	"slices"
	"time"
)

// AggFunction is the function of a window aggregation (DESIGN §8).
type AggFunction uint8

// The aggregation functions. Nulls in the aggregated column are ignored by
// every one of them.
const (
	AggInvalid AggFunction = iota
	AggCount               // rows, or with a column its non-null values: int64
	AggSum                 // int64 over integers, float64 over floats
	AggMean                // float64
	AggMin                 // the column's type
	AggMax                 // the column's type
	AggStddev              // sample standard deviation: float64
	AggLast                // the latest event's value, ties by created time
	AggLastN               // the n latest values, newest first: list of the column's type
)

var aggFunctionNames = [...]string{
	AggInvalid: "invalid",
	AggCount:   "count",
	AggSum:     "sum",
	AggMean:    "mean",
	AggMin:     "min",
	AggMax:     "max",
	AggStddev:  "stddev",
	AggLast:    "last",
	AggLastN:   "last_n",
}

func (f AggFunction) String() string {
	if int(f) < len(aggFunctionNames) {
		return aggFunctionNames[f]
	}
	return fmt.Sprintf("aggfunction(%d)", f)
}

// AggFunctionNames lists the functions as written in definitions.
func AggFunctionNames() []string { return aggFunctionNames[AggCount:] }

// ParseAggFunction returns the function written name, and whether there is
// one.
func ParseAggFunction(name string) (AggFunction, bool) {
	for f := AggCount; int(f) < len(aggFunctionNames); f++ {
		if aggFunctionNames[f] == name {
			return f, true
		}
	}
	return AggInvalid, false
}

// ResultType returns the type of f's value over a column of type col, or
// why f cannot aggregate such a column. For count without a column, col is
// the zero Type.
func (f AggFunction) ResultType(col Type) (Type, error) {
	numeric := !col.List && (col.Elem == Int32 || col.Elem == Int64 || col.Elem == Float32 || col.Elem == Float64)
	ordered := numeric || col == TypeString || col == TypeTimestamp
	switch {
	case f == AggCount:
		return TypeInt64, nil
	case !col.Valid():
		return Type{}, fmt.Errorf("%s needs a column; add \"column:\" naming the column to aggregate", f)
	case (f == AggSum || f == AggMean || f == AggStddev) && !numeric:
		return Type{}, fmt.Errorf("%s needs a numeric column (int32, int64, float32, float64), not %s", f, col)
	case (f == AggMin || f == AggMax) && !ordered:
		return Type{}, fmt.Errorf("%s needs a number, string or timestamp column, not %s", f, col)
	case f == AggLastN && col.List:
		return Type{}, fmt.Errorf("last_n needs a scalar column, not %s; use last for the latest list", col)
	}
	switch f {
	case AggSum:
		if col.Elem == Float32 || col.Elem == Float64 {
			return TypeFloat64, nil
		}
		return TypeInt64, nil
	case AggMean, AggStddev:
		return TypeFloat64, nil
	case AggMin, AggMax, AggLast:
		return col, nil
	case AggLastN:
		return ListOf(col.Elem), nil
	}
	return Type{}, fmt.Errorf("unknown aggregation function %d", f)
}

// Lifetime is the window of every row up to the time of the value.
const Lifetime time.Duration = 0

// Aggregation is one entry of a feature view's aggregations: a function
// over a column, in one or more windows.
type Aggregation struct {
	Function AggFunction
	Column   string          // empty: rows (count only)
	Windows  []time.Duration // Lifetime is every row; none written means lifetime only
	Name     string          // the feature's name, when there is one window
	N        int             // how many values last_n keeps
}

// FeatureName returns the name of the feature a computes in window w:
// Name when set, otherwise <column>_<function>_<window>, without the column
// for a count of rows and without the window for a lifetime.
func (a Aggregation) FeatureName(w time.Duration) string {
	if a.Name != "" {
		return a.Name
	}
	name := a.Function.String()
	if a.Column != "" {
		name = a.Column + "_" + name
	}
	if w != Lifetime {
		name += "_" + FormatDuration(w)
	}
	return name
}

// DefaultHop returns the hop of a window of span w in a view without
// aggregation_interval: 5m for windows under 12h, 1h under 12d, 1d beyond.
// A lifetime window has no hop.
func DefaultHop(w time.Duration) time.Duration {
	const day = 24 * time.Hour
	switch {
	case w == Lifetime:
		return 0
	case w < 12*time.Hour:
		return 5 * time.Minute
	case w < 12*day:
		return time.Hour
	}
	return day
}

// Window is the range of rows a windowed feature aggregates at time t:
// event times in [floor(t-Span, Hop), t], hops aligned to the Unix epoch;
// every row up to t when Span is Lifetime.
type Window struct {
	Span time.Duration
	Hop  time.Duration // 0 for a lifetime
}

// Start returns the earliest event time (inclusive) the window takes at t.
// ok is false for a lifetime window, which has no start.
func (w Window) Start(t time.Time) (start time.Time, ok bool) {
	if w.Span == Lifetime {
		return time.Time{}, false
	}
	return time.UnixMilli(HopStart(t.UnixMilli()-w.Span.Milliseconds(), w.Hop.Milliseconds())).UTC(), true
}

// HopStart returns the start of the hop of hop ms holding ms, both in ms:
// ms rounded down to a multiple of hop (hops are aligned to the Unix
// epoch), also before it; 0 for a lifetime (hop 0).
func HopStart(ms, hop int64) int64 {
	if hop == 0 {
		return 0
	}
	r := ms % hop
	if r < 0 {
		r += hop
	}
	return ms - r
}

// WindowFeature is a feature of an aggregated view: one aggregation in one
// window.
type WindowFeature struct {
	Field
	Aggregation int // index in the view's Aggregations
	Window      Window
}

// Features returns the features a computes, one per window in the order
// written, given the type of its column (the zero Type for a count of
// rows) and the view's aggregation_interval (0: the default hops); index
// is a's position in the view's Aggregations. The error says what is wrong
// with a and how to fix it.
func (a Aggregation) Features(index int, col Type, interval time.Duration) ([]WindowFeature, error) {
	switch {
	case a.Function == AggLastN && a.N < 1:
		return nil, fmt.Errorf("last_n needs \"n:\", the number of values to keep (1 or more)")
	case a.Function != AggLastN && a.N != 0:
		return nil, fmt.Errorf("n is only for last_n; remove it")
	case a.Name != "" && len(a.Windows) > 1:
		return nil, fmt.Errorf("name is for an aggregation with one window; remove it, or split the aggregation into one per window")
	}
	typ, err := a.Function.ResultType(col)
	if err != nil {
		return nil, err
	}
	windows := a.Windows
	if len(windows) == 0 {
		windows = []time.Duration{Lifetime}
	}
	out := make([]WindowFeature, 0, len(windows))
	for i, w := range windows {
		if w < 0 {
			return nil, fmt.Errorf("window %s is negative", w)
		}
		if slices.Contains(windows[:i], w) {
			return nil, fmt.Errorf("window %s is written twice; remove one", FormatDuration(w))
		}
		hop := DefaultHop(w)
		if interval > 0 && w != Lifetime {
			hop = interval
		}
		out = append(out, WindowFeature{
			Field:       Field{Name: a.FeatureName(w), Type: typ},
			Aggregation: index,
			Window:      Window{Span: w, Hop: hop},
		})
	}
	return out, nil
}
