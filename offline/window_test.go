package offline_test

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/almanac-fs/almanac/registry"
)

// aggregate turns the views of c that have aggregations into aggregated
// views of defs, as the definitions' decoder does for "aggregations:": the
// case's definitions declare them as plain views of their columns, which
// materialize checks their input against.
func (c *pitCase) aggregate(defs *registry.Definitions) error {
	for _, pv := range c.Views {
		if pv.Aggs.Cols == nil {
			continue
		}
		aggs, err := pv.aggregations()
		if err != nil {
			return fmt.Errorf("view %s: %w", pv.Name, err)
		}
		var interval time.Duration
		if pv.Interval != "" {
			if interval, err = registry.ParseDuration(pv.Interval); err != nil {
				return fmt.Errorf("view %s: interval: %w", pv.Name, err)
			}
		}
		v := defs.View(pv.Name)
		v.Aggregations, v.AggregationInterval, v.Features, v.Windows = aggs, interval, nil, nil
		for i, a := range aggs {
			var col registry.Type
			if a.Column != "" {
				j := pv.History.col(a.Column)
				if j < 0 {
					return fmt.Errorf("view %s: aggregation %d: no column %q", pv.Name, i+1, a.Column)
				}
				if col, err = registry.ParseType(pv.History.Cols[j].Type); err != nil {
					return err
				}
			}
			wfs, err := a.Features(i, col, interval)
			if err != nil {
				return fmt.Errorf("view %s: aggregation %d: %w", pv.Name, i+1, err)
			}
			for _, wf := range wfs {
				v.Windows = append(v.Windows, wf)
				v.Features = append(v.Features, wf.Field)
			}
		}
	}
	return nil
}

// aggregations parses the view's aggregations block.
func (pv *pitView) aggregations() ([]registry.Aggregation, error) {
	if !slices.Equal(pv.Aggs.names(), []string{"function", "column", "windows", "name", "n"}) {
		return nil, fmt.Errorf("aggregations header %q, want function column windows name n", pv.Aggs.names())
	}
	var out []registry.Aggregation
	for _, row := range pv.Aggs.Rows {
		f, ok := registry.ParseAggFunction(row[0])
		if !ok {
			return nil, fmt.Errorf("unknown function %q", row[0])
		}
		a := registry.Aggregation{Function: f, Column: dash(row[1]), Name: dash(row[3])}
		windows, err := splitList(row[2])
		if err != nil {
			return nil, err
		}
		for _, w := range windows {
			d := registry.Lifetime
			if w != "lifetime" {
				if d, err = registry.ParseDuration(w); err != nil {
					return nil, err
				}
			}
			a.Windows = append(a.Windows, d)
		}
		if n := dash(row[4]); n != "" {
			if a.N, err = strconv.Atoi(n); err != nil {
				return nil, err
			}
		}
		out = append(out, a)
	}
	return out, nil
}

// dash reads "-" as empty.
func dash(tok string) string {
	if tok == "-" {
		return ""
	}
	return tok
}

func (tb *pitTable) names() []string {
	out := make([]string, len(tb.Cols))
	for i, c := range tb.Cols {
		out[i] = c.Name
	}
	return out
}
