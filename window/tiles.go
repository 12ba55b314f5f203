package window

import (
	"math"
	"sort"
	"time"

	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
)

// Row is one of an entity's rows (after the view's row-level sql) as the
// aggregations see it.
type Row struct {
	At Order
	// Values[i] is aggregation i's column in the row, nil or null for a
	// null; it is not read for a count of rows.
	Values []*almanacv1.Value
}

// Tile is the partial aggregate of the rows of one hop, [Start, Start+hop),
// or of every row for a lifetime.
type Tile struct {
	Start int64 // ms since the Unix epoch, a multiple of the hop; 0 for a lifetime
	Partial
}

// Series is an entity's tiles of one aggregation at one hop.
type Series struct {
	Aggregation int   // index in the view's aggregations
	Hop         int64 // ms; 0 for the lifetime series, which has one tile
	Tiles       []Tile
}

// Set is an entity's tiles: one Series per (aggregation, hop) its view's
// features use, lifetime included. Rows and First say whether the entity
// has a row at a time, so a store that drops tiles older than its largest
// window keeps them: an entity whose rows all left its windows reads 0 and
// null, not not-found. Last is the event time a lookup serves with the
// values (see Latest).
//
// Pending are pushed rows whose event time was after the time they were
// pushed at (see Push): they are not in the tiles, Rows, First or Last, and
// Evaluate takes them only at or after their time. Pushes are the ids of
// the latest pushes taken (see Remember), so that a retried push is not
// counted twice.
type Set struct {
	Rows    int64 // rows taken
	First   int64 // the earliest event time taken, ms; meaningful when Rows > 0
	Last    int64 // the latest event time taken, ms; meaningful when Rows > 0
	Series  []Series
	Pending []Row
	Pushes  []string
}

// NewSet returns an empty Set with a series for each (aggregation, hop)
// pair features use, in the order they first appear.
func NewSet(features []registry.WindowFeature) Set {
	var s Set
	for _, f := range features {
		if s.series(f.Aggregation, f.Window.Hop.Milliseconds()) == nil {
			s.Series = append(s.Series, Series{Aggregation: f.Aggregation, Hop: f.Window.Hop.Milliseconds()})
		}
	}
	return s
}

// Build returns the tiles of an entity's rows.
func Build(aggs []Agg, features []registry.WindowFeature, rows []Row) Set {
	s := NewSet(features)
	for _, r := range rows {
		s.Add(aggs, r)
	}
	return s
}

func (s *Set) series(agg int, hop int64) *Series {
	for i := range s.Series {
		if x := &s.Series[i]; x.Aggregation == agg && x.Hop == hop {
			return x
		}
	}
	return nil
}

// Add takes a row into its tile of every series.
func (s *Set) Add(aggs []Agg, r Row) {
	s.took(1, r.At.Time, r.At.Time)
	for i := range s.Series {
		x := &s.Series[i]
		var v *almanacv1.Value
		if x.Aggregation < len(r.Values) {
			v = r.Values[x.Aggregation]
		}
		aggs[x.Aggregation].Add(&x.tile(registry.HopStart(r.At.Time, x.Hop)).Partial, v, r.At)
	}
}

// Merge merges the tiles of o, a set of the same features over other rows
// of the entity, into s.
func (s *Set) Merge(aggs []Agg, o *Set) {
	if o.Rows == 0 {
		return
	}
	s.took(o.Rows, o.First, o.Last)
	for _, ox := range o.Series {
		x := s.series(ox.Aggregation, ox.Hop)
		if x == nil {
			s.Series = append(s.Series, Series{Aggregation: ox.Aggregation, Hop: ox.Hop})
			x = &s.Series[len(s.Series)-1]
		}
		for i := range ox.Tiles {
			aggs[x.Aggregation].Merge(&x.tile(ox.Tiles[i].Start).Partial, &ox.Tiles[i].Partial)
		}
	}
}

func (s *Set) took(rows, first, last int64) {
	if s.Rows == 0 || first < s.First {
		s.First = first
	}
	if s.Rows == 0 || last > s.Last {
		s.Last = last
	}
	s.Rows += rows
}

// tile returns the tile starting at start, added in order when missing.
func (x *Series) tile(start int64) *Tile {
	i := sort.Search(len(x.Tiles), func(i int) bool { return x.Tiles[i].Start >= start })
	if i == len(x.Tiles) || x.Tiles[i].Start != start {
		x.Tiles = append(x.Tiles, Tile{})
		copy(x.Tiles[i+1:], x.Tiles[i:])
		x.Tiles[i] = Tile{Start: start}
	}
	return &x.Tiles[i]
}

// Evaluate returns the value at t of each feature from s's tiles and its
// pending rows at or before t, and whether the entity has a row at or
// before t; without one the values are nil. The tiles must hold no row
// after t: the value of a window is the merge of the tiles starting in
// [floor(t-w, hop), t], of every tile for a lifetime, and of the pending
// rows in [floor(t-w, hop), t].
func (s *Set) Evaluate(aggs []Agg, features []registry.WindowFeature, t time.Time) ([]*almanacv1.Value, bool) {
	ms := t.UnixMilli()
	if _, ok := s.Latest(t); !ok {
		return nil, false
	}
	out := make([]*almanacv1.Value, len(features))
	var p Partial
	for i, f := range features {
		lo := int64(math.MinInt64)
		if start, ok := f.Window.Start(t); ok {
			lo = start.UnixMilli()
		}
		p = Partial{Recent: p.Recent[:0]}
		a := aggs[f.Aggregation]
		if x := s.series(f.Aggregation, f.Window.Hop.Milliseconds()); x != nil {
			for j := range x.Tiles {
				// The lifetime tile starts at 0 whatever its rows' times.
				if tile := &x.Tiles[j]; x.Hop == 0 || tile.Start >= lo && tile.Start <= ms {
					a.Merge(&p, &tile.Partial)
				}
			}
		}
		for j := range s.Pending {
			if r := &s.Pending[j]; r.At.Time >= lo && r.At.Time <= ms {
				a.Add(&p, pendingValue(r, f.Aggregation), r.At)
			}
		}
		out[i] = a.Result(&p)
	}
	return out, true
}
