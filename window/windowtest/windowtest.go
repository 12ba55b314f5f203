package windowtest

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/proto"

	"github.com/almanac-fs/almanac/internal/values"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
	"github.com/almanac-fs/almanac/window"
)

// Case is one case file.
type Case struct {
	Name         string // the file's name without .yaml
	Description  string
	Interval     time.Duration // aggregation_interval; 0 for the default hops
	Columns      []Column      // the aggregated columns, in file order
	Aggregations []registry.Aggregation
	Features     []registry.WindowFeature // the features the aggregations compute, in order
	Rows         []Row                    // in arrival order
	At           []Point
}

// Column is an aggregated column.
type Column struct {
	Name string
	Type registry.Type
}

// Row is a row of the view.
type Row struct {
	Key     int64
	Time    time.Time
	Created time.Time                   // zero: none
	Values  map[string]*almanacv1.Value // by column; a missing column is null
}

// Point is the expected values of one entity at one time.
type Point struct {
	Key   int64
	T     time.Time
	Found bool               // false: the entity has no row at or before T
	Want  []*almanacv1.Value // one per feature, in order, when Found
}

// Aggs returns the window aggregations of the case.
func (c *Case) Aggs() []window.Agg { return window.Aggs(c.Aggregations, c.Features) }

// EntityRows returns the rows of the entity key, in arrival order, as
// the window package takes them: Seq is the row's position in the file.
func (c *Case) EntityRows(key int64) []window.Row {
	var out []window.Row
	for seq, r := range c.Rows {
		if r.Key != key {
			continue
		}
		wr := window.Row{At: window.Order{Time: r.Time.UnixMilli(), Created: window.NoCreated, Seq: int64(seq)}}
		if !r.Created.IsZero() {
			wr.At.Created = r.Created.UnixMilli()
		}
		for _, a := range c.Aggregations {
			wr.Values = append(wr.Values, r.Values[a.Column])
		}
		out = append(out, wr)
	}
	return out
}

// Load reads every case file (*.yaml) of dir, in name order.
func Load(dir string) ([]*Case, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, fmt.Errorf("list window cases in %s: %w", dir, err)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("list window cases in %s: no *.yaml file", dir)
	}
	var cases []*Case
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read window case: %w", err)
		}
		c, err := Parse(strings.TrimSuffix(filepath.Base(path), ".yaml"), data)
		if err != nil {
			return nil, fmt.Errorf("window case %s: %w", path, err)
		}
		cases = append(cases, c)
	}
	return cases, nil
}

type fileCase struct {
	Description  string
	Interval     string
	Columns      yaml.Node
	Aggregations []struct {
		Function string
		Column   string
		Windows  []string
		Name     string
		N        int
	}
	Rows []map[string]any
	At   []struct {
		Key  *int64
		T    string
		Want yaml.Node
	}
}

// Parse reads one case file's data; name names the case.
func Parse(name string, data []byte) (*Case, error) {
	var f fileCase
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	c := &Case{Name: name, Description: f.Description}
	if f.Description == "" {
		return nil, fmt.Errorf("no description: say which edge case the file is")
	}
	if f.Interval != "" {
		d, err := registry.ParseDuration(f.Interval)
		if err != nil {
			return nil, fmt.Errorf("interval: %w", err)
		}
		c.Interval = d
	}
	types := map[string]registry.Type{}
	if err := parseColumns(&f.Columns, c, types); err != nil {
		return nil, err
	}
	for i, fa := range f.Aggregations {
		fn, ok := registry.ParseAggFunction(fa.Function)
		if !ok {
			return nil, fmt.Errorf("aggregation %d: unknown function %q", i, fa.Function)
		}
		a := registry.Aggregation{Function: fn, Column: fa.Column, Name: fa.Name, N: fa.N}
		for _, w := range fa.Windows {
			d, err := registry.ParseDuration(w)
			if err != nil {
				return nil, fmt.Errorf("aggregation %d: %w", i, err)
			}
			a.Windows = append(a.Windows, d)
		}
		col, ok := types[fa.Column]
		if !ok && fa.Column != "" {
			return nil, fmt.Errorf("aggregation %d: column %q is not in columns", i, fa.Column)
		}
		fs, err := a.Features(i, col, c.Interval)
		if err != nil {
			return nil, fmt.Errorf("aggregation %d: %w", i, err)
		}
		c.Aggregations = append(c.Aggregations, a)
		c.Features = append(c.Features, fs...)
	}
	for i, fr := range f.Rows {
		r, err := parseRow(fr, types)
		if err != nil {
			return nil, fmt.Errorf("row %d: %w", i, err)
		}
		c.Rows = append(c.Rows, r)
	}
	for i, fp := range f.At {
		p, err := c.parsePoint(fp.Key, fp.T, &fp.Want)
		if err != nil {
			return nil, fmt.Errorf("at %d: %w", i, err)
		}
		c.At = append(c.At, p)
	}
	if len(c.At) == 0 {
		return nil, fmt.Errorf("no at: list the values expected")
	}
	return c, nil
}

func parseColumns(n *yaml.Node, c *Case, types map[string]registry.Type) error {
	if n.Kind == 0 {
		return nil // a count of rows only
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("columns: want a mapping of column names to types")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		name := n.Content[i].Value
		t, err := registry.ParseType(n.Content[i+1].Value)
		if err != nil {
			return fmt.Errorf("column %s: %w", name, err)
		}
		c.Columns = append(c.Columns, Column{Name: name, Type: t})
		types[name] = t
	}
	return nil
}

func parseRow(fields map[string]any, types map[string]registry.Type) (Row, error) {
	r := Row{Key: 1, Values: map[string]*almanacv1.Value{}}
	for k, x := range fields {
		switch k {
		case "key":
			key, ok := x.(int)
			if !ok {
				return Row{}, fmt.Errorf("key %v: want an integer", x)
			}
			r.Key = int64(key)
		case "ts", "created":
			v, err := values.FromGo(x, registry.TypeTimestamp)
			if err != nil || v.GetVal() == nil {
				return Row{}, fmt.Errorf("%s %v: want an RFC 3339 time", k, x)
			}
			if k == "ts" {
				r.Time = values.Time(v)
			} else {
				r.Created = values.Time(v)
			}
		default:
			t, ok := types[k]
			if !ok {
				return Row{}, fmt.Errorf("field %q is not key, ts, created or a column", k)
			}
			v, err := values.FromGo(x, t)
			if err != nil {
				return Row{}, fmt.Errorf("column %s: %w", k, err)
			}
			r.Values[k] = v
		}
	}
	if r.Time.IsZero() {
		return Row{}, fmt.Errorf("no ts")
	}
	return r, nil
}

func (c *Case) parsePoint(key *int64, t string, want *yaml.Node) (Point, error) {
	p := Point{Key: 1}
	if key != nil {
		p.Key = *key
	}
	var err error
	if p.T, err = registry.ParseTime(t); err != nil {
		return Point{}, err
	}
	if want.Kind == yaml.ScalarNode && want.Value == "not_found" {
		return p, nil
	}
	var fields map[string]any
	if err := want.Decode(&fields); err != nil {
		return Point{}, fmt.Errorf("want: a mapping of feature names to values, or not_found: %w", err)
	}
	p.Found = true
	for _, f := range c.Features {
		x, ok := fields[f.Name]
		if !ok {
			return Point{}, fmt.Errorf("want has no %s: name every feature", f.Name)
		}
		delete(fields, f.Name)
		v, err := values.FromGo(x, f.Type)
		if err != nil {
			return Point{}, fmt.Errorf("want %s: %w", f.Name, err)
		}
		p.Want = append(p.Want, v)
	}
	for name := range fields {
		return Point{}, fmt.Errorf("want names %s, which is not a feature of the aggregations", name)
	}
	return p, nil
}

// Equal reports whether got and want are the same value, float64 values
// within 1e-9 relative to the larger (absolute under 1).
func Equal(got, want *almanacv1.Value) bool {
	g, okG := got.GetVal().(*almanacv1.Value_DoubleVal)
	w, okW := want.GetVal().(*almanacv1.Value_DoubleVal)
	if okG && okW {
		a, b := g.DoubleVal, w.DoubleVal
		return a == b || (math.IsNaN(a) && math.IsNaN(b)) || math.Abs(a-b) <= 1e-9*max(1, math.Abs(a), math.Abs(b))
	}
	return proto.Equal(got, want)
}

// Diff describes how got differs from want, the values of features in
// order; "" when they are Equal.
func Diff(features []registry.WindowFeature, got, want []*almanacv1.Value) string {
	if len(got) != len(want) {
		return fmt.Sprintf("got %d values, want %d", len(got), len(want))
	}
	var b strings.Builder
	for i := range want {
		if !Equal(got[i], want[i]) {
			fmt.Fprintf(&b, "%s = %s, want %s; ", features[i].Name, show(got[i]), show(want[i]))
		}
	}
	return b.String()
}

// show describes v for Diff, with a list's elements.
func show(v *almanacv1.Value) string {
	d := values.Describe(v)
	if strings.HasPrefix(d, "list<") {
		return fmt.Sprintf("%s %v", d, values.Go(v))
	}
	return d
}
