package registry

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// anyColumn stands for an aggregated column whose type is not known yet:
// every function takes a float64, so Aggregation.Features then checks
// everything that does not depend on the column's type and names the
// features.
var anyColumn = TypeFloat64

// maxLastN is the most values a last_n aggregation keeps: every tile of
// its windows holds that many.
const maxLastN = 1000

// aggregations parses the view's aggregations and aggregation_interval
// (DESIGN §8), adding a problem at the line of each mistake. generated are
// the features they compute, in order, without types: those wait for the
// aggregated columns' (see windowFeatures). bad reports a problem added.
func (d *decoder) aggregations(r *rawView) (aggs []Aggregation, interval time.Duration, generated []Field, bad bool) {
	before := len(*d.probs)
	defer func() { bad = len(*d.probs) > before }()
	interval, ok := d.duration("aggregation_interval", r.AggregationInterval, "aggregation interval", "remove it to use each window's default hop")
	switch {
	case r.AggregationInterval == "":
	case len(r.Aggregations) == 0:
		d.problem(d.at("aggregation_interval"), "aggregation_interval is the hop of the view's windows, but it has no aggregations; add \"aggregations:\" or remove \"aggregation_interval:\"")
	case ok && interval <= 0:
		d.problem(d.at("aggregation_interval"), "aggregation_interval must be longer than 0, such as 5m; or remove it to use each window's default hop")
	}
	if len(r.Aggregations) == 0 {
		return nil, 0, nil, false
	}
	if len(r.Features) > 0 {
		d.problem(d.at("features"), "an aggregated view has no \"features:\": its aggregations name and type the features; remove \"features:\"")
	}
	if r.TTL != "" {
		d.problem(d.at("ttl"), "an aggregated view has no ttl: its windows bound the rows each value takes; remove \"ttl:\"")
	}
	first := make(map[string]int) // generated name -> aggregation number
	for i, ra := range r.Aggregations {
		at := func(path ...string) Pos { return d.at(append([]string{"aggregations", strconv.Itoa(i)}, path...)...) }
		a, ok := d.aggregation(i, ra, at)
		aggs = append(aggs, a)
		if !ok {
			continue
		}
		col := Type{}
		if a.Column != "" {
			col = anyColumn
		}
		feats, err := a.Features(i, col, interval)
		if err != nil {
			d.problem(at(), "aggregation %d: %v", i+1, err)
			continue
		}
		for _, f := range feats {
			if j, dup := first[f.Name]; dup {
				d.problem(at(), "aggregation %d computes feature %q, as aggregation %d does; give one a \"name:\" or change its windows", i+1, f.Name, j)
				continue
			}
			if a.Name == "" && !ValidName(f.Name) {
				d.problem(at(), "aggregation %d computes feature %q, not a valid name; add \"name:\" with a name such as %q", i+1, Clip(f.Name), SuggestName(f.Name))
			}
			first[f.Name] = i + 1
			generated = append(generated, Field{Name: f.Name})
		}
	}
	return aggs, interval, generated, false
}

// aggregation parses the i-th aggregation, at gives the lines of its fields.
// ok is false when a problem was added.
func (d *decoder) aggregation(i int, r rawAggregation, at func(...string) Pos) (a Aggregation, ok bool) {
	ok = true
	f, known := ParseAggFunction(r.Function)
	switch {
	case r.Function == "":
		d.problem(at(), "aggregation %d has no function; add \"function:\" with one of %s", i+1, strings.Join(AggFunctionNames(), ", "))
		ok = false
	case !known:
		d.problem(at("function"), "aggregation %d: unknown function %q%s", i+1, Clip(r.Function), orList(r.Function, AggFunctionNames()))
		ok = false
	}
	if r.N > maxLastN {
		d.problem(at("n"), "aggregation %d: n %d is more than %d, the most values last_n keeps; lower it", i+1, r.N, maxLastN)
		ok = false
	}
	if r.Name != "" && !ValidName(r.Name) {
		d.problem(at("name"), "aggregation %d: %s", i+1, NameProblem(r.Name))
		ok = false
	}
	a = Aggregation{Function: f, Column: r.Column, Name: r.Name, N: r.N}
	for j, s := range r.Windows {
		pos := at("windows", strconv.Itoa(j))
		label := fmt.Sprintf("aggregation %d window", i+1)
		remedy := "leave \"windows:\" out for a lifetime window (every row)"
		w, valid := d.durationAt(pos, label, s, "window", remedy)
		switch {
		case !valid:
			ok = false
		case w <= 0:
			d.problem(pos, "%s %s must be longer than 0; write a span such as 1h or 7d, or %s", label, Clip(s), remedy)
			ok = false
		}
		a.Windows = append(a.Windows, w)
	}
	return a, ok
}

// standInFeatures returns the features of v's aggregations with anyColumn
// standing for every aggregated column's type: their names and windows,
// before the columns' types are known. Aggregations the decoder found wrong
// compute none.
func (v *FeatureView) standInFeatures() []WindowFeature {
	var out []WindowFeature
	for i, a := range v.Aggregations {
		col := Type{}
		if a.Column != "" {
			col = anyColumn
		}
		feats, _ := a.Features(i, col, v.AggregationInterval)
		out = append(out, feats...)
	}
	return out
}

// aggregatesColumns reports whether any of v's aggregations has a column,
// whose type its features' depend on.
func (v *FeatureView) aggregatesColumns() bool {
	for _, a := range v.Aggregations {
		if a.Column != "" {
			return true
		}
	}
	return false
}

// windowFeatures checks v's aggregations against cols, the columns of its
// input (called input in messages), and returns the features they compute.
// When one cannot, it adds a problem at that aggregation's line and returns
// nil.
func windowFeatures(v *FeatureView, cols []Column, input string, probs *Problems) []WindowFeature {
	obj := fmt.Sprintf("feature view %q", Clip(v.Name))
	colNames := make([]string, len(cols))
	for i, c := range cols {
		colNames[i] = c.Name
	}
	var out []WindowFeature
	ok := true
	for i, a := range v.Aggregations {
		at := func(path ...string) Pos {
			return posIn(v.Pos, v.node, append([]string{"aggregations", strconv.Itoa(i)}, path...)...)
		}
		var col Type
		if a.Column != "" {
			j := slices.Index(colNames, a.Column)
			if j < 0 {
				probs.add(at("column"), obj, "aggregation %d: %s has no column %q to aggregate%s", i+1, input, Clip(a.Column), DidYouMean(a.Column, colNames))
				ok = false
				continue
			}
			if col = cols[j].Type; !col.Valid() {
				probs.add(at("column"), obj, "aggregation %d: %s column %q is %s, which Almanac cannot aggregate; cast it in the view's sql", i+1, input, Clip(a.Column), cols[j].describe())
				ok = false
				continue
			}
		}
		feats, err := a.Features(i, col, v.AggregationInterval)
		if err != nil {
			probs.add(at(), obj, "aggregation %d over %s column %q: %v", i+1, input, Clip(a.Column), err)
			ok = false
			continue
		}
		out = append(out, feats...)
	}
	if !ok {
		return nil
	}
	return out
}

// checkWindowTypes adds a problem for every feature of feats, computed from
// v's input, whose type v's resolved features cannot hold: the input's
// column types changed since v was resolved.
func checkWindowTypes(v *FeatureView, feats []WindowFeature, input string, probs *Problems) {
	if len(feats) != len(v.Features) {
		return
	}
	obj := fmt.Sprintf("feature view %q", Clip(v.Name))
	for i, f := range feats {
		if have := v.Features[i].Type; !Convertible(f.Type, have) {
			a := v.Aggregations[f.Aggregation]
			probs.add(posIn(v.Pos, v.node, "aggregations", strconv.Itoa(f.Aggregation)), obj,
				"feature %q is %s, but %s column %q now makes it %s; cast the column in the view's sql, or apply the definitions again",
				f.Name, have, input, Clip(a.Column), f.Type)
		}
	}
}

// setWindows makes feats, computed by v's aggregations, v's features.
func (v *FeatureView) setWindows(feats []WindowFeature) {
	v.Windows = feats
	v.Features = make([]Field, len(feats))
	for i, f := range feats {
		v.Features[i] = f.Field
	}
}

// resolved reports whether v's features have their types: always for a
// plain view, once the aggregated columns' types are known for an
// aggregated one.
func (v *FeatureView) resolved() bool { return !v.Aggregated() || v.Windows != nil }

// featureNames returns the names of v's features, known for an aggregated
// view before their types are.
func (v *FeatureView) featureNames() []string {
	if v.resolved() {
		return fieldNames(v.Features)
	}
	var names []string
	for _, f := range v.standInFeatures() {
		names = append(names, f.Name)
	}
	return names
}

// DescribeWindow says how w, a feature of v, is computed, as in
// "sum(fare) over 7d, hop 1h", "count(*) over lifetime" or
// "last_n(pickup_zone, 5) over 1d, hop 1h".
func (v *FeatureView) DescribeWindow(w WindowFeature) string {
	s := v.Aggregations[w.Aggregation].call() + " over "
	if w.Window.Span == Lifetime {
		return s + "lifetime"
	}
	return s + FormatDuration(w.Window.Span) + ", hop " + FormatDuration(w.Window.Hop)
}

// call renders the function applied to the column: "sum(fare)",
// "count(*)", "last_n(zone, 5)".
func (a Aggregation) call() string {
	arg := a.Column
	if arg == "" {
		arg = "*"
	}
	if a.Function == AggLastN {
		arg += ", " + strconv.Itoa(a.N)
	}
	return a.Function.String() + "(" + arg + ")"
}

// text renders a for plans: "sum(fare) over 1d, 7d", "max(fare) over 1h
// as max_fare_last_hour", "count(*) over lifetime".
func (a Aggregation) text() string {
	windows := make([]string, len(a.Windows))
	for i, w := range a.Windows {
		windows[i] = FormatDuration(w)
	}
	if len(windows) == 0 {
		windows = []string{"lifetime"}
	}
	s := a.call() + " over " + strings.Join(windows, ", ")
	if a.Name != "" {
		s += " as " + a.Name
	}
	return s
}
