package window_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/almanac-fs/almanac/internal/values"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
	"github.com/almanac-fs/almanac/window"
	"github.com/almanac-fs/almanac/window/windowtest"
)

// randomSet returns random aggregations, their features, a time and an
// entity's rows up to it.
func randomSet(r *rand.Rand) ([]window.Agg, []registry.WindowFeature, []window.Row, time.Time) {
	aggs, features := randomAggregations(r)
	rows := randomRows(r, len(aggs), aggs)[r.IntN(3)]
	now := randomTime(r, rows, features)
	var upToNow []window.Row
	for _, row := range rows {
		if row.At.Time <= now.UnixMilli() {
			upToNow = append(upToNow, row)
		}
	}
	return aggs, features, upToNow, now
}

// TestSetRoundTrip encodes random sets and decodes them, each into the Set
// the one before was decoded into: the decoded set has the fields of the
// set and gives the same values.
func TestSetRoundTrip(t *testing.T) {
	var got window.Set // reused, as a lookup reuses it: holds the set before
	for seed := range uint64(500) {
		r := rand.New(rand.NewPCG(seed, 21))
		aggs, features, rows, now := randomSet(r)
		set := window.Build(aggs, features, rows)
		if r.IntN(2) == 0 {
			set.Trim(features, now)
		}
		c := window.NewCodec(aggs, features)
		rec, err := c.AppendSet(nil, &set)
		if err != nil {
			t.Fatalf("seed %d: AppendSet: %v", seed, err)
		}
		found, err := c.DecodeSet(&got, string(rec))
		if err != nil || !found {
			t.Fatalf("seed %d: DecodeSet = found %t, %v; want found", seed, found, err)
		}
		if d := diffSets(&got, &set); d != "" {
			t.Fatalf("seed %d: decoded set differs: %s", seed, d)
		}
		for _, at := range []time.Time{now, now.Add(time.Hour), now.Add(8 * day)} {
			gotValues, gotFound := got.Evaluate(aggs, features, at)
			wantValues, wantFound := set.Evaluate(aggs, features, at)
			if gotFound != wantFound {
				t.Fatalf("seed %d at %s: found = %t, want %t", seed, at, gotFound, wantFound)
			}
			if d := windowtest.Diff(features, gotValues, wantValues); d != "" {
				t.Fatalf("seed %d at %s: %s", seed, at, d)
			}
		}
	}
}

// diffSets says how got differs from want, field by field; "" when they
// are equal. A series with no tiles equals a missing one.
func diffSets(got, want *window.Set) string {
	if got.Rows != want.Rows || (want.Rows > 0 && (got.First != want.First || got.Last != want.Last)) {
		return fmt.Sprintf("rows %d first %d last %d, want rows %d first %d last %d", got.Rows, got.First, got.Last, want.Rows, want.First, want.Last)
	}
	tiles := func(s *window.Set, agg int, hop int64) []window.Tile {
		for _, x := range s.Series {
			if x.Aggregation == agg && x.Hop == hop {
				return x.Tiles
			}
		}
		return nil
	}
	for _, x := range append(append([]window.Series(nil), want.Series...), got.Series...) {
		g, w := tiles(got, x.Aggregation, x.Hop), tiles(want, x.Aggregation, x.Hop)
		if len(g) != len(w) {
			return fmt.Sprintf("aggregation %d hop %d: %d tiles, want %d", x.Aggregation, x.Hop, len(g), len(w))
		}
		for i := range g {
			if d := diffPartials(&g[i].Partial, &w[i].Partial); d != "" || g[i].Start != w[i].Start {
				return fmt.Sprintf("aggregation %d hop %d tile %d: start %d, want %d: %s", x.Aggregation, x.Hop, i, g[i].Start, w[i].Start, d)
			}
		}
	}
	return ""
}

func diffPartials(got, want *window.Partial) string {
	g, w := *got, *want
	if !proto.Equal(g.Value, w.Value) {
		return fmt.Sprintf("value %v, want %v", g.Value, w.Value)
	}
	if len(g.Recent) != len(w.Recent) {
		return fmt.Sprintf("%d recent, want %d", len(g.Recent), len(w.Recent))
	}
	for i := range g.Recent {
		if !proto.Equal(g.Recent[i].Value, w.Recent[i].Value) || g.Recent[i].At != w.Recent[i].At {
			return fmt.Sprintf("recent %d: %v at %+v, want %v at %+v", i, g.Recent[i].Value, g.Recent[i].At, w.Recent[i].Value, w.Recent[i].At)
		}
	}
	g.Value, w.Value, g.Recent, w.Recent = nil, nil, nil, nil
	if !reflect.DeepEqual(g, w) {
		return fmt.Sprintf("%+v, want %+v", g, w)
	}
	return ""
}

// TestDecodeSetRefuses decodes records that are not a set of the codec's
// view: written for another definition (none, no error), or malformed (an
// error wrapping ErrCorrupt).
func TestDecodeSetRefuses(t *testing.T) {
	aggs, features, rec := codecRecord(t)
	tests := []struct {
		name    string
		aggs    []window.Agg
		rec     string
		corrupt string // "" for none found without an error
	}{
		{"another function", replaceAgg(aggs, 1, window.Agg{Function: registry.AggMean, Type: registry.TypeFloat64}), rec, ""},
		{"another column type", replaceAgg(aggs, 1, window.Agg{Function: registry.AggSum, Type: registry.TypeInt64}), rec, ""},
		{"another n", replaceAgg(aggs, 3, window.Agg{Function: registry.AggLastN, N: 2, Type: registry.ListOf(registry.String)}), rec, ""},
		{"a plain record", aggs, "\x01" + rec[1:], "version 1"},
		{"short", aggs, rec[:10], "shorter than"},
		{"truncated", aggs, rec[:len(rec)-1], "at byte"},
		{"trailing bytes", aggs, rec + "\x00", "1 bytes left over"},
		{"rows below a count", aggs, rec[:13] + "\x00" + rec[14:], "above the set's 0 rows"},
		{"latest out of range", aggs, rec[:14] + "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01" + rec[15:], "latest event time out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got window.Set
			found, err := window.NewCodec(tt.aggs, features).DecodeSet(&got, tt.rec)
			if tt.corrupt == "" {
				if err != nil || found {
					t.Fatalf("got found %t, %v; want none, no error", found, err)
				}
				return
			}
			if !errors.Is(err, window.ErrCorrupt) || !strings.Contains(err.Error(), tt.corrupt) {
				t.Fatalf("got %+v, found %t, %v; want ErrCorrupt saying %q", got, found, err, tt.corrupt)
			}
		})
	}
	t.Run("another hop", func(t *testing.T) {
		other := append([]registry.WindowFeature(nil), features...)
		other[0].Window.Hop = 10 * time.Minute
		var got window.Set
		if found, err := window.NewCodec(aggs, other).DecodeSet(&got, rec); err != nil || found {
			t.Fatalf("got found %t, %v; want none, no error", found, err)
		}
	})
}

func replaceAgg(aggs []window.Agg, i int, a window.Agg) []window.Agg {
	out := append([]window.Agg(nil), aggs...)
	out[i] = a
	return out
}

// codecView returns the aggregations of a view with count, sum and mean of
// a float64, last_n (n 3) and last of a string, over 1h, 1d and 7d windows,
// and its features.
func codecView() ([]window.Agg, []registry.WindowFeature) {
	defs := []struct {
		a   registry.Aggregation
		col registry.Type
	}{
		{registry.Aggregation{Function: registry.AggCount}, registry.Type{}},
		{registry.Aggregation{Function: registry.AggSum, Column: "fare"}, registry.TypeFloat64},
		{registry.Aggregation{Function: registry.AggMean, Column: "fare"}, registry.TypeFloat64},
		{registry.Aggregation{Function: registry.AggLastN, Column: "zone", N: 3}, registry.TypeString},
		{registry.Aggregation{Function: registry.AggLast, Column: "zone"}, registry.TypeString},
	}
	var aggs []registry.Aggregation
	var features []registry.WindowFeature
	for i, d := range defs {
		d.a.Windows = []time.Duration{time.Hour, day, 7 * day}
		fs, err := d.a.Features(i, d.col, 0)
		if err != nil {
			panic(err)
		}
		aggs = append(aggs, d.a)
		features = append(features, fs...)
	}
	return window.Aggs(aggs, features), features
}

// codecRecord returns codecView's view and the record of one row of it.
func codecRecord(t testing.TB) ([]window.Agg, []registry.WindowFeature, string) {
	t.Helper()
	aggs, features := codecView()
	row := window.Row{At: window.Order{Time: base.UnixMilli(), Created: window.NoCreated}, Values: []*almanacv1.Value{nil, values.Float64(2.5), values.Float64(2.5), values.String("a"), values.String("a")}}
	set := window.Build(aggs, features, []window.Row{row})
	rec, err := window.NewCodec(aggs, features).AppendSet(nil, &set)
	if err != nil {
		t.Fatal(err)
	}
	return aggs, features, string(rec)
}

// TestTrimKeepsValues trims random sets at a time after their rows: at that
// time and any later one every feature reads the same from the trimmed set
// as from the whole one, and trimming drops tiles.
func TestTrimKeepsValues(t *testing.T) {
	dropped := 0
	for seed := range uint64(500) {
		r := rand.New(rand.NewPCG(seed, 22))
		aggs, features, upToNow, now := randomSet(r)
		whole := window.Build(aggs, features, upToNow)
		trimmed := window.Build(aggs, features, upToNow)
		trimmed.Trim(features, now)
		dropped += tileCount(&whole) - tileCount(&trimmed)
		for _, later := range []time.Duration{0, 1, time.Minute, 5*time.Minute - 1, time.Hour, 13 * time.Hour, day + time.Millisecond, 7*day + 1, 400 * day} {
			at := now.Add(later)
			if later == time.Minute {
				at = now.Add(time.Duration(r.Int64N(int64(8 * day))))
			}
			got, gotFound := trimmed.Evaluate(aggs, features, at)
			want, wantFound := whole.Evaluate(aggs, features, at)
			if gotFound != wantFound {
				t.Fatalf("seed %d, trimmed at %s, at %s: found = %t, want %t", seed, now, at, gotFound, wantFound)
			}
			if d := windowtest.Diff(features, got, want); d != "" {
				t.Fatalf("seed %d, trimmed at %s, at %s: %s (the whole set's is the want)", seed, now, at, d)
			}
		}
	}
	if dropped == 0 {
		t.Fatal("trimming dropped no tile of any set")
	}
}

func tileCount(s *window.Set) int {
	n := 0
	for _, x := range s.Series {
		n += len(x.Tiles)
	}
	return n
}

// FuzzDecodeSet decodes anything as a tile record of a view of every
// function: DecodeSet never panics, and a set it decodes encodes again and
// evaluates.
func FuzzDecodeSet(f *testing.F) {
	aggs, features := fuzzView()
	c := window.NewCodec(aggs, features)
	r := rand.New(rand.NewPCG(1, 23))
	for range 8 {
		rows := randomRows(r, len(aggs), aggs)[0]
		set := window.Build(aggs, features, rows)
		rec, err := c.AppendSet(nil, &set)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(rec)
	}
	_, _, rec := codecRecord(f)
	f.Add([]byte(rec))
	f.Fuzz(func(t *testing.T, rec []byte) {
		var set window.Set
		found, err := c.DecodeSet(&set, string(rec))
		if err != nil && !errors.Is(err, window.ErrCorrupt) {
			t.Fatalf("error %v does not wrap ErrCorrupt", err)
		}
		if !found {
			return
		}
		again, err := c.AppendSet(nil, &set)
		if err != nil {
			t.Fatalf("a decoded set does not encode: %v", err)
		}
		if _, err := c.DecodeSet(&set, string(again)); err != nil {
			t.Fatalf("a decoded set encodes as a record that does not decode: %v", err)
		}
		set.Evaluate(aggs, features, base)
	})
}

// fuzzView returns a view with an aggregation of each function over a
// column of a type it takes, windowed and lifetime.
func fuzzView() ([]window.Agg, []registry.WindowFeature) {
	defs := []struct {
		f   registry.AggFunction
		col registry.Type
		n   int
	}{
		{registry.AggCount, registry.Type{}, 0},
		{registry.AggCount, registry.TypeBool, 0},
		{registry.AggSum, registry.TypeInt32, 0},
		{registry.AggSum, registry.TypeFloat32, 0},
		{registry.AggMean, registry.TypeInt64, 0},
		{registry.AggStddev, registry.TypeFloat64, 0},
		{registry.AggMin, registry.TypeTimestamp, 0},
		{registry.AggMax, registry.TypeString, 0},
		{registry.AggLast, registry.ListOf(registry.Float32), 0},
		{registry.AggLast, registry.TypeBytes, 0},
		{registry.AggLastN, registry.TypeString, 3},
	}
	var aggs []registry.Aggregation
	var features []registry.WindowFeature
	for i, d := range defs {
		a := registry.Aggregation{Function: d.f, N: d.n, Windows: []time.Duration{time.Hour, 0}}
		if d.col.Valid() {
			a.Column = fmt.Sprintf("c%d", i)
		}
		fs, err := a.Features(i, d.col, 0)
		if err != nil {
			panic(fmt.Sprintf("aggregation %d: %v", i, err))
		}
		aggs = append(aggs, a)
		features = append(features, fs...)
	}
	return window.Aggs(aggs, features), features
}

// tripsView returns the view of DESIGN §12's online bytes: count, and the
// sum and mean of a float64 fare, over 1h, 1d and 7d; and an entity's set
// of 100 trips a day for 7 days up to now, trimmed at now, with the trips'
// fares.
func tripsView(b *testing.B) ([]window.Agg, []registry.WindowFeature, window.Set, []float64, time.Time) {
	var aggs []registry.Aggregation
	var features []registry.WindowFeature
	for i, a := range []registry.Aggregation{
		{Function: registry.AggCount},
		{Function: registry.AggSum, Column: "fare"},
		{Function: registry.AggMean, Column: "fare"},
	} {
		a.Windows = []time.Duration{time.Hour, day, 7 * day}
		col := registry.TypeFloat64
		if a.Column == "" {
			col = registry.Type{}
		}
		fs, err := a.Features(i, col, 0)
		if err != nil {
			b.Fatal(err)
		}
		aggs = append(aggs, a)
		features = append(features, fs...)
	}
	wa := window.Aggs(aggs, features)
	r := rand.New(rand.NewPCG(3, 4))
	now := base.Add(7 * day)
	var rows []window.Row
	var fares []float64
	for seq := range int64(700) {
		at := now.Add(-time.Duration(r.Int64N(int64(7 * day))))
		fare := float64(r.IntN(6000)) / 100 // dollars and cents
		v := values.Float64(fare)
		rows = append(rows, window.Row{At: window.Order{Time: at.UnixMilli(), Created: window.NoCreated, Seq: seq}, Values: []*almanacv1.Value{nil, v, v}})
		fares = append(fares, fare)
	}
	set := window.Build(wa, features, rows)
	set.Trim(features, now)
	return wa, features, set, fares, now
}

// BenchmarkSetRecord measures the tile record of an entity of tripsView
// (DESIGN §12: at most 25% of the raw events' bytes) beside the raw
// events, each a int64 key, a ms timestamp and a float64 fare as Parquet's
// plain encoding holds them (24 bytes); and what a lookup pays to decode
// such a record and evaluate the view's 9 features.
func BenchmarkSetRecord(b *testing.B) {
	aggs, features, set, fares, now := tripsView(b)
	c := window.NewCodec(aggs, features)
	rec, err := c.AppendSet(nil, &set)
	if err != nil {
		b.Fatal(err)
	}
	raw := len(fares) * (8 + 8 + 8)
	b.Run("shape=trips/events=700/op=encode", func(b *testing.B) {
		b.ReportAllocs()
		var dst []byte
		for b.Loop() {
			dst, _ = c.AppendSet(dst[:0], &set)
		}
		b.ReportMetric(float64(len(rec)), "record-bytes")
		b.ReportMetric(float64(raw), "raw-bytes")
		b.ReportMetric(100*float64(len(rec))/float64(raw), "record-%-of-raw")
	})
	b.Run("shape=trips/events=700/op=decode+evaluate", func(b *testing.B) {
		s := string(rec)
		var got window.Set
		found, err := c.DecodeSet(&got, s)
		if err != nil || !found {
			b.Fatalf("DecodeSet: found %t, %v", found, err)
		}
		if vals, _ := got.Evaluate(aggs, features, now); vals[2].GetInt64Val() != int64(len(fares)) {
			b.Fatalf("count_7d = %v, want %d", vals[2], len(fares))
		}
		b.ReportAllocs()
		for b.Loop() { // one Set for every lookup, as a server's would be
			c.DecodeSet(&got, s)
			got.Evaluate(aggs, features, now)
		}
	})
}
