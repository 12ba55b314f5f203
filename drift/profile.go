package drift

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/almanac-fs/almanac/internal/duck"
	"github.com/almanac-fs/almanac/internal/fsutil"
	valuetypes "github.com/almanac-fs/almanac/internal/values"
	"github.com/almanac-fs/almanac/registry"
)

// Profile sizes.
const (
	// SampleSize is how many values of a numeric feature a profile keeps
	// (evenly spaced order statistics of the sorted values), for the KS test
	// and the Wasserstein distance.
	SampleSize = 10000
	// TopCategories is how many categories of a categorical feature a
	// profile keeps; the rest are counted together.
	TopCategories = 50
)

// QuantileProbs are the probabilities of a profile's quantiles; the inner
// ones are the edges of the PSI bins.
var QuantileProbs = []float64{0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1}

// Profile describes the distribution of each feature of some data.
type Profile struct {
	CreatedAt time.Time         `json:"created_at"`
	Source    string            `json:"source"` // what was profiled
	Rows      int64             `json:"rows"`
	Features  []*FeatureProfile `json:"features"`
}

// FeatureProfile is the statistics of one feature.
type FeatureProfile struct {
	Feature string `json:"feature"` // view:feature
	Column  string `json:"column"`  // the column it was read from
	Type    string `json:"type"`
	Kind    Kind   `json:"kind"`
	Count   int64  `json:"count"` // rows, nulls included
	Nulls   int64  `json:"nulls"`

	// Numeric features.
	Min       *float64  `json:"min,omitempty"`
	Max       *float64  `json:"max,omitempty"`
	Mean      *float64  `json:"mean,omitempty"`
	Std       *float64  `json:"std,omitempty"` // sample standard deviation
	Quantiles []float64 `json:"quantiles,omitempty"`
	// Histogram counts the values in the bins whose edges are the inner
	// quantiles (see BinCounts).
	Histogram []float64 `json:"histogram,omitempty"`
	// Sample holds up to SampleSize order statistics, sorted.
	Sample []float64 `json:"sample,omitempty"`

	// Categorical features.
	Categories []Category `json:"categories,omitempty"` // most frequent first
	Other      int64      `json:"other,omitempty"`      // values outside Categories
}

// Kind is how a feature's values are compared.
type Kind string

// Kinds of features.
const (
	Numeric     Kind = "numeric"
	Categorical Kind = "categorical"
)

// Category is one value of a categorical feature and how often it occurs.
type Category struct {
	Value string `json:"value"`
	Count int64  `json:"count"`
}

// NullRate returns the share of null values.
func (f *FeatureProfile) NullRate() float64 {
	if f.Count == 0 {
		return 0
	}
	return float64(f.Nulls) / float64(f.Count)
}

// Column names a feature to profile and the column holding it.
type Column struct {
	Feature string // view:feature
	Name    string // column in the data
	Type    registry.Type
}

// KindOf returns how features of type t are compared, or false when they
// are not profiled (lists, bytes, timestamps).
func KindOf(t registry.Type) (Kind, bool) {
	k := valuetypes.KindOf(t.Elem)
	switch {
	case t.List || k == nil:
		return "", false
	case k.Profile == valuetypes.Numeric:
		return Numeric, true
	case k.Profile == valuetypes.Categorical:
		return Categorical, true
	}
	return "", false
}

// values are the non-null values of one column, read in one pass.
type values struct {
	col     Column
	kind    Kind
	nums    []float64
	cats    map[string]int64
	nulls   int64
	nonNull int64
}

// read runs query and collects the values of cols (which must be its
// columns, in order) in one pass over its rows.
func read(ctx context.Context, db *duck.DB, query string, cols []Column) ([]*values, int64, error) {
	vals := make([]*values, len(cols))
	dest := make([]any, len(cols))
	for i, c := range cols {
		k, ok := KindOf(c.Type)
		if !ok {
			return nil, 0, fmt.Errorf("feature %s of type %s cannot be profiled", c.Feature, c.Type)
		}
		vals[i] = &values{col: c, kind: k}
		if k == Numeric {
			dest[i] = new(sql.NullFloat64)
		} else {
			vals[i].cats = map[string]int64{}
			dest[i] = new(sql.NullString)
		}
	}
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var n int64
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, 0, err
		}
		n++
		for i, v := range vals {
			switch d := dest[i].(type) {
			case *sql.NullFloat64:
				if !d.Valid || math.IsNaN(d.Float64) || math.IsInf(d.Float64, 0) {
					v.nulls++
					continue
				}
				v.nums = append(v.nums, d.Float64)
			case *sql.NullString:
				if !d.Valid {
					v.nulls++
					continue
				}
				v.cats[d.String]++
			}
			v.nonNull++
		}
	}
	return vals, n, rows.Err()
}

// selectList casts each column for reading: numbers as DOUBLE, categories
// as text.
func selectList(cols []Column) string {
	out := ""
	for i, c := range cols {
		if i > 0 {
			out += ", "
		}
		k, _ := KindOf(c.Type)
		typ := "DOUBLE"
		if k == Categorical {
			typ = "VARCHAR"
		}
		out += fmt.Sprintf("CAST(%s AS %s)", duck.Ident(c.Name), typ)
	}
	return out
}

// Compute profiles the columns of the rows relation (a table, a
// read_parquet(...) call or a subquery) in one pass over the data.
func Compute(ctx context.Context, db *duck.DB, relation string, cols []Column, source string) (*Profile, error) {
	vals, n, err := read(ctx, db, fmt.Sprintf("SELECT %s FROM %s", selectList(cols), relation), cols)
	if err != nil {
		return nil, fmt.Errorf("profile %s: %w", source, err)
	}
	p := &Profile{CreatedAt: time.Now().UTC(), Source: source, Rows: n}
	for _, v := range vals {
		p.Features = append(p.Features, v.profile(n))
	}
	return p, nil
}

func (v *values) profile(rows int64) *FeatureProfile {
	f := &FeatureProfile{Feature: v.col.Feature, Column: v.col.Name, Type: v.col.Type.String(), Kind: v.kind, Count: rows, Nulls: v.nulls}
	if v.kind == Categorical {
		cats := make([]Category, 0, len(v.cats))
		for val, c := range v.cats {
			cats = append(cats, Category{val, c})
		}
		slices.SortFunc(cats, func(a, b Category) int { return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Value, b.Value)) })
		if len(cats) > TopCategories {
			for _, c := range cats[TopCategories:] {
				f.Other += c.Count
			}
			cats = cats[:TopCategories]
		}
		f.Categories = cats
		return f
	}
	if len(v.nums) == 0 {
		return f
	}
	sorted := SortedCopy(v.nums)
	s := Summarize(sorted)
	f.Min, f.Max, f.Mean = &s.Min, &s.Max, &s.Mean
	if !math.IsNaN(s.Std) {
		f.Std = &s.Std
	}
	f.Quantiles = QuantilesSorted(sorted, QuantileProbs)
	f.Histogram = BinCounts(f.edges(), sorted)
	f.Sample = orderStatistics(sorted, SampleSize)
	return f
}

// edges are the PSI bin edges: the inner quantiles.
func (f *FeatureProfile) edges() []float64 {
	if len(f.Quantiles) < 3 {
		return nil
	}
	return f.Quantiles[1 : len(f.Quantiles)-1]
}

// orderStatistics returns n evenly spaced values of sorted (all of them when
// there are no more than n).
func orderStatistics(sorted []float64, n int) []float64 {
	if len(sorted) <= n {
		return slices.Clone(sorted)
	}
	out := make([]float64, n)
	for i := range n {
		out[i] = sorted[int(float64(i)*float64(len(sorted)-1)/float64(n-1)+0.5)]
	}
	return out
}

// Save writes the profile as JSON, atomically, creating its directory.
func (p *Profile) Save(path string) error {
	data, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode profile: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("save profile: %w", err)
	}
	return fsutil.WriteFileAtomic(path, data)
}

// Load reads a profile written by Save.
func Load(path string) (*Profile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read profile: %w", err)
	}
	p := &Profile{}
	if err := json.Unmarshal(data, p); err != nil {
		return nil, fmt.Errorf("read profile %s: %w", path, err)
	}
	return p, nil
}

// Feature returns the profile of feature (view:feature), or nil.
func (p *Profile) Feature(feature string) *FeatureProfile {
	for _, f := range p.Features {
		if f.Feature == feature {
			return f
		}
	}
	return nil
}
